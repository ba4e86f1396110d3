"""Blocklist downloads: the query string and the JSON file's shape."""

from marshmallow import Schema, fields, validate
from webargs.fields import DelimitedList

from schemas.common import COUNTRIES, CURSOR_MAX
from schemas.reports import CATEGORIES, KINDS

FORMATS = ("csv", "json", "ndjson", "txt", "stix")
RISKS = ("low", "medium", "high", "very_high")
EXPORTED_STATUSES = ("listed", "disputed")


class BlocklistQuerySchema(Schema):
    """Format, cursor and filters of a blocklist download; lists are comma-separated."""

    format = fields.String(
        validate=validate.OneOf(FORMATS),
        metadata={
            "description": "csv, json, ndjson, txt or stix (a STIX 2.1 bundle); else the Accept "
            "header decides (csv)"
        },
    )
    since = fields.Integer(
        validate=validate.Range(min=0, max=CURSOR_MAX),
        metadata={
            "description": "A cursor (X-ScamShare-Cursor of an earlier download): return every "
            "change after it, removals included"
        },
    )
    kind = DelimitedList(
        fields.String(validate=validate.OneOf(KINDS)),
        metadata={"description": "These kinds only; format=txt needs exactly one"},
    )
    include_warn = fields.Boolean(
        metadata={
            "description": "format=txt only: also the values that only origins this node treats "
            "as warn list (by default a txt list holds values some block origin lists)"
        },
    )
    calling_code = DelimitedList(
        fields.Integer(validate=validate.Range(min=1, max=999)),
        metadata={"description": "Phone values of these calling codes only (65 for +65)"},
    )
    region = DelimitedList(
        fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$")),
        metadata={"description": "Phone values of these regions only (SG, MY, ...)"},
    )
    origin = DelimitedList(
        fields.String(validate=validate.OneOf(COUNTRIES)),
        metadata={"description": "Indicators with one of these origin countries"},
    )
    min_risk = fields.String(validate=validate.OneOf(RISKS))
    category = DelimitedList(
        fields.String(validate=validate.OneOf(CATEGORIES)),
        metadata={"description": "Indicators reported in at least one of these categories"},
    )
    status = DelimitedList(
        fields.String(validate=validate.OneOf(EXPORTED_STATUSES)),
        metadata={"description": "listed, disputed (default both)"},
    )
    limit = fields.Integer(
        validate=validate.Range(min=1, max=1_000_000),
        metadata={
            "description": "The top N by risk tier, then most recently reported (full lists only)"
        },
    )


class ConditionalHeadersSchema(Schema):
    """The request header that makes a full-list download conditional."""

    if_none_match = fields.String(
        data_key="If-None-Match",
        metadata={"description": "The ETag of a full list you hold: 304 if it is still current"},
    )


class OriginSchema(Schema):
    """One origin of an indicator and how this node's operators treat it."""

    country = fields.String(required=True)
    policy = fields.String(required=True, validate=validate.OneOf(("block", "warn")))


class BlocklistItemSchema(Schema):
    """One entry of a blocklist; deltas add action and reason."""

    kind = fields.String(required=True)
    value = fields.String(required=True)
    status = fields.String(required=True)
    risk = fields.String(required=True)
    categories = fields.List(fields.String(), required=True)
    origins = fields.List(fields.Nested(OriginSchema), required=True)
    first_reported = fields.String(allow_none=True, metadata={"format": "date-time"})
    last_reported = fields.String(allow_none=True, metadata={"format": "date-time"})
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    action = fields.String(
        validate=validate.OneOf(("upsert", "remove")), metadata={"description": "Deltas only"}
    )
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "Why a remove: delisted, expired, disconnected, protected, not_listed "
            "or filtered (no longer matches the download's filters)"
        },
    )


class BlocklistFileSchema(Schema):
    """The JSON blocklist: its cursor, then the entries."""

    cursor = fields.Integer(required=True, metadata={"description": "Pass as since= next time"})
    since = fields.Integer(allow_none=True, required=True)
    country = fields.String(required=True)
    items = fields.List(fields.Nested(BlocklistItemSchema), required=True)
