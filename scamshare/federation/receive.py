"""Receiving a peer's signed batch: verify, refuse replays, apply contributions idempotently."""

from __future__ import annotations

import json
from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scamshare import db
from scamshare.errors import Conflict, DomainError, Forbidden, Invalid, Unauthorised, field_errors
from scamshare.fastload import compile_loader
from scamshare.federation import signing
from scamshare.models import Contribution, Indicator, Peer, ReceivedBatch
from scamshare.services import audit, lifecycle
from schemas.federation import BATCH_LIMIT, BatchSchema, ContributionSchema

_load_contribution = compile_loader(ContributionSchema())


def _load_batch(data) -> dict:
    """Load a batch: its envelope through the schema, its many contributions on the fast path."""
    if not isinstance(data, dict) or not isinstance(data.get("contributions"), list):
        return BatchSchema().load(data)
    envelope = BatchSchema(exclude=("contributions",)).load(
        {k: v for k, v in data.items() if k != "contributions"}
    )
    if len(data["contributions"]) > BATCH_LIMIT:
        return BatchSchema().load(data)  # let the schema word the length error
    loaded, errors = [], {}
    for index, item in enumerate(data["contributions"]):
        try:
            loaded.append(_load_contribution(item))
        except ValidationError as error:
            errors[index] = error.messages
    if errors:
        raise ValidationError({"contributions": errors})
    return {**envelope, "contributions": loaded}


def authenticate(session: Session, headers, body: bytes, now: datetime) -> Peer:
    """Return the registered peer that signed this body, or refuse with a clear 4xx."""
    sender = headers.get(signing.NODE_HEADER)
    timestamp = headers.get(signing.TIMESTAMP_HEADER)
    signature = headers.get(signing.SIGNATURE_HEADER)
    if not (sender and timestamp and signature):
        raise Unauthorised(
            f"A federation batch needs the {signing.NODE_HEADER}, {signing.TIMESTAMP_HEADER} "
            f"and {signing.SIGNATURE_HEADER} headers.",
            code="missing_signature",
        )
    peer = session.scalars(select(Peer).where(Peer.node_id == sender)).first()
    if peer is None:
        raise Forbidden(f"{sender!r} is not a registered peer of this node.", code="unknown_sender")
    try:
        signing.verify(peer.public_key, timestamp, signature, body, now)
    except signing.SignatureError as error:
        raise Unauthorised(error.message, code=error.code) from None
    return peer


def parse(body: bytes, peer: Peer) -> dict:
    """Validate the batch against the wire contract."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The batch is not valid JSON.", code="malformed_json") from None
    try:
        batch = _load_batch(data)
    except ValidationError as error:
        errors = field_errors(error.messages if isinstance(error.messages, dict) else {})
        raise Invalid(
            "The batch does not match wire format v1: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
            code="invalid_batch",
            errors=errors,
        ) from None
    if batch["sender"] != peer.node_id:
        raise Invalid(
            f"The batch says it is from {batch['sender']!r} but was signed by {peer.node_id!r}.",
            code="sender_mismatch",
        )
    return batch


def record_batch(session: Session, peer: Peer, batch: dict, now: datetime) -> None:
    """Remember the batch id; a replay of it is refused (with the cursor it already earned)."""
    seen = session.get(ReceivedBatch, (peer.node_id, batch["batch_id"]))
    if seen is not None:
        raise Conflict(
            f"Batch {batch['batch_id']} from {peer.node_id} was already applied.",
            code="replayed_batch",
            highest_sequence=batch["sequence_to"],
        )
    session.add(ReceivedBatch(sender=peer.node_id, batch_id=batch["batch_id"], received_at=now))
    try:
        session.flush()
    except IntegrityError:  # the same batch arriving twice at once: the other one applies it
        raise Conflict(
            f"Batch {batch['batch_id']} from {peer.node_id} is being applied already.",
            code="replayed_batch",
            highest_sequence=batch["sequence_to"],
        ) from None


def apply(session: Session, peer: Peer, batch: dict, now: datetime) -> dict:
    """Apply each contribution whose origin version is newer than the one held; merge views."""
    rejected, newest = [], {}
    for index, item in enumerate(batch["contributions"]):
        if item["origin_node"] != peer.node_id or item["origin_country"] != peer.country:
            # A node never relays another origin's data; accepting it could loop or forge.
            rejected.append(
                {
                    "index": index,
                    "reason": "not_sender_origin",
                    "message": f"only {peer.node_id} ({peer.country}) contributions are accepted",
                }
            )
            continue
        key = (item["kind"], item["value"])
        if key not in newest or item["origin_version"] > newest[key]["origin_version"]:
            newest[key] = item
    rows = [
        {
            "origin_node": peer.node_id,
            "origin_country": item["origin_country"],
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
        for (kind, value), item in sorted(newest.items())
    ]
    # One conditional upsert: a contribution replaces the held one only if its origin version
    # is newer, so retried, duplicated and reordered batches change nothing.
    table = Contribution.__table__
    statement = db.insert_for(session)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["origin_node", "kind", "value"],
        set_={name: statement.excluded[name] for name in CONTRIBUTION_FIELDS},
        where=table.c.origin_version < statement.excluded.origin_version,
    ).returning(table.c.kind, table.c.value)
    changed: dict[tuple[str, str], dict] = {}
    for part in lifecycle.chunks(rows):
        for kind, value in session.execute(statement, part):
            changed[(kind, value)] = _summary_of(newest[(kind, value)], peer.node_id)
    merge(session, peer.node_id, changed, now)
    return {
        "batch_id": batch["batch_id"],
        "applied": len(changed),
        "ignored": len(batch["contributions"]) - len(rejected) - len(changed),
        "rejected": rejected,
        "highest_sequence": batch["sequence_to"],
    }


def merge(
    session: Session, sender: str, changed: dict[tuple[str, str], dict], now: datetime
) -> None:
    """Write the merged view of the values a peer changed, each with the next local sequence.

    The view lists every origin's contribution; the sender's come from the batch, any other
    origin's are read back (rare: the same value reported in several member states). A value
    is exported when this node or any origin lists or disputes it.
    """
    if not changed:
        return
    keys = sorted(changed)
    foreign = {key: [changed[key]] for key in keys}
    for kind, part in lifecycle.by_kind(keys):
        for contribution in session.execute(
            select(*Contribution.__table__.c).where(
                Contribution.kind == kind,
                Contribution.value.in_(part),
                Contribution.origin_node != sender,
            )
        ):
            foreign[(contribution.kind, contribution.value)].append(_summary(contribution))
    first = lifecycle.reserve_sequences(session, len(keys))
    rows = []
    for offset, key in enumerate(keys):
        entries = sorted(foreign[key], key=lambda entry: (entry["country"], entry["node"]))
        rows.append(
            {
                "kind": key[0],
                "value": key[1],
                "status": "reported",
                "risk": "low",
                "facts": {},
                "category_counts": {},
                "channel_counts": {},
                "foreign": entries,
                "exported": lifecycle.is_exported("reported", entries),
                "sequence": first + offset,
                "created_at": now,
                "updated_at": now,
            }
        )
    statement = db.insert_for(session)(Indicator.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "value"],
        set_={
            "foreign": statement.excluded.foreign,
            "exported": or_(
                *(Indicator.__table__.c.status == status for status in sorted(lifecycle.EXPORTED)),
                statement.excluded.exported,
            ),
            "sequence": statement.excluded.sequence,
            "updated_at": statement.excluded.updated_at,
        },
    )
    for part in lifecycle.chunks(rows):
        session.execute(statement, part)


CONTRIBUTION_FIELDS = (
    "origin_country",
    "status",
    "removal_reason",
    "risk",
    "categories",
    "report_count",
    "org_count",
    "first_reported_at",
    "last_reported_at",
    "expires_at",
    "origin_version",
    "received_at",
)


def _summary_of(item: dict, origin_node: str) -> dict:
    """The merged-view entry of one origin's contribution (JSON-ready), from its wire fields."""

    def iso(moment: datetime | None) -> str | None:
        """Render a datetime for the JSON column."""
        return moment.isoformat() if moment else None

    return {
        "node": origin_node,
        "country": item["origin_country"],
        "status": item["status"],
        "removal_reason": item["removal_reason"],
        "risk": item["risk"],
        "categories": sorted(item["categories"]),
        "report_count": item["report_count"],
        "org_count": item["org_count"],
        "first_reported": iso(item["first_reported"]),
        "last_reported": iso(item["last_reported"]),
        "expires_at": iso(item["expires_at"]),
    }


def _summary(row) -> dict:
    """The merged-view entry of a stored contribution row."""
    fields = row._mapping
    wire = {
        **fields,
        "first_reported": fields["first_reported_at"],
        "last_reported": fields["last_reported_at"],
    }
    return _summary_of(wire, fields["origin_node"])


def receive(session: Session, headers, body: bytes, now: datetime) -> dict:
    """Authenticate, validate, de-duplicate and apply one batch; audit the outcome."""
    peer = authenticate(session, headers, body, now)
    actor = audit.Actor(organisation_name=f"peer:{peer.node_id}")
    try:
        batch = parse(body, peer)
        record_batch(session, peer, batch, now)
    except DomainError as error:
        error.extra.setdefault("sender", peer.node_id)
        raise
    result = apply(session, peer, batch, now)
    audit.record(
        session,
        actor,
        "federation.receive",
        target=f"batch:{batch['batch_id']}",
        details={k: result[k] for k in ("applied", "ignored", "highest_sequence")}
        | {"rejected": len(result["rejected"])},
    )
    return result
