"""Expiry: listings lapse when their last corroborating report is older than the kind's TTL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare import policy as rules
from scamshare.indicators import lifecycle
from scamshare.indicators.lifecycle import Lifecycle
from scamshare.models import EXPORTED_STATUSES, Indicator
from scamshare.services.audit import Actor

WHY = "expired: no corroborating report within the time to live"


def expire_due(session: Session, policy: rules.Policy, now: datetime, actor: Actor) -> int:
    """End every listing whose last report is older than its kind's TTL; return how many ended.

    The cut-off is computed from the policy of this run rather than the stored expires_at, so a
    shortened TTL takes effect at the next sweep. Rows are taken in id order, a chunk at a time,
    each chunk locked and settled through the lifecycle (sequence, history and audit).
    """
    expired = 0
    life = Lifecycle(session, policy, actor, now)
    for kind, ttl in policy.ttl.items():
        cutoff = now - ttl
        last_id = 0
        while True:
            indicators = list(
                session.scalars(
                    select(Indicator)
                    .where(
                        Indicator.kind == kind,
                        Indicator.status.in_(EXPORTED_STATUSES),
                        Indicator.last_reported_at <= cutoff,
                        Indicator.id > last_id,
                    )
                    .order_by(Indicator.id)
                    .limit(lifecycle.CHUNK)
                    .with_for_update()
                )
            )
            if not indicators:
                break
            last_id = indicators[-1].id
            changes = life.settle(indicators, why=WHY)
            expired += sum(1 for change in changes if change.indicator.status == "expired")
    return expired
