"""Message signatures: a SimHash of a template, and the bands that find near-duplicates fast."""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections import Counter

# Signature: a 64-bit SimHash over character 4-grams of the template. Characters rather than
# words because Thai, Lao, Khmer and Burmese do not separate words with spaces.
SHINGLE_SIZE = 4
SIGNATURE_BITS = 64
# Two templates are near-duplicates when their signatures differ in at most this many bits.
MAX_DISTANCE = 10
SIMILARITY_THRESHOLD = 1 - MAX_DISTANCE / SIGNATURE_BITS
# Bands: the signature cut into blocks; a pair within MAX_DISTANCE bits differs in at most
# MAX_DISTANCE blocks, so it shares every block of some BAND_BLOCKS-block combination.
_BLOCK_COUNT = 12
_BAND_BLOCKS = _BLOCK_COUNT - MAX_DISTANCE


# Byte tables that add one 64-bit hash into 64 counters packed in one integer (16 bits each), so
# that accumulating a shingle costs eight look-ups instead of a loop over 64 bits.
_LANE = 16
_SPREAD = [
    [
        sum(1 << ((8 * position + bit) * _LANE) for bit in range(8) if byte >> bit & 1)
        for byte in range(256)
    ]
    for position in range(8)
]
_LANE_MASK = (1 << _LANE) - 1


def simhash(template: str) -> int:
    """Return the 64-bit SimHash of a template's character shingles, weighted by repetition."""
    if len(template) <= SHINGLE_SIZE:
        shingles = Counter([template])
    else:
        shingles = Counter(
            template[start : start + SHINGLE_SIZE]
            for start in range(len(template) - SHINGLE_SIZE + 1)
        )
    t0, t1, t2, t3, t4, t5, t6, t7 = _SPREAD
    counters = 0
    total = 0
    for shingle, weight in shingles.items():
        digest = hashlib.blake2b(shingle.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        counters += weight * (
            t0[digest[0]] + t1[digest[1]] + t2[digest[2]] + t3[digest[3]]
            + t4[digest[4]] + t5[digest[5]] + t6[digest[6]] + t7[digest[7]]
        )  # fmt: skip
        total += weight
    signature = 0
    for bit in range(SIGNATURE_BITS):
        if 2 * ((counters >> (bit * _LANE)) & _LANE_MASK) > total:
            signature |= 1 << bit
    return signature


def _signature_blocks() -> list[tuple[int, int]]:
    """Return the (shift, mask) of each signature block, as even in width as 64 bits allow."""
    widths = [
        SIGNATURE_BITS // _BLOCK_COUNT + (index < SIGNATURE_BITS % _BLOCK_COUNT)
        for index in range(_BLOCK_COUNT)
    ]
    return [(sum(widths[:index]), (1 << widths[index]) - 1) for index in range(_BLOCK_COUNT)]


_SIGNATURE_BLOCKS = _signature_blocks()
_BANDS = [
    (f"{number:02x}", operator.itemgetter(*combination))
    for number, combination in enumerate(itertools.combinations(range(_BLOCK_COUNT), _BAND_BLOCKS))
]


def signature_bands(signature: str) -> list[str]:
    """Return a signature's band keys: two signatures at or above the threshold share one."""
    value = int(signature, 16)
    blocks = [f"{(value >> shift) & mask:02x}" for shift, mask in _SIGNATURE_BLOCKS]
    return [number + "".join(pick(blocks)) for number, pick in _BANDS]


def similarity(signature_a: str, signature_b: str) -> float:
    """Return the share of equal bits of two signatures, in [0, 1]."""
    distance = (int(signature_a, 16) ^ int(signature_b, 16)).bit_count()
    return 1 - distance / SIGNATURE_BITS


__all__ = ["MAX_DISTANCE", "SIMILARITY_THRESHOLD", "signature_bands", "simhash", "similarity"]
