"""The append-only audit log: who did what, when, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from scamshare.errors import clip
from scamshare.models import AuditEntry

# A target quotes a request's path, which a caller makes as long as it likes.
_TARGET_CHARS = AuditEntry.__table__.c.target.type.length


@dataclass(frozen=True)
class Actor:
    """Who acted: an organisation through a key, or the node itself (CLI, scheduler)."""

    organisation_id: int | None = None
    organisation_name: str | None = None
    key_id: str | None = None


NODE = Actor(organisation_name="node")


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit entry in the caller's transaction."""
    entry = AuditEntry(
        organisation_id=actor.organisation_id,
        organisation_name=actor.organisation_name,
        key_id=actor.key_id,
        action=action,
        target=None if target is None else clip(target, _TARGET_CHARS),
        outcome=outcome,
        details=details or {},
    )
    session.add(entry)
    return entry


def search(
    session: Session,
    *,
    action: str | None = None,
    organisation: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
) -> tuple[list[AuditEntry], int | None]:
    """Return one page of entries, newest first, and the cursor of the next page."""
    query: Select = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if action:
        # A trailing dot asks for a family of actions ("key." finds key.create and key.revoke).
        if action.endswith("."):
            query = query.where(AuditEntry.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == action)
    if organisation:
        query = query.where(AuditEntry.organisation_name == organisation)
    if outcome:
        query = query.where(AuditEntry.outcome == outcome)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    if before:
        query = query.where(AuditEntry.id < before)
    entries = list(session.scalars(query))
    next_cursor = entries[limit - 1].id if len(entries) > limit else None
    return entries[:limit], next_cursor
