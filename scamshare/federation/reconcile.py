"""Daily reconciliation: compare per-origin digests with each peer and resend what differs.

Both sides hash the same thing for one origin: (kind, value, origin version) of every
contribution, split into 16 buckets by a hash of (kind, value). Buckets whose count or hash
differ are resent in full; the receiver ignores what it already holds, so only drift is fixed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare.models import Contribution, Indicator

BUCKETS = 16


def bucket_of(kind: str, value: str) -> str:
    """The bucket of a value: the first hex digit of a hash of (kind, value)."""
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()[0]


def digest(rows: Iterable[tuple[str, str, int]]) -> dict[str, dict]:
    """Count and hash (kind, value, version) triples per bucket, independent of their order."""
    counts = {f"{n:x}": 0 for n in range(BUCKETS)}
    sums = {f"{n:x}": 0 for n in range(BUCKETS)}
    for kind, value, version in rows:
        bucket = bucket_of(kind, value)
        counts[bucket] += 1
        item = hashlib.sha256(f"{kind}\0{value}\0{version}".encode()).digest()
        # A sum modulo 2^256 is independent of order and changes with any item.
        sums[bucket] = (sums[bucket] + int.from_bytes(item, "big")) % (1 << 256)
    return {b: {"count": counts[b], "hash": f"{sums[b]:064x}"} for b in counts}


def own_digest(session: Session) -> dict[str, dict]:
    """This node's digest of its own-origin contributions (everything it has ever pushed)."""
    rows = session.execute(
        select(Indicator.kind, Indicator.value, Indicator.origin_version)
        .where(Indicator.origin_version > 0)
        .execution_options(yield_per=10000)
    )
    return digest(rows)


def held_digest(session: Session, origin_node: str) -> dict[str, dict]:
    """This node's digest of what it holds from one origin."""
    rows = session.execute(
        select(Contribution.kind, Contribution.value, Contribution.origin_version)
        .where(Contribution.origin_node == origin_node)
        .execution_options(yield_per=10000)
    )
    return digest(rows)


def differing(mine: dict[str, dict], theirs: dict[str, dict]) -> list[str]:
    """The buckets whose count or hash differ."""
    return sorted(b for b in mine if mine[b] != theirs.get(b))


def indicators_in(session: Session, buckets: list[str], after: int = 0) -> list[Indicator]:
    """Own-origin indicators that fall in the given buckets."""
    wanted = set(buckets)
    found = []
    for indicator in session.scalars(
        select(Indicator)
        .where(Indicator.origin_version > after)
        .order_by(Indicator.origin_version)
        .execution_options(yield_per=10000)
    ):
        if bucket_of(indicator.kind, indicator.value) in wanted:
            found.append(indicator)
    return found
