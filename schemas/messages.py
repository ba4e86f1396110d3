"""Checking an SMS: the message, and the verdict with every match behind it."""

from marshmallow import Schema, fields, validate

from schemas.blocklist import OriginSchema

VERDICTS = ("block", "warn", "allow")
MATCHES = ("template", "similar_template", "url", "domain", "phone", "phone_range", "sender_id")


class MessageCheckSchema(Schema):
    """One SMS as the network sees it."""

    text = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    sender = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The sender ID it came with (alphanumeric or numeric)"},
    )
    number = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The number it was sent from"},
    )


class MessageMatchSchema(Schema):
    """One indicator the message matched."""

    match = fields.String(required=True, validate=validate.OneOf(MATCHES))
    sources = fields.List(
        fields.String(validate=validate.OneOf(("text", "sender", "number"))), required=True
    )
    kind = fields.String(required=True)
    value = fields.String(required=True)
    status = fields.String(required=True)
    risk = fields.String(required=True)
    categories = fields.List(fields.String(), required=True)
    origins = fields.List(fields.Nested(OriginSchema), required=True)
    similarity = fields.Float(
        allow_none=True, required=True, metadata={"description": "Near-duplicate templates only"}
    )
    action = fields.String(required=True, validate=validate.OneOf(("block", "warn")))


class MessageVerdictSchema(Schema):
    """The verdict and every match behind it."""

    verdict = fields.String(required=True, validate=validate.OneOf(VERDICTS))
    fingerprint = fields.String(required=True, metadata={"description": "The template fingerprint"})
    template = fields.String(required=True)
    matches = fields.List(fields.Nested(MessageMatchSchema), required=True)
