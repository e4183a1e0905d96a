"""A scriptable HTTP/1.1 server on 127.0.0.1 (port 0) for tests that need a real network peer.

Real sockets, no mocks: the client under test speaks to a real server in a thread of the test
process. Each path is given a script of ``Reply`` objects; the server records every request with
its arrival time (``time.monotonic()``, server side) so tests can assert on what was asked and
when.

    from tests.httpfixture import HttpFixture, Reply, redirect

    @pytest.fixture
    def server() -> Iterator[HttpFixture]:
        with HttpFixture() as srv:
            yield srv

    def test_something(server):
        server.route("/a.htm", Reply(body="<p>hi</p>"))               # every request
        server.route("/flaky", Reply(status=500), Reply(body="ok"))  # in turn, the last repeats
        server.route("/old", redirect("/a.htm", status=301))
        server.route("/cond", lambda req: Reply(status=304)          # a function of the request
                     if req.headers.get("If-None-Match") == '"v1"'
                     else Reply(body="x", headers={"ETag": '"v1"'}))
        url = server.url("/a.htm")            # http://127.0.0.1:<port>/a.htm
        ...
        server.hits("/flaky")                 # how many requests that path got
        server.requests                       # every RecordedRequest, in arrival order

A path with no route answers 404 (so ``/robots.txt`` means "allow all" unless routed). Routes
match the path without its query string; ``RecordedRequest.target`` keeps the full target.

What a ``Reply`` can do (all combinable):
  status, body (bytes, or str sent as UTF-8), headers, content_type (None: no Content-Type);
  delay_s           wait before sending anything (a server too slow to answer);
  trickle_s         pause between chunks of ``chunk_bytes`` bytes of the body (and of the status
                    line and headers too with ``trickle_headers=True``): a slow-loris server;
  encoding          "gzip", "deflate" (zlib) or "raw-deflate": compress the body on the way out
                    and say so in Content-Encoding (for a gzip bomb, pass a big body: compressing
                    a few MB of zeros takes milliseconds);
  content_length    False: no Content-Length, the end of the body is the end of the connection;
  truncate_at       send only that many body bytes (after a full Content-Length), then close;
  reset             close the connection with a TCP reset: before answering anything, or after
                    ``truncate_at`` body bytes when that is given.

Waits inside the server end as soon as the fixture stops, so a test never hangs on its own
server; ``stop()`` also closes every connection still open. Use one fixture per test.
"""

from __future__ import annotations

import gzip
import http.server
import io
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from types import TracebackType

__all__ = ["HttpFixture", "RecordedRequest", "Reply", "redirect"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer (see the module docstring for what each field does)."""

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    content_type: str | None = "text/html; charset=utf-8"
    delay_s: float = 0.0
    trickle_s: float = 0.0
    chunk_bytes: int = 1
    trickle_headers: bool = False
    encoding: str | None = None
    content_length: bool = True
    truncate_at: int | None = None
    reset: bool = False

    def body_bytes(self) -> bytes:
        data = self.body.encode("utf-8") if isinstance(self.body, str) else self.body
        if self.encoding == "gzip":
            return gzip.compress(data, mtime=0)
        if self.encoding == "deflate":
            return zlib.compress(data)
        if self.encoding == "raw-deflate":
            packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            return packer.compress(data) + packer.flush()
        if self.encoding is not None:
            raise ValueError(f"unknown encoding {self.encoding!r}")
        return data

    def header_items(self) -> list[tuple[str, str]]:
        items = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        return [(str(k), str(v)) for k, v in items]


def redirect(location: str, status: int = 302) -> Reply:
    """A redirect to ``location`` (absolute, or relative to the request)."""
    return Reply(status=status, headers={"Location": location}, content_type=None)


@dataclass(frozen=True)
class RecordedRequest:
    """What the server saw: ``time`` is ``time.monotonic()`` when the request head was read."""

    method: str
    target: str  # as sent, with the query string
    path: str  # without the query string: what routes match
    headers: Message = field(repr=False)
    time: float


Script = Callable[[RecordedRequest], Reply]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # the fixture joins its handler threads itself, with a timeout
    fixture: HttpFixture


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10  # an idle keep-alive connection never outlives a test by much

    def setup(self) -> None:
        super().setup()
        self.server.fixture._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.server.fixture._closed(self.connection)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        fixture = self.server.fixture
        path = self.path.split("?", 1)[0]
        request = RecordedRequest(self.command, self.path, path, self.headers, time.monotonic())
        reply = fixture._reply_for(request)
        stop = fixture._stop
        try:
            if reply.delay_s and stop.wait(reply.delay_s):
                self.close_connection = True
                return
            if reply.reset and reply.truncate_at is None:
                self._reset()
                return
            body = reply.body_bytes()
            head = [f"HTTP/1.1 {reply.status} {_reason(reply.status)}"]
            names = {k.lower() for k, _ in reply.header_items()}
            if reply.content_type is not None and "content-type" not in names:
                head.append(f"Content-Type: {reply.content_type}")
            if reply.encoding and "content-encoding" not in names:
                head.append(f"Content-Encoding: {reply.encoding.removeprefix('raw-')}")
            head += [f"{k}: {v}" for k, v in reply.header_items()]
            if reply.content_length and "content-length" not in names:
                head.append(f"Content-Length: {len(body)}")
            if not reply.content_length or reply.truncate_at is not None:
                head.append("Connection: close")
                self.close_connection = True
            raw_head = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
            self._send(raw_head, reply, trickle=reply.trickle_headers)
            if not send_body or reply.status in (204, 304) or 100 <= reply.status < 200:
                return
            if reply.truncate_at is not None:
                body = body[: reply.truncate_at]
            self._send(body, reply, trickle=True)
            if reply.reset:
                self._reset()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _send(self, data: bytes, reply: Reply, trickle: bool) -> None:
        if not (trickle and reply.trickle_s):
            self.wfile.write(data)
            return
        stop = self.server.fixture._stop
        step = max(1, reply.chunk_bytes)
        for i in range(0, len(data), step):
            if i and stop.wait(reply.trickle_s):
                raise BrokenPipeError("fixture stopped")
            self.wfile.write(data[i : i + step])

    def _reset(self) -> None:
        """Close with RST: SO_LINGER on with a zero timeout, then close at once."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drops the file's reference, so close() below really closes
        self.connection.close()
        self.wfile = io.BytesIO()  # the base class flushes wfile after every request


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class HttpFixture:
    """The server: ``route()`` scripts it, ``url()`` addresses it, ``requests`` tells what came."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._routes: dict[str, Script] = {}
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self.requests: list[RecordedRequest] = []
        self._server = _Server((host, 0), _Handler)
        self._server.fixture = self
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    # -- scripting ---------------------------------------------------------------------------

    def route(self, path: str, *script: Reply | Script) -> None:
        """Answer ``path`` with these replies in turn (the last one repeats), or with a function.

        Routing a path again replaces its script and restarts it.
        """
        if not script:
            raise ValueError("route() needs at least one Reply or a function")
        if len(script) == 1 and callable(script[0]):
            self._routes[path] = script[0]
            return
        replies = [r for r in script if isinstance(r, Reply)]
        if len(replies) != len(script):
            raise ValueError("route() takes Replies, or one function")
        served = [0]
        lock = threading.Lock()

        def next_reply(_: RecordedRequest) -> Reply:
            with lock:
                n = served[0] = served[0] + 1
            return replies[min(n, len(replies)) - 1]

        self._routes[path] = next_reply

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def times(self, path: str) -> list[float]:
        """Arrival times (server-side ``time.monotonic()``) of the requests to ``path``."""
        with self._lock:
            return [r.time for r in self.requests if r.path == path]

    # -- life --------------------------------------------------------------------------------

    def start(self) -> HttpFixture:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"httpfixture:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(5)
        self._server.server_close()

    def __enter__(self) -> HttpFixture:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- called by the handler ---------------------------------------------------------------

    def _reply_for(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            script = self._routes.get(request.path)
        if script is None:
            return Reply(status=404, body="not found", content_type="text/plain; charset=utf-8")
        return script(request)

    def _opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)
            self._threads.add(threading.current_thread())

    def _closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)
            self._threads.discard(threading.current_thread())
