"""Protected values: the values this node never lists, and each member state's fixtures."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from scamshare import db
from scamshare import normalise as norm
from scamshare import policy as rules
from scamshare.errors import Conflict, Invalid, NotFound, field_errors
from scamshare.indicators import lifecycle
from scamshare.indicators.lifecycle import Lifecycle
from scamshare.models import Indicator, ProtectedValue
from scamshare.services import audit
from scamshare.services.audit import Actor
from schemas.protected import PROTECTED_KINDS, ProtectedCreateSchema

_entry_schema = ProtectedCreateSchema()
MAX_ID_DIGITS = 18  # a longer number cannot be a BIGINT id


@dataclass
class Loaded:
    """The outcome of loading a fixture file."""

    country: str
    added: int
    present: int
    indicators_changed: int


@dataclass(frozen=True)
class Entry:
    """A value to protect as a person writes it; a national number is read in `region`."""

    kind: str
    value: str
    label: str
    category: str
    region: str


def _is_id(raw: str) -> bool:
    """Say whether a path segment can be a row id (PostgreSQL refuses numbers past BIGINT)."""
    return raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS


def canonical(kind: str, value: str, region: str, field: str = "value") -> tuple[str, str]:
    """Normalise a value as its kind would be reported, or raise Invalid naming the field."""
    if kind not in PROTECTED_KINDS:
        raise Invalid(
            f"Only {', '.join(PROTECTED_KINDS)} values can be protected, not {kind!r}.",
            errors=[{"field": "kind", "reason": "not_allowed", "message": "not a protected kind"}],
        )
    try:
        normalised = norm.normalise(kind, value, region)
    except norm.NormalisationError as error:
        if error.reason == "unknown_region":
            field = field.rpartition(".")[0] + ".region" if "." in field else "region"
        raise Invalid(
            f"{field}: {error.message}",
            errors=[{"field": field, "reason": error.reason, "message": error.message}],
        ) from None
    # A numeric sender ID is a phone number; protect it as the kind its reports will have.
    return normalised.kind, normalised.value


def affected_indicators(session: Session, keys: list[tuple[str, str]]) -> list[Indicator]:
    """Lock and return the indicators whose protection depends on these (kind, value) pairs.

    A protected domain also protects every URL on it, as lifecycle.protection_keys decides.
    """
    found: dict[int, Indicator] = {}
    for part in lifecycle.chunks(sorted(set(keys))):
        conditions = [tuple_(Indicator.kind, Indicator.value).in_(part)]
        domains = [value for kind, value in part if kind == "domain"]
        if domains:
            conditions.append(
                and_(Indicator.kind == "url", Indicator.facts["domain"].as_string().in_(domains))
            )
        query = select(Indicator).where(or_(*conditions)).order_by(Indicator.id).with_for_update()
        found.update((indicator.id, indicator) for indicator in session.scalars(query))
    return [found[key] for key in sorted(found)]


def resettle(
    session: Session,
    policy: rules.Policy,
    actor: Actor,
    keys: list[tuple[str, str]],
    now: datetime,
    why: str,
) -> int:
    """Re-derive the state of the indicators of these values; return how many changed status."""
    indicators = affected_indicators(session, keys)
    before = {indicator.id: indicator.status for indicator in indicators}
    # The history keeps 200 characters of a reason; a long label must not fail the change.
    Lifecycle(session, policy, actor, now).settle(indicators, why=why[:200])
    return sum(1 for indicator in indicators if indicator.status != before[indicator.id])


def _reports(session: Session, rows: list[ProtectedValue]) -> dict[tuple[str, str], int]:
    """Count the reports received against each of these values (spoofed ones included)."""
    counts: dict[tuple[str, str], int] = {}
    keys = sorted({(row.kind, row.value) for row in rows})
    for part in lifecycle.chunks(keys):
        for kind, value, reports, spoofed in session.execute(
            select(
                Indicator.kind, Indicator.value, Indicator.report_count, Indicator.spoofed_count
            ).where(tuple_(Indicator.kind, Indicator.value).in_(part))
        ):
            counts[(kind, value)] = reports + spoofed
    return counts


def _view(row: ProtectedValue, reports: int, changed: int | None = None) -> dict[str, Any]:
    """The shape the API and the command line show."""
    view = {
        "id": row.id,
        "kind": row.kind,
        "value": row.value,
        "label": row.label,
        "category": row.category,
        "source": row.source,
        "created_at": row.created_at,
        "impersonation_reports": reports,
    }
    if changed is not None:
        view["indicators_changed"] = changed
    return view


def add(
    session: Session, policy: rules.Policy, actor: Actor, entry: Entry, now: datetime
) -> dict[str, Any]:
    """Protect a value and settle its existing indicators, which become protected at once."""
    # The command line reaches here without the API's schema: check the same rules.
    try:
        _entry_schema.load(asdict(entry))
    except ValidationError as error:
        raise Invalid(
            "; ".join(f"{e['field']}: {e['message']}" for e in field_errors(error.messages)),
            errors=field_errors(error.messages),
        ) from None
    kind, value = canonical(entry.kind, entry.value, entry.region)
    label, category = entry.label, entry.category
    row_id = session.scalar(
        db.insert_for(session)(ProtectedValue)
        .values(
            kind=kind,
            value=value,
            label=label.strip(),
            category=category,
            source="manual",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind", "value"])
        .returning(ProtectedValue.id)
    )
    if row_id is None:
        existing = session.scalars(
            select(ProtectedValue).where(ProtectedValue.kind == kind, ProtectedValue.value == value)
        ).one()
        raise Conflict(
            f"The {kind} {value} is already protected (id {existing.id}, {existing.label!r}).",
            code="already_protected",
        )
    row = session.get(ProtectedValue, row_id)
    changed = resettle(session, policy, actor, [(kind, value)], now, why=f"protected: {label}")
    audit.record(
        session,
        actor,
        "protected.add",
        target=f"protected:{row.id}",
        details={
            "kind": kind,
            "value": value,
            "label": row.label,
            "category": category,
            "indicators_changed": changed,
        },
    )
    return _view(row, _reports(session, [row]).get((kind, value), 0), changed)


def find(session: Session, kind: str, value: str, region: str) -> ProtectedValue:
    """Find a protected value by its kind and value as a person writes it."""
    kind, value = canonical(kind, value, region)
    row = session.scalars(
        select(ProtectedValue).where(ProtectedValue.kind == kind, ProtectedValue.value == value)
    ).first()
    if row is None:
        raise NotFound(f"The {kind} {value} is not on this node's protected list.")
    return row


def remove(
    session: Session, policy: rules.Policy, actor: Actor, protected_id: int | str, now: datetime
) -> dict[str, Any]:
    """Take a value off the protected list and re-settle its indicators under the normal rules."""
    row = None
    if _is_id(str(protected_id)):
        row = session.get(ProtectedValue, int(protected_id), with_for_update=True)
    if row is None:
        raise NotFound(f"No protected value {protected_id!r} on this node.")
    shown = _view(row, _reports(session, [row]).get((row.kind, row.value), 0))
    session.delete(row)
    session.flush()
    changed = resettle(
        session,
        policy,
        actor,
        [(shown["kind"], shown["value"])],
        now,
        why=f"no longer protected: {shown['label']}",
    )
    audit.record(
        session,
        actor,
        "protected.remove",
        target=f"protected:{shown['id']}",
        details={
            "kind": shown["kind"],
            "value": shown["value"],
            "label": shown["label"],
            "category": shown["category"],
            "indicators_changed": changed,
        },
    )
    shown["indicators_changed"] = changed
    return shown


def list_values(
    session: Session,
    *,
    kind: str | None = None,
    category: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    """Return one page of protected values in the order they were added, and the next cursor."""
    query = select(ProtectedValue).order_by(ProtectedValue.id).limit(limit + 1)
    if kind:
        query = query.where(ProtectedValue.kind == kind)
    if category:
        query = query.where(ProtectedValue.category == category)
    if after:
        query = query.where(ProtectedValue.id > after)
    rows = list(session.scalars(query))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    rows = rows[:limit]
    reports = _reports(session, rows)
    return [_view(row, reports.get((row.kind, row.value), 0)) for row in rows], next_cursor


def read_fixture(path: Path) -> dict[str, Any]:
    """Read one country's fixture file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"There is no protected-values file {path.name}.") from None


def load(
    session: Session,
    policy: rules.Policy,
    actor: Actor,
    fixture: dict[str, Any],
    *,
    country: str,
    now: datetime,
) -> Loaded:
    """Add every value of a country's fixture that the list does not hold yet, audited once."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    errors = []
    for index, entry in enumerate(fixture.get("entries", [])):
        try:
            data = _entry_schema.load(entry)
            kind, value = canonical(data["kind"], data["value"], country, f"entries.{index}.value")
        except ValidationError as error:
            errors.extend(field_errors(error.messages, prefix=f"entries.{index}"))
            continue
        except Invalid as error:
            errors.extend(error.errors)
            continue
        rows.setdefault(
            (kind, value),
            {
                "kind": kind,
                "value": value,
                "label": data["label"],
                "category": data["category"],
                "source": f"fixture:{country}",
                "created_at": now,
            },
        )
    if errors:
        raise Invalid(
            f"The protected-values file of {country} has {len(errors)} invalid entries; "
            "nothing was loaded.",
            code="invalid_fixture",
            errors=errors,
        )
    added: list[tuple[str, str]] = []
    statement = (
        db.insert_for(session)(ProtectedValue)
        .on_conflict_do_nothing(index_elements=["kind", "value"])
        .returning(ProtectedValue.kind, ProtectedValue.value)
    )
    for row in rows.values():
        # One row at a time: RETURNING with ON CONFLICT DO NOTHING names only what was inserted.
        inserted = session.execute(statement.values(**row)).first()
        if inserted is not None:
            added.append(tuple(inserted))
    changed = (
        resettle(session, policy, actor, added, now, why=f"protected: fixture of {country}")
        if added
        else 0
    )
    result = Loaded(country, len(added), len(rows) - len(added), changed)
    audit.record(
        session,
        actor,
        "protected.load",
        target=f"fixture:{country}",
        details={
            "country": country,
            "added": result.added,
            "present": result.present,
            "indicators_changed": changed,
        },
    )
    return result
