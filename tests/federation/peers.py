"""Talking to real nodes as a peer would: one push round, and batches signed by hand."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx

from scamshare.clock import utcnow
from scamshare.federation import signing
from schemas.federation import WIRE_VERSION


def sync(node):
    """One push round from a node to all its peers; return the per-peer reports."""
    pusher = node.pusher()
    try:
        return {r.peer: r for r in pusher.push_all(force=True)}
    finally:
        pusher.client.close()


def signed_post(node, sender, body: bytes, *, timestamp=None, signature=None):
    """POST a batch to a node signed as `sender` (optionally with a forged part)."""
    headers = signing.sign_headers(sender.identity, sender.node_id, body, timestamp or utcnow())
    if signature is not None:
        headers[signing.SIGNATURE_HEADER] = signature
    return httpx.post(
        f"{node.url}/api/v1/federation/batches", content=body, headers=headers, timeout=10
    )


def contribution_from(sender, version: int = 1, status: str = "listed", **changes) -> dict:
    """A valid contribution of `sender`'s own origin (a listed MY number unless changed)."""
    contribution = {
        "kind": "phone",
        "value": "+60123456789",
        "status": status,
        "removal_reason": None if status != "removed" else "delisted",
        "risk": "high",
        "categories": ["investment"],
        "report_count": 3,
        "org_count": 2,
        "first_reported": utcnow().isoformat(),
        "last_reported": utcnow().isoformat(),
        "expires_at": (utcnow() + timedelta(days=30)).isoformat() if status != "removed" else None,
        "origin_node": sender.node_id,
        "origin_country": sender.country,
        "origin_version": version,
    }
    return {**contribution, **changes}


def batch_of(sender, contributions: list[dict]) -> dict:
    """A batch of `sender` holding these contributions."""
    versions = [contribution["origin_version"] for contribution in contributions]
    return {
        "wire_version": WIRE_VERSION,
        "sender": sender.node_id,
        "batch_id": uuid.uuid4().hex,
        "created_at": utcnow().isoformat(),
        "sequence_from": min(versions),
        "sequence_to": max(versions),
        "contributions": contributions,
    }


def batch_from(sender, version: int = 1, status: str = "listed", **changes) -> dict:
    """A valid one-contribution batch from `sender`."""
    return batch_of(sender, [contribution_from(sender, version, status, **changes)])


def encode(batch: dict) -> bytes:
    """The exact bytes sent."""
    return json.dumps(batch).encode()
