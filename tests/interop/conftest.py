"""A node served on loopback for the TAXII clients, and listings made fast through the API."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.reporting import report, submit_batch

# Reports per submission: the API takes up to 10,000; 5,000 keeps one request's memory modest.
BATCH = 5000


@pytest.fixture
def served(app):
    """Serve the test's app over HTTP on a free loopback port; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def phone(number: int) -> str:
    """The n-th test number: valid Singapore mobile numbers +65 9100 0000 onwards."""
    return f"+659{1000000 + number:07d}"


def list_phones(client, regulator, start: int, count: int) -> None:
    """List `count` numbers through the API: verified reports by a regulator, in batches."""
    for first in range(start, start + count, BATCH):
        reports = [
            report(phone(number), verified=True, evidence_ref=f"bulk-{number}")
            for number in range(first, min(first + BATCH, start + count))
        ]
        submit_batch(client, regulator, *reports)
