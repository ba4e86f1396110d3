"""Appeals: a number holder disputes a listing; a regulator upholds it or delists the value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, not_, select
from sqlalchemy.orm import Session, aliased

from scamshare import normalise as norm
from scamshare import policy as rules
from scamshare.auth import Caller
from scamshare.errors import Conflict, Invalid, NotFound
from scamshare.indicators.lifecycle import Lifecycle
from scamshare.models import Appeal, Indicator, Organisation
from scamshare.services import audit
from scamshare.services.audit import Actor

OUTCOMES = ("upheld", "delisted")
REASON_MAX = 200  # IndicatorEvent.reason holds this many characters
MAX_ID_DIGITS = 18  # a longer number cannot be a BIGINT id


@dataclass(frozen=True)
class Filing:
    """An appeal as its filer writes it; a national number is read in `region`."""

    kind: str
    value: str
    reason: str
    contact_ref: str
    region: str


@dataclass(frozen=True)
class Decision:
    """A regulator's resolution of an appeal (upheld or delisted) and its note."""

    outcome: str
    note: str | None = None


@dataclass(frozen=True)
class AppealFilter:
    """Which appeals a page holds: by status, by being open past the deadline."""

    status: str | None = None
    overdue: bool | None = None
    before: int | None = None
    limit: int = 100


def _is_id(raw: str) -> bool:
    """Say whether a path segment can be a row id (PostgreSQL refuses numbers past BIGINT)."""
    return raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS


def _why(text: str) -> str:
    """Fit a transition's reason into the history column."""
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def _canonical(kind: str, value: str, region: str) -> tuple[str, str]:
    """Normalise the appealed value as its reports were, or raise Invalid naming the field."""
    try:
        normalised = norm.normalise(kind, value, region)
    except norm.NormalisationError as error:
        field = "region" if error.reason == "unknown_region" else "value"
        raise Invalid(
            f"{field}: {error.message}",
            errors=[{"field": field, "reason": error.reason, "message": error.message}],
        ) from None
    return normalised.kind, normalised.value


def file(
    session: Session, policy: rules.Policy, actor: Actor, filing: Filing, now: datetime
) -> dict[str, Any]:
    """File an appeal against a listing, which becomes disputed until a regulator decides."""
    kind, value = _canonical(filing.kind, filing.value, filing.region)
    indicator = session.scalars(
        select(Indicator).where(Indicator.kind == kind, Indicator.value == value).with_for_update()
    ).first()
    if indicator is not None and indicator.status == "disputed":
        open_appeal = session.scalar(
            select(Appeal.id)
            .where(Appeal.indicator_id == indicator.id, Appeal.status == "open")
            .order_by(Appeal.id.desc())
        )
        raise Conflict(
            f"The {kind} {value} is already disputed (appeal {open_appeal}); "
            "wait for a regulator to resolve it.",
            code="already_disputed",
            appeal_id=open_appeal,
        )
    if indicator is None or indicator.status != "listed":
        status = "never reported" if indicator is None else f"its status is {indicator.status}"
        raise Conflict(
            f"The {kind} {value} is not listed ({status}); only a listing can be appealed.",
            code="not_listed",
        )
    appeal = Appeal(
        indicator_id=indicator.id,
        organisation_id=actor.organisation_id,
        reason=filing.reason.strip(),
        contact_ref=filing.contact_ref.strip(),
        status="open",
        filed_at=now,
    )
    session.add(appeal)
    session.flush()
    Lifecycle(session, policy, actor, now).set_status(
        indicator, "disputed", None, _why(f"appeal {appeal.id} filed")
    )
    audit.record(
        session,
        actor,
        "appeal.file",
        target=f"appeal:{appeal.id}",
        details={"indicator": indicator.id, "kind": kind, "value": value},
    )
    return _get(session, appeal.id, now, policy.appeal_overdue)


def resolve(
    session: Session,
    policy: rules.Policy,
    actor: Actor,
    appeal_id: int | str,
    decision: Decision,
    now: datetime,
) -> dict[str, Any]:
    """End an open appeal: upheld lists the value again, delisted removes it for a cool-down."""
    outcome, note = decision.outcome, decision.note
    appeal = None
    if _is_id(str(appeal_id)):
        appeal = session.get(Appeal, int(appeal_id), with_for_update=True)
    if appeal is None:
        raise NotFound(f"No appeal {appeal_id!r} on this node.")
    if appeal.status != "open":
        raise Conflict(
            f"Appeal {appeal.id} was already resolved as {appeal.status} at "
            f"{appeal.resolved_at.isoformat()}.",
            code="appeal_resolved",
        )
    if outcome not in OUTCOMES:
        raise Invalid(
            f"outcome must be one of {', '.join(OUTCOMES)}.",
            errors=[{"field": "outcome", "reason": "not_allowed", "message": "upheld or delisted"}],
        )
    indicator = session.get(Indicator, appeal.indicator_id, with_for_update=True)
    why = _why(f"appeal {appeal.id} {outcome}" + (f": {note.strip()}" if note else ""))
    life = Lifecycle(session, policy, actor, now)
    if outcome == "upheld" and indicator.status == "disputed":
        life.set_status(indicator, "listed", None, why)
    elif outcome == "delisted" and indicator.status not in ("delisted", "protected"):
        # Also when the listing lapsed meanwhile: the cool-down must still apply.
        life.set_status(indicator, "delisted", "delisted", why)
    appeal.status = outcome
    appeal.resolved_at = now
    appeal.resolved_by_id = actor.organisation_id
    appeal.resolution_note = note.strip() if note else None
    session.flush()
    audit.record(
        session,
        actor,
        "appeal.resolve",
        target=f"appeal:{appeal.id}",
        details={"indicator": indicator.id, "outcome": outcome, "status": indicator.status},
    )
    return _get(session, appeal.id, now, policy.appeal_overdue)


def _query():
    """Appeals with their indicator and the names of the filing and resolving organisations."""
    filer = aliased(Organisation)
    resolver = aliased(Organisation)
    return (
        select(Appeal, Indicator, filer.name, resolver.name)
        .join(Indicator, Indicator.id == Appeal.indicator_id)
        .join(filer, filer.id == Appeal.organisation_id)
        .outerjoin(resolver, resolver.id == Appeal.resolved_by_id)
    )


def _view(row, now: datetime, overdue_after: timedelta) -> dict[str, Any]:
    """The shape the API shows for one appeal."""
    appeal, indicator, filed_by, resolved_by = row
    age = (appeal.resolved_at or now) - appeal.filed_at
    return {
        "id": appeal.id,
        "status": appeal.status,
        "indicator": {
            "id": indicator.id,
            "kind": indicator.kind,
            "value": indicator.value,
            "status": indicator.status,
            "risk": indicator.risk,
        },
        "reason": appeal.reason,
        "contact_ref": appeal.contact_ref,
        "filed_by": filed_by,
        "filed_at": appeal.filed_at,
        "age_days": round(age.total_seconds() / 86400, 1),
        "overdue": appeal.status == "open" and age > overdue_after,
        "resolved_at": appeal.resolved_at,
        "resolved_by": resolved_by,
        "resolution_note": appeal.resolution_note,
    }


def _get(
    session: Session, appeal_id: int, now: datetime, overdue_after: timedelta
) -> dict[str, Any]:
    """Load one appeal in its API shape."""
    row = session.execute(_query().where(Appeal.id == appeal_id)).one()
    return _view(row, now, overdue_after)


def list_appeals(
    session: Session, policy: rules.Policy, caller: Caller, page: AppealFilter, now: datetime
) -> tuple[list[dict[str, Any]], int | None]:
    """Return one page of appeals, newest first: an operator's own, or every one for a regulator."""
    query = _query().order_by(Appeal.id.desc()).limit(page.limit + 1)
    if caller.role != "regulator":
        query = query.where(Appeal.organisation_id == caller.organisation_id)
    if page.status:
        query = query.where(Appeal.status == page.status)
    if page.overdue is not None:
        late = and_(Appeal.status == "open", Appeal.filed_at < now - policy.appeal_overdue)
        query = query.where(late if page.overdue else not_(late))
    if page.before:
        query = query.where(Appeal.id < page.before)
    rows = session.execute(query).all()
    next_cursor = rows[page.limit - 1][0].id if len(rows) > page.limit else None
    return [_view(row, now, policy.appeal_overdue) for row in rows[: page.limit]], next_cursor
