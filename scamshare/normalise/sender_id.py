"""SMS sender IDs: upper-case alphanumerics, look-alike letters folded; numeric ones are phones."""

from __future__ import annotations

import re
import unicodedata

from .errors import NormalisationError
from .phone import normalise_phone
from .result import Normalised
from .text import clean, collapse_spaces, fold_confusables, strip_marks

# GSM alphanumeric originators are at most 11 characters; under 3 they are not used by senders.
MIN_LENGTH = 3
MAX_LENGTH = 11
# Letters, digits and the few punctuation marks operators let through in registered sender IDs.
_VALID = re.compile(r"[A-Z0-9](?:[A-Z0-9 &._-]*[A-Z0-9.])?")
_NUMERIC = re.compile(r"\+?[\d\s().-]+")
_HAS_LETTER = re.compile(r"[A-Z]")


def normalise_sender_id(value: str, region: str | None = None) -> Normalised:
    """Return an alphanumeric sender ID in canonical upper case, or a numeric one as a phone."""
    stripped = collapse_spaces(value)
    text = collapse_spaces(clean(unicodedata.normalize("NFKC", value)))
    if not text:
        raise NormalisationError("empty", "The sender ID is empty.")
    if _NUMERIC.fullmatch(text) and any(char.isdigit() for char in text):
        # A numeric originator is a phone number or a short code and deduplicates as one.
        return normalise_phone(text, region)
    # Upper case first so that look-alikes with only a lower or only an upper form both fold.
    folded = strip_marks(fold_confusables(text.upper())).upper()
    if not _HAS_LETTER.search(folded) or not _VALID.fullmatch(folded):
        raise NormalisationError(
            "invalid_sender_id",
            "A sender ID holds Latin letters, digits, spaces and & . _ - only, with a letter.",
        )
    if len(folded) < MIN_LENGTH:
        raise NormalisationError("too_short", f"A sender ID has at least {MIN_LENGTH} characters.")
    if len(folded) > MAX_LENGTH:
        raise NormalisationError("too_long", f"A sender ID has at most {MAX_LENGTH} characters.")
    return Normalised(
        kind="sender_id",
        value=folded,
        listable=True,
        facts={"folded": folded != stripped.upper()},
    )
