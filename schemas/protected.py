"""Protected values: the node's list of values that are never listed."""

from marshmallow import Schema, ValidationError, fields, validate

from schemas.common import CURSOR_MAX

PROTECTED_KINDS = ("phone", "sender_id", "domain")
PROTECTED_CATEGORIES = (
    "emergency",
    "government_hotline",
    "bank_hotline",
    "sender_id",
    "official_domain",
)


def printable(value: str) -> None:
    """Refuse control characters, which no label or value needs and some databases reject."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValidationError("Control characters are not allowed.")


class ProtectedCreateSchema(Schema):
    """Request body to protect a value."""

    # The same default as `scamshare protected add`: most protected values are numbers.
    kind = fields.String(load_default="phone", validate=validate.OneOf(PROTECTED_KINDS))
    value = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=2048), printable],
        metadata={"description": "As a person writes it; the node normalises it"},
    )
    label = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=200), printable],
        metadata={"description": "Whose value it is, e.g. 'DBS customer service'"},
    )
    category = fields.String(required=True, validate=validate.OneOf(PROTECTED_CATEGORIES))
    region = fields.String(
        validate=validate.Length(equal=2),
        metadata={"description": "ISO 3166 region to read national numbers in (default: node)"},
    )


class ProtectedQuerySchema(Schema):
    """Filters and keyset pagination for the protected list."""

    kind = fields.String(validate=validate.OneOf(PROTECTED_KINDS))
    category = fields.String(validate=validate.OneOf(PROTECTED_CATEGORIES))
    after = fields.Integer(
        validate=validate.Range(min=1, max=CURSOR_MAX),
        metadata={"description": "Cursor: the `next` value of the previous page"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class ProtectedValueSchema(Schema):
    """One protected value."""

    id = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True)
    value = fields.String(dump_only=True, metadata={"description": "Canonical value"})
    label = fields.String(dump_only=True)
    category = fields.String(dump_only=True)
    source = fields.String(dump_only=True, metadata={"description": "manual or fixture:<CC>"})
    created_at = fields.AwareDateTime(dump_only=True)
    impersonation_reports = fields.Integer(
        dump_only=True,
        metadata={
            "description": "Reports received against this exact value: evidence that it is "
            "being impersonated (it is never listed)"
        },
    )


class ProtectedChangeSchema(ProtectedValueSchema):
    """A protected value just added or removed, and how many indicators changed state."""

    indicators_changed = fields.Integer(
        dump_only=True,
        metadata={
            "description": "Indicators of this value that became, or stopped being, protected"
        },
    )


class ProtectedPageSchema(Schema):
    """One page of protected values, in the order they were added."""

    items = fields.List(fields.Nested(ProtectedValueSchema))
    next = fields.Integer(allow_none=True, metadata={"description": "Pass as `after`"})
