"""Node statistics: counts per UTC day, metric, kind and category."""

from datetime import date

from marshmallow import Schema, fields, validate

METRICS = (
    "reports_received",
    "indicators_listed",
    "indicators_expired",
    "indicators_delisted",
    "appeals_opened",
    "appeals_resolved",
)
# Bounds that keep date arithmetic away from the calendar's ends.
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)


class StatsQuerySchema(Schema):
    """The period (UTC days, both ends included, at most a year) and the output format."""

    start = fields.Date(
        data_key="from",
        validate=validate.Range(min=EARLIEST, max=LATEST),
        metadata={"description": "First UTC day (default: 29 days before `to`)"},
    )
    end = fields.Date(
        data_key="to",
        validate=validate.Range(min=EARLIEST, max=LATEST),
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
