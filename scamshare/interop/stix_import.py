"""STIX indicators from another source as ScamShare reports: the patterns this node understands.

A pattern maps when it is one comparison of one observable this node knows (`url:value`,
`domain-name:value`, `phone-number:value` with `=` or, for ranges, `LIKE`, `sms-sender-id:value`);
anything else (other types, several comparisons, revoked or expired objects) is skipped with a
reason the import counts.
"""

from __future__ import annotations

import re
from datetime import datetime

from schemas.reports import CATEGORIES

# [type:property OP 'value'], one comparison, with STIX's quote and backslash escapes.
_PATTERN = re.compile(r"^\[\s*([a-z0-9-]+):([a-z_]+)\s+(=|LIKE)\s+'((?:[^'\\]|\\.)*)'\s*\]$")
_KINDS = {
    ("url", "value", "="): "url",
    ("domain-name", "value", "="): "domain",
    ("phone-number", "value", "="): "phone",
    ("phone-number", "value", "LIKE"): "phone_range",
    ("sms-sender-id", "value", "="): "sender_id",
}
_CHANNELS = {"phone": "voice", "phone_range": "voice", "sender_id": "sms"}


def _when(text: str) -> datetime:
    """A STIX timestamp as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def report_of(obj: dict, now: datetime) -> tuple[dict | None, str | None]:
    """The report an object stands for, or None and why it was skipped."""
    if obj.get("type") != "indicator":
        return None, "not_an_indicator"
    if obj.get("revoked"):
        return None, "revoked"
    if obj.get("pattern_type", "stix") != "stix":
        return None, "pattern_type"
    if obj.get("valid_until") and _when(obj["valid_until"]) <= now:
        return None, "expired"
    match = _PATTERN.match(obj.get("pattern", "").strip())
    if match is None:
        return None, "pattern_not_understood"
    sco, prop, operator, quoted = match.groups()
    kind = _KINDS.get((sco, prop, operator))
    if kind is None:
        return None, "pattern_not_understood"
    value = re.sub(r"\\(.)", r"\1", quoted)
    if kind == "phone_range":
        if set(value.rstrip("_")) & set("%_"):
            return None, "pattern_not_understood"  # only trailing single-digit wildcards
        value = value.replace("_", "*")
    observed = min(_when(obj.get("modified") or obj["created"]), now)
    category = next((label for label in obj.get("labels", []) if label in CATEGORIES), "other")
    return {
        "kind": kind,
        "value": value,
        "category": category,
        "channel": _CHANNELS.get(kind, "other"),
        "observed_at": observed.isoformat(),
        "evidence_ref": f"taxii:{obj['id']}"[:200],
    }, None
