"""The node's MISP feed: which events there are, their members, and the hash list.

Every value that was ever exported (sequence > 0) sits in the event of its kind and bucket
(interop/misp.py); the manifest is one grouped query, an event one query over its bucket.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from scamshare.errors import NotFound
from scamshare.indicators import lifecycle, rules
from scamshare.interop import misp
from scamshare.models import KINDS, Indicator

_BATCH = 5000


def _bucket():
    """The bucket of an indicator, in SQL (a literal, so GROUP BY matches the selected column)."""
    return Indicator.id % literal_column(str(misp.BUCKETS))


def manifest(session: Session, country: str, tlp: str) -> dict:
    """The feed's manifest.json: every event with the newest stamp of its values."""
    query = (
        select(Indicator.kind, _bucket().label("bucket"), func.max(Indicator.updated_at))
        .where(Indicator.sequence > 0)
        .group_by(Indicator.kind, _bucket())
        .order_by(Indicator.kind, _bucket())
    )
    return dict(
        misp.manifest_entry(country, tlp, kind, bucket, newest)
        for kind, bucket, newest in session.execute(query)
    )


def _member(indicator: Indicator, country: str, policies: dict[str, str]) -> misp.Member:
    """An indicator as a member of its event."""
    return misp.Member(
        view=rules.merged_view(indicator, country, policies),
        modified=indicator.updated_at,
        template=(indicator.facts or {}).get("template") if indicator.kind == "message" else None,
    )


def _members(session: Session, country: str, where) -> Iterator[tuple[Indicator, misp.Member]]:
    """The indicators that match, ever exported, with their members, in id order."""
    policies = lifecycle.peer_policies(session)
    query = (
        select(Indicator)
        .where(Indicator.sequence > 0, *where)
        .order_by(Indicator.id)
        .execution_options(yield_per=_BATCH)
    )
    for rows in session.scalars(query).partitions():
        for indicator in rows:
            yield indicator, _member(indicator, country, policies)


def event(session: Session, country: str, tlp: str, event_id: str) -> dict:
    """One event of the feed, by its uuid, or NotFound."""
    for kind in KINDS:
        for bucket in range(misp.BUCKETS):
            if misp.event_uuid(country, kind, bucket) != event_id:
                continue
            where = [Indicator.kind == kind, _bucket() == bucket]
            members = [member for _, member in _members(session, country, where)]
            if members:
                newest = max(member.modified for member in members)
                return misp.event(country, tlp, kind, bucket, members, newest)
    raise NotFound(f"The feed has no event {event_id}.", code="unknown_event")


def hashes(session: Session, country: str) -> Iterator[str]:
    """The lines of hashes.csv: one per attribute, with its event's uuid."""
    for indicator, member in _members(session, country, []):
        bucket = indicator.id % misp.BUCKETS
        yield misp.hash_line(member, misp.event_uuid(country, indicator.kind, bucket))
