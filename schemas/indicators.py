"""Indicators: the list with its filters, and one indicator with its history and reporters."""

from marshmallow import Schema, fields, validate

from schemas.common import COUNTRIES, CURSOR_MAX
from schemas.reports import CATEGORIES, KINDS

STATUSES = ("reported", "listed", "disputed", "delisted", "expired", "protected")
RISKS = ("low", "medium", "high", "very_high")


class IndicatorQuerySchema(Schema):
    """Filters and keyset pagination for the indicator list."""

    kind = fields.String(validate=validate.OneOf(KINDS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    category = fields.String(
        validate=validate.OneOf(CATEGORIES),
        metadata={"description": "Indicators with at least one report in this category"},
    )
    risk = fields.String(validate=validate.OneOf(RISKS))
    country = fields.String(
        validate=validate.OneOf(COUNTRIES),
        metadata={"description": "Indicators reported by an organisation of this country"},
    )
    before = fields.Integer(
        validate=validate.Range(min=1, max=CURSOR_MAX),
        metadata={"description": "Cursor: the `next` value of the previous page"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class IndicatorSchema(Schema):
    """One indicator's aggregate view; never who reported it."""

    id = fields.Integer()
    kind = fields.String()
    value = fields.String()
    status = fields.String()
    removal_reason = fields.String(allow_none=True)
    risk = fields.String()
    report_count = fields.Integer()
    org_count = fields.Integer()
    country_count = fields.Integer()
    verified_count = fields.Integer()
    spoofed_count = fields.Integer(
        metadata={"description": "Reports that the displayed number was spoofed; never counted"}
    )
    category_counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    channel_counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    first_reported_at = fields.AwareDateTime(allow_none=True)
    last_reported_at = fields.AwareDateTime(allow_none=True)
    listed_at = fields.AwareDateTime(allow_none=True)
    expires_at = fields.AwareDateTime(allow_none=True)
    delisted_at = fields.AwareDateTime(allow_none=True)
    sequence = fields.Integer(metadata={"description": "Node sequence of the last exported change"})
    updated_at = fields.AwareDateTime()


class IndicatorPageSchema(Schema):
    """One page of indicators, newest first."""

    items = fields.List(fields.Nested(IndicatorSchema))
    next = fields.Integer(allow_none=True, metadata={"description": "Pass as `before`"})


class IndicatorEventSchema(Schema):
    """One change of an indicator's exported state."""

    sequence = fields.Integer()
    at = fields.AwareDateTime()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    risk = fields.String()
    reason = fields.String()
    organisation = fields.String(
        allow_none=True,
        metadata={"description": "Who caused it: shown to regulators and to that organisation"},
    )


class ReporterSchema(Schema):
    """One reporting organisation's share of an indicator."""

    organisation = fields.String()
    report_count = fields.Integer()
    first_at = fields.AwareDateTime()
    last_at = fields.AwareDateTime()


class IndicatorDetailSchema(IndicatorSchema):
    """One indicator with its facts, its history and the reporters the caller may see."""

    facts = fields.Dict()
    history = fields.List(fields.Nested(IndicatorEventSchema))
    reporters = fields.List(
        fields.Nested(ReporterSchema),
        metadata={
            "description": "Every reporting organisation for regulators; for any other role "
            "only its own entry"
        },
    )
