"""gunicorn settings for a ScamShare web host: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Sized by the environment (see docs/deploy.md): SCAMSHARE_BIND, SCAMSHARE_WORKERS,
SCAMSHARE_THREADS. The scheduler never runs here: it is its own process (`scamshare scheduler`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

bind = os.environ.get("SCAMSHARE_BIND", "127.0.0.1:8080")
# One worker per core keeps CPU-bound work (normalisation, JSON) in parallel; threads cover the
# time each request waits on the database. nginx in front absorbs slow clients (see nginx.conf).
workers = int(os.environ.get("SCAMSHARE_WORKERS", str(os.cpu_count() or 2)))
worker_class = "gthread"
threads = int(os.environ.get("SCAMSHARE_THREADS", "4"))
# A batch of 10,000 reports or a full download of millions of rows takes more than the default
# 30 s; nginx's proxy_read_timeout is set to match.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that a slow leak can never take a node down.
max_requests = 20000
max_requests_jitter = 2000
# Each worker builds its own app, engine and pool after the fork: a pool must never be shared.
preload_app = False
# nginx on the same host sets X-Forwarded-For and X-Forwarded-Proto.
forwarded_allow_ips = "127.0.0.1"
accesslog = None  # the app logs every request as one JSON line, with its request id


def on_starting(server) -> None:
    """Start the Prometheus multiprocess directory empty: values of dead processes must go."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    """Forget an exited worker's live gauges, so that scrapes add up living processes only."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
