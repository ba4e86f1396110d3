"""Organisations and API keys."""

from marshmallow import Schema, ValidationError, fields, validate

from schemas.common import BIGINT_MAX, COUNTRIES, ROLES


def storable_id(value: str) -> None:
    """Refuse a string of digits naming an id larger than the id column holds."""
    if value.isascii() and value.isdigit() and int(value) > BIGINT_MAX:
        raise ValidationError(f"Out of range: an organisation id is at most {BIGINT_MAX}.")


class OrganisationCreateSchema(Schema):
    """Request body to create an organisation."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    country = fields.String(required=True, validate=validate.OneOf(COUNTRIES))


class OrganisationSchema(Schema):
    """An organisation as shown to regulators and admins."""

    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    role = fields.String(dump_only=True)
    country = fields.String(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)


class KeyCreateSchema(Schema):
    """Request body to issue a key."""

    organisation = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=200), storable_id],
        metadata={"description": "Organisation name or id"},
    )


class KeySchema(Schema):
    """An API key's record; never its secret."""

    key_id = fields.String(dump_only=True)
    organisation = fields.String(dump_only=True, attribute="organisation.name")
    created_at = fields.AwareDateTime(dump_only=True)
    last_used_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    revoked_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class IssuedKeySchema(KeySchema):
    """A key just issued: the only time its secret is shown."""

    key = fields.String(dump_only=True, metadata={"description": "Shown once; store it now"})
