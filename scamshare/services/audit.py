"""The append-only audit log: who did what, when, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from scamshare.errors import clip
from scamshare.models import Actor, AuditEntry

NODE = Actor(organisation_name="node")

# A target quotes a request's path, which a caller makes as long as it likes.
_TARGET_CHARS = AuditEntry.__table__.c.target.type.length


@dataclass(frozen=True)
class AuditFilter:
    """Which entries a page holds: by action (a trailing dot: a family), actor, outcome, time."""

    action: str | None = None
    organisation: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = 100


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


def search(session: Session, page: AuditFilter) -> tuple[list[AuditEntry], int | None]:
    """Return one page of entries, newest first, and the cursor of the next page."""
    query: Select = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(page.limit + 1)
    if page.action:
        # A trailing dot asks for a family of actions ("key." finds key.create and key.revoke).
        if page.action.endswith("."):
            query = query.where(AuditEntry.action.startswith(page.action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == page.action)
    if page.organisation:
        query = query.where(AuditEntry.organisation_name == page.organisation)
    if page.outcome:
        query = query.where(AuditEntry.outcome == page.outcome)
    if page.since:
        query = query.where(AuditEntry.at >= page.since)
    if page.until:
        query = query.where(AuditEntry.at < page.until)
    if page.before:
        query = query.where(AuditEntry.id < page.before)
    entries = list(session.scalars(query))
    next_cursor = entries[page.limit - 1].id if len(entries) > page.limit else None
    return entries[: page.limit], next_cursor
