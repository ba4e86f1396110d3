"""Idempotency keys: a retried request gets the first response and changes nothing."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare.errors import Conflict, Invalid
from scamshare.models import IdempotencyRecord

MAX_KEY_LENGTH = 200


def fingerprint(*parts: bytes | str) -> str:
    """Hash what makes two requests the same request."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def check_key(key: str) -> str:
    """Refuse keys that are empty or too long to store."""
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Invalid(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            errors=[
                {
                    "field": "Idempotency-Key",
                    "reason": "invalid_length",
                    "message": f"1 to {MAX_KEY_LENGTH} characters",
                    "location": "headers",
                }
            ],
        )
    return key


def replay(
    session: Session, organisation_id: int, key: str, request_hash: str
) -> IdempotencyRecord | None:
    """Return the stored first response for this key, or None; a different body is a 409."""
    record = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.organisation_id == organisation_id, IdempotencyRecord.key == key
        )
    ).first()
    if record is not None and record.request_hash != request_hash:
        raise Conflict(
            f"The Idempotency-Key {key!r} was already used with a different request body.",
            code="idempotency_key_reused",
        )
    return record


def remember(
    session: Session,
    organisation_id: int,
    key: str,
    request_hash: str,
    status_code: int,
    response: dict,
) -> None:
    """Store the response in the same transaction as the work it describes."""
    session.add(
        IdempotencyRecord(
            organisation_id=organisation_id,
            key=key,
            request_hash=request_hash,
            status_code=status_code,
            response=response,
        )
    )
