"""The audit log."""

from marshmallow import Schema, fields, validate

from schemas.common import CURSOR_MAX, moment


class AuditQuerySchema(Schema):
    """Filters and keyset pagination for the audit log."""

    action = fields.String(
        validate=validate.Length(max=64),
        metadata={"description": "Exact action, or a prefix ending in '.' (e.g. 'key.')"},
    )
    organisation = fields.String(validate=validate.Length(max=200))
    outcome = fields.String(validate=validate.OneOf(("ok", "denied", "rejected", "error")))
    since = moment()
    until = moment()
    before = fields.Integer(
        validate=validate.Range(min=1, max=CURSOR_MAX),
        metadata={"description": "Cursor: the `next` value of the previous page"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class AuditEntrySchema(Schema):
    """One audit entry."""

    id = fields.Integer()
    at = fields.AwareDateTime()
    organisation = fields.String(attribute="organisation_name", allow_none=True)
    key_id = fields.String(allow_none=True)
    action = fields.String()
    target = fields.String(allow_none=True)
    outcome = fields.String()
    details = fields.Dict()


class AuditPageSchema(Schema):
    """One page of audit entries, newest first."""

    items = fields.List(fields.Nested(AuditEntrySchema))
    next = fields.Integer(allow_none=True, metadata={"description": "Pass as `before`"})
