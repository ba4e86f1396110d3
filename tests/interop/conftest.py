"""A node served on loopback for the TAXII clients, and listings made fast through the API."""

from __future__ import annotations

from tests.reporting import report, submit_batch

# Reports per submission: the API takes up to 10,000; 5,000 keeps one request's memory modest.
BATCH = 5000


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
