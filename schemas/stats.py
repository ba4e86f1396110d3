"""Node statistics: counts per UTC day, metric, kind and category."""

from marshmallow import Schema, fields, validate

from schemas.common import day

METRICS = (
    "reports_received",
    "indicators_listed",
    "indicators_expired",
    "indicators_delisted",
    "appeals_opened",
    "appeals_resolved",
)


class StatsQuerySchema(Schema):
    """The period (UTC days, both ends included, at most a year) and the output format."""

    start = day(
        data_key="from",
        metadata={"description": "First UTC day (default: 29 days before `to`)"},
    )
    end = day(
        data_key="to",
        metadata={"description": "Last UTC day (default: today)"},
    )
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class StatsRowSchema(Schema):
    """How many times one thing happened on one day to one kind and category."""

    day = fields.String(metadata={"description": "UTC day, YYYY-MM-DD"})
    metric = fields.String(validate=validate.OneOf(METRICS))
    kind = fields.String()
    category = fields.String(
        metadata={
            "description": "The report's category; for indicators and appeals, the indicator's "
            "main category (most reports; ties alphabetical), or 'none'"
        }
    )
    count = fields.Integer()


class StatsSchema(Schema):
    """Counts over a period: totals per metric, and one row per day, metric, kind and category."""

    start = fields.String(data_key="from")
    end = fields.String(data_key="to")
    totals = fields.Dict(keys=fields.String(), values=fields.Integer())
    rows = fields.List(fields.Nested(StatsRowSchema))
