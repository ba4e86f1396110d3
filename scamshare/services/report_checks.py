"""Checking a submission: validate and normalise each report, and refuse what cannot be stored.

Nothing here writes: services/reports.py stores what these checks accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare import normalise as norm
from scamshare import policy as rules
from scamshare.auth import Caller
from scamshare.errors import Forbidden, field_errors
from scamshare.fastload import compile_loader
from scamshare.models import ProtectedValue
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


def rejection(index: int, errors: list[dict]) -> dict:
    """One rejected item: every problem of the report under `errors`, the first also at the top.

    The top-level field, reason and message are what a rejected item held before it listed all
    of its problems; clients written then keep working.
    """
    first = errors[0]
    return {
        "index": index,
        "field": first["field"],
        "reason": first["reason"],
        "message": first["message"],
        "errors": errors,
    }


def _problem(field_name: str, reason: str, message: str) -> dict:
    """One problem of one report."""
    return {"field": field_name, "reason": reason, "message": message}


# Problems are listed in the order of the report's fields, unknown fields after them.
_FIELD_ORDER = {name: position for position, name in enumerate(ReportSchema().fields)}


def in_field_order(errors: list[dict], item: Any) -> list[dict]:
    """Sort problems by the schema's field order, then unknown fields as the item holds them."""
    if len(errors) < 2:
        return errors
    sent = {name: position for position, name in enumerate(item or ())}
    unknown_from = len(_FIELD_ORDER)
    return sorted(
        errors,
        key=lambda e: _FIELD_ORDER.get(e["field"], unknown_from + sent.get(e["field"], 0)),
    )


def _indicator_facts(normalised: norm.Normalised) -> dict[str, Any]:
    """Keep the facts an indicator needs; message bands get their own table, text stays out."""
    facts = {k: v for k, v in normalised.facts.items() if k not in ("bands", "extracted")}
    facts["listable"] = normalised.listable
    return facts


def validate(
    items: list[Any],
    caller: Caller,
    policy: rules.Policy,
    now: datetime,
    *,
    unverifiable: str = "forbid",
) -> tuple[list[Candidate], list[dict]]:
    """Validate and normalise every item; return the candidates and the rejected items.

    A report that asks to be verified by a caller whose role may not verify makes the whole
    submission 403 (`unverifiable="forbid"`, the API) or is one more problem of that report
    (`"reject"`, a file import, where one such row must not refuse the file).
    """
    candidates: list[Candidate] = []
    rejected: list[dict] = []
    for index, item in enumerate(items):
        data, normalised, errors = _check(index, item, caller, policy, now, unverifiable)
        if errors:
            rejected.append(rejection(index, errors))
            continue
        parent_position = len(candidates)
        candidates.append(
            Candidate(index, data, normalised.kind, normalised.value, _indicator_facts(normalised))
        )
        if normalised.kind == "message":
            candidates[parent_position].facts["bands"] = normalised.facts.get("bands", [])
        region = _region(data, caller, policy)
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


def _region(data: dict, caller: Caller, policy: rules.Policy) -> str:
    """The region to read national numbers in: the report's, else its reporter's country."""
    return (data.get("region") or caller.country or policy.country).upper()


def _check(
    index: int,
    item: Any,
    caller: Caller,
    policy: rules.Policy,
    now: datetime,
    unverifiable: str,
) -> tuple[dict, norm.Normalised | None, list[dict]]:
    """Check one item: its loaded data, its normalised value, and every problem found.

    Fields the schema refuses are reported all at once (marshmallow collects them); the checks
    that need loaded values (the time, the value's own rules) still run on the fields that did
    load, so an analyst fixes every problem of a report in one round trip.
    """
    if not isinstance(item, dict):
        return {}, None, [_problem("report", "invalid_type", "A report is an object.")]
    try:
        data = _load_report(item)
        errors: list[dict] = []
        refused: frozenset = frozenset()
    except ValidationError as error:
        data = error.valid_data if isinstance(error.valid_data, dict) else {}
        messages = error.messages if isinstance(error.messages, dict) else {"report": ["Invalid."]}
        errors = field_errors(messages)
        refused = frozenset(messages)
    if data.get("verified") and caller.role not in VERIFYING_ROLES:
        if unverifiable == "forbid":
            raise Forbidden(
                f"Report {index}: only regulator and law-enforcement keys may submit verified "
                f"reports; this key's role is {caller.role}.",
                code="verified_not_allowed",
                errors=[
                    {
                        "index": index,
                        **_problem(
                            "verified",
                            "not_allowed",
                            "verified needs a regulator or law-enforcement key",
                        ),
                    }
                ],
            )
        errors.append(
            _problem(
                "verified",
                "not_allowed",
                f"verified needs a regulator or law-enforcement organisation, not {caller.role}",
            )
        )
    if "observed_at" in data and data["observed_at"] > now + CLOCK_SKEW:
        errors.append(_problem("observed_at", "in_future", "observed_at is in the future."))
    normalised = None
    if "kind" in data and "value" in data and "region" not in refused:
        try:
            normalised = norm.normalise(
                data["kind"],
                data["value"],
                _region(data, caller, policy),
                max_range=policy.range_max,
            )
        except norm.NormalisationError as error:
            field_name = "region" if error.reason == "unknown_region" else "value"
            errors.append(_problem(field_name, error.reason, error.message))
    return data, normalised, in_field_order(errors, item)


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
            message = f"The range {candidate.value} covers the protected number {hits[0]}."
            rejected.append(
                rejection(candidate.index, [_problem("value", "covers_protected", message)])
            )
    kept = [c for c in candidates if c.index not in refused]
    return kept, rejected
