"""Schemas shared by every endpoint: the problem-details error and pagination."""

from marshmallow import Schema, fields

COUNTRIES = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN")
ROLES = ("regulator", "operator", "law_enforcement", "peer_node", "admin")


class FieldErrorSchema(Schema):
    """One reason a field was refused."""

    field = fields.String(required=True, metadata={"description": "The field, dotted for nesting"})
    reason = fields.String(required=True, metadata={"description": "Machine-readable reason"})
    message = fields.String(required=True)
    location = fields.String(metadata={"description": "json, query, headers, ..."})
    index = fields.Integer(metadata={"description": "Item index within a batch"})


class ProblemSchema(Schema):
    """RFC 9457 problem details, the one error shape of every endpoint."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "Machine-readable error code"})
    request_id = fields.String()
    errors = fields.List(fields.Nested(FieldErrorSchema))
