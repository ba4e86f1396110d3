"""Storing a peer's batch: check every contribution as a local value, keep the newer ones, merge.

A peer is trusted to say what its own node saw, never to bypass this node's rules: each value
is normalised again for its kind (a message's template fingerprint, a hash, is checked for its
shape) and refused, one by one with its reason, unless it is already canonical, listable and not
protected here. What is kept is stored per origin (a newer origin
version replaces an older one, so retries, duplicates and reordering change nothing) and
merged into the indicator through the same lifecycle as a local report (sequence, history,
audit).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare import db
from scamshare import normalise as norm
from scamshare import policy as rules
from scamshare.indicators import lifecycle, render
from scamshare.indicators.lifecycle import Key, Lifecycle
from scamshare.models import Actor, Contribution, Peer

_ENTRY_FIELDS = (
    "status",
    "removal_reason",
    "risk",
    "categories",
    "report_count",
    "org_count",
    "first_reported_at",
    "last_reported_at",
    "expires_at",
)


def apply(session: Session, policy: rules.Policy, peer: Peer, batch: dict, now: datetime) -> dict:
    """Apply each acceptable contribution newer than the one held; merge the changed values."""
    life = Lifecycle(session, policy, Actor(organisation_name=f"peer:{peer.node_id}"), now)
    contributions = batch["contributions"]
    checked, rejected = check(life, peer, contributions)
    changed = upsert_contributions(session, peer, checked, now)
    merge(life, {key: checked[key][1] for key in changed}, why=f"peer {peer.node_id}")
    return {
        "batch_id": batch["batch_id"],
        "applied": len(changed),
        "ignored": len(contributions) - len(rejected) - len(changed),
        "rejected": rejected,
        "highest_sequence": batch["sequence_to"],
    }


def check(
    life: Lifecycle, peer: Peer, contributions: list[dict]
) -> tuple[dict[Key, tuple[dict, dict]], list[dict]]:
    """Sort contributions into the newest acceptable one per value and the refused ones.

    Returns each kept value's contribution with the facts this node's normalisation gives it,
    and each refusal with its index, reason and message.
    """
    kept: dict[Key, tuple[int, dict, dict]] = {}
    rejected: list[dict] = []
    for index, item in enumerate(contributions):
        problem, facts = _refusal(item, peer)
        if problem is not None:
            rejected.append({"index": index, "reason": problem[0], "message": problem[1]})
            continue
        key = (item["kind"], item["value"])
        if key not in kept or item["origin_version"] > kept[key][1]["origin_version"]:
            kept[key] = (index, item, facts)
    protected = life.protected([(key, facts) for key, (_, _, facts) in kept.items()])
    for key in sorted(protected, key=lambda k: kept[k][0]):
        index = kept.pop(key)[0]
        rejected.append(
            {"index": index, "reason": "protected", "message": f"{key[1]} is protected here"}
        )
    rejected.sort(key=lambda entry: entry["index"])
    return {key: (item, facts) for key, (_, item, facts) in kept.items()}, rejected


def _refusal(item: dict, peer: Peer) -> tuple[tuple[str, str] | None, dict]:
    """Why a contribution cannot be applied here (reason, message), and its facts if it can."""
    if item["origin_node"] != peer.node_id or item["origin_country"] != peer.country:
        # A node never relays another origin's data; accepting it could loop or forge.
        return ("not_sender_origin", f"only {peer.node_id} ({peer.country}) contributions"), {}
    if item["kind"] == "message":
        # A template travels as its fingerprint (the text stays with its reporters), a hash
        # that cannot be normalised again: it is canonical when it has a fingerprint's shape.
        if not norm.is_fingerprint(item["value"]):
            return ("not_canonical", "a message is sent as its template fingerprint"), {}
        return None, {"listable": True}
    try:
        normalised = norm.normalise(item["kind"], item["value"], peer.country)
    except norm.NormalisationError as error:
        return (error.reason, error.message), {}
    if normalised.kind != item["kind"] or normalised.value != item["value"]:
        return ("not_canonical", f"the canonical form is {normalised.value}"), {}
    if not normalised.listable:
        return ("not_listable", f"{normalised.value} can never be listed"), {}
    unsafe = render.unsafe(normalised.value)
    if unsafe is not None:
        return (unsafe, "the value cannot stand in a blocklist"), {}
    facts = {k: v for k, v in normalised.facts.items() if k not in ("bands", "extracted")}
    return None, {**facts, "listable": True}


def upsert_contributions(
    session: Session, peer: Peer, checked: dict[Key, tuple[dict, dict]], now: datetime
) -> set[Key]:
    """Store each contribution unless the one held is as new; return the values that changed."""
    rows = [
        {
            "origin_node": peer.node_id,
            "origin_country": peer.country,
            "kind": kind,
            "value": value,
            "status": item["status"],
            "removal_reason": item["removal_reason"],
            "risk": item["risk"],
            "categories": sorted(item["categories"]),
            "report_count": item["report_count"],
            "org_count": item["org_count"],
            "first_reported_at": item["first_reported"],
            "last_reported_at": item["last_reported"],
            "expires_at": item["expires_at"],
            "origin_version": item["origin_version"],
            "received_at": now,
        }
        for (kind, value), (item, _facts) in sorted(checked.items())
    ]
    table = Contribution.__table__
    statement = db.insert_for(session)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["origin_node", "kind", "value"],
        set_={name: statement.excluded[name] for name in (*_ENTRY_FIELDS, "origin_version")}
        | {name: statement.excluded[name] for name in ("origin_country", "received_at")},
        where=table.c.origin_version < statement.excluded.origin_version,
    ).returning(table.c.kind, table.c.value)
    changed: set[Key] = set()
    for part in lifecycle.chunks(rows):
        changed.update(session.execute(statement, part).tuples())
    return changed


def merge(life: Lifecycle, facts: dict[Key, dict], why: str) -> None:
    """Give each changed value every origin's stored contribution, through the lifecycle."""
    if not facts:
        return
    indicators = life.lock(facts)
    entries: dict[int, list[dict]] = defaultdict(list)
    for kind, part in lifecycle.by_kind(facts):
        query = (
            select(Contribution)
            .where(Contribution.kind == kind, Contribution.value.in_(part))
            .order_by(Contribution.origin_country, Contribution.origin_node)
        )
        for contribution in life.session.scalars(query):
            indicator = indicators[(contribution.kind, contribution.value)]
            entries[indicator.id].append(entry_of(contribution))
    life.merge_origins(list(indicators.values()), entries, why)


def entry_of(contribution: Contribution) -> dict:
    """One origin's contribution as the indicator's `foreign` list holds it (JSON-ready)."""

    def iso(moment: datetime | None) -> str | None:
        """A datetime as ISO 8601 text."""
        return None if moment is None else moment.isoformat()

    return {
        "node": contribution.origin_node,
        "country": contribution.origin_country,
        "status": contribution.status,
        "removal_reason": contribution.removal_reason,
        "risk": contribution.risk,
        "categories": sorted(contribution.categories),
        "report_count": contribution.report_count,
        "org_count": contribution.org_count,
        "first_reported": iso(contribution.first_reported_at),
        "last_reported": iso(contribution.last_reported_at),
        "expires_at": iso(contribution.expires_at),
    }
