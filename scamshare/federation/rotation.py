"""Rotating the node key: announce the new public key signed by the old; accept it as a peer.

The announcement is signed with the key peers know, so they take the new key with no manual
step; they keep accepting the old one for an overlap (SCAMSHARE_KEY_ROTATION_OVERLAP_SECONDS,
7 days by default) so that batches signed before the switch are not refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session

from scamshare.errors import Invalid, Unauthorised
from scamshare.federation import receive, signing
from scamshare.federation.identity import NodeIdentity
from scamshare.models import Peer
from scamshare.public_keys import decode_public
from scamshare.services import audit

ROTATION_PATH = "/api/v1/federation/key-rotation"


@dataclass(frozen=True)
class Announced:
    """How one peer answered the announcement."""

    peer: str
    error: str | None = None


def announcement(node_id: str, new_key: str) -> bytes:
    """The body of a key-rotation announcement."""
    return json.dumps({"node_id": node_id, "new_public_key": new_key}).encode()


def announce(
    client: httpx.Client,
    peers: list[Peer],
    old: NodeIdentity,
    node_id: str,
    new_key: str,
    now: datetime,
) -> list[Announced]:
    """Send the announcement, signed with the old key, to every peer; return each answer."""
    body = announcement(node_id, new_key)
    answers = []
    for peer in peers:
        headers = signing.sign_headers(old, node_id, body, now)
        try:
            url = peer.url.rstrip("/") + ROTATION_PATH
            response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            answers.append(Announced(peer.node_id, f"unreachable: {error}"))
            continue
        if response.status_code != 200:
            answers.append(Announced(peer.node_id, f"{response.status_code} {response.text[:200]}"))
        else:
            answers.append(Announced(peer.node_id))
    return answers


def accept(session: Session, headers, body: bytes, now: datetime, overlap: timedelta) -> dict:
    """Take a peer's new key if the announcement is signed with its current one."""
    peer = receive.authenticate(session, headers, body, now)  # current key, or old in overlap
    try:
        data = json.loads(body)
        new_key = str(data["new_public_key"])
        claimed = str(data["node_id"])
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise Invalid(
            'A key rotation is {"node_id", "new_public_key"} as JSON.', code="invalid_rotation"
        ) from None
    try:
        decode_public(new_key)
    except ValueError as error:
        raise Invalid(f"new_public_key: {error}", code="invalid_public_key") from None
    if new_key == peer.public_key:  # a retried announcement: already taken
        return _answer(peer, changed=False)
    try:
        # Only the current key may name a new one: a retired key cannot rotate again.
        signing.verify(
            peer.public_key,
            headers.get(signing.TIMESTAMP_HEADER),
            headers.get(signing.SIGNATURE_HEADER),
            body,
            now,
        )
    except signing.SignatureError as error:
        raise Unauthorised(error.message, code=error.code) from None
    if claimed != peer.node_id:
        raise Invalid(
            f"The announcement names {claimed!r} but was signed by {peer.node_id!r}.",
            code="sender_mismatch",
        )
    peer.previous_public_key = peer.public_key
    peer.previous_key_until = now + overlap
    peer.public_key = new_key
    audit.record(
        session,
        audit.Actor(organisation_name=f"peer:{peer.node_id}"),
        "federation.key_rotation",
        target=f"peer:{peer.node_id}",
        details={"previous_key_until": peer.previous_key_until.isoformat()},
    )
    return _answer(peer, changed=True)


def _answer(peer: Peer, *, changed: bool) -> dict:
    """What the receiver answers: the key it now holds and until when the old one counts."""
    until = peer.previous_key_until
    return {
        "node_id": peer.node_id,
        "public_key": peer.public_key,
        "changed": changed,
        "previous_key_until": until.isoformat() if until else None,
    }
