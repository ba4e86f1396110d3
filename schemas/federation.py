"""The federation wire contract, version 1: what one node may send another.

Every schema here raises on unknown fields: the batch format is an allowlist. Reporter
identities, evidence references, notes, message texts, recipient or victim numbers have no
field here, so they cannot leave a node (a test checks this).
"""

from marshmallow import RAISE, Schema, fields, validate

from schemas.common import count, moment, sequence

WIRE_VERSION = 1
KINDS = ("phone", "phone_range", "sender_id", "url", "domain", "message")
STATUSES = ("listed", "disputed", "removed")
REMOVAL_REASONS = ("delisted", "expired", "disconnected", "protected", "unlisted")
RISKS = ("low", "medium", "high", "very_high")
BATCH_LIMIT = 20000
COUNTRIES = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN")


class StrictSchema(Schema):
    """A schema that refuses any field it does not name."""

    class Meta:
        """Refuse unknown fields."""

        unknown = RAISE


class ContributionSchema(StrictSchema):
    """One origin's aggregated view of one indicator; a tombstone when status is removed."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    value = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    removal_reason = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(REMOVAL_REASONS)
    )
    risk = fields.String(required=True, validate=validate.OneOf(RISKS))
    categories = fields.List(
        fields.String(validate=validate.Length(max=32)),
        required=True,
        validate=validate.Length(max=32),
    )
    report_count = count(required=True)
    org_count = count(required=True)
    first_reported = moment(required=True, allow_none=True)
    last_reported = moment(required=True, allow_none=True)
    expires_at = moment(required=True, allow_none=True)
    origin_node = fields.String(required=True, validate=validate.Length(min=1, max=100))
    origin_country = fields.String(required=True, validate=validate.OneOf(COUNTRIES))
    origin_version = sequence(1, required=True)


class BatchSchema(StrictSchema):
    """A signed batch of one sender's own-origin contributions."""

    wire_version = fields.Integer(required=True, validate=validate.Equal(WIRE_VERSION))
    sender = fields.String(required=True, validate=validate.Length(min=1, max=100))
    batch_id = fields.String(required=True, validate=validate.Length(min=8, max=64))
    created_at = moment(required=True)
    sequence_from = sequence(required=True)
    sequence_to = sequence(required=True)
    contributions = fields.List(
        fields.Nested(ContributionSchema), required=True, validate=validate.Length(max=BATCH_LIMIT)
    )


class BatchResultSchema(Schema):
    """The receiver's answer: what it applied, and the sequence that becomes the cursor."""

    batch_id = fields.String()
    applied = fields.Integer()
    ignored = fields.Integer(metadata={"description": "Not newer than what the node holds"})
    rejected = fields.List(fields.Dict())
    highest_sequence = fields.Integer(metadata={"description": "The sender's new cursor"})


class NodeInfoSchema(Schema):
    """What a node tells about itself."""

    node_id = fields.String()
    country = fields.String()
    public_key = fields.String(metadata={"description": "Ed25519, URL-safe base64 of 32 bytes"})
    wire_version = fields.Integer()


class PeerCreateSchema(Schema):
    """Register a peer node."""

    node_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    country = fields.String(required=True, validate=validate.OneOf(COUNTRIES))
    url = fields.Url(required=True, require_tld=False, schemes=("http", "https"))
    public_key = fields.String(required=True, validate=validate.Length(min=40, max=100))
    policy = fields.String(load_default="block", validate=validate.OneOf(("block", "warn")))


class PeerSchema(Schema):
    """A peer and the health of syncing with it."""

    node_id = fields.String()
    country = fields.String()
    url = fields.String()
    public_key = fields.String()
    policy = fields.String()
    cursor = fields.Integer(metadata={"description": "Highest own version it acknowledged"})
    lag = fields.Integer(metadata={"description": "Own contributions not yet acknowledged"})
    last_success_at = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_error_at = fields.AwareDateTime(allow_none=True)
    consecutive_failures = fields.Integer()
    next_attempt_at = fields.AwareDateTime(allow_none=True)
