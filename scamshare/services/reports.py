"""Submitting reports: validate, normalise, aggregate into indicators, settle their state."""

from __future__ import annotations

from collections import Counter as Tally
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from scamshare import db
from scamshare import normalise as norm
from scamshare import policy as rules
from scamshare.auth import Caller
from scamshare.errors import Forbidden, Invalid, field_errors
from scamshare.fastload import compile_loader
from scamshare.models import (
    Indicator,
    IndicatorOrganisation,
    MessageBand,
    ProtectedValue,
    Report,
)
from scamshare.services import audit, lifecycle
from scamshare.services.audit import Actor
from schemas.reports import ReportSchema

VERIFYING_ROLES = frozenset({"regulator", "law_enforcement"})
CLOCK_SKEW = timedelta(minutes=5)  # observed_at a little ahead of our clock is the sender's clock
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


def ensure_indicators(
    session: Session, keys: dict[tuple[str, str], dict[str, Any]], now: datetime
) -> None:
    """Create the indicators of these (kind, value) keys that do not exist yet."""
    dialect_insert = db.insert_for(session)
    rows = [
        {
            "kind": kind,
            "value": value,
            "status": "reported",
            "risk": "low",
            "facts": facts,
            "category_counts": {},
            "channel_counts": {},
            "created_at": now,
            "updated_at": now,
        }
        # Sorted: two batches inserting the same new values in different orders would
        # otherwise each wait on the other's uncommitted rows (a deadlock on PostgreSQL).
        for (kind, value), facts in sorted(keys.items())
    ]
    # Core, not the ORM's bulk insert: the rows are complete and no object is wanted back.
    statement = dialect_insert(Indicator.__table__).on_conflict_do_nothing(
        index_elements=["kind", "value"]
    )
    connection = session.connection()
    for part in lifecycle.chunks(rows):
        connection.execute(statement, part)


def lock_indicators(
    session: Session, keys: dict[tuple[str, str], dict[str, Any]], now: datetime
) -> dict[tuple[str, str], Indicator]:
    """Create the missing indicators and lock every one named, in a stable order.

    Concurrent submissions of the same values meet on the (kind, value) unique key and then
    queue on the row locks, so no report is lost and no count is off; locking in id order
    keeps two batches from deadlocking.
    """
    ensure_indicators(session, keys, now)
    found: dict[tuple[str, str], Indicator] = {}
    for kind, part in lifecycle.by_kind(keys):
        query = (
            select(Indicator)
            .where(Indicator.kind == kind, Indicator.value.in_(part))
            .order_by(Indicator.id)
            .with_for_update()
        )
        for indicator in session.scalars(query):
            found[(indicator.kind, indicator.value)] = indicator
    return found


def store(
    session: Session,
    candidates: list[Candidate],
    caller: Caller,
    policy: rules.Policy,
    now: datetime,
) -> list[dict]:
    """Write the reports, fold them into their indicators and settle every touched indicator."""
    keys = {(c.kind, c.value): c.facts for c in candidates}
    indicators = lock_indicators(session, keys, now)
    before = {i.id: lifecycle.exported_view(i) for i in indicators.values()}

    # Reports: parents first, so that extracted reports can point at them.
    report_ids: dict[int, int] = {}
    for wave in (
        [p for p, c in enumerate(candidates) if c.parent is None],
        [p for p, c in enumerate(candidates) if c.parent is not None],
    ):
        if not wave:
            continue
        rows = [_report_row(candidates[p], caller, indicators, report_ids, now) for p in wave]
        report_ids.update(zip(wave, _insert_reports(session, rows), strict=True))

    _fold(session, candidates, caller, indicators, now)
    touched = list({id(i): i for i in (indicators[(c.kind, c.value)] for c in candidates)}.values())
    actor = Actor(caller.organisation_id, caller.organisation_name, caller.key_id)
    lifecycle.settle(session, policy, touched, actor, now, why="report", before=before)

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


def _insert_reports(session: Session, rows: list[dict]) -> list[int]:
    """Insert report rows and return their ids in the rows' order."""
    table = Report.__table__
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # SQLAlchemy finds no sentinel in the BigInteger/Integer variant id and would send one
        # INSERT per row to keep RETURNING in order. SQLite inserts the VALUES rows in order and
        # gives each the largest rowid plus one, and this transaction holds the only write
        # lock, so the ids in ascending order are the rows' order.
        return sorted(connection.execute(insert(table).returning(table.c.id), rows).scalars())
    # Ordered RETURNING makes psycopg parse one huge INSERT..SELECT per page; taking the ids
    # from the table's own sequence first lets the rows go as a plain executemany.
    ids = sorted(
        connection.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('reports', 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"count": len(rows)},
        ).scalars()
    )
    connection.execute(
        insert(table), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
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


def _report_row(
    candidate: Candidate,
    caller: Caller,
    indicators: dict[tuple[str, str], Indicator],
    report_ids: dict[int, int],
    now: datetime,
) -> dict:
    """The row of one report."""
    data = candidate.data
    is_parent = candidate.parent is None
    return {
        "indicator_id": indicators[(candidate.kind, candidate.value)].id,
        "organisation_id": caller.organisation_id,
        "key_id": caller.key_id,
        "kind": candidate.kind,
        "submitted_value": data["value"] if is_parent else candidate.value,
        "category": data["category"],
        "channel": data["channel"],
        "observed_at": data["observed_at"],
        "received_at": now,
        "evidence_ref": data["evidence_ref"],
        "region": data.get("region"),
        "verified": candidate.verified,
        "spoofed_caller_id": data["spoofed_caller_id"],
        "note": data.get("note") if is_parent else None,
        "message_text": data["value"] if is_parent and candidate.kind == "message" else None,
        "extracted_from_id": None if is_parent else report_ids[candidate.parent],
    }


def _fold(
    session: Session,
    candidates: list[Candidate],
    caller: Caller,
    indicators: dict[tuple[str, str], Indicator],
    now: datetime,
) -> None:
    """Add the batch's reports to their indicators' counts and to the corroboration table."""
    corroborations: dict[int, list[datetime]] = defaultdict(list)
    bands: set[tuple[int, str]] = set()
    # The batch is summed per indicator first, so that each indicator is changed once.
    sums: dict[int, _Sum] = {}
    for candidate in candidates:
        indicator = indicators[(candidate.kind, candidate.value)]
        total = sums.get(indicator.id)
        if total is None:
            total = sums[indicator.id] = _Sum(indicator)
        data = candidate.data
        if data["spoofed_caller_id"] and candidate.kind == "phone":
            # The displayed number was spoofed: its holder is a victim, not a scammer.
            total.spoofed += 1
            continue
        observed = data["observed_at"]
        total.reports += 1
        total.categories[data["category"]] += 1
        total.channels[data["channel"]] += 1
        if total.first is None or observed < total.first:
            total.first = observed
        if total.last is None or observed > total.last:
            total.last = observed
        if candidate.verified:
            total.verified += 1
            if total.last_verified is None or observed > total.last_verified:
                total.last_verified = observed
        corroborations[indicator.id].append(observed)
        for band in candidate.facts.get("bands", ()):
            bands.add((indicator.id, band))
    _write_sums(session, sums, now)
    if corroborations:
        dialect_insert = db.insert_for(session)
        rows = [
            {
                "indicator_id": indicator_id,
                "organisation_id": caller.organisation_id,
                "country": caller.country,
                "report_count": len(times),
                "first_at": min(times),
                "last_at": max(times),
            }
            for indicator_id, times in corroborations.items()
        ]
        statement = dialect_insert(IndicatorOrganisation)
        excluded = statement.excluded
        table = IndicatorOrganisation.__table__.c
        statement = statement.on_conflict_do_update(
            index_elements=["indicator_id", "organisation_id"],
            set_={
                "report_count": table.report_count + excluded.report_count,
                "first_at": _least(session, table.first_at, excluded.first_at),
                "last_at": _greatest(session, table.last_at, excluded.last_at),
            },
        )
        for part in lifecycle.chunks(rows):
            session.execute(statement, part)
    if bands:
        statement = db.insert_for(session)(MessageBand).on_conflict_do_nothing()
        rows = [{"indicator_id": i, "band": b} for i, b in sorted(bands)]
        for part in lifecycle.chunks(rows):
            session.execute(statement, part)
    for candidate in candidates:
        candidate.facts.pop("bands", None)
    session.flush()


@dataclass
class _Sum:
    """One indicator's share of a batch: counts to add and the extremes of its times."""

    indicator: Indicator
    spoofed: int = 0
    reports: int = 0
    verified: int = 0
    categories: Tally = field(default_factory=Tally)
    channels: Tally = field(default_factory=Tally)
    first: datetime | None = None
    last: datetime | None = None
    last_verified: datetime | None = None


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


def _write_sums(session: Session, sums: dict[int, _Sum], now: datetime) -> None:
    """Write each indicator's new counts in one executemany UPDATE and mirror them in the objects.

    The locked objects get the written values as their loaded state: settle reads them, and a
    flush must not send them a second time.
    """
    rows = []
    for indicator_id, total in sums.items():
        indicator = total.indicator
        loaded = {name: getattr(indicator, name) for name in _FOLDED}
        values = dict(loaded)
        values["spoofed_count"] += total.spoofed
        values["verified_count"] += total.verified
        if total.reports:
            values["report_count"] += total.reports
            # The same sums, in the same key order, as adding the reports one by one.
            values["category_counts"] = dict(Tally(values["category_counts"]) + total.categories)
            values["channel_counts"] = dict(Tally(values["channel_counts"]) + total.channels)
            if values["first_reported_at"] is None or total.first < values["first_reported_at"]:
                values["first_reported_at"] = total.first
            if values["last_reported_at"] is None or total.last > values["last_reported_at"]:
                values["last_reported_at"] = total.last
            if total.last_verified is not None and (
                values["last_verified_at"] is None
                or total.last_verified > values["last_verified_at"]
            ):
                values["last_verified_at"] = total.last_verified
            values["updated_at"] = now
        for name, value in values.items():
            if value != loaded[name]:
                set_committed_value(indicator, name, value)
        rows.append({"b_id": indicator_id, **{f"b_{name}": values[name] for name in _FOLDED}})
    lifecycle.write_columns(session, _FOLDED, rows)


def _least(session: Session, a, b):
    """SQL MIN of two values on either engine."""
    from sqlalchemy import func

    return func.least(a, b) if session.bind.dialect.name == "postgresql" else func.min(a, b)


def _greatest(session: Session, a, b):
    """SQL MAX of two values on either engine."""
    from sqlalchemy import func

    return func.greatest(a, b) if session.bind.dialect.name == "postgresql" else func.max(a, b)


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
