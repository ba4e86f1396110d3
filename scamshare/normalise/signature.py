"""Message signatures: a MinHash of a template's shingles, and the LSH bands that find it fast.

datasketch computes the MinHash; the node stores its values in the indicator's facts and its LSH
band keys in the `message_bands` table, so that any process on SQLite or PostgreSQL finds the
candidates with one indexed query and estimates the Jaccard similarity from the stored values.

Shingles: words for scripts that separate words with spaces; character 4-grams for Thai, Lao,
Khmer and Burmese, which do not. The template has already masked numbers, amounts, dates,
codes, links, e-mail addresses and phone numbers (`message._template`), so a variant that only
changes those has the same shingles.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasketch import MinHash

NUM_PERM = 128
# LSH banding: 64 bands of 2 values. Two templates of Jaccard similarity J share at least one
# band with probability 1 - (1 - J**2)**64: 99% at the threshold 0.26, 48% at 0.1.
BAND_ROWS = 2
BAND_COUNT = NUM_PERM // BAND_ROWS
# Near-duplicates: estimated Jaccard similarity of the shingle sets at or above this, chosen on
# seed 1 of bench/messages.py (README, "How the similarity threshold was chosen").
SIMILARITY_THRESHOLD = 0.26
# Templates with fewer distinct shingles match only exactly: a handful of common words ("waiting
# for your call") says nothing about who wrote a message.
MIN_SHINGLES = 10
CHARACTER_SHINGLE = 4
_SEED = 1
# Stored values are only comparable under one permutation scheme (datasketch 2 names them); a
# change of scheme, seed or shingles needs a migration that recomputes every signature.
_SCHEME = "affine32"

_WORD = re.compile(r"<[a-z]+>|\w+")
# Letters of the scripts written without spaces between words.
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u0e80-\u0eff\u1780-\u17ff\u19e0-\u19ff\u1000-\u109f]")
_LETTER = re.compile(r"[^\W\d_]")

_permutations: MinHash | None = None
_permutations_lock = threading.Lock()


def _first_minhash() -> MinHash:
    """Build datasketch's permutations once, on the first signature."""
    global _permutations
    if _permutations is None:
        with _permutations_lock:
            if _permutations is None:
                # Imported here, not at the top: datasketch brings scipy with it (about 600 ms),
                # which importing normalise does not pay for.
                from datasketch import MinHash

                _permutations = MinHash(
                    num_perm=NUM_PERM, seed=_SEED, hashfunc=_hash, scheme=_SCHEME
                )
    return _permutations


def is_unspaced(template: str) -> bool:
    """Tell whether most letters of a template belong to a script written without spaces."""
    letters = len(_LETTER.findall(template))
    return letters > 0 and 2 * len(_UNSPACED.findall(template)) > letters


def shingles(template: str) -> set[str]:
    """Return a template's shingles: its words, or character 4-grams for unspaced scripts."""
    if is_unspaced(template):
        text = " ".join(template.split())
        if len(text) <= CHARACTER_SHINGLE:
            return {text}
        return {
            text[start : start + CHARACTER_SHINGLE]
            for start in range(len(text) - CHARACTER_SHINGLE + 1)
        }
    return set(_WORD.findall(template))


def signature(template: str) -> str:
    """Return the MinHash of a template's shingles as base64 of its 32-bit values ("" if few)."""
    found = shingles(template)
    if len(found) < MIN_SHINGLES:
        return ""
    first = _first_minhash()
    minhash = type(first)(
        seed=_SEED, permutations=first.permutations, hashfunc=_hash, scheme=_SCHEME
    )
    minhash.update_batch([shingle.encode("utf-8", "surrogatepass") for shingle in found])
    return base64.b64encode(minhash.hashvalues.astype(">u4").tobytes()).decode("ascii")


def _hash(data: bytes) -> int:
    """Hash one shingle to 32 bits (datasketch's own choice, SHA-1, spelt out to stay fixed)."""
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


def signature_bands(encoded: str) -> list[str]:
    """Return a signature's LSH band keys: band number, then a hash of the band's values."""
    if not encoded:
        return []
    raw = base64.b64decode(encoded)
    width = 4 * BAND_ROWS
    return [
        f"{band:02x}"
        + hashlib.blake2b(raw[band * width : (band + 1) * width], digest_size=8).hexdigest()
        for band in range(BAND_COUNT)
    ]


def similarity(signature_a: str, signature_b: str) -> float:
    """Return the estimated Jaccard similarity of two signatures (0 when either is empty)."""
    if not signature_a or not signature_b:
        return 0.0
    # Imported here like datasketch (which needs it anyway): importing normalise stays light.
    import numpy

    first = numpy.frombuffer(base64.b64decode(signature_a), dtype=">u4")
    second = numpy.frombuffer(base64.b64decode(signature_b), dtype=">u4")
    if first.shape != second.shape:
        return 0.0
    return int(numpy.count_nonzero(first == second)) / len(first)


__all__ = [
    "MIN_SHINGLES",
    "SIMILARITY_THRESHOLD",
    "shingles",
    "signature",
    "signature_bands",
    "similarity",
]
