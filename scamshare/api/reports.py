"""Report submission: JSON (one or a batch), NDJSON or CSV."""

from __future__ import annotations

from flask import current_app, request

from scamshare import db, ingest_formats, metrics, text
from scamshare.api.common import IDEMPOTENCY_KEY_HEADER, Blueprint, accepts, idempotent
from scamshare.auth import current_caller, requires
from scamshare.clock import utcnow
from scamshare.errors import DomainError, Invalid
from scamshare.services import reports as service
from schemas.reports import SubmissionQuerySchema, SubmissionResultSchema

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Report submission")

_body_doc = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Report"},
                    {"$ref": "#/components/schemas/ReportBatch"},
                ]
            }
        },
        "application/x-ndjson": {"schema": {"type": "string"}},
        "text/csv": {"schema": {"type": "string"}},
    },
}


def parse_body() -> tuple[list, bool]:
    """Read the reports out of the body; return them and whether it was a single report."""
    items, single = _read_body()
    max_items = current_app.config["BATCH_MAX"]
    if len(items) > max_items:
        raise Invalid(
            f"A submission holds at most {max_items} reports, not {len(items)}.",
            code="batch_too_large",
        )
    if not items:
        raise Invalid("The submission holds no report.", code="empty_submission")
    return items, single


def _read_body() -> tuple[list, bool]:
    """Decode the body by its media type into report items."""
    raw = request.get_data(cache=False)
    if request.mimetype == "application/json":
        try:
            body = text.loads(raw)
        except ValueError:
            # A syntax error is 400, as for every other JSON endpoint (webargs' own parsing).
            raise DomainError(
                "The request body is not valid JSON.", code="malformed_json"
            ) from None
        if isinstance(body, dict) and "reports" in body:
            return _batch_items(body), False
        return [body], True
    upload = ingest_formats.decode(raw)
    if request.mimetype == "application/x-ndjson":
        return ingest_formats.ndjson_items(upload), False
    return ingest_formats.csv_items(upload), False


def _batch_items(body: dict) -> list:
    """Check the batch envelope; its items are validated one by one later."""
    problems = [
        {"field": name, "reason": "unknown_field", "message": "Unknown field.", "location": "json"}
        for name in body
        if name != "reports"
    ]
    items = body["reports"]
    maximum = current_app.config["BATCH_MAX"]
    if not isinstance(items, list):
        problems.append(_envelope_error("invalid_type", "reports must be a list of reports."))
    elif not 1 <= len(items) <= maximum:
        problems.append(_envelope_error("invalid_length", f"reports holds 1 to {maximum} reports."))
    if problems:
        raise Invalid("; ".join(p["message"] for p in problems), errors=problems)
    return items


def _envelope_error(reason: str, message: str) -> dict:
    """An error about the batch's `reports` member."""
    return {"field": "reports", "reason": reason, "message": message, "location": "json"}


# The header is documented on the route: a `parameters` entry in blp.doc would replace the
# query parameters that blp.arguments documents.
@blp.route("/reports", methods=["POST"], parameters=[IDEMPOTENCY_KEY_HEADER])
@requires("reports.submit", audit="reports.submit")
@accepts("application/json", "application/x-ndjson", "text/csv")
@blp.arguments(SubmissionQuerySchema, location="query")
@blp.doc(requestBody=_body_doc)
@blp.response(200, SubmissionResultSchema)
@idempotent
def submit_reports(query: dict) -> dict:
    """Submit one report, a batch of up to 10,000, NDJSON or CSV; each is accepted or rejected."""
    items, single = parse_body()
    result = service.submit(
        db.session(),
        items,
        current_caller(),
        policy=current_app.extensions["scamshare.policy"],
        now=utcnow(),
        atomic=single or query["atomic"],
    )
    metrics.count_submission(len(result.accepted), [item["reason"] for item in result.rejected])
    # to_dict() already has the schema's exact shape and types; dumping thousands of nested
    # entries through marshmallow (twice, with the decorator's own dump) took longer than
    # storing them, so idempotent() sends it as it is. The schema still documents it.
    return result.to_dict()
