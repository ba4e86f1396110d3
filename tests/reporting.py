"""Reports as the API tests submit them."""

from __future__ import annotations

from datetime import datetime, timedelta

from scamshare.clock import utcnow


def report(
    value: str = "+65 8123 4567",
    kind: str = "phone",
    days_ago: float = 1,
    *,
    observed: datetime | None = None,
    category: str = "investment",
    channel: str = "voice",
    evidence_ref: str = "case-1",
    **extra,
) -> dict:
    """A valid report, observed some days ago (or at `observed`)."""
    return {
        "kind": kind,
        "value": value,
        "category": category,
        "channel": channel,
        "observed_at": (observed or utcnow() - timedelta(days=days_ago)).isoformat(),
        "evidence_ref": evidence_ref,
        **extra,
    }


def submit_batch(client, credential, *reports: dict) -> dict:
    """Submit reports as one batch, check every one was accepted, return the response body."""
    response = client.post(
        "/api/v1/reports", json={"reports": list(reports)}, headers=credential.headers
    )
    assert response.status_code == 200, response.json
    assert response.json["rejected"] == []
    return response.json


def submit(client, credential, *reports: dict) -> dict:
    """Submit reports as one batch and return the first report's indicator."""
    return submit_batch(client, credential, *reports)["reports"][0]["indicator"]
