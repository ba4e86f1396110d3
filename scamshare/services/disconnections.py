"""Disconnection notices: end a disconnected number's listings so its next holder is not blocked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from scamshare import normalise as norm
from scamshare import policy as rules
from scamshare.errors import Invalid
from scamshare.indicators import lifecycle
from scamshare.indicators.lifecycle import Lifecycle
from scamshare.models import EXPORTED_STATUSES, Disconnection, Indicator
from scamshare.services import audit
from scamshare.services.audit import Actor

# The date is a calendar day somewhere in ASEAN (UTC+6:30 to UTC+9), a day ahead of UTC at most.
DATE_SKEW = timedelta(days=1)


@dataclass
class Notice:
    """One validated notice."""

    number: str
    disconnected_on: date
    reset_at: datetime
    listings_ended: int = 0


def _field(prefix: str | None, index: int, name: str) -> str:
    """Name a field of a single notice or of one item of a batch."""
    return f"{prefix}.{index}.{name}" if prefix else name


def validate(
    items: list[dict[str, Any]], region: str, now: datetime, prefix: str | None
) -> list[Notice]:
    """Normalise every number and check every date; raise Invalid naming each bad field."""
    notices, errors = [], []
    latest = (now + DATE_SKEW).date()
    for index, item in enumerate(items):
        try:
            normalised = norm.normalise("phone", item["number"], item.get("region") or region)
        except norm.NormalisationError as error:
            errors.append(
                {
                    "field": _field(prefix, index, "number"),
                    "reason": error.reason,
                    "message": error.message,
                }
            )
            continue
        if not normalised.listable:
            errors.append(
                {
                    "field": _field(prefix, index, "number"),
                    "reason": "short_code",
                    "message": (
                        f"{normalised.value} is a short code or emergency number, never a "
                        "subscriber's number."
                    ),
                }
            )
            continue
        day = item["disconnected_on"]
        if day > latest:
            errors.append(
                {
                    "field": _field(prefix, index, "disconnected_on"),
                    "reason": "in_future",
                    "message": f"{day.isoformat()} is in the future.",
                }
            )
            continue
        notices.append(Notice(normalised.value, day, datetime.combine(day, time.min, tzinfo=UTC)))
    if errors:
        raise Invalid(
            f"{len(errors)} of {len(items)} disconnection notices are invalid; none was "
            "recorded: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
            errors=errors,
        )
    return notices


def record(
    session: Session,
    policy: rules.Policy,
    actor: Actor,
    body: dict[str, Any],
    *,
    region: str,
    now: datetime,
) -> dict[str, Any]:
    """Record one notice or a batch of them; end each listing reported before its number's end.

    The body is one notice or {"disconnections": [...]}, as DisconnectionRequestSchema loads it.
    The indicator's reset_at moves to the disconnection day, so the old holder's reports no
    longer count towards listing the number again; its next holder starts from nothing.
    """
    if "disconnections" in body:  # a batch: its errors name the item ("disconnections.3.number")
        notices = validate(body["disconnections"], region, now, "disconnections")
    else:
        notices = validate([body], region, now, None)
    indicators: dict[str, Indicator] = {}
    for part in lifecycle.chunks(sorted({notice.number for notice in notices})):
        query = (
            select(Indicator)
            .where(Indicator.kind == "phone", Indicator.value.in_(part))
            .order_by(Indicator.id)
            .with_for_update()
        )
        indicators.update((indicator.value, indicator) for indicator in session.scalars(query))

    ended: list[tuple[Indicator, str, str | None, str]] = []
    ending: set[int] = set()
    for notice in notices:
        indicator = indicators.get(notice.number)
        if indicator is None:
            continue
        if (
            indicator.status in EXPORTED_STATUSES
            and indicator.id not in ending
            and indicator.last_reported_at is not None
            and indicator.last_reported_at < notice.reset_at
        ):
            ending.add(indicator.id)
            notice.listings_ended = 1
            why = f"disconnected on {notice.disconnected_on.isoformat()}"
            ended.append((indicator, "expired", "disconnected", why))
        if indicator.reset_at is None or indicator.reset_at < notice.reset_at:
            indicator.reset_at = notice.reset_at
    life = Lifecycle(session, policy, actor, now)
    life.set_statuses(ended)
    # The old holder's reports no longer count: re-derive counts and risk of every indicator.
    touched = sorted(indicators.values(), key=lambda indicator: indicator.id)
    life.settle(touched, why="disconnection notice")

    rows = [
        {
            "number": notice.number,
            "disconnected_on": notice.reset_at,
            "organisation_id": actor.organisation_id,
            "received_at": now,
            "listings_ended": notice.listings_ended,
        }
        for notice in notices
    ]
    ids: list[int] = []
    for part in lifecycle.chunks(rows):
        ids.extend(
            session.scalars(
                insert(Disconnection).returning(Disconnection.id, sort_by_parameter_order=True),
                part,
            ).all()
        )
    ended = sum(notice.listings_ended for notice in notices)
    audit.record(
        session,
        actor,
        "disconnections.submit",
        details={"received": len(notices), "listings_ended": ended},
    )
    return {
        "listings_ended": ended,
        "disconnections": [
            {
                "id": row_id,
                "number": notice.number,
                "disconnected_on": notice.disconnected_on,
                "listings_ended": notice.listings_ended,
            }
            for row_id, notice in zip(ids, notices, strict=True)
        ],
    }
