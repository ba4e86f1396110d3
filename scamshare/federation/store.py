"""Storing a peer's batch: its contributions, then the merged view, a few statements per batch.

A batch holds thousands of contributions, so nothing here goes row by row through SQLAlchemy's
type processing: every value is prepared once, in the form SQLAlchemy would have stored (JSON
text, SQLite's naive UTC datetime text), and handed to the driver as it is; SQLite binds the
rows as plain parameters, PostgreSQL unpacks them from one JSON parameter. The tables read back
exactly as if written through the models (a test compares the texts).
"""

from __future__ import annotations

import functools
import itertools
import json
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from scamshare.db import sqlite_when
from scamshare.models import Contribution, Peer
from scamshare.services import lifecycle


def apply(session: Session, peer: Peer, batch: dict, now: datetime) -> dict:
    """Apply each contribution whose origin version is newer than the one held; merge views."""
    contributions = batch["contributions"]
    texts = batch.get("iso_texts") or [_iso_texts(item) for item in contributions]
    rejected, newest = [], {}
    node, country = peer.node_id, peer.country
    for index, item in enumerate(contributions):
        if item["origin_node"] != node or item["origin_country"] != country:
            # A node never relays another origin's data; accepting it could loop or forge.
            rejected.append(
                {
                    "index": index,
                    "reason": "not_sender_origin",
                    "message": f"only {node} ({country}) contributions are accepted",
                }
            )
            continue
        key = (item["kind"], item["value"])
        if key not in newest or item["origin_version"] > newest[key][0]["origin_version"]:
            newest[key] = (item, texts[index])
    changed = upsert_contributions(session, peer, newest, now)
    merge(session, peer, {key: newest[key] for key in changed}, now)
    return {
        "batch_id": batch["batch_id"],
        "applied": len(changed),
        "ignored": len(contributions) - len(rejected) - len(changed),
        "rejected": rejected,
        "highest_sequence": batch["sequence_to"],
    }


def upsert_contributions(
    session: Session, peer: Peer, newest: dict[tuple[str, str], tuple], now: datetime
) -> set[tuple[str, str]]:
    """Store each contribution unless the one held is as new; return the keys that changed.

    One conditional upsert for the whole batch: a contribution replaces the held one only if
    its origin version is newer, so retried, duplicated and reordered batches change nothing.
    """
    if not newest:
        return set()
    dialect = session.bind.dialect.name
    stored = _stored_text if dialect == "sqlite" else _iso_text
    categories = _CategoriesJson()
    node, country, received = peer.node_id, peer.country, stored(None, now)
    rows = [
        (
            node,
            country,
            kind,
            value,
            item["status"],
            item["removal_reason"],
            item["risk"],
            categories(item["categories"]),
            item["report_count"],
            item["org_count"],
            stored(first, item["first_reported"]),
            stored(last, item["last_reported"]),
            stored(expires, item["expires_at"]),
            item["origin_version"],
            received,
        )
        for (kind, value), (item, (first, last, expires)) in sorted(newest.items())
    ]
    if dialect != "sqlite":
        result = session.execute(_UPSERT_CONTRIBUTIONS, {"rows": json.dumps(rows)})
        return {(kind, value) for kind, value in result}
    changed = set()
    connection = session.connection()
    for part in lifecycle.chunks(rows, _SQLITE_ROWS):
        flat = tuple(itertools.chain.from_iterable(part))
        result = connection.exec_driver_sql(_sqlite_upsert(len(part)), flat)
        changed.update((kind, value) for kind, value in result)
    return changed


def merge(
    session: Session, peer: Peer, changed: dict[tuple[str, str], tuple], now: datetime
) -> None:
    """Write the merged view of the values a peer changed, each with the next local sequence.

    The view lists every origin's contribution; the sender's come from the batch, any other
    origin's are read back in one statement (rare: the same value reported in several member
    states). A value is exported when this node or any origin lists or disputes it.
    """
    if not changed:
        return
    dialect = session.bind.dialect.name
    keys = sorted(changed)
    others: dict[tuple[str, str], list[dict]] = {}
    for row in session.execute(
        _OTHER_ORIGINS[dialect], {"keys": json.dumps(keys), "sender": peer.node_id}
    ):
        others.setdefault((row.kind, row.value), []).append(summary(row))
    first = lifecycle.reserve_sequences(session, len(keys))
    entry = _SenderEntry(peer)
    rows = []
    for offset, key in enumerate(keys):
        item, texts = changed[key]
        if key in others:
            entries = sorted(
                [summary_of(item, peer.node_id), *others[key]],
                key=lambda each: (each["country"], each["node"]),
            )
            foreign = json.dumps(entries)
            exported = any(each["status"] in lifecycle.EXPORTED for each in entries)
        else:
            foreign = entry.json(item, texts)
            exported = item["status"] in lifecycle.EXPORTED
        rows.append((key[0], key[1], foreign, exported, first + offset))
    if dialect == "sqlite":
        stamp = _stored_text(None, now)
        session.connection().exec_driver_sql(_SQLITE_MERGE, [(*row, stamp, stamp) for row in rows])
    else:
        session.execute(_MERGE_INDICATORS, {"rows": json.dumps(rows), "now": _iso_text(None, now)})


_CONTRIBUTION_COLUMNS = (
    "kind, value, status, removal_reason, risk, categories, report_count, org_count, "
    "first_reported_at, last_reported_at, expires_at, origin_version"
)
_ON_NEWER = (
    "ON CONFLICT (origin_node, kind, value) DO UPDATE SET "
    + ", ".join(
        f"{name} = excluded.{name}"
        for name in ("origin_country", *_CONTRIBUTION_COLUMNS.split(", ")[2:], "received_at")
    )
    + " WHERE contributions.origin_version < excluded.origin_version RETURNING kind, value"
)
_MERGE_ON_CONFLICT = (
    'ON CONFLICT (kind, value) DO UPDATE SET "foreign" = excluded."foreign", '
    "exported = (indicators.status IN ("
    + ", ".join(f"'{status}'" for status in sorted(lifecycle.EXPORTED))
    + ") OR excluded.exported), sequence = excluded.sequence, updated_at = excluded.updated_at"
)
# A new merged-view row holds no local report yet: a new indicator's values, written out.
_MERGE_DEFAULT_VALUES = {
    name: value
    for name, value in lifecycle.NEW_VALUES.items()
    if name not in ("foreign", "exported", "sequence")
} | {"facts": {}}
_MERGE_COLUMNS = (
    'kind, value, "foreign", exported, sequence, '
    + ", ".join(_MERGE_DEFAULT_VALUES)
    + ", created_at, updated_at"
)


def _literal(value) -> str:
    """A default as an SQL literal: a number as it is, a word or JSON value quoted."""
    if isinstance(value, int):
        return str(value)
    return "'" + (value if isinstance(value, str) else json.dumps(value)) + "'"


_MERGE_DEFAULTS = ", ".join(_literal(value) for value in _MERGE_DEFAULT_VALUES.values())
_SUMMARY_COLUMNS = [
    Contribution.__table__.c[name]
    for name in (
        "origin_node",
        "origin_country",
        "kind",
        "value",
        "status",
        "removal_reason",
        "risk",
        "categories",
        "report_count",
        "org_count",
        "first_reported_at",
        "last_reported_at",
        "expires_at",
    )
]
_SUMMARY_SELECT = ", ".join(f"c.{column.name}" for column in _SUMMARY_COLUMNS)

# SQLite takes the rows as bound parameters: a multi-row VALUES where the changed keys must come
# back (an executemany cannot return rows), an executemany where nothing needs to.
_SQLITE_ROWS = 2000  # 15 parameters a row, well under SQLite's default limit of 32,766
_SQLITE_MERGE = (
    f"INSERT INTO indicators ({_MERGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, {_MERGE_DEFAULTS}, ?, ?) "
    + _MERGE_ON_CONFLICT
)


@functools.lru_cache(maxsize=4)
def _sqlite_upsert(count: int) -> str:
    """The conditional upsert of `count` contributions as one multi-row VALUES statement."""
    row = "(" + ", ".join("?" * 15) + ")"
    return (
        f"INSERT INTO contributions (origin_node, origin_country, {_CONTRIBUTION_COLUMNS}, "
        f"received_at) VALUES {', '.join([row] * count)} {_ON_NEWER}"
    )


# PostgreSQL takes them as one JSON array parameter that it unpacks itself.
_UPSERT_CONTRIBUTIONS = text(
    f"INSERT INTO contributions (origin_node, origin_country, {_CONTRIBUTION_COLUMNS}, "
    "received_at) SELECT r.item ->> 0, r.item ->> 1, r.item ->> 2, r.item ->> 3, "
    "r.item ->> 4, r.item ->> 5, r.item ->> 6, CAST(r.item ->> 7 AS json), "
    "CAST(r.item ->> 8 AS integer), CAST(r.item ->> 9 AS integer), "
    "CAST(r.item ->> 10 AS timestamptz), CAST(r.item ->> 11 AS timestamptz), "
    "CAST(r.item ->> 12 AS timestamptz), CAST(r.item ->> 13 AS bigint), "
    "CAST(r.item ->> 14 AS timestamptz) "
    f"FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r(item) {_ON_NEWER}"
)
_MERGE_INDICATORS = text(
    f"INSERT INTO indicators ({_MERGE_COLUMNS}) SELECT r.item ->> 0, r.item ->> 1, "
    "CAST(r.item ->> 2 AS json), CAST(r.item ->> 3 AS boolean), "
    f"CAST(r.item ->> 4 AS bigint), {_MERGE_DEFAULTS}, CAST(:now AS timestamptz), "
    "CAST(:now AS timestamptz) "
    f"FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r(item) {_MERGE_ON_CONFLICT}"
)
# The other origins' contributions to the changed values; on SQLite a CROSS JOIN keeps the
# batch the outer loop, so each key is one index lookup.
_OTHER_ORIGINS = {
    "sqlite": text(
        f"SELECT {_SUMMARY_SELECT} FROM json_each(:keys) AS k CROSS JOIN contributions AS c "
        "WHERE c.kind = k.value ->> 0 AND c.value = k.value ->> 1 AND c.origin_node != :sender"
    ).columns(*_SUMMARY_COLUMNS),
    "postgresql": text(
        f"SELECT {_SUMMARY_SELECT} FROM jsonb_array_elements(CAST(:keys AS jsonb)) AS k(key) "
        "JOIN contributions AS c ON c.kind = k.key ->> 0 AND c.value = k.key ->> 1 "
        "WHERE c.origin_node != :sender"
    ).columns(*_SUMMARY_COLUMNS),
}


def summary_of(item: dict, origin_node: str) -> dict:
    """The merged-view entry of one origin's contribution (JSON-ready), from its wire fields."""
    first, last, expires = _iso_texts(item)
    return {
        "node": origin_node,
        "country": item["origin_country"],
        "status": item["status"],
        "removal_reason": item["removal_reason"],
        "risk": item["risk"],
        "categories": sorted(item["categories"]),
        "report_count": item["report_count"],
        "org_count": item["org_count"],
        "first_reported": first,
        "last_reported": last,
        "expires_at": expires,
    }


def summary(row) -> dict:
    """The merged-view entry of a stored contribution row."""
    fields = row._mapping
    wire = {
        **fields,
        "first_reported": fields["first_reported_at"],
        "last_reported": fields["last_reported_at"],
    }
    return summary_of(wire, fields["origin_node"])


class _SenderEntry:
    """Renders `json.dumps([summary_of(item, sender)])` for the usual value held by one origin.

    The same text, written out: every field but the categories is a number, an ISO datetime or
    a word from a schema's fixed list, so none needs escaping; the sender's id is encoded once.
    """

    def __init__(self, peer: Peer):
        """Encode what every entry of this sender shares."""
        self.head = f'[{{"node": {json.dumps(peer.node_id)}, "country": '
        self.categories = _CategoriesJson()

    def json(self, item: dict, texts: tuple) -> str:
        """The merged view of a value only this sender contributes to, as JSON text."""
        reason = _quoted(item["removal_reason"])
        first, last, expires = texts
        return (
            f'{self.head}"{item["origin_country"]}", "status": "{item["status"]}", '
            f'"removal_reason": {reason}, '
            f'"risk": "{item["risk"]}", "categories": {self.categories(item["categories"])}, '
            f'"report_count": {item["report_count"]:d}, "org_count": {item["org_count"]:d}, '
            f'"first_reported": {_quoted(first)}, "last_reported": {_quoted(last)}, '
            f'"expires_at": {_quoted(expires)}}}]'
        )


class _CategoriesJson:
    """`json.dumps(sorted(categories))`, remembered: a batch uses a handful of combinations."""

    def __init__(self):
        """Start with nothing remembered."""
        self.seen: dict[tuple, str] = {}

    def __call__(self, categories: list[str]) -> str:
        """The JSON text of the sorted categories."""
        key = tuple(categories)
        found = self.seen.get(key)
        if found is None:
            found = self.seen[key] = json.dumps(sorted(categories))
        return found


def _quoted(word: str | None) -> str:
    """An ISO datetime or a schema word as a JSON value (neither ever needs escaping)."""
    return "null" if word is None else f'"{word}"'


def _iso_texts(item: dict) -> tuple:
    """A loaded contribution's datetimes as `isoformat()` renders them."""
    return tuple(
        None if item[name] is None else item[name].isoformat()
        for name in ("first_reported", "last_reported", "expires_at")
    )


def _iso_text(iso: str | None, moment: datetime | None) -> str | None:
    """A datetime as PostgreSQL takes it: its ISO text, offset included."""
    if moment is None:
        return None
    return iso if iso is not None else moment.isoformat()


def _stored_text(iso: str | None, moment: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DATETIME stores for a moment: naive UTC, microseconds."""
    if moment is None:
        return None
    if iso is not None and iso.endswith("+00:00"):
        # Already UTC: "2026-11-23T03:00:00[.123456]+00:00" to "2026-11-23 03:00:00.123456".
        return f"{iso[:10]} {iso[11:19]}{iso[19:26] if len(iso) == 32 else '.000000'}"
    return sqlite_when(moment)
