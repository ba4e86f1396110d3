"""Receiving a peer's signed batch: verify, refuse replays, apply contributions idempotently."""

from __future__ import annotations

from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scamshare import policy as rules
from scamshare import text
from scamshare.errors import Conflict, DomainError, Forbidden, Invalid, Unauthorised, field_errors
from scamshare.federation import signing, store, wire
from scamshare.models import Peer, ReceivedBatch
from scamshare.services import audit
from schemas.common import CLOCK_SKEW

AUDITED_REFUSALS = 100  # refusals named in a batch's audit entry; the response names them all


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
        overlapping = (
            peer.previous_public_key and peer.previous_key_until and now < (peer.previous_key_until)
        )
        if error.code != "bad_signature" or not overlapping:
            raise Unauthorised(error.message, code=error.code) from None
        # The peer rotated its key: during the overlap its old key still signs.
        try:
            signing.verify(peer.previous_public_key, timestamp, signature, body, now)
        except signing.SignatureError:
            raise Unauthorised(error.message, code=error.code) from None
    return peer


def parse(body: bytes, peer: Peer, now: datetime) -> dict:
    """Validate the batch against the wire contract and this node's clock."""
    try:
        data = text.loads(body)
    except ValueError:
        raise Invalid("The batch is not valid JSON.", code="malformed_json") from None
    try:
        batch = wire.load_batch(data)
    except ValidationError as error:
        errors = field_errors(error.messages if isinstance(error.messages, dict) else {})
        raise _invalid_batch(errors) from None
    if batch["sender"] != peer.node_id:
        raise Invalid(
            f"The batch says it is from {batch['sender']!r} but was signed by {peer.node_id!r}.",
            code="sender_mismatch",
        )
    ahead = _ahead_of(batch, now + CLOCK_SKEW)
    if ahead:
        raise _invalid_batch(ahead)
    return batch


def _ahead_of(batch: dict, latest: datetime) -> list[dict]:
    """The batch's moments of the past (created, first and last reported) later than `latest`."""
    moments = [("created_at", batch["created_at"])]
    for index, item in enumerate(batch["contributions"]):
        moments.append((f"contributions.{index}.first_reported", item["first_reported"]))
        moments.append((f"contributions.{index}.last_reported", item["last_reported"]))
    return [
        {"field": name, "reason": "in_future", "message": "Later than this node's clock allows."}
        for name, moment in moments
        if moment is not None and moment > latest
    ]


def _invalid_batch(errors: list[dict]) -> Invalid:
    """The refusal of a batch that breaks the wire contract, naming its first fields."""
    return Invalid(
        "The batch does not match wire format v1: "
        + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
        code="invalid_batch",
        errors=errors,
    )


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


def receive(session: Session, policy: rules.Policy, headers, body: bytes, now: datetime) -> dict:
    """Authenticate, validate, de-duplicate and apply one batch; audit the outcome."""
    peer = authenticate(session, headers, body, now)
    actor = audit.Actor(organisation_name=f"peer:{peer.node_id}")
    try:
        batch = parse(body, peer, now)
        record_batch(session, peer, batch, now)
    except DomainError as error:
        error.extra.setdefault("sender", peer.node_id)
        raise
    result = store.apply(session, policy, peer, batch, now)
    audit.record(
        session,
        actor,
        "federation.receive",
        target=f"batch:{batch['batch_id']}",
        details={k: result[k] for k in ("applied", "ignored", "highest_sequence")}
        | {
            "rejected": len(result["rejected"]),
            # Each refusal with its reason, so that the peer's operators can see why.
            "refusals": [
                {k: entry[k] for k in ("index", "reason")}
                for entry in result["rejected"][:AUDITED_REFUSALS]
            ],
        },
    )
    return result
