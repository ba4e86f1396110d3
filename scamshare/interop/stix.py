"""STIX 2.1 objects of the node's listings: one `indicator` per value, versioned by its stamps.

The source of truth is the merged view (indicators/rules.py) that every download renders, and
only the fields a stamp covers (rules.shown): each change of them takes the next sequence value
and a new `updated_at`, which becomes the object's `modified`, so two objects with one id and
one `modified` always carry the same content. Ids are UUIDv5 of a fixed namespace and the
(kind, value), so every node names one value with one id; removals are versions with
`revoked: true`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scamshare.indicators import rules
from scamshare.models import Indicator

SPEC_VERSION = "2.1"
MEDIA_TYPE = "application/stix+json;version=2.1"
# Fixed forever: changing it would rename every object every node ever published.
NAMESPACE = uuid.UUID("5c0b4d8e-6f2a-5e31-9a57-3d1f0c2b7e44")
# When the node's fixed objects (identities, extension definition) were first defined.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

# TLP 2.0 marking definitions as OASIS publishes them (the same ids on every platform).
TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_IDS = {
    "TLP:CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "TLP:GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "TLP:AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "TLP:AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "TLP:RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
_TLP_CREATED = datetime(2022, 10, 1, tzinfo=UTC)

# Risk tier -> confidence, on the STIX "None / Low / Med / High" scale (appendix A of the
# specification: Low 15, Med 50, High 85), with a verified or multi-country listing above it.
CONFIDENCE = {"low": 15, "medium": 50, "high": 85, "very_high": 95}

# kind -> (observable type, property, operator): what each kind's pattern compares.
PATTERNS = {
    "url": ("url", "value", "="),
    "domain": ("domain-name", "value", "="),
    "phone": ("phone-number", "value", "="),
    "phone_range": ("phone-number", "value", "LIKE"),
    "sender_id": ("sms-sender-id", "value", "="),
    "message": ("sms-template", "fingerprint", "="),
}
_DESCRIPTIONS = {
    "phone": "A phone number used in scam calls or messages.",
    "phone_range": "A block of phone numbers used in scam calls or messages.",
    "sender_id": "An SMS sender ID used in scam messages.",
    "url": "A link sent in scams.",
    "domain": "A domain of scam links.",
    "message": "A scam SMS template.",
}
CUSTOM_TYPES = ("phone-number", "sms-sender-id", "sms-template")
# The extension's normative definition, as plain text (STIX allows a URL or a text).
_SCHEMA = (
    "New observable types: phone-number (value: an E.164 number; a number range is matched "
    "with LIKE, one _ per free digit), sms-sender-id (value: an upper-case alphanumeric SMS "
    "sender ID) and sms-template (fingerprint: 32 hex digits of a normalised SMS template). "
    "Property extension on indicator: kind (phone, phone_range, sender_id, url, domain, "
    "message), value (the canonical value), status (listed or disputed), risk (low, medium, "
    "high, very_high), origins (member states whose nodes list it), last_reported (timestamp) "
    "and, for messages, template (the normalised template text with typed placeholders)."
)


def stix_id(kind: str, value: str) -> str:
    """The stable id of a value's indicator: the same on every node, for every version."""
    return f"indicator--{uuid.uuid5(NAMESPACE, f'{kind}:{value}')}"


def identity_id(country: str) -> str:
    """The id of a member state's node as an `identity`: every node computes the same."""
    return f"identity--{uuid.uuid5(NAMESPACE, f'node:{country}')}"


def extension_id(country: str) -> str:
    """The id of the extension definition a node publishes for ScamShare's observables."""
    return f"extension-definition--{uuid.uuid5(NAMESPACE, f'extension:{country}')}"


def timestamp(moment: datetime) -> str:
    """A STIX timestamp: RFC 3339 UTC with microseconds, so successive versions differ."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pattern(kind: str, value: str) -> str:
    """The STIX pattern of a value; a number range's `*` wildcards become LIKE's `_`."""
    sco, prop, operator = PATTERNS[kind]
    text = value.replace("*", "_") if kind == "phone_range" else value
    quoted = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{sco}:{prop} {operator} '{quoted}']"


@dataclass(frozen=True)
class Version:
    """One version of a value's indicator: its merged view and the stamp that made it."""

    view: rules.View
    created: datetime
    modified: datetime
    sequence: int
    template: str | None = None  # a message's normalised template, fixed by its fingerprint

    @property
    def id(self) -> str:
        """The object's stable id."""
        return stix_id(self.view.kind, self.view.value)

    @property
    def revoked(self) -> bool:
        """Whether this version removes the value (operators no longer receive it)."""
        return not self.view.exported


def version_of(indicator: Indicator, country: str, policies: dict[str, str]) -> Version:
    """The current version of an indicator's STIX object."""
    created = indicator.created_at
    return Version(
        view=rules.merged_view(indicator, country, policies),
        created=created,
        modified=max(indicator.updated_at, created),
        sequence=indicator.sequence,
        template=(indicator.facts or {}).get("template") if indicator.kind == "message" else None,
    )


def indicator_object(version: Version, country: str, tlp: str) -> dict[str, Any]:
    """The STIX `indicator` of one version: a listing, or a revoked version for a removal."""
    view = version.view
    common: dict[str, Any] = {
        "type": "indicator",
        "spec_version": SPEC_VERSION,
        "id": version.id,
        "created": timestamp(version.created),
        "modified": timestamp(version.modified),
        "name": f"{view.kind} {view.value}",
        "description": _DESCRIPTIONS[view.kind],
        "indicator_types": ["malicious-activity"],
        "pattern": pattern(view.kind, view.value),
        "pattern_type": "stix",
        "pattern_version": SPEC_VERSION,
        "object_marking_refs": [TLP_IDS[tlp]],
    }
    if version.revoked:
        # Only what the stamp fixed: later reports of a removed value change its view unstamped.
        return {
            **common,
            "valid_from": timestamp(version.created),
            "created_by_ref": identity_id(country),
            "revoked": True,
        }
    valid_from = view.first_reported or version.created
    listing: dict[str, Any] = {
        **common,
        "valid_from": timestamp(valid_from),
        "created_by_ref": identity_id(_creator(view, country)),
        "confidence": CONFIDENCE[view.risk],
    }
    if view.expires_at is not None and view.expires_at > valid_from:
        listing["valid_until"] = timestamp(view.expires_at)
    if view.categories:
        listing["labels"] = list(view.categories)
    facts: dict[str, Any] = {
        "extension_type": "property-extension",
        "kind": view.kind,
        "value": view.value,
        "status": view.status,
        "risk": view.risk,
        "origins": sorted({origin.country for origin in view.origins}),
    }
    if view.last_reported is not None:
        facts["last_reported"] = timestamp(view.last_reported)
    if version.template is not None:
        facts["template"] = version.template
    listing["extensions"] = {extension_id(country): facts}
    return listing


def _creator(view: rules.View, country: str) -> str:
    """The country whose node made the listing: this node's while it lists it, else a peer's."""
    countries = [origin.country for origin in view.origins]
    if not countries or country in countries:
        return country
    return countries[0]


def _fixed(kind: str, object_id: str) -> dict[str, Any]:
    """The common properties of an object that never changes (one version, at EPOCH)."""
    moment = timestamp(EPOCH)
    return {
        "type": kind,
        "spec_version": SPEC_VERSION,
        "id": object_id,
        "created": moment,
        "modified": moment,
    }


def identity_object(country: str) -> dict[str, Any]:
    """A member state's ScamShare node as an `identity`."""
    return {
        **_fixed("identity", identity_id(country)),
        "name": f"ScamShare node {country}",
        "description": f"The anti-scam information-sharing node of member state {country}.",
        "identity_class": "organization",
    }


def marking_object(tlp: str) -> dict[str, Any]:
    """The TLP 2.0 marking definition of a level, as OASIS defines it."""
    return {
        "type": "marking-definition",
        "spec_version": SPEC_VERSION,
        "id": TLP_IDS[tlp],
        "created": timestamp(_TLP_CREATED),
        "name": tlp,
        "extensions": {
            TLP_EXTENSION: {
                "extension_type": "property-extension",
                "tlp_2_0": tlp.removeprefix("TLP:").lower(),
            }
        },
    }


def extension_object(country: str) -> dict[str, Any]:
    """The extension definition that declares ScamShare's observable types and properties."""
    return {
        **_fixed("extension-definition", extension_id(country)),
        "created_by_ref": identity_id(country),
        "name": "ScamShare observables and listing facts",
        "description": "ScamShare's observable types and the facts of its listings.",
        "schema": _SCHEMA,
        "version": "1.0.0",
        "extension_types": ["new-sco", "property-extension"],
    }


def fixed_objects(country: str, tlp: str, countries: Iterable[str]) -> list[dict]:
    """The objects every collection and bundle starts with: marking, identities, extension."""
    return [
        marking_object(tlp),
        *(identity_object(member) for member in countries),
        extension_object(country),
    ]


def dumps(obj: dict) -> str:
    """One STIX object as compact JSON text."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def bundle_head(bundle_id: str) -> str:
    """The start of a bundle's JSON text, up to its first object."""
    return '{"type":"bundle","id":"' + bundle_id + '","objects":[\n'


BUNDLE_TAIL = "\n]}\n"


def bundle_id(key: str) -> str:
    """A bundle's id, derived from what it holds, so the same download gives the same bytes."""
    return f"bundle--{uuid.uuid5(NAMESPACE, 'bundle:' + key)}"
