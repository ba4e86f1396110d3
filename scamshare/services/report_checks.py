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


def _reject(index: int, field_name: str, reason: str, message: str) -> dict:
    """One rejected item."""
    return {"index": index, "field": field_name, "reason": reason, "message": message}


def _indicator_facts(normalised: norm.Normalised) -> dict[str, Any]:
    """Keep the facts an indicator needs; message bands get their own table, text stays out."""
    facts = {k: v for k, v in normalised.facts.items() if k not in ("bands", "extracted")}
    facts["listable"] = normalised.listable
    return facts


def validate(
    items: list[Any], caller: Caller, policy: rules.Policy, now: datetime
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
        region = (data.get("region") or caller.country or policy.country).upper()
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
