"""Disconnection notices: a number was disconnected and may be recycled to a new holder."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.common import day


class DisconnectionSchema(Schema):
    """One disconnected number."""

    number = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "As the operator writes it; national numbers read in `region`"},
    )
    disconnected_on = day(
        required=True,
        metadata={"description": "The day the number was disconnected (from 00:00 UTC)"},
    )
    region = fields.String(
        validate=validate.Length(equal=2),
        metadata={"description": "ISO 3166 region to read national numbers in (default: yours)"},
    )


class DisconnectionRequestSchema(Schema):
    """One notice, `{number, disconnected_on}`, or a batch, `{disconnections: [...]}`."""

    number = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "One notice: the number"},
    )
    disconnected_on = day(metadata={"description": "One notice: the day"})
    region = fields.String(validate=validate.Length(equal=2))
    disconnections = fields.List(
        fields.Nested(DisconnectionSchema),
        validate=validate.Length(min=1, max=10000),
        metadata={"description": "A batch of up to 10,000 notices"},
    )

    @validates_schema
    def one_form(self, data: dict, **_kwargs) -> None:
        """Take either one notice or a batch, never both or neither."""
        single = {"number", "disconnected_on", "region"} & data.keys()
        if "disconnections" in data:
            if single:
                raise ValidationError(
                    "Send either one notice or a `disconnections` batch, not both.",
                    sorted(single)[0],
                )
            return
        missing = {
            name: ["Missing data for required field."]
            for name in ("number", "disconnected_on")
            if name not in data
        }
        if missing:
            raise ValidationError(missing)


class DisconnectionResultSchema(Schema):
    """What one notice did."""

    id = fields.Integer()
    number = fields.String(metadata={"description": "Canonical E.164"})
    disconnected_on = fields.Date()
    listings_ended = fields.Integer(
        metadata={"description": "Listings of the number ended by this notice"}
    )


class DisconnectionOutcomeSchema(Schema):
    """What a submission of notices did."""

    listings_ended = fields.Integer()
    disconnections = fields.List(fields.Nested(DisconnectionResultSchema))
