"""Submitting reports: validate, normalise, aggregate into indicators, settle their state."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare import db
from scamshare import normalise as norm
from scamshare import policy as rules
from scamshare.auth import Caller
from scamshare.errors import Forbidden, Invalid, field_errors
from scamshare.fastload import compile_loader
from scamshare.gcpause import collector_paused
from scamshare.models import (
    Indicator,
    IndicatorOrganisation,
    MessageBand,
    ProtectedValue,
    Report,
)
from scamshare.services import audit, lifecycle
from scamshare.services.audit import Actor
from schemas.common import CLOCK_SKEW
from schemas.reports import ReportSchema

VERIFYING_ROLES = frozenset({"regulator", "law_enforcement"})
_load_report = compile_loader(ReportSchema())


@dataclass
class Candidate:
    """One report ready to store: validated, normalised, tied to its input index."""

    index: int
    data: dict[str, Any]
    kind: str
    value: str
    facts: dict[str, Any]
    parent: int | None = None  # position of the message report it was extracted from
    children: list[int] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """Verification vouches for the reported value, never for what its text mentions.

        A number inside a scam SMS may be the recipient's own, so extracted values corroborate
        but never list on the strength of the message's verification.
        """
        return self.parent is None and self.data["verified"]


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


def _reject(index: int, field_name: str, reason: str, message: str) -> dict:
    """One rejected item."""
    return {"index": index, "field": field_name, "reason": reason, "message": message}


def _indicator_facts(normalised: norm.Normalised) -> dict[str, Any]:
    """Keep the facts an indicator needs; message bands get their own table, text stays out."""
    facts = {k: v for k, v in normalised.facts.items() if k not in ("bands", "extracted")}
    facts["listable"] = normalised.listable
    return facts


def validate(
    items: list[Any], caller: Caller, node_country: str, policy: rules.Policy, now: datetime
) -> tuple[list[Candidate], list[dict]]:
    """Validate and normalise every item; return the candidates and the rejected items."""
    candidates: list[Candidate] = []
    rejected: list[dict] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            rejected.append(_reject(index, "report", "invalid_type", "A report is an object."))
            continue
        try:
            data = _load_report(item)
        except ValidationError as error:
            first = field_errors(error.messages)[0]
            rejected.append(_reject(index, first["field"], first["reason"], first["message"]))
            continue
        if data["verified"] and caller.role not in VERIFYING_ROLES:
            raise Forbidden(
                f"Report {index}: only regulator and law-enforcement keys may submit verified "
                f"reports; this key's role is {caller.role}.",
                code="verified_not_allowed",
                errors=[
                    _reject(
                        index,
                        "verified",
                        "not_allowed",
                        "verified needs a regulator or law-enforcement key",
                    )
                ],
            )
        if data["observed_at"] > now + CLOCK_SKEW:
            rejected.append(
                _reject(index, "observed_at", "in_future", "observed_at is in the future.")
            )
            continue
        region = (data.get("region") or caller.country or node_country).upper()
        try:
            normalised = norm.normalise(
                data["kind"], data["value"], region, max_range=policy.range_max
            )
        except norm.NormalisationError as error:
            field_name = "region" if error.reason == "unknown_region" else "value"
            rejected.append(_reject(index, field_name, error.reason, error.message))
            continue
        parent_position = len(candidates)
        candidates.append(
            Candidate(index, data, normalised.kind, normalised.value, _indicator_facts(normalised))
        )
        if normalised.kind == "message":
            candidates[parent_position].facts["bands"] = normalised.facts.get("bands", [])
        for found in normalised.facts.get("extracted", []):
            try:
                child = norm.normalise(found["kind"], found["value"], region)
            except norm.NormalisationError:
                continue  # something the extractor saw that the kind's own rules refuse
            candidates[parent_position].children.append(len(candidates))
            candidates.append(
                Candidate(
                    index,
                    data,
                    child.kind,
                    child.value,
                    _indicator_facts(child),
                    parent=parent_position,
                )
            )
    return candidates, rejected


def refuse_ranges_over_protected_numbers(
    session: Session, candidates: list[Candidate]
) -> tuple[list[Candidate], list[dict]]:
    """Refuse number ranges that would cover a protected number."""
    ranges = [c for c in candidates if c.kind == "phone_range"]
    if not ranges:
        return candidates, []
    refused: set[int] = set()
    rejected = []
    for candidate in ranges:
        prefix = candidate.facts["prefix"]
        covered = session.scalars(
            select(ProtectedValue.value).where(
                ProtectedValue.kind == "phone",
                ProtectedValue.value.startswith(prefix, autoescape=True),
            )
        ).all()
        hits = [number for number in covered if norm.range_covers(candidate.value, number)]
        if hits:
            refused.add(candidate.index)
            rejected.append(
                _reject(
                    candidate.index,
                    "value",
                    "covers_protected",
                    f"The range {candidate.value} covers the protected number {hits[0]}.",
                )
            )
    kept = [c for c in candidates if c.index not in refused]
    return kept, rejected


# The columns a batch's sums change (_add_sum); settle writes them with its own.
_FOLDED = (
    "spoofed_count",
    "report_count",
    "verified_count",
    "category_counts",
    "channel_counts",
    "first_reported_at",
    "last_reported_at",
    "last_verified_at",
    "updated_at",
)
# Set once, when an indicator is created.
_SET_ONCE = ("kind", "value", "facts", "created_at")
# The columns a new indicator is inserted with; the others start NULL.
_NEW_COLUMNS = tuple(
    dict.fromkeys((*_SET_ONCE, *lifecycle.NEW_VALUES, *lifecycle.DERIVED, *_FOLDED))
)


def new_rows(raw: db.Raw, states: dict[tuple[str, str], lifecycle.IndicatorState]) -> list:
    """The INSERT rows of these complete indicator states, in the driver's form, by key.

    Sorted: two batches inserting the same new values in different orders would otherwise each
    wait on the other's uncommitted rows (a deadlock on PostgreSQL).
    """
    table = Indicator.__table__
    values_of = operator.itemgetter(*_NEW_COLUMNS)
    writers = [
        (position, raw.writer(table.c[name]))
        for position, name in enumerate(_NEW_COLUMNS)
        if raw.writer(table.c[name]) is not None
    ]
    rows = []
    for _, state in sorted(states.items()):
        row = list(values_of(state.__dict__))
        for position, write in writers:
            row[position] = write(row[position])
        rows.append(row)
    return rows


def create_missing(
    raw: db.Raw, states: dict[tuple[str, str], lifecycle.IndicatorState], rows: list
) -> dict[tuple[str, str], lifecycle.IndicatorState]:
    """Insert the indicators among these complete states that do not exist yet; return them.

    `rows` are the states' new_rows. Only the ids come from the database: the state of a
    created indicator is what the caller prepared.
    """
    found = {}
    for id_, kind, value in raw.insert_new(Indicator.__table__, _NEW_COLUMNS, rows):
        state = found[(kind, value)] = states[(kind, value)]
        state.id = id_
    return found


def lock_indicators(
    session: Session,
    raw: db.Raw,
    states: dict[tuple[str, str], lifecycle.IndicatorState],
    rows: list,
) -> tuple[dict[tuple[str, str], lifecycle.IndicatorState], set[int]]:
    """Create the missing indicators and lock every one named, in a stable order.

    `states` holds each (kind, value) complete as it would be if new, `rows` their new_rows.
    Concurrent submissions of the same values meet on the (kind, value) unique key and then
    queue on the row locks, so no report is lost and no count is off; locking in id order
    keeps two batches from deadlocking. Returns the indicators and the ids of those created.
    """
    found = create_missing(raw, states, rows)
    raw.analyse_once("indicators")  # a fresh database's lookups need its first statistics
    created = {state.id for state in found.values()}
    existing = [key for key in states if key not in found]
    found.update(lifecycle.load_states(session, existing, lock=True))
    return found, created


def store(
    session: Session,
    candidates: list[Candidate],
    caller: Caller,
    policy: rules.Policy,
    now: datetime,
) -> list[dict]:
    """Write the reports, fold them into their indicators and settle every touched indicator."""
    raw = db.Raw(session)
    # Everything that needs no database is done first: on SQLite the first statement takes the
    # node's one write lock, which other workers' batches then wait for.
    batch = _Batch(candidates, caller, raw, now)
    states = batch.new_states(policy)
    rows = new_rows(raw, states)
    indicators, created = lock_indicators(session, raw, states, rows)
    before = {i.id: lifecycle.exported_view(i) for i in indicators.values() if i.id not in created}

    # Reports: parents first, so that extracted reports can point at them.
    report_ids: dict[int, int] = {}
    for wave in (
        [p for p, c in enumerate(candidates) if c.parent is None],
        [p for p, c in enumerate(candidates) if c.parent is not None],
    ):
        if not wave:
            continue
        rows = [batch.report_row(p, indicators, report_ids) for p in wave]
        report_ids.update(zip(wave, _insert_reports(raw, rows), strict=True))

    known = batch.fold(session, raw, indicators, created)
    touched = list({i.id: i for i in (indicators[key] for key in batch.keys)}.values())
    # An indicator this batch created was inserted settled (_Batch.new_states). It needs settling
    # only if its status changes: a verified report lists it, or its value is protected.
    fresh = [i for i in touched if i.id in created]
    protected = lifecycle.protected_keys(session, fresh)
    changing = protected | batch.changing
    settling = [i for i in fresh if (i.kind, i.value) in changing]
    before.update((i.id, lifecycle.exported_view(i)) for i in settling)
    settling += [i for i in touched if i.id not in created]
    actor = Actor(caller.organisation_id, caller.organisation_name, caller.key_id)
    lifecycle.settle(
        session,
        policy,
        settling,
        actor,
        now,
        why="report",
        before=before,
        changed=_FOLDED,
        known=known,
    )

    accepted = []
    for position, candidate in enumerate(candidates):
        if candidate.parent is not None:
            continue
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
                    "indicator": _ref(
                        indicators[(candidates[child].kind, candidates[child].value)]
                    ),
                }
                for child in candidate.children
            ]
        accepted.append(entry)
    return accepted


_REPORT_COLUMNS = (
    "id",
    "indicator_id",
    "organisation_id",
    "key_id",
    "kind",
    "submitted_value",
    "category",
    "channel",
    "observed_at",
    "received_at",
    "evidence_ref",
    "region",
    "verified",
    "spoofed_caller_id",
    "note",
    "message_text",
    "extracted_from_id",
)


def _insert_reports(raw: db.Raw, rows: list[tuple]) -> list[int]:
    """Insert report rows (each without its id) and return their new ids in the rows' order."""
    if raw.sqlite:
        # The transaction holds SQLite's only write lock, so nobody else can take these ids.
        (last,) = raw.all("SELECT coalesce(max(id), 0) FROM reports")[0]
        ids = list(range(last + 1, last + 1 + len(rows)))
    else:
        ids = [
            row[0]
            for row in raw.all(
                "SELECT nextval(pg_get_serial_sequence('reports', 'id')) "
                "FROM generate_series(1, ?)",
                (len(rows),),
            )
        ]
        ids.sort()
    raw.insert(
        Report.__table__,
        _REPORT_COLUMNS,
        [(id_, *row) for id_, row in zip(ids, rows, strict=True)],
    )
    return ids


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


class _Batch:
    """A batch of candidates summed per (kind, value) before any database work.

    Each indicator is then changed once, however many of the batch's reports name it.
    """

    def __init__(self, candidates: list[Candidate], caller: Caller, raw: db.Raw, now: datetime):
        """Sum the candidates and prepare their report rows in the driver's form."""
        self.candidates = candidates
        self.caller = caller
        self.now = now
        self.keys: dict[tuple[str, str], dict[str, Any]] = {}
        self.sums: dict[tuple[str, str], _Sum] = {}
        self.bands: set[tuple[tuple[str, str], str]] = set()
        # Keys whose status changes if this batch creates them (new_states): settle stamps them.
        self.changing: set[tuple[str, str]] = set()
        self.rows: list[tuple] = []
        received = raw.when(now)
        for candidate in candidates:
            key = (candidate.kind, candidate.value)
            self.keys[key] = candidate.facts
            data = candidate.data
            is_parent = candidate.parent is None
            self.rows.append(
                (
                    caller.organisation_id,
                    caller.key_id,
                    candidate.kind,
                    data["value"] if is_parent else candidate.value,
                    data["category"],
                    data["channel"],
                    raw.when(data["observed_at"]),
                    received,
                    data["evidence_ref"],
                    data.get("region"),
                    candidate.verified,
                    data["spoofed_caller_id"],
                    data.get("note") if is_parent else None,
                    data["value"] if is_parent and candidate.kind == "message" else None,
                )
            )
            total = self.sums.get(key)
            if total is None:
                total = self.sums[key] = _Sum()
            if data["spoofed_caller_id"] and candidate.kind == "phone":
                # The displayed number was spoofed: its holder is a victim, not a scammer.
                total.spoofed += 1
                continue
            observed = data["observed_at"]
            total.reports += 1
            total.categories[data["category"]] = total.categories.get(data["category"], 0) + 1
            total.channels[data["channel"]] = total.channels.get(data["channel"], 0) + 1
            if total.first is None or observed < total.first:
                total.first = observed
            if total.last is None or observed > total.last:
                total.last = observed
            if candidate.verified:
                total.verified += 1
                if total.last_verified is None or observed > total.last_verified:
                    total.last_verified = observed
            for band in candidate.facts.pop("bands", ()):
                self.bands.add((key, band))

    def new_states(self, policy: rules.Policy) -> dict[tuple[str, str], lifecycle.IndicatorState]:
        """Every indicator of the batch as it is if this batch creates it: complete, unsaved."""
        states = {}
        for key, total in self.sums.items():
            state = states[key] = lifecycle.new_state(key, self.keys[key], self.now)
            _add_sum(state, total, self.now)
            corroboration = self.corroboration(total)
            if lifecycle.settle_new(policy, state, corroboration, self.now) != state.status:
                self.changing.add(key)
        return states

    def corroboration(self, total: _Sum) -> list[tuple[datetime, str]]:
        """The whole corroboration of an indicator this batch creates: its caller's, if any."""
        return [(total.last, self.caller.country)] if total.reports else []

    def report_row(
        self,
        position: int,
        indicators: dict[tuple[str, str], lifecycle.IndicatorState],
        report_ids: dict[int, int],
    ) -> tuple:
        """The row of one report, in _REPORT_COLUMNS order after the id."""
        candidate = self.candidates[position]
        parent = None if candidate.parent is None else report_ids[candidate.parent]
        indicator_id = indicators[(candidate.kind, candidate.value)].id
        return (indicator_id, *self.rows[position], parent)

    def fold(
        self,
        session: Session,
        raw: db.Raw,
        indicators: dict[tuple[str, str], lifecycle.IndicatorState],
        created: set[int],
    ) -> dict[int, list[tuple[datetime, str]]]:
        """Add the sums to the indicators' states and to the corroboration table.

        Returns the corroboration rows of the indicators this batch created, which are only
        this batch's, so that settle need not read them back.
        """
        caller = self.caller
        corroborations = []
        known: dict[int, list[tuple[datetime, str]]] = {}
        for key, total in self.sums.items():
            state = indicators[key]
            if state.id in created:
                known[state.id] = self.corroboration(total)  # created with its sums (new_states)
            else:
                _add_sum(state, total, self.now)
            if total.reports:
                corroborations.append(
                    (
                        state.id,
                        caller.organisation_id,
                        caller.country,
                        total.reports,
                        raw.when(total.first),
                        raw.when(total.last),
                    )
                )
        least, greatest = ("min", "max") if raw.sqlite else ("least", "greatest")
        raw.insert(
            IndicatorOrganisation.__table__,
            ("indicator_id", "organisation_id", "country", "report_count", "first_at", "last_at"),
            corroborations,
            "ON CONFLICT (indicator_id, organisation_id) DO UPDATE SET "
            "report_count = indicator_organisations.report_count + excluded.report_count, "
            f"first_at = {least}(indicator_organisations.first_at, excluded.first_at), "
            f"last_at = {greatest}(indicator_organisations.last_at, excluded.last_at)",
        )
        if self.bands:
            statement = db.insert_for(session)(MessageBand).on_conflict_do_nothing()
            rows = [{"indicator_id": indicators[k].id, "band": b} for k, b in sorted(self.bands)]
            for part in lifecycle.chunks(rows):
                session.execute(statement, part)
        return known


def _added(counts: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Counts plus more counts, keys in first-seen order, as adding reports one by one gives."""
    merged = dict(counts)
    for key, count in more.items():
        merged[key] = merged.get(key, 0) + count
    return merged


def _add_sum(state: lifecycle.IndicatorState, total: _Sum, now: datetime) -> None:
    """Add one indicator's sums to its state; settle writes them with its own columns."""
    state.spoofed_count += total.spoofed
    state.verified_count += total.verified
    if total.reports:
        state.report_count += total.reports
        state.category_counts = _added(state.category_counts, total.categories)
        state.channel_counts = _added(state.channel_counts, total.channels)
        if state.first_reported_at is None or total.first < state.first_reported_at:
            state.first_reported_at = total.first
        if state.last_reported_at is None or total.last > state.last_reported_at:
            state.last_reported_at = total.last
        if total.last_verified is not None and (
            state.last_verified_at is None or total.last_verified > state.last_verified_at
        ):
            state.last_verified_at = total.last_verified
        state.updated_at = now


@collector_paused()
def submit(
    session: Session,
    items: list[Any],
    caller: Caller,
    *,
    node_country: str,
    policy: rules.Policy,
    now: datetime,
    atomic: bool,
) -> Submission:
    """Accept a batch of reports (or, when atomic, all or none of it)."""
    candidates, rejected = validate(items, caller, node_country, policy, now)
    candidates, refused = refuse_ranges_over_protected_numbers(session, candidates)
    rejected = sorted(rejected + refused, key=lambda r: r["index"])
    if rejected and atomic:
        raise Invalid(
            f"{len(rejected)} of {len(items)} reports are invalid; with atomic=true none was "
            "accepted.",
            code="batch_rejected",
            errors=rejected,
        )
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
