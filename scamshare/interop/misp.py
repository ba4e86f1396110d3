"""MISP feed shapes: the manifest, hashes.csv lines and events of the node's listings.

A value's attribute lives in one event of its kind and bucket (the indicator's id modulo
BUCKETS), so a change makes MISP pull one event of a few thousand values again, never the
whole feed. An event's timestamp is the newest stamp of its values, removals included: a
removed value stays in its event as a deleted attribute, which is how a consumer learns of it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from scamshare.indicators import rules
from scamshare.interop import stix

BUCKETS = 16
# kind -> (MISP attribute type, category, comment): types and categories MISP defines.
ATTRIBUTES = {
    "phone": ("phone-number", "Financial fraud", "Scam phone number"),
    "phone_range": ("text", "Financial fraud", "Scam phone number range (* is any digit)"),
    "sender_id": ("text", "Financial fraud", "Scam SMS sender ID"),
    "url": ("url", "Network activity", "Scam link"),
    "domain": ("domain", "Network activity", "Scam domain"),
    "message": ("text", "Financial fraud", "Scam SMS template"),
}
_THREAT_LEVEL_MEDIUM = 2
_ANALYSIS_COMPLETED = 2


def event_uuid(country: str, kind: str, bucket: int) -> str:
    """The uuid of the event that holds one bucket of one kind's values."""
    return str(uuid.uuid5(stix.NAMESPACE, f"misp:{country}:{kind}:{bucket}"))


def org(country: str) -> dict:
    """The creating organisation of every event: the node, with its STIX identity's uuid."""
    return {"name": f"ScamShare {country}", "uuid": stix.identity_id(country).split("--")[1]}


def _tag(name: str) -> dict:
    """A MISP tag."""
    return {"name": name}


def event_info(country: str, kind: str, bucket: int) -> str:
    """An event's title."""
    return f"ScamShare {country} {kind} listings ({bucket + 1} of {BUCKETS})"


def _event_tags(tlp: str, kind: str) -> list[dict]:
    """The tags of an event: its TLP and its kind."""
    return [_tag(tlp.lower()), _tag(f'scamshare:kind="{kind}"')]


def manifest_entry(
    country: str, tlp: str, kind: str, bucket: int, newest: datetime
) -> tuple[str, dict]:
    """One event's manifest entry, keyed by its uuid."""
    stamp = int(newest.timestamp())
    return event_uuid(country, kind, bucket), {
        "info": event_info(country, kind, bucket),
        "Orgc": org(country),
        "Tag": _event_tags(tlp, kind),
        "date": newest.date().isoformat(),
        "analysis": _ANALYSIS_COMPLETED,
        "threat_level_id": _THREAT_LEVEL_MEDIUM,
        "timestamp": stamp,
        "publish_timestamp": stamp,
    }


@dataclass(frozen=True)
class Member:
    """One value of an event: its merged view, its template (messages) and its last stamp."""

    view: rules.View
    modified: datetime
    template: str | None = None


def attribute_value(member: Member) -> str:
    """What the attribute holds: the canonical value, or a message's template text."""
    if member.view.kind == "message" and member.template:
        return member.template
    return member.view.value


def attribute(member: Member) -> dict:
    """The MISP attribute of one value; `to_ids` only while it is listed, deleted once removed."""
    view = member.view
    kind, category, comment = ATTRIBUTES[view.kind]
    # A removed value's view may change later without a stamp: only its removal is shown.
    names = view.categories if view.exported else ()
    tags = [_tag(f'scamshare:category="{name}"') for name in names]
    tags.append(_tag(f'scamshare:status="{view.status if view.exported else "removed"}"'))
    if view.kind == "message":
        comment = f"{comment}, fingerprint {view.value}"
    return {
        "uuid": stix.stix_id(view.kind, view.value).split("--")[1],
        "type": kind,
        "category": category,
        "value": attribute_value(member),
        "to_ids": view.status == "listed",
        "deleted": not view.exported,
        "timestamp": str(int(member.modified.timestamp())),
        "comment": comment,
        "Tag": tags,
    }


def event(
    country: str, tlp: str, kind: str, bucket: int, members: list[Member], newest: datetime
) -> dict:
    """One event document (`<uuid>.json`) with every value of its bucket."""
    _, entry = manifest_entry(country, tlp, kind, bucket, newest)
    return {
        "Event": {
            "uuid": event_uuid(country, kind, bucket),
            "published": True,
            **{name: entry[name] for name in ("info", "date", "analysis", "threat_level_id")},
            "timestamp": str(entry["timestamp"]),
            "publish_timestamp": str(entry["publish_timestamp"]),
            "Orgc": entry["Orgc"],
            "Tag": entry["Tag"],
            "Attribute": [attribute(member) for member in members],
        }
    }


def hash_line(member: Member, event_id: str) -> str:
    """One hashes.csv line: the MD5 of the attribute's value and its event's uuid."""
    digest = hashlib.md5(attribute_value(member).encode(), usedforsecurity=False).hexdigest()
    return f"{digest},{event_id}"
