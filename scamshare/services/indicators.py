"""Reading indicators: a filtered, keyset-paged list and one indicator with its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, inspect, or_, select
from sqlalchemy.orm import Session

from scamshare import normalise as norm
from scamshare.auth import Caller
from scamshare.clock import utcnow
from scamshare.errors import Conflict, Invalid, NotFound
from scamshare.indicators.lifecycle import Lifecycle
from scamshare.models import (
    KINDS,
    Actor,
    Indicator,
    IndicatorEvent,
    IndicatorOrganisation,
    Organisation,
    Report,
)
from scamshare.policy import Policy

# Roles that see every reporting organisation; everyone else sees only its own share.
SEES_REPORTERS = frozenset({"regulator"})
_MAX_ID_DIGITS = 18  # a larger number cannot be a BIGINT id, and PostgreSQL would refuse it


@dataclass(frozen=True)
class IndicatorFilter:
    """Which indicators a page holds: by kind, status, category, risk, reporting country."""

    kind: str | None = None
    status: str | None = None
    category: str | None = None
    risk: str | None = None
    country: str | None = None
    before: int | None = None
    limit: int = 100


def search(session: Session, page: IndicatorFilter) -> tuple[list[Indicator], int | None]:
    """Return one page of indicators, newest first, and the cursor of the next page."""
    query: Select = select(Indicator).order_by(Indicator.id.desc()).limit(page.limit + 1)
    if page.kind:
        query = query.where(Indicator.kind == page.kind)
    if page.status:
        query = query.where(Indicator.status == page.status)
    if page.risk:
        query = query.where(Indicator.risk == page.risk)
    if page.category:
        # JSON path extraction reads the same on SQLite (json_extract) and PostgreSQL (->>).
        query = query.where(Indicator.category_counts[page.category].as_integer() > 0)
    if page.country:
        query = query.where(
            exists().where(
                IndicatorOrganisation.indicator_id == Indicator.id,
                IndicatorOrganisation.country == page.country,
            )
        )
    if page.before:
        query = query.where(Indicator.id < page.before)
    indicators = list(session.scalars(query))
    next_cursor = indicators[page.limit - 1].id if len(indicators) > page.limit else None
    return indicators[: page.limit], next_cursor


def _indicator_id(raw: str) -> int:
    """Read an indicator id from a path segment, or raise NotFound."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _MAX_ID_DIGITS:
        raise NotFound(f"No indicator {raw!r} on this node.")
    return int(raw)


def detail(session: Session, raw_id: str, caller: Caller) -> dict[str, Any]:
    """Return one indicator with its history and the reporters this caller may see."""
    indicator = session.get(Indicator, _indicator_id(raw_id))
    if indicator is None:
        raise NotFound(f"No indicator {raw_id!r} on this node.")
    sees_all = caller.role in SEES_REPORTERS

    reporters_query = (
        select(IndicatorOrganisation, Organisation.name)
        .join(Organisation, Organisation.id == IndicatorOrganisation.organisation_id)
        .where(IndicatorOrganisation.indicator_id == indicator.id)
        .order_by(IndicatorOrganisation.report_count.desc(), Organisation.name)
    )
    if not sees_all:
        reporters_query = reporters_query.where(
            IndicatorOrganisation.organisation_id == caller.organisation_id
        )
    reporters = [
        {
            "organisation": name,
            "report_count": share.report_count,
            "first_at": share.first_at,
            "last_at": share.last_at,
        }
        for share, name in session.execute(reporters_query)
    ]

    events = session.scalars(
        select(IndicatorEvent)
        .where(IndicatorEvent.indicator_id == indicator.id)
        .order_by(IndicatorEvent.sequence)
    )
    history = [
        {
            "sequence": event.sequence,
            "at": event.at,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "risk": event.risk,
            "reason": event.reason,
            # Who caused a change is a reporter identity too: only regulators see others'.
            "organisation": event.organisation_name
            if sees_all or event.organisation_name == caller.organisation_name
            else None,
        }
        for event in events
    ]
    columns = {attr.key: getattr(indicator, attr.key) for attr in inspect(Indicator).column_attrs}
    return {**columns, "history": history, "reporters": reporters}


# --- the console's review queue ----------------------------------------------------------------

REVIEW_PAGE = 50


def find_by_value(session: Session, value: str, kind: str | None, region: str) -> list[Indicator]:
    """The indicators a typed value names, in any spelling: normalised as lookups normalise it.

    Without a kind, the value is read as every kind it can be (a number, a sender ID, a link).
    """
    keys = set()
    for candidate in (kind,) if kind else KINDS:
        try:
            normalised = norm.normalise(candidate, value, region)
        except norm.NormalisationError as error:
            if kind:
                entry = {"field": "q", "reason": error.reason, "message": error.message}
                raise Invalid(
                    f"q: {error.message}", code="not_normalisable", errors=[entry]
                ) from None
            continue
        keys.add((normalised.kind, normalised.value))
    if not keys:
        return []
    # One equality pair per reading: SQLite does not search the (kind, value) index for a
    # row-value IN, and scanned a million rows.
    query = select(Indicator).where(
        or_(*(and_(Indicator.kind == k, Indicator.value == v) for k, v in sorted(keys)))
    )
    return list(session.scalars(query.order_by(Indicator.kind)))


def review_queue(
    session: Session, limit: int = REVIEW_PAGE, kind: str | None = None
) -> list[Indicator]:
    """Reported but not listed: most distinct organisations first, then the most recent."""
    query = (
        select(Indicator)
        .where(Indicator.status == "reported")
        # In the index's own order read backwards (the id is its last, implicit column).
        .order_by(
            Indicator.org_count.desc(), Indicator.last_reported_at.desc(), Indicator.id.desc()
        )
        .limit(limit)
    )
    if kind:
        query = query.where(Indicator.kind == kind)
    return list(session.scalars(query))


def reports_behind(
    session: Session, indicator_ids: list[int], per_indicator: int = 5
) -> dict[int, list[dict[str, Any]]]:
    """The latest reports behind each indicator, with their organisations (for regulators)."""
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in indicator_ids}
    if not indicator_ids:
        return found
    rows = session.execute(
        select(Report, Organisation.name)
        .join(Organisation, Organisation.id == Report.organisation_id)
        .where(Report.indicator_id.in_(indicator_ids))
        .order_by(Report.indicator_id, Report.received_at.desc(), Report.id.desc())
    )
    for report, organisation in rows:
        share = found[report.indicator_id]
        if len(share) < per_indicator:
            share.append(
                {
                    "id": report.id,
                    "organisation": organisation,
                    "submitted_value": report.submitted_value,
                    "region": report.region,
                    "category": report.category,
                    "channel": report.channel,
                    "observed_at": report.observed_at,
                    "received_at": report.received_at,
                    "evidence_ref": report.evidence_ref,
                    "verified": report.verified,
                    "spoofed_caller_id": report.spoofed_caller_id,
                    "note": report.note,
                }
            )
    return found


def get(session: Session, raw_id: str) -> Indicator:
    """One indicator by the id in a path, or NotFound."""
    indicator = session.get(Indicator, _indicator_id(raw_id))
    if indicator is None:
        raise NotFound(f"No indicator {raw_id!r} on this node.")
    return indicator


def verification_report(session: Session, indicator: Indicator, evidence_ref: str) -> dict:
    """A verified report of a reviewed indicator, as POST /api/v1/reports takes one.

    The value is its latest report's own spelling (a message's text: its canonical value is a
    fingerprint), its category and channel those most reported.
    """
    latest = session.scalars(
        select(Report)
        .where(Report.indicator_id == indicator.id)
        .order_by(Report.received_at.desc(), Report.id.desc())
        .limit(1)
    ).first()
    item = {
        "kind": indicator.kind,
        "value": indicator.value,
        "category": _most(indicator.category_counts, "other"),
        "channel": _most(indicator.channel_counts, "sms"),
        "observed_at": (indicator.last_reported_at or utcnow()).isoformat(),
        "evidence_ref": evidence_ref,
        "verified": True,
    }
    if latest is not None:
        item["channel"] = latest.channel if not indicator.channel_counts else item["channel"]
        if indicator.kind == "message":
            item["value"] = latest.submitted_value
        if latest.region:
            item["region"] = latest.region
    return item


def _most(counts: dict[str, int], default: str) -> str:
    """The most counted name (ties alphabetical), or a default."""
    return min(counts, key=lambda name: (-counts[name], name)) if counts else default


def dismiss(
    session: Session, policy: Policy, actor: Actor, raw_id: str, note: str, now: datetime
) -> Indicator:
    """A regulator's review found a reported value no scam: it is delisted, not listed.

    Delisted, it needs a verified report to list again within the cool-down, as after an
    appeal; the lifecycle stamps it, writes its history and its audit entry.
    """
    indicator = session.scalars(
        select(Indicator).where(Indicator.id == _indicator_id(raw_id)).with_for_update()
    ).first()
    if indicator is None:
        raise NotFound(f"No indicator {raw_id!r} on this node.")
    if indicator.status != "reported":
        raise Conflict(
            f"Only a reported indicator can be dismissed; {indicator.id} is {indicator.status}.",
            code="not_reported",
        )
    why = f"dismissed on review: {note.strip()}" if note.strip() else "dismissed on review"
    Lifecycle(session, policy, actor, now).set_status(indicator, "delisted", "delisted", why)
    return indicator
