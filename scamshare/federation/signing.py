"""Signed requests between nodes: Ed25519 over the timestamp and the exact body."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature

from scamshare.federation.identity import NodeIdentity
from scamshare.public_keys import decode_public

NODE_HEADER = "X-ScamShare-Node"
TIMESTAMP_HEADER = "X-ScamShare-Timestamp"
SIGNATURE_HEADER = "X-ScamShare-Signature"
WINDOW = timedelta(minutes=5)


class SignatureError(Exception):
    """A signed request that must be refused; `code` says why."""

    def __init__(self, code: str, message: str):
        """Keep the machine code and the sentence."""
        super().__init__(message)
        self.code = code
        self.message = message


def signed_message(timestamp: str, body: bytes) -> bytes:
    """What is signed: the timestamp, a newline, then the body byte for byte."""
    return timestamp.encode() + b"\n" + body


def sign_headers(identity: NodeIdentity, node_id: str, body: bytes, now: datetime) -> dict:
    """The headers that authenticate a body sent by this node."""
    timestamp = str(int(now.timestamp()))
    return {
        NODE_HEADER: node_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: identity.sign(signed_message(timestamp, body)),
        "Content-Type": "application/json",
    }


def verify(public_key: str, timestamp: str, signature: str, body: bytes, now: datetime) -> None:
    """Check the timestamp window and the signature, or raise SignatureError."""
    # Digits only, and few of them: int() takes other scripts' digits, and a huge one would
    # overflow the float arithmetic below.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SignatureError("bad_timestamp", f"{TIMESTAMP_HEADER} must be Unix seconds")
    sent = int(timestamp)
    skew = abs(now.timestamp() - sent)
    if skew > WINDOW.total_seconds():
        raise SignatureError(
            "stale_timestamp",
            f"the batch was signed {int(skew)} s away from this node's clock; the window is "
            f"±{int(WINDOW.total_seconds())} s",
        )
    try:
        raw = base64.urlsafe_b64decode(signature.encode())
        decode_public(public_key).verify(raw, signed_message(timestamp, body))
    except (InvalidSignature, ValueError, binascii.Error, UnicodeError):
        raise SignatureError(
            "bad_signature", "the signature does not match the body and the sender's key"
        ) from None
