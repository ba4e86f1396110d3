"""Node statistics: what happened per UTC day, by kind and category, on either engine."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Integer, and_, cast, func, select, true
from sqlalchemy.orm import Session

from scamshare.errors import Invalid
from scamshare.models import Appeal, Indicator, IndicatorEvent, Report
from schemas.stats import METRICS

DEFAULT_DAYS = 30
MAX_DAYS = 366
NO_CATEGORY = "none"
CSV_COLUMNS = ("day", "metric", "kind", "category", "count")


def _dialect(session: Session) -> str:
    """Name the session's database engine."""
    return session.get_bind().dialect.name


def _day(session: Session, column):
    """The UTC day of a timestamp column, as SQL that each engine understands."""
    if _dialect(session) == "postgresql":
        # timestamptz to the UTC wall clock first, whatever the connection's time zone.
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite stores UTC as text; date() keeps its first ten characters


def _main_category(session: Session):
    """The indicator's category with the most reports (ties alphabetical), as a subquery."""
    if _dialect(session) == "postgresql":
        pairs = func.json_each_text(Indicator.category_counts).table_valued("key", "value")
        count = cast(pairs.c.value, Integer)
    else:
        pairs = func.json_each(Indicator.category_counts).table_valued("key", "value")
        count = pairs.c.value
    top = select(pairs.c.key).order_by(count.desc(), pairs.c.key).limit(1).scalar_subquery()
    return func.coalesce(top, NO_CATEGORY)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The first instant of `start` and the first instant after `end`, in UTC."""
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
    )


def _grouped(session: Session, rows_query, metric: str) -> list[dict[str, Any]]:
    """Count the rows of a (day, kind, category) query per group, under one metric name."""
    inner = rows_query.subquery()
    grouped = select(inner.c.day, inner.c.kind, inner.c.category, func.count()).group_by(
        inner.c.day, inner.c.kind, inner.c.category
    )
    return [
        {"day": str(day), "metric": metric, "kind": kind, "category": category, "count": count}
        for day, kind, category, count in session.execute(grouped)
    ]


def _change_conditions() -> dict[str, Any]:
    """Which history rows are a listing, an expiry or a delisting."""
    event = IndicatorEvent
    previous = func.coalesce(event.from_status, "")
    return {
        # An appeal upheld (disputed back to listed) is not a new listing.
        "indicators_listed": and_(
            event.to_status == "listed", previous.not_in(("listed", "disputed"))
        ),
        "indicators_expired": and_(event.to_status == "expired", previous != "expired"),
        "indicators_delisted": and_(event.to_status == "delisted", previous != "delisted"),
    }


def _status_changes(session: Session, low: datetime, high: datetime) -> list[dict[str, Any]]:
    """Count listings, expiries and delistings from the indicator history."""
    event = IndicatorEvent
    result = []
    for metric, condition in _change_conditions().items():
        rows = (
            select(
                _day(session, event.at).label("day"),
                Indicator.kind.label("kind"),
                _main_category(session).label("category"),
            )
            .join(Indicator, Indicator.id == event.indicator_id)
            .where(event.at >= low, event.at < high, condition)
        )
        result.extend(_grouped(session, rows, metric))
    return result


def _appeals(session: Session, low: datetime, high: datetime) -> list[dict[str, Any]]:
    """Count appeals filed and appeals resolved."""
    result = []
    for metric, column in (
        ("appeals_opened", Appeal.filed_at),
        ("appeals_resolved", Appeal.resolved_at),
    ):
        rows = (
            select(
                _day(session, column).label("day"),
                Indicator.kind.label("kind"),
                _main_category(session).label("category"),
            )
            .join(Indicator, Indicator.id == Appeal.indicator_id)
            .where(column >= low, column < high)
        )
        result.extend(_grouped(session, rows, metric))
    return result


def _reports(session: Session, low: datetime, high: datetime) -> list[dict[str, Any]]:
    """Count submitted reports (not the values extracted from messages) as received."""
    rows = select(
        _day(session, Report.received_at).label("day"),
        Report.kind.label("kind"),
        Report.category.label("category"),
    ).where(
        Report.received_at >= low,
        Report.received_at < high,
        Report.extracted_from_id.is_(None),
    )
    return _grouped(session, rows, "reports_received")


def _check_period(start: date, end: date) -> None:
    """Refuse a period that ends before it starts or spans more than a year."""
    if start > end:
        problem = ("from", "after_to", f"from ({start}) is after to ({end}).")
    elif (end - start).days >= MAX_DAYS:
        problem = ("to", "too_long", f"The period spans at most {MAX_DAYS} days.")
    else:
        return
    field_name, reason, message = problem
    raise Invalid(
        message,
        errors=[{"field": field_name, "reason": reason, "message": message, "location": "query"}],
    )


def summarise(
    session: Session, *, today: date, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Count what happened each UTC day from `start` to `end` (both included)."""
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    _check_period(start, end)
    low, high = _bounds(start, end)
    rows = _reports(session, low, high) + _status_changes(session, low, high)
    rows += _appeals(session, low, high)
    order = {metric: position for position, metric in enumerate(METRICS)}
    rows.sort(key=lambda r: (r["day"], order[r["metric"]], r["kind"], r["category"]))
    totals = dict.fromkeys(METRICS, 0)
    for row in rows:
        totals[row["metric"]] += row["count"]
    return {"start": start.isoformat(), "end": end.isoformat(), "totals": totals, "rows": rows}


def to_csv(summary: dict[str, Any]) -> str:
    """Render a summary as CSV: one row per day, metric, kind and category."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(summary["rows"])
    return buffer.getvalue()


def indicator_counts(session: Session) -> list[tuple[str, str, int]]:
    """How many indicators there are of each kind in each status, for the node's metrics."""
    rows = session.execute(
        select(Indicator.kind, Indicator.status, func.count())
        .group_by(Indicator.kind, Indicator.status)
        .order_by(Indicator.kind, Indicator.status)
    )
    return [(kind, status, count) for kind, status, count in rows]


def reports_received(session: Session, since: datetime) -> int:
    """How many reports arrived from `since` on (the console's today and this week)."""
    return session.scalar(select(func.count()).where(Report.received_at >= since)) or 0


def listed_per_kind(session: Session) -> dict[str, int]:
    """How many indicators operators receive (listed or disputed), per kind: an index scan."""
    rows = session.execute(
        select(Indicator.kind, func.count())
        .where(Indicator.exported == true())  # "IS 1" would not use the index on SQLite
        .group_by(Indicator.kind)
        .order_by(Indicator.kind)
    )
    return {kind: count for kind, count in rows}


DAILY = ("reports_received", "indicators_listed", "indicators_expired", "indicators_delisted")


def daily(session: Session, *, today: date, days: int = DEFAULT_DAYS) -> dict[str, dict[str, int]]:
    """Reports, listings, expiries and delistings per UTC day, the last `days` days to today.

    The console's dashboard chart: the same counts as summarise's, without its split by kind
    and category, whose join per row took seconds on a node of a million indicators. Each
    metric is one statement of a count per day, each count a range of an index (reports'
    received_at, the history's to_status and at): grouping by a computed day sorted every row.
    """
    start = today - timedelta(days=days - 1)
    names = [(start + timedelta(days=offset)).isoformat() for offset in range(days)]
    bounds = [_bounds(day, day) for day in map(date.fromisoformat, names)]
    metrics = {
        "reports_received": (Report.received_at, Report.extracted_from_id.is_(None)),
        **{
            metric: (IndicatorEvent.at, condition)
            for metric, condition in _change_conditions().items()
        },
    }
    found = {name: dict.fromkeys(DAILY, 0) for name in names}
    for metric, (column, condition) in metrics.items():
        per_day = select(
            *(
                select(func.count())
                .where(column >= low, column < high, condition)
                .scalar_subquery()
                for low, high in bounds
            )
        )
        for name, count in zip(names, session.execute(per_day).one(), strict=True):
            found[name][metric] = count
    return found


def daily_totals(summary: dict[str, Any]) -> dict[str, dict[str, int]]:
    """A summary's counts per day and metric (every day of its period, zeros included)."""
    start, end = date.fromisoformat(summary["start"]), date.fromisoformat(summary["end"])
    days = {
        (start + timedelta(days=offset)).isoformat(): dict.fromkeys(METRICS, 0)
        for offset in range((end - start).days + 1)
    }
    for row in summary["rows"]:
        days[row["day"]][row["metric"]] += row["count"]
    return days


def totals_by(summary: dict[str, Any], field: str) -> dict[str, dict[str, int]]:
    """A summary's counts per metric and kind (or category), largest first."""
    found: dict[str, dict[str, int]] = {}
    for row in summary["rows"]:
        per = found.setdefault(row["metric"], {})
        per[row[field]] = per.get(row[field], 0) + row["count"]
    return {
        metric: dict(sorted(per.items(), key=lambda item: (-item[1], item[0])))
        for metric, per in found.items()
    }
