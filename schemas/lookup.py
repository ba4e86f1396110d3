"""Looking values up: one in the query string, or up to 1,000 in a body, and what comes back."""

import copy

from marshmallow import Schema, fields, validate

from schemas.blocklist import OriginSchema
from schemas.reports import KINDS

MAX_VALUES = 1000
STATUSES = ("unknown", "reported", "listed", "disputed", "delisted", "expired", "protected")


class LookupQuerySchema(Schema):
    """One value to look up."""

    value = fields.String(
        required=True,
        validate=validate.Length(min=1, max=5000),
        metadata={"description": "As seen; read with the caller's country as region"},
    )
    kind = fields.String(
        validate=validate.OneOf(KINDS), metadata={"description": "Optional for phone numbers"}
    )


class LookupBatchSchema(Schema):
    """Up to 1,000 values to look up at once."""

    values = fields.List(
        fields.Nested(LookupQuerySchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_VALUES),
    )


class LookupCountsSchema(Schema):
    """How much evidence the node holds on a value."""

    reports = fields.Integer(required=True)
    organisations = fields.Integer(required=True)
    countries = fields.Integer(required=True)
    categories = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class LookupOriginSchema(OriginSchema):
    """One origin that lists a value, with that origin's own facts."""

    status = fields.String(required=True)
    risk = fields.String(required=True)
    categories = fields.List(fields.String(), required=True)
    report_count = fields.Integer(required=True)
    org_count = fields.Integer(required=True)
    first_reported = fields.AwareDateTime(allow_none=True, required=True)
    last_reported = fields.AwareDateTime(allow_none=True, required=True)
    expires_at = fields.AwareDateTime(allow_none=True, required=True)


class LookupMatchSchema(Schema):
    """One listed or disputed indicator that matches a value: itself, or one covering it."""

    kind = fields.String(
        required=True, metadata={"description": "The value's own kind, phone_range or domain"}
    )
    value = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("listed", "disputed")))
    risk = fields.String(required=True)
    origins = fields.List(fields.Nested(OriginSchema), required=True)


class LookupResultSchema(Schema):
    """What the node knows of one value; status `unknown` when it has never seen it."""

    kind = fields.String(required=True)
    value = fields.String(required=True, metadata={"description": "The canonical value"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    listed = fields.Boolean(
        required=True, metadata={"description": "In the blocklist (listed or disputed)"}
    )
    removal_reason = fields.String(allow_none=True, required=True)
    risk = fields.String(allow_none=True, required=True)
    categories = fields.List(fields.String(), required=True)
    counts = fields.Nested(LookupCountsSchema, required=True)
    first_reported = fields.AwareDateTime(allow_none=True, required=True)
    last_reported = fields.AwareDateTime(allow_none=True, required=True)
    expires_at = fields.AwareDateTime(allow_none=True, required=True)
    disputed = fields.Boolean(required=True, metadata={"description": "Under appeal"})
    origins = fields.List(
        fields.Nested(LookupOriginSchema),
        required=True,
        metadata={"description": "Each origin listing the value; the counts above are their sum"},
    )
    matched = fields.List(
        fields.Nested(LookupMatchSchema),
        required=True,
        metadata={
            "description": "Every listed or disputed indicator matching the value, the most "
            "severe first: the value itself, a phone_range holding a number, a domain that is a "
            "URL's host or registrable domain. The most severe decides status and listed."
        },
    )


class LookupItemErrorSchema(Schema):
    """Why one value of a batch cannot be looked up."""

    field = fields.String(required=True, metadata={"description": "values.<index>.value"})
    reason = fields.String(required=True, metadata={"description": "The normaliser's reason"})
    message = fields.String(required=True)


def _optional(schema: type[Schema]) -> dict[str, fields.Field]:
    """The fields of a schema, each no longer required (a batch item may be an error)."""
    declared = {}
    for name, field in schema._declared_fields.items():
        field = copy.copy(field)
        field.required = False
        declared[name] = field
    return declared


# One looked-up value with the input it answers: the answer's fields, or its error.
LookupBatchItemSchema = Schema.from_dict(
    {
        **_optional(LookupResultSchema),
        "input": fields.String(required=True),
        "error": fields.Nested(
            LookupItemErrorSchema,
            metadata={"description": "Instead of the answer's fields: the value cannot be read"},
        ),
    },
    name="LookupBatchItemSchema",
)


class LookupBatchResultSchema(Schema):
    """The answers, in the order of the values asked."""

    items = fields.List(fields.Nested(LookupBatchItemSchema), required=True)
