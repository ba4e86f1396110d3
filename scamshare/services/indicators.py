"""Reading indicators: a filtered, keyset-paged list and one indicator with its history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, inspect, select
from sqlalchemy.orm import Session

from scamshare.auth import Caller
from scamshare.errors import NotFound
from scamshare.models import Indicator, IndicatorEvent, IndicatorOrganisation, Organisation

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
