"""Checking an SMS against the node's indicators: its template, near-duplicates and contents.

Verdict rule:
- `block` when any exact match (the message template, or a URL, domain, phone number or sender
  ID in the text or given as sender, or what covers one as services/matching.py finds it for
  lookups too: a phone range holding a number, a domain under a URL) is `listed` and one of
  its origins' local policy is block;
- `warn` when nothing blocks but a match is `disputed`, a listed match's origins are all warn,
  or the template is a near-duplicate (estimated Jaccard similarity of its shingles at or above
  SIMILARITY_THRESHOLD, not equal) of a listed or disputed template;
- `allow` otherwise. Values that are only reported, or expired, delisted or protected, are no
  match: a single unverified report never blocks anyone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare import normalise as norm
from scamshare.db import fast
from scamshare.errors import Invalid
from scamshare.indicators import rules
from scamshare.models import Indicator
from scamshare.services import matching, peers

MAX_SIMILAR = 5  # near-duplicates reported, the most similar; the verdict needs only one
MAX_CANDIDATES = 20  # templates sharing the most LSH bands whose signatures are compared
ROWS_PER_BAND = 25  # indicators read from one LSH band


def _normalise(kind: str, value: str, region: str, field: str) -> norm.Normalised:
    """Normalise one part of the request, or raise Invalid naming the field."""
    try:
        return norm.normalise(kind, value, region)
    except norm.NormalisationError as error:
        raise Invalid(
            f"{field}: {error.message}",
            code="not_normalisable",
            errors=[{"field": field, "reason": error.reason, "message": error.message}],
        ) from None


def _wanted(message: norm.Normalised, sender, number) -> dict[tuple[str, str], list[str]]:
    """Every key that would match a value of the check (matching.candidates), with its sources.

    A key's sources are where the values it matches were found: the text, sender or number.
    """
    asked: dict[tuple[str, str], tuple[dict, list[str]]] = {}

    def add(kind: str, value: str, facts: dict, source: str) -> None:
        """Note one value and its source once."""
        _facts, sources = asked.setdefault((kind, value), (facts, []))
        if source not in sources:
            sources.append(source)

    add("message", message.value, {}, "text")
    for found in message.facts.get("extracted", []):
        # A URL's host and domain decide what covers it; the stored short shape holds neither.
        kind, value = found["kind"], found["value"]
        facts = norm.normalise(kind, value).facts if kind == "url" else {}
        add(kind, value, facts, "text")
    for given, source in ((sender, "sender"), (number, "number")):
        if given is not None:
            add(given.kind, given.value, given.facts, source)
    wanted: dict[tuple[str, str], list[str]] = {}
    for (kind, value), (facts, sources) in asked.items():
        for key in matching.candidates(kind, value, facts):
            known = wanted.setdefault(key, [])
            known.extend(source for source in sources if source not in known)
    return wanted


def _match(view: rules.View, sources: list[str], similarity: float | None = None) -> dict[str, Any]:
    """One matching indicator (its merged view) and what it asks the operator to do."""
    origins = [{"country": o.country, "policy": o.policy} for o in view.origins]
    if similarity is not None or view.status != "listed":
        action = "warn"
    else:
        action = "block" if any(o["policy"] == "block" for o in origins) else "warn"
    if view.kind == "message":
        match = "template" if similarity is None else "similar_template"
    else:
        match = view.kind
    return {
        "match": match,
        "sources": sources,
        "kind": view.kind,
        "value": view.value,
        "status": view.status,
        "risk": view.risk,
        "categories": list(view.categories),
        "origins": origins,
        "similarity": similarity,
        "action": action,
    }


def check(
    session: Session,
    text: str,
    *,
    sender: str | None,
    number: str | None,
    region: str,
    country: str,
) -> dict[str, Any]:
    """Return the verdict on one SMS with every match that led to it."""
    message = _normalise("message", text, region, "text")
    given_sender = _normalise("sender_id", sender, region, "sender") if sender else None
    given_number = _normalise("phone", number, region, "number") if number else None
    wanted = _wanted(message, given_sender, given_number)
    policies = peers.cached_policies(session)

    def view(indicator: Indicator) -> rules.View:
        """The merged view of a matching indicator."""
        return rules.merged_view(indicator, country, policies)

    rows = matching.fetch(session, wanted)
    matches = []
    for key in sorted(rows):
        matched = view(rows[key])
        if matched.exported:
            matches.append(_match(matched, wanted[key]))
    matches.extend(_similar(session, message, view))
    actions = {match["action"] for match in matches}
    verdict = "block" if "block" in actions else "warn" if actions else "allow"
    order = {"template": 0, "similar_template": 1}
    matches.sort(key=lambda m: (order.get(m["match"], 2), -(m["similarity"] or 0), m["value"]))
    return {
        "verdict": verdict,
        "fingerprint": message.value,
        "template": message.facts["template"],
        "matches": matches,
    }


def _similar(session: Session, message: norm.Normalised, view) -> list[dict]:
    """Listed or disputed templates that share LSH bands and are similar enough.

    The cost of a check is bounded whatever the index holds: each band contributes at most
    ROWS_PER_BAND indicators (a band of common words can be shared by thousands of templates,
    and a true near-duplicate shares many bands, so it is found through the others), and only
    the MAX_CANDIDATES indicators sharing most bands have their stored MinHash compared.
    """
    bands = message.facts.get("bands") or []
    signature = message.facts.get("signature")
    if not bands or not signature:
        return []
    scores = {}
    for indicator_id, facts in fast.similar_candidates(
        session, bands, message.value, ROWS_PER_BAND, MAX_CANDIDATES
    ):
        theirs = (facts or {}).get("signature")
        score = norm.similarity(signature, theirs) if theirs else 0.0
        if score >= norm.SIMILARITY_THRESHOLD:
            scores[indicator_id] = score
    best = sorted(scores, key=lambda indicator_id: (-scores[indicator_id], indicator_id))
    best = best[:MAX_SIMILAR]
    if not best:
        return []
    similar = [
        _match(view(indicator), ["text"], round(scores[indicator.id], 4))
        for indicator in session.scalars(select(Indicator).where(Indicator.id.in_(best)))
    ]
    similar.sort(key=lambda m: (-m["similarity"], m["value"]))
    return similar
