"""The node's identity and health."""

from marshmallow import Schema, fields


class NodeSchema(Schema):
    """Who this node is."""

    node_id = fields.String(required=True)
    country = fields.String(required=True, metadata={"description": "ISO 3166 alpha-2"})
    version = fields.String(required=True, metadata={"description": "ScamShare version"})
    api_version = fields.String(required=True)


class HealthSchema(Schema):
    """Liveness or readiness."""

    status = fields.String(required=True)
    database = fields.String()
    migration = fields.String(allow_none=True)
    expected_migration = fields.String()
    detail = fields.String()
