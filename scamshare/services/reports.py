"""Submitting reports: validate, normalise, aggregate into indicators, settle their state.

About 350 lines: the rows a batch writes (reports, corroboration, bands) are built from one
aggregate of the batch, kept here with it; the checks live in report_checks.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, insert
from sqlalchemy.orm import Session

from scamshare import db
from scamshare import policy as rules
from scamshare.auth import Caller
from scamshare.errors import Invalid
from scamshare.indicators import lifecycle
from scamshare.indicators.lifecycle import Lifecycle
from scamshare.models import (
    Actor,
    Indicator,
    IndicatorOrganisation,
    MessageBand,
    Report,
)
from scamshare.services import audit
from scamshare.services.report_checks import (
    Candidate,
    refuse_ranges_over_protected_numbers,
    validate,
)


@dataclass
class Submission:
    """The outcome of one submission."""

    accepted: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Render the response body."""
        return {
            "accepted": len(self.accepted),
            "rejected_count": len(self.rejected),
            "reports": self.accepted,
            "rejected": self.rejected,
        }


def store(
    session: Session,
    candidates: list[Candidate],
    caller: Caller,
    policy: rules.Policy,
    now: datetime,
) -> list[dict]:
    """Write the reports, fold them into their indicators and settle every touched indicator."""
    actor = Actor(caller.organisation_id, caller.organisation_name, caller.key_id)
    life = Lifecycle(session, policy, actor, now)
    batch = _Batch(candidates)
    indicators = life.lock(batch.facts)
    before = {indicator.id: life.shown(indicator) for indicator in indicators.values()}
    for key, total in batch.sums.items():
        total.add_to(indicators[key], now)
    report_ids = _insert_reports(session, candidates, indicators, caller, now)
    _corroborate(session, batch, indicators, caller)
    _store_bands(session, batch, indicators)
    life.settle(list(indicators.values()), why="report", before=before)
    return [
        _accepted(candidates, position, report_ids, indicators)
        for position, candidate in enumerate(candidates)
        if candidate.parent is None
    ]


def _accepted(
    candidates: list[Candidate],
    position: int,
    report_ids: dict[int, int],
    indicators: dict[tuple[str, str], Indicator],
) -> dict:
    """The response entry of one accepted report, with the values extracted from its text."""
    candidate = candidates[position]
    entry = {
        "index": candidate.index,
        "report_id": report_ids[position],
        "indicator": _ref(indicators[(candidate.kind, candidate.value)]),
    }
    if candidate.children:
        entry["extracted"] = [
            {
                "kind": candidates[child].kind,
                "value": candidates[child].value,
                "report_id": report_ids[child],
                "indicator": _ref(indicators[(candidates[child].kind, candidates[child].value)]),
            }
            for child in candidate.children
        ]
    return entry


def _insert_reports(
    session: Session,
    candidates: list[Candidate],
    indicators: dict[tuple[str, str], Indicator],
    caller: Caller,
    now: datetime,
) -> dict[int, int]:
    """Insert the report rows, parents first so that extracted ones point at them; their ids."""
    report_ids: dict[int, int] = {}
    table = Report.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for wave in (
        [p for p, c in enumerate(candidates) if c.parent is None],
        [p for p, c in enumerate(candidates) if c.parent is not None],
    ):
        for part in lifecycle.chunks(wave, REPORT_CHUNK):
            rows = [_report_row(candidates[p], indicators, report_ids, caller, now) for p in part]
            ids = session.scalars(statement, rows).all()
            report_ids.update(zip(part, ids, strict=True))
    return report_ids


REPORT_CHUNK = 1000  # report rows per INSERT


def _report_row(
    candidate: Candidate,
    indicators: dict[tuple[str, str], Indicator],
    report_ids: dict[int, int],
    caller: Caller,
    now: datetime,
) -> dict:
    """The row of one report: what was submitted, kept on this node only."""
    data = candidate.data
    parent = candidate.parent is None
    return {
        "indicator_id": indicators[(candidate.kind, candidate.value)].id,
        "organisation_id": caller.organisation_id,
        "key_id": caller.key_id,
        "kind": candidate.kind,
        "submitted_value": data["value"] if parent else candidate.value,
        "category": data["category"],
        "channel": data["channel"],
        "observed_at": data["observed_at"],
        "received_at": now,
        "evidence_ref": data["evidence_ref"],
        "region": data.get("region"),
        "verified": candidate.verified,
        "spoofed_caller_id": data["spoofed_caller_id"],
        "note": data.get("note") if parent else None,
        "message_text": data["value"] if parent and candidate.kind == "message" else None,
        "extracted_from_id": None if parent else report_ids[candidate.parent],
    }


def _corroborate(
    session: Session,
    batch: _Batch,
    indicators: dict[tuple[str, str], Indicator],
    caller: Caller,
) -> None:
    """Add the batch to each indicator's corroboration by the caller's organisation."""
    rows = [
        {
            "indicator_id": indicators[key].id,
            "organisation_id": caller.organisation_id,
            "country": caller.country,
            "report_count": total.reports,
            "first_at": total.first,
            "last_at": total.last,
        }
        for key, total in sorted(batch.sums.items())
        if total.reports
    ]
    if not rows:
        return
    table = IndicatorOrganisation.__table__
    statement = db.insert_for(session)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["indicator_id", "organisation_id"],
        set_={
            "report_count": table.c.report_count + statement.excluded.report_count,
            "first_at": case(
                (statement.excluded.first_at < table.c.first_at, statement.excluded.first_at),
                else_=table.c.first_at,
            ),
            "last_at": case(
                (statement.excluded.last_at > table.c.last_at, statement.excluded.last_at),
                else_=table.c.last_at,
            ),
        },
    )
    for part in lifecycle.chunks(rows, REPORT_CHUNK):
        session.execute(statement, part)


def _store_bands(
    session: Session, batch: _Batch, indicators: dict[tuple[str, str], Indicator]
) -> None:
    """Index the similarity bands of the batch's message indicators."""
    if not batch.bands:
        return
    statement = db.insert_for(session)(MessageBand.__table__).on_conflict_do_nothing()
    rows = [{"indicator_id": indicators[k].id, "band": b} for k, b in sorted(batch.bands)]
    for part in lifecycle.chunks(rows, REPORT_CHUNK):
        session.execute(statement, part)


def _ref(indicator: Indicator) -> dict:
    """A short reference to an indicator for the response."""
    return {
        "id": indicator.id,
        "kind": indicator.kind,
        "value": indicator.value,
        "status": indicator.status,
        "risk": indicator.risk,
    }


@dataclass
class _Sum:
    """One indicator's share of a batch: counts to add and the extremes of its times."""

    spoofed: int = 0
    reports: int = 0
    verified: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None
    last_verified: datetime | None = None

    def count(self, candidate: Candidate) -> None:
        """Add one report; a spoofed caller ID counts only as such (its holder is a victim)."""
        data = candidate.data
        if data["spoofed_caller_id"] and candidate.kind == "phone":
            self.spoofed += 1
            return
        observed = data["observed_at"]
        self.reports += 1
        self.categories[data["category"]] = self.categories.get(data["category"], 0) + 1
        self.channels[data["channel"]] = self.channels.get(data["channel"], 0) + 1
        self.first = observed if self.first is None else min(self.first, observed)
        self.last = observed if self.last is None else max(self.last, observed)
        if candidate.verified:
            self.verified += 1
            if self.last_verified is None or observed > self.last_verified:
                self.last_verified = observed

    def add_to(self, indicator: Indicator, now: datetime) -> None:
        """Add these sums to an indicator's own counts."""
        indicator.spoofed_count += self.spoofed
        indicator.verified_count += self.verified
        if not self.reports:
            return
        indicator.report_count += self.reports
        indicator.category_counts = _added(indicator.category_counts, self.categories)
        indicator.channel_counts = _added(indicator.channel_counts, self.channels)
        if indicator.first_reported_at is None or self.first < indicator.first_reported_at:
            indicator.first_reported_at = self.first
        if indicator.last_reported_at is None or self.last > indicator.last_reported_at:
            indicator.last_reported_at = self.last
        if self.last_verified is not None and (
            indicator.last_verified_at is None or self.last_verified > indicator.last_verified_at
        ):
            indicator.last_verified_at = self.last_verified
        indicator.updated_at = now


class _Batch:
    """A batch of candidates summed per (kind, value) before any database work.

    Each indicator is then changed once, however many of the batch's reports name it.
    """

    def __init__(self, candidates: list[Candidate]):
        """Sum the candidates per key and collect their facts and similarity bands."""
        self.facts: dict[tuple[str, str], dict[str, Any]] = {}
        self.sums: dict[tuple[str, str], _Sum] = defaultdict(_Sum)
        self.bands: set[tuple[tuple[str, str], str]] = set()
        for candidate in candidates:
            key = (candidate.kind, candidate.value)
            bands = candidate.facts.pop("bands", ())
            self.facts[key] = candidate.facts
            self.sums[key].count(candidate)
            if not (candidate.data["spoofed_caller_id"] and candidate.kind == "phone"):
                self.bands.update((key, band) for band in bands)


def _added(counts: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Counts plus more counts, keys in first-seen order, as adding reports one by one gives."""
    merged = dict(counts)
    for key, count in more.items():
        merged[key] = merged.get(key, 0) + count
    return merged


class BatchRejected(Invalid):
    """An all-or-nothing submission with rejected reports: nothing of it was stored.

    The problem's `errors` list every problem of every rejected report, each with its report's
    index; `rejected` keeps them grouped per report, as a partial submission answers them.
    """

    code = "batch_rejected"

    def __init__(self, message: str, rejected: list[dict]):
        """Keep the rejected items and flatten their problems for the problem details."""
        errors = [{"index": item["index"], **e} for item in rejected for e in item["errors"]]
        super().__init__(message, errors=errors)
        self.rejected = rejected


def submit(
    session: Session,
    items: list[Any],
    caller: Caller,
    *,
    policy: rules.Policy,
    now: datetime,
    atomic: bool,
    unverifiable: str = "forbid",
) -> Submission:
    """Accept a batch of reports (or, when atomic, all or none of it).

    `unverifiable` says what a report asking to be verified by a role that may not verify does:
    see `report_checks.validate`.
    """
    candidates, rejected = validate(items, caller, policy, now, unverifiable=unverifiable)
    candidates, refused = refuse_ranges_over_protected_numbers(session, candidates)
    rejected = sorted(rejected + refused, key=lambda r: r["index"])
    if rejected and atomic:
        if len(items) == 1:
            problems = "; ".join(f"{e['field']}: {e['message']}" for e in rejected[0]["errors"])
            message = f"The report is invalid ({problems}); it was not accepted."
        else:
            message = (
                f"{len(rejected)} of {len(items)} reports are invalid; with atomic=true none "
                "was accepted."
            )
        raise BatchRejected(message, rejected)
    result = Submission(rejected=rejected)
    if candidates:
        result.accepted = store(session, candidates, caller, policy, now)
    audit.record(
        session,
        Actor(caller.organisation_id, caller.organisation_name, caller.key_id),
        "reports.submit",
        outcome="ok" if result.accepted else "rejected",
        details={
            "received": len(items),
            "accepted": len(result.accepted),
            "rejected": len(result.rejected),
        },
    )
    return result
