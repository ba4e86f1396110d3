"""A node's TAXII 2.1 collection: pages of its STIX objects in sequence order, read statelessly.

The collection holds the fixed objects (interop/stix.py) and one indicator per value that was
ever exported: its current version, a revoked one once operators stop receiving it. Each page
is one query after the position the request names (interop/taxii.py), so no cursor lives in
the server.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare.config import MEMBER_STATES
from scamshare.indicators import lifecycle
from scamshare.interop import stix
from scamshare.interop.taxii import Entry, Filters, Page, Position
from scamshare.models import Indicator

# Rows fetched per round while looking an id up: the id is a hash of the value, not a column.
_SCAN_BATCH = 5000


def fixed_entries(country: str, tlp: str) -> list[Entry]:
    """The fixed objects at sequence 0, in rank order."""
    objects = stix.fixed_objects(country, tlp, MEMBER_STATES)
    return [Entry(Position(0, rank), obj) for rank, obj in enumerate(objects)]


def _entry(indicator: Indicator, country: str, tlp: str, policies: dict[str, str]) -> Entry:
    """An indicator's current version as a collection entry."""
    version = stix.version_of(indicator, country, policies)
    return Entry(Position(indicator.sequence), stix.indicator_object(version, country, tlp))


def _passes(entry: Entry, filters: Filters) -> bool:
    """Whether an entry passes the filters a query cannot apply (type, id, version)."""
    obj = entry.obj
    if filters.types and obj["type"] not in filters.types:
        return False
    if filters.ids and obj["id"] not in filters.ids:
        return False
    return filters.version_matches(entry.version)


def page(session: Session, country: str, tlp: str, filters: Filters) -> Page:
    """The page of the collection after the filters' position, at most `limit` entries long."""
    if filters.empty:
        return Page([], False)
    entries = [
        entry
        for entry in fixed_entries(country, tlp)
        if entry.position > filters.after and _passes(entry, filters)
    ]
    if len(entries) > filters.limit:
        return Page(entries[: filters.limit], True)
    if not filters.wants_indicators:
        return Page(entries, False)
    if filters.ids:
        found = [e for e in by_ids(session, country, tlp, filters.ids) if _passes(e, filters)]
        rows = sorted((e for e in found if e.position > filters.after), key=lambda e: e.position)
        entries += rows
        return Page(entries[: filters.limit], len(entries) > filters.limit)
    wanted = filters.limit - len(entries)
    query = (
        select(Indicator)
        .where(Indicator.sequence > max(filters.after.sequence, 0))
        .order_by(Indicator.sequence)
        .limit(wanted + 1)
    )
    rows = session.scalars(query).all()
    more = len(rows) > wanted
    policies = lifecycle.peer_policies(session)
    for indicator in rows[:wanted]:
        entry = _entry(indicator, country, tlp, policies)
        if _passes(entry, filters):
            entries.append(entry)
    resume = Position(rows[wanted - 1].sequence) if more and wanted > 0 else None
    return Page(entries, more, resume)


def by_ids(session: Session, country: str, tlp: str, ids: frozenset[str]) -> list[Entry]:
    """The entries of the objects with these ids (fixed ones, and indicators ever exported)."""
    found = [entry for entry in fixed_entries(country, tlp) if entry.obj["id"] in ids]
    wanted = {object_id for object_id in ids if object_id.startswith("indicator--")}
    if not wanted:
        return found
    query = (
        select(Indicator.id, Indicator.kind, Indicator.value)
        .where(Indicator.sequence > 0)
        .execution_options(yield_per=_SCAN_BATCH)
    )
    matches = [
        row.id
        for rows in session.execute(query).partitions()
        for row in rows
        if stix.stix_id(row.kind, row.value) in wanted
    ]
    if matches:
        policies = lifecycle.peer_policies(session)
        indicators = session.scalars(select(Indicator).where(Indicator.id.in_(matches))).all()
        found += [_entry(indicator, country, tlp, policies) for indicator in indicators]
    return found
