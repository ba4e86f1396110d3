"""Normalisation: every submitted value becomes one canonical key plus facts, or one error.

Pure functions only: no Flask, no database, nothing else from scamshare.
"""

from __future__ import annotations

from .errors import NormalisationError
from .message import is_fingerprint, message_signature, normalise_message
from .phone import check_region, normalise_phone, normalise_phone_range, range_bounds, range_covers
from .result import Normalised
from .sender_id import normalise_sender_id
from .signature import MIN_SHINGLES, SIMILARITY_THRESHOLD, signature_bands, similarity
from .url import normalise_domain, normalise_url

KINDS = ("phone", "phone_range", "sender_id", "url", "domain", "message")
DEFAULT_MAX_RANGE = 1000


def normalise(
    kind: str, value: str, region: str | None = None, *, max_range: int = DEFAULT_MAX_RANGE
) -> Normalised:
    """Return the canonical value and facts of one submitted value, or raise NormalisationError."""
    if not isinstance(value, str):
        raise NormalisationError("not_text", "The value must be text.")
    region = check_region(region)
    if kind == "phone":
        return normalise_phone(value, region)
    if kind == "phone_range":
        return normalise_phone_range(value, region, max_range)
    if kind == "sender_id":
        return normalise_sender_id(value, region)
    if kind == "url":
        return normalise_url(value)
    if kind == "domain":
        return normalise_domain(value)
    if kind == "message":
        return normalise_message(value, region)
    raise NormalisationError("unknown_kind", f"{kind!r} is not one of {', '.join(KINDS)}.")


__all__ = [
    "DEFAULT_MAX_RANGE",
    "KINDS",
    "MIN_SHINGLES",
    "SIMILARITY_THRESHOLD",
    "NormalisationError",
    "Normalised",
    "is_fingerprint",
    "message_signature",
    "normalise",
    "range_bounds",
    "range_covers",
    "signature_bands",
    "similarity",
]
