"""Appeals: a number holder's dispute of a listing, filed by an operator or regulator."""

from marshmallow import Schema, fields, validate

from schemas.common import CURSOR_MAX
from schemas.protected import printable
from schemas.reports import KINDS

APPEAL_STATUSES = ("open", "upheld", "delisted")


class AppealCreateSchema(Schema):
    """Request body to file an appeal on behalf of a value's holder."""

    kind = fields.String(
        load_default="phone",
        validate=validate.OneOf(KINDS),
        metadata={"description": "The listed value's kind (default phone)"},
    )
    value = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=2048), printable],
        metadata={"description": "The listed value as a person writes it"},
    )
    reason = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=2000), printable],
        metadata={"description": "Why the holder says the listing is wrong"},
    )
    contact_ref = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=200), printable],
        metadata={"description": "The filer's own reference to reach the holder (a case number)"},
    )
    region = fields.String(
        validate=validate.Length(equal=2),
        metadata={"description": "ISO 3166 region to read national numbers in (default: yours)"},
    )


class AppealResolveSchema(Schema):
    """A regulator's decision on an open appeal."""

    outcome = fields.String(
        required=True,
        validate=validate.OneOf(("upheld", "delisted")),
        metadata={"description": "upheld: listed again; delisted: removed, with a cool-down"},
    )
    note = fields.String(validate=[validate.Length(max=2000), printable], load_default=None)


class AppealQuerySchema(Schema):
    """Filters and keyset pagination for appeals."""

    status = fields.String(validate=validate.OneOf(APPEAL_STATUSES))
    overdue = fields.Boolean(metadata={"description": "Only appeals open past the deadline"})
    before = fields.Integer(
        validate=validate.Range(min=1, max=CURSOR_MAX),
        metadata={"description": "Cursor: the `next` value of the previous page"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class AppealIndicatorSchema(Schema):
    """The appealed indicator, as it is now."""

    id = fields.Integer()
    kind = fields.String()
    value = fields.String()
    status = fields.String()
    risk = fields.String()


class AppealSchema(Schema):
    """One appeal, its age and its outcome."""

    id = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True, metadata={"description": "open, upheld or delisted"})
    indicator = fields.Nested(AppealIndicatorSchema, dump_only=True)
    reason = fields.String(dump_only=True)
    contact_ref = fields.String(dump_only=True)
    filed_by = fields.String(dump_only=True)
    filed_at = fields.AwareDateTime(dump_only=True)
    age_days = fields.Float(
        dump_only=True, metadata={"description": "Days open (until resolution, once resolved)"}
    )
    overdue = fields.Boolean(
        dump_only=True, metadata={"description": "Open for longer than the node's deadline"}
    )
    resolved_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    resolved_by = fields.String(dump_only=True, allow_none=True)
    resolution_note = fields.String(dump_only=True, allow_none=True)


class AppealPageSchema(Schema):
    """One page of appeals, newest first."""

    items = fields.List(fields.Nested(AppealSchema))
    next = fields.Integer(allow_none=True, metadata={"description": "Pass as `before`"})
