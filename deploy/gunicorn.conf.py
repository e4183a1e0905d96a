"""gunicorn settings for feedsvc's web workers: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Flags on the command line override what is here (``-b 0.0.0.0:8000 -w 4``). See
docs/operations.md for the numbers. Web workers never collect: run exactly one
``feedsvc scheduler`` beside them.

/metrics under several workers: set PROMETHEUS_MULTIPROC_DIR (an empty folder writable by
the service user) in the environment of the master; each worker then writes its counters
there and any worker answers /metrics with the sum. The folder is emptied when the master
starts, and a dead worker's live gauges are dropped.
"""

import os
import shutil
from pathlib import Path

bind = "127.0.0.1:8000"
workers = 2  # one sync worker per core: a cached feed costs microseconds, a miss ~20 ms
worker_class = "sync"
timeout = 30  # a request (a cold render included) never takes near this: a stuck worker dies
graceful_timeout = 30  # SIGTERM: in-flight requests get this long
keepalive = 5  # behind nginx, which keeps connections to us open
max_requests = 20_000  # recycle workers now and then (memory), staggered by the jitter
max_requests_jitter = 2_000
accesslog = "-"  # to the journal; nginx keeps its own access log too
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
forwarded_allow_ips = "127.0.0.1,::1"  # trust X-Forwarded-* from the local nginx only


def on_starting(server):  # type: ignore[no-untyped-def]
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        if path.is_dir():
            for child in path.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        else:
            path.mkdir(parents=True)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
