"""A node's Ed25519 public key as peers register it: URL-safe base64 of its 32 raw bytes.

Both the peer registry (which checks a key before storing it) and federation's signing (which
verifies with it) read keys; they share this module below both, not each other.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def encode_public(key: Ed25519PublicKey) -> str:
    """Render a public key as URL-safe base64 of its 32 raw bytes."""
    return base64.urlsafe_b64encode(key.public_bytes_raw()).decode()


def decode_public(text: str) -> Ed25519PublicKey:
    """Parse a public key from URL-safe base64, or raise ValueError saying why."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, UnicodeError):
        raise ValueError("a public key is URL-safe base64 of 32 bytes") from None
    if len(raw) != 32:
        raise ValueError(f"a public key is 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)
