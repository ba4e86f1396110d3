"""The node's Prometheus instruments and the request hooks that feed them.

Counters and histograms live in this process; with PROMETHEUS_MULTIPROC_DIR set (several
gunicorn workers, a separate scheduler) prometheus-client writes them to files there and a
scrape adds up every process's values. Gauges read from the database (indicators, peers) are
computed at scrape time by the API's /metrics view, so they hold on every worker.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

REQUESTS = Counter(
    "scamshare_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"]
)
LATENCY = Histogram(
    "scamshare_http_request_duration_seconds",
    "Time to answer an HTTP request (streamed bodies: until the first byte)",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REPORTS_ACCEPTED = Counter("scamshare_reports_accepted_total", "Reports accepted")
REPORTS_REJECTED = Counter(
    "scamshare_reports_rejected_total", "Reports rejected, by reason", ["reason"]
)
LOOKUPS = Counter("scamshare_lookups_total", "Lookup requests answered", ["status"])
MESSAGE_CHECKS = Counter("scamshare_message_checks_total", "Message checks answered", ["status"])
DOWNLOADS = Counter(
    "scamshare_downloads_total", "Blocklist downloads, full or delta", ["format", "mode", "status"]
)
PEER_CONTRIBUTIONS = Counter(
    "scamshare_peer_contributions_total",
    "Contributions pushed to a peer, by what the peer did with them",
    ["peer", "outcome"],
)
JOB_RUNS = Counter("scamshare_scheduler_job_runs_total", "Scheduler job runs", ["job", "outcome"])
JOB_DURATION = Histogram(
    "scamshare_scheduler_job_duration_seconds",
    "Time a scheduler job run took",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
)

# Endpoints whose every answer is also one use of the node counted on its own.
_USES = {"lookup": LOOKUPS, "messages": MESSAGE_CHECKS}


def init_app(app: Flask) -> None:
    """Time every request and count it by endpoint and status."""
    app.before_request(_start)
    app.after_request(_count)


def _start() -> None:
    """Note when the request started."""
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    """Count the answered request, and the node use it was, if any."""
    endpoint = request.endpoint or "unmatched"
    status = str(response.status_code)
    REQUESTS.labels(endpoint, request.method, status).inc()
    started = g.get("metrics_started")
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    if request.blueprint in _USES:
        _USES[request.blueprint].labels(status).inc()
    elif request.blueprint == "blocklist":
        mode = "delta" if request.args.get("since") else "full"
        DOWNLOADS.labels(request.args.get("format", "negotiated"), mode, status).inc()
    return response


def count_submission(accepted: int, rejected_reasons: list[str]) -> None:
    """Count one submission's accepted reports and each rejected one's reason."""
    REPORTS_ACCEPTED.inc(accepted)
    for reason in rejected_reasons:
        REPORTS_REJECTED.labels(reason).inc()


def count_push(peer: str, sent: int, applied: int, ignored: int, rejected: int) -> None:
    """Count what one push or reconciliation run sent to a peer and what the peer did with it."""
    PEER_CONTRIBUTIONS.labels(peer, "sent").inc(sent)
    PEER_CONTRIBUTIONS.labels(peer, "applied").inc(applied)
    PEER_CONTRIBUTIONS.labels(peer, "ignored").inc(ignored)
    PEER_CONTRIBUTIONS.labels(peer, "rejected").inc(rejected)


def observe_job(job: str, outcome: str, seconds: float) -> None:
    """Count one scheduler job run and how long it took."""
    JOB_RUNS.labels(job, outcome).inc()
    JOB_DURATION.labels(job).observe(seconds)


def exposition() -> bytes:
    """Every process's counters and histograms in the text format (all workers when shared)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
