"""Schemas shared by every endpoint: the problem-details error, and the bounds of every input.

A date or a number that a column cannot hold, or that date arithmetic cannot reach, breaks the
node long after it was accepted (a year-1 date stored on PostgreSQL as BC made every later read
of its indicator fail), so every date and count field takes its bounds from here.
"""

from datetime import UTC, date, datetime, timedelta

from marshmallow import Schema, fields, validate

COUNTRIES = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN")
ROLES = ("regulator", "operator", "law_enforcement", "peer_node", "admin")

# Every date a node stores or compares lies in these years: both engines hold them, and adding
# a listing's lifetime to one never leaves the calendar.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
OUT_OF_RANGE = "Out of range: must be from 2000-01-01 to 2100-12-31 (UTC)."
# How far ahead of this node's clock a sender's "when it was seen" may be: the sender's clock.
CLOCK_SKEW = timedelta(minutes=5)

# What the columns hold: INTEGER counts, BIGINT sequences, versions and ids. A count is kept
# far below INTEGER's limit because the merged view of an indicator sums every origin's count.
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
COUNT_MAX = 100_000_000
CURSOR_MAX = 2**62


def moment(**kwargs) -> fields.AwareDateTime:
    """An ISO 8601 datetime with an offset, within the years every node stores."""
    return fields.AwareDateTime(
        validate=validate.Range(min=EARLIEST, max=LATEST, error=OUT_OF_RANGE), **kwargs
    )


def day(**kwargs) -> fields.Date:
    """An ISO 8601 calendar day within the years every node stores."""
    return fields.Date(
        validate=validate.Range(min=EARLIEST_DAY, max=LATEST_DAY, error=OUT_OF_RANGE), **kwargs
    )


def count(**kwargs) -> fields.Integer:
    """A non-negative count an INTEGER column holds even summed over every origin."""
    return fields.Integer(validate=validate.Range(min=0, max=COUNT_MAX), **kwargs)


def sequence(minimum: int = 0, **kwargs) -> fields.Integer:
    """A sequence value, version or cursor a BIGINT column holds."""
    return fields.Integer(validate=validate.Range(min=minimum, max=CURSOR_MAX), **kwargs)


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
