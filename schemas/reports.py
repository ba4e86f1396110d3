"""Report submission: one report, a batch, and the outcome of each item."""

from marshmallow import EXCLUDE, Schema, fields, validate

from schemas.common import moment

KINDS = ("phone", "phone_range", "sender_id", "url", "domain", "message")
CATEGORIES = (
    "government_impersonation",
    "bank_impersonation",
    "parcel_delivery",
    "investment",
    "job",
    "loan",
    "romance",
    "lottery_prize",
    "tech_support",
    "phishing_link",
    "other",
)
CHANNELS = ("voice", "sms", "ott_message", "other")


class ReportSchema(Schema):
    """One organisation's report of one value."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    value = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={"description": "As observed; the node normalises it (SMS text for message)"},
    )
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    observed_at = moment(
        required=True,
        metadata={"description": "When the scam was seen: from 2000, not in the future"},
    )
    evidence_ref = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The reporter's own reference to its evidence"},
    )
    region = fields.String(
        validate=validate.Length(equal=2),
        metadata={"description": "ISO 3166 region to read national numbers in"},
    )
    verified = fields.Boolean(
        load_default=False,
        metadata={"description": "Regulator and law-enforcement keys only; 403 from others"},
    )
    spoofed_caller_id = fields.Boolean(
        load_default=False,
        metadata={"description": "The displayed number was spoofed: it is never listed"},
    )
    note = fields.String(validate=validate.Length(max=2000))


class ReportBatchSchema(Schema):
    """Up to 10,000 reports in one request."""

    reports = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=10000))


class SubmissionQuerySchema(Schema):
    """The query string of a submission."""

    class Meta:
        """Ignore other parameters, as this endpoint always has (callers may rely on it)."""

        unknown = EXCLUDE

    atomic = fields.Boolean(
        load_default=False,
        metadata={"description": "Reject the whole batch if any report is invalid"},
    )


class IndicatorRefSchema(Schema):
    """The indicator a report was counted in."""

    id = fields.Integer()
    kind = fields.String()
    value = fields.String()
    status = fields.String()
    risk = fields.String()


class ExtractedSchema(Schema):
    """A value found inside a message report and reported in its own right."""

    kind = fields.String()
    value = fields.String()
    report_id = fields.Integer()
    indicator = fields.Nested(IndicatorRefSchema)


class AcceptedReportSchema(Schema):
    """One accepted report."""

    index = fields.Integer()
    report_id = fields.Integer()
    indicator = fields.Nested(IndicatorRefSchema)
    extracted = fields.List(fields.Nested(ExtractedSchema))


class ReportProblemSchema(Schema):
    """One problem of a refused report."""

    field = fields.String(required=True, metadata={"description": "The report field"})
    reason = fields.String(required=True, metadata={"description": "Machine-readable reason"})
    message = fields.String(required=True)


class RejectedReportSchema(Schema):
    """One refused report and every reason why."""

    index = fields.Integer()
    field = fields.String(metadata={"description": "The field of the first problem (errors[0])"})
    reason = fields.String(metadata={"description": "The reason of the first problem"})
    message = fields.String(metadata={"description": "The message of the first problem"})
    errors = fields.List(
        fields.Nested(ReportProblemSchema),
        metadata={"description": "Every problem of the report, in the order of its fields"},
    )


class SubmissionResultSchema(Schema):
    """What happened to each report of a submission."""

    accepted = fields.Integer()
    rejected_count = fields.Integer()
    reports = fields.List(fields.Nested(AcceptedReportSchema))
    rejected = fields.List(fields.Nested(RejectedReportSchema))
