"""The render cache: each feed variant is built once per store change, then served as bytes.

Entries are stamped with the store's change counter (``Store.version()``) rather than given an
age: a feed stays valid exactly until the collector saves something. Concurrent misses for one
key share a single build (single-flight), so a burst of aggregators arriving just after a
collection costs one render, not one per request. The bound is in bytes, least recently used
first out, because a 100-item feed with full text weighs a hundred times a 1-item one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Flight(Generic[V]):
    """One build in progress; other requests for the same key wait on it."""

    __slots__ = ("version", "done", "value", "error")

    def __init__(self, version: int) -> None:
        self.version = version
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None


class RenderCache(Generic[K, V]):
    """A version-stamped, byte-bounded LRU map with single-flight builds. Thread-safe."""

    def __init__(self, max_bytes: int, size_of: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, tuple[int, V, int]] = OrderedDict()
        self._flights: dict[K, _Flight[V]] = {}
        self.bytes = 0
        self.builds = 0  # builds completed (what tests and metrics count)
        self.hits = 0
        self.evictions = 0
        self.waiting = 0  # requests currently waiting on another request's build

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: K) -> V | None:
        """The cached value whatever its version: the stale copy served when the store fails."""
        with self._lock:
            entry = self._entries.get(key)
        return entry[1] if entry is not None else None

    def get(self, key: K, version: int, build: Callable[[], V]) -> tuple[V, bool]:
        """The value for ``key`` at ``version`` or newer, and whether it came without a build.

        A miss builds once however many threads ask at the same time; the others wait for that
        build and share its result (or its exception).
        """
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry[0] >= version:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry[1], True
                flight = self._flights.get(key)
                if flight is None:
                    flight = self._flights[key] = _Flight(version)
                    break
                self.waiting += 1
            try:
                flight.done.wait()
            finally:
                with self._lock:
                    self.waiting -= 1
            if flight.error is not None:
                raise flight.error
            if flight.version >= version and flight.value is not None:
                return flight.value, True
            # The build we waited on predates the version we saw: build again.
        try:
            value = build()
        except BaseException as e:
            flight.error = e
            with self._lock:
                del self._flights[key]
            flight.done.set()
            raise
        size = self._size_of(value)
        with self._lock:
            self.builds += 1
            del self._flights[key]
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[2]
            if size <= self.max_bytes:
                self._entries[key] = (version, value, size)
                self.bytes += size
                while self.bytes > self.max_bytes:
                    _, (_, _, evicted) = self._entries.popitem(last=False)
                    self.bytes -= evicted
                    self.evictions += 1
        flight.value = value
        flight.done.set()
        return value, False

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0
