"""TAXII 2.1 shapes: media types, the stateless page cursor, filters, envelopes and errors.

A collection's objects are ordered by a key the node already keeps: (sequence, rank). The fixed
objects (marking, identities, extension definition) sit at sequence 0 in their rank order; each
indicator sits at the sequence of its last stamp, which no other object shares. `date_added`
is that sequence as a timestamp (microseconds after the Unix epoch), so it grows with every
change in commit order, and `added_after` and `next` are positions in the sequence: no server
state, the same answer from every worker and after every restart, and no change missed by a
poller that asks again after its last `date_added` (timestamps of the changes themselves would
lose the edits committed out of clock order).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scamshare.interop import stix

MEDIA_TYPE = "application/taxii+json;version=2.1"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000
_SEQUENCE_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_TOKEN = re.compile(r"^(\d{1,19})\.(\d{1,4})$")
_VERSION_WORDS = ("last", "first", "all")


class TaxiiError(Exception):
    """A request TAXII refuses: its HTTP status, title and description."""

    def __init__(self, status: int, title: str, description: str):
        """Keep the parts of the TAXII error message."""
        super().__init__(description)
        self.status = status
        self.title = title
        self.description = description


def error_body(status: int, title: str, description: str) -> dict:
    """A TAXII error message."""
    return {"title": title, "description": description, "http_status": str(status)}


def date_added(sequence: int) -> str:
    """The `date_added` of an object stamped at a sequence value."""
    return stix.timestamp(_SEQUENCE_EPOCH + timedelta(microseconds=sequence))


def sequence_of(text: str, name: str) -> int:
    """The sequence position of a TAXII timestamp (objects added after it have greater ones)."""
    if not _TIMESTAMP.match(text):
        raise TaxiiError(
            400, "Invalid filter", f"{name} must be a timestamp like 2026-01-01T00:00:00.000Z."
        )
    moment = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return max(-1, (moment - _SEQUENCE_EPOCH) // timedelta(microseconds=1))


@dataclass(frozen=True, order=True)
class Position:
    """Where an object sits in a collection: its sequence, then its rank among fixed objects."""

    sequence: int
    rank: int = 0


def token(position: Position) -> str:
    """The opaque `next` of a page that ended at a position."""
    raw = f"{position.sequence}.{position.rank}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def position_of(text: str) -> Position:
    """The position a `next` token names."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    match = _TOKEN.match(raw)
    if match is None:
        raise TaxiiError(400, "Invalid next", "next must be a value this server returned.")
    return Position(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Filters:
    """A request's TAXII filters, parsed: where to start, how many, which ids, types, versions."""

    after: Position = Position(-1)
    limit: int = DEFAULT_LIMIT
    ids: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    versions: tuple[str, ...] = ("last",)
    spec_versions: frozenset[str] = frozenset()

    @property
    def wants_indicators(self) -> bool:
        """Whether indicators pass the type filter."""
        return not self.types or "indicator" in self.types

    @property
    def empty(self) -> bool:
        """Whether the spec_version filter excludes everything (this node speaks 2.1 only)."""
        return bool(self.spec_versions) and stix.SPEC_VERSION not in self.spec_versions

    def version_matches(self, modified: str) -> bool:
        """Whether an object's one version passes match[version]."""
        if any(word in _VERSION_WORDS for word in self.versions):
            return True
        return modified in self.versions


def _list(args, name: str) -> list[str]:
    """The comma-separated values of one query argument."""
    raw = args.get(name)
    if raw is None:
        return []
    values = [value.strip() for value in raw.split(",") if value.strip()]
    if not values:
        raise TaxiiError(400, "Invalid filter", f"{name} must not be empty.")
    return values


def parse_filters(args, paged: bool = True) -> Filters:
    """Parse the TAXII query arguments of a request (a mapping of name to one text)."""
    known = {"added_after", "limit", "next", "match[id]", "match[type]", "match[version]"}
    known |= {"match[spec_version]"}
    unknown = sorted(name for name in args if name not in known)
    if unknown:
        raise TaxiiError(400, "Unknown filter", f"This server does not know {', '.join(unknown)}.")
    after = Position(-1)
    if "added_after" in args:
        after = Position(sequence_of(args["added_after"], "added_after"), 1 << 13)
    if paged and args.get("next"):
        after = max(after, position_of(args["next"]))
    limit = DEFAULT_LIMIT
    if paged and "limit" in args:
        text = args["limit"]
        if not text.isdigit():
            raise TaxiiError(400, "Invalid limit", "limit must be a positive integer.")
        # 0 (what some clients send when no page size is chosen) means the server's default.
        limit = min(int(text), MAX_LIMIT) or DEFAULT_LIMIT
    versions = tuple(_list(args, "match[version]")) or ("last",)
    for version in versions:
        if version not in _VERSION_WORDS and not _TIMESTAMP.match(version):
            raise TaxiiError(
                400, "Invalid filter", "match[version] takes last, first, all or timestamps."
            )
    ids = frozenset(_list(args, "match[id]"))
    for object_id in ids:
        check_id(object_id)
    return Filters(
        after=after,
        limit=limit,
        ids=ids,
        types=frozenset(_list(args, "match[type]")),
        versions=versions,
        spec_versions=frozenset(_list(args, "match[spec_version]")),
    )


def check_id(object_id: str) -> None:
    """Refuse text that is not a STIX identifier."""
    kind, _, rest = object_id.partition("--")
    try:
        uuid.UUID(rest)
    except ValueError:
        raise TaxiiError(400, "Invalid id", f"{object_id!r} is not a STIX identifier.") from None
    if not kind:
        raise TaxiiError(400, "Invalid id", f"{object_id!r} is not a STIX identifier.")


@dataclass(frozen=True)
class Entry:
    """One object of a collection with where it sits."""

    position: Position
    obj: dict

    @property
    def date_added(self) -> str:
        """When the object's current version was added to the collection."""
        return date_added(self.position.sequence)

    @property
    def version(self) -> str:
        """The object's version: its `modified`, or `created` for objects without one."""
        return self.obj.get("modified") or self.obj["created"]

    def manifest_record(self) -> dict:
        """The object's line in a manifest."""
        return {
            "id": self.obj["id"],
            "date_added": self.date_added,
            "version": self.version,
            "media_type": stix.MEDIA_TYPE,
        }


@dataclass(frozen=True)
class Page:
    """One page of a collection: its entries and whether more follow."""

    entries: list[Entry]
    more: bool
    # Where the next page starts when the last object read was filtered out of this one.
    resume: Position | None = None

    def envelope(self, manifest: bool = False) -> dict:
        """The page as a TAXII envelope (its objects) or a manifest (their records)."""
        body: dict = {"more": self.more}
        last = self.resume or (self.entries[-1].position if self.entries else None)
        if self.more and last is not None:
            body["next"] = token(last)
        if manifest:
            items = [entry.manifest_record() for entry in self.entries]
        else:
            items = [entry.obj for entry in self.entries]
        if items:
            body["objects"] = items
        return body

    def headers(self) -> dict[str, str]:
        """The X-TAXII-Date-Added-First and -Last headers of the page."""
        if not self.entries:
            return {}
        return {
            "X-TAXII-Date-Added-First": self.entries[0].date_added,
            "X-TAXII-Date-Added-Last": self.entries[-1].date_added,
        }


def collection_id(country: str) -> str:
    """The id of a node's one collection, its blocklist."""
    return str(uuid.uuid5(stix.NAMESPACE, f"collection:{country}:blocklist"))


def collection(country: str) -> dict:
    """The collection resource of a node's blocklist."""
    return {
        "id": collection_id(country),
        "title": f"ScamShare {country} blocklist",
        "description": (
            "Every listed or disputed scam indicator this node's operators receive, as STIX 2.1 "
            "indicators; removals are revoked versions."
        ),
        "can_read": True,
        "can_write": False,
        "media_types": [stix.MEDIA_TYPE],
    }


def discovery(country: str, root_url: str) -> dict:
    """The discovery resource: one API root."""
    return {
        "title": f"ScamShare node {country}",
        "description": "Scam indicators shared by an ASEAN member state's ScamShare node.",
        "default": root_url,
        "api_roots": [root_url],
    }


def api_root(country: str, max_content_length: int) -> dict:
    """The API root resource."""
    return {
        "title": f"ScamShare {country}",
        "description": "This node's listings, read-only.",
        "versions": [MEDIA_TYPE],
        "max_content_length": max_content_length,
    }
