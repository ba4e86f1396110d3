"""What this node sends its peers: its own view of each indicator, batched by origin version.

A contribution carries counts and indicator fields only (see schemas/federation.py); push.py
delivers the batches built here.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare.models import EXPORTED_STATUSES, Indicator
from schemas.federation import WIRE_VERSION

# The indicator columns a contribution is made of; nothing else is read to build a batch.
WIRE_COLUMNS = (
    "kind",
    "value",
    "status",
    "removal_reason",
    "risk",
    "category_counts",
    "report_count",
    "org_count",
    "first_reported_at",
    "last_reported_at",
    "expires_at",
    "origin_version",
)


def wire_contribution(indicator, node_id: str, country: str) -> dict:
    """This node's own view of one indicator, in wire format: counts and fields only."""
    exported = indicator.status in EXPORTED_STATUSES

    def iso(moment: datetime | None) -> str | None:
        """Render a datetime on the wire."""
        return moment.isoformat() if moment else None

    return {
        "kind": indicator.kind,
        "value": indicator.value,
        "status": indicator.status if exported else "removed",
        "removal_reason": None if exported else (indicator.removal_reason or "unlisted"),
        "risk": indicator.risk,
        "categories": sorted(indicator.category_counts),
        "report_count": indicator.report_count,
        "org_count": indicator.org_count,
        "first_reported": iso(indicator.first_reported_at),
        "last_reported": iso(indicator.last_reported_at),
        "expires_at": iso(indicator.expires_at) if exported else None,
        "origin_node": node_id,
        "origin_country": country,
        "origin_version": indicator.origin_version,
    }


def build_batch(
    session: Session, node_id: str, country: str, after: int, limit: int, now: datetime
) -> dict | None:
    """The next batch of own-origin contributions newer than `after`, or None when caught up."""
    indicators = session.execute(
        select(*(getattr(Indicator, name) for name in WIRE_COLUMNS))
        .where(Indicator.origin_version > after)
        .order_by(Indicator.origin_version)
        .limit(limit)
    ).all()
    if not indicators:
        return None
    contributions = [wire_contribution(i, node_id, country) for i in indicators]
    return envelope(node_id, contributions, after + 1, indicators[-1].origin_version, now)


def envelope(
    node_id: str, contributions: list[dict], sequence_from: int, sequence_to: int, now: datetime
) -> dict:
    """A batch of contributions as it goes on the wire, under a fresh batch id."""
    return {
        "wire_version": WIRE_VERSION,
        "sender": node_id,
        "batch_id": uuid.uuid4().hex,
        "created_at": now.isoformat(),
        "sequence_from": sequence_from,
        "sequence_to": sequence_to,
        "contributions": contributions,
    }
