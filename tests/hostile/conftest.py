"""What every hostile-input test needs: callers, a signing peer, and proof nothing was stored."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scamshare.clock import utcnow
from scamshare.db import transaction
from scamshare.federation import identity, signing
from scamshare.models import Base
from scamshare.services import audit
from scamshare.services import peers as peers_service
from schemas.federation import WIRE_VERSION

PROBLEM = "application/problem+json"
# Refused requests are audited, and that is all they may leave behind.
AUDITED = "audit_log"
EXTREME_MOMENTS = (
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "1999-12-31T23:59:59+00:00",
    "2101-01-01T00:00:00+00:00",
)
EXTREME_DAYS = ("0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01")
NUL, SURROGATE = "\x00", "\ud800"


def stored(app) -> dict[str, int]:
    """How many rows each table holds, but the audit log."""
    with transaction(app) as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
            if table.name != AUDITED
        }


def refused(response, status: int, field: str, reason: str | None = None) -> dict:
    """Check a problem response names the field (and the reason); return the entry naming it."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == PROBLEM
    entries = [e for e in response.json.get("errors", []) if e["field"] == field]
    assert entries, (field, response.json)
    if reason is not None:
        assert reason in {e["reason"] for e in entries}, (reason, response.json)
    return entries[0]


@dataclass
class Peer:
    """A registered peer node this test signs batches as."""

    node_id: str
    country: str
    identity: identity.NodeIdentity

    def contribution(self, **changes) -> dict:
        """A valid contribution of this peer's own origin."""
        now = utcnow()
        return {
            "kind": "phone",
            "value": "+60123456789",
            "status": "listed",
            "removal_reason": None,
            "risk": "high",
            "categories": ["investment"],
            "report_count": 3,
            "org_count": 2,
            "first_reported": (now - timedelta(days=3)).isoformat(),
            "last_reported": (now - timedelta(days=1)).isoformat(),
            "expires_at": (now + timedelta(days=30)).isoformat(),
            "origin_node": self.node_id,
            "origin_country": self.country,
            "origin_version": 1,
        } | changes

    def batch(self, *contributions: dict, **changes) -> dict:
        """A valid batch holding contributions (one default one if none are given)."""
        return {
            "wire_version": WIRE_VERSION,
            "sender": self.node_id,
            "batch_id": uuid.uuid4().hex,
            "created_at": utcnow().isoformat(),
            "sequence_from": 1,
            "sequence_to": 1,
            "contributions": list(contributions) or [self.contribution()],
        } | changes

    def send(self, client, body: dict | bytes, **headers):
        """POST a body (a batch, or exact bytes) signed with this peer's key."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        signed = signing.sign_headers(self.identity, self.node_id, raw, utcnow()) | headers
        return client.post("/api/v1/federation/batches", data=raw, headers=signed)


@pytest.fixture
def peer(app, tmp_path) -> Peer:
    """A Malaysian peer node registered on the test node."""
    me = Peer("scamshare-my", "MY", identity.create(str(tmp_path / "peer")))
    with transaction(app) as session:
        registration = peers_service.Registration(
            me.node_id, me.country, "http://127.0.0.1:9", me.identity.public_key
        )
        peers_service.add_peer(
            session, audit.NODE, registration, app.extensions["scamshare.policy"]
        )
    return me


def report(**changes) -> dict:
    """A valid phone report observed an hour ago."""
    return {
        "kind": "phone",
        "value": "+6581234567",
        "category": "investment",
        "channel": "voice",
        "observed_at": (utcnow() - timedelta(hours=1)).isoformat(),
        "evidence_ref": "case-1",
    } | changes
