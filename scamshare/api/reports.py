"""Report submission: JSON (one or a batch), NDJSON or CSV."""

from __future__ import annotations

from flask import current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from scamshare import db, ingest_formats, text
from scamshare.api import Blueprint, accepts
from scamshare.auth import current_caller, requires
from scamshare.clock import utcnow
from scamshare.errors import Invalid
from scamshare.services import idempotency
from scamshare.services import reports as service
from schemas.reports import SubmissionResultSchema

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
    raw = request.get_data(cache=False)
    if request.mimetype == "application/json":
        try:
            body = text.loads(raw)
        except ValueError:
            raise Invalid("The request body is not valid JSON.", code="malformed_json") from None
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


@blp.route("/reports", methods=["POST"])
@requires("reports.submit", audit="reports.submit")
@accepts("application/json", "application/x-ndjson", "text/csv")
@blp.doc(
    requestBody=_body_doc,
    parameters=[
        {
            "name": "atomic",
            "in": "query",
            "schema": {"type": "boolean", "default": False},
            "description": "Reject the whole batch if any report is invalid",
        },
        {
            "name": "Idempotency-Key",
            "in": "header",
            "schema": {"type": "string", "maxLength": 200},
            "description": "Retries with the same key and body return the first response",
        },
    ],
)
@blp.response(200, SubmissionResultSchema)
def submit_reports():
    """Submit one report, a batch of up to 10,000, NDJSON or CSV; each is accepted or rejected."""
    caller = current_caller()
    atomic_arg = request.args.get("atomic", "false").lower()
    if atomic_arg not in ("true", "false", "1", "0"):
        raise Invalid(
            "atomic must be true or false.",
            errors=[
                {
                    "field": "atomic",
                    "reason": "invalid_type",
                    "message": "true or false",
                    "location": "query",
                }
            ],
        )
    key = request.headers.get("Idempotency-Key")
    session = db.session()
    if key is not None:
        key = idempotency.check_key(key)
        request_hash = idempotency.fingerprint(
            request.full_path, request.mimetype, request.get_data(cache=True)
        )
        earlier = idempotency.replay(session, caller.organisation_id, key, request_hash)
        if earlier is not None:
            return earlier.response
    items, single = parse_body()
    max_items = current_app.config["BATCH_MAX"]
    if len(items) > max_items:
        raise Invalid(
            f"A submission holds at most {max_items} reports, not {len(items)}.",
            code="batch_too_large",
        )
    if not items:
        raise Invalid("The submission holds no report.", code="empty_submission")
    result = service.submit(
        session,
        items,
        caller,
        node_country=current_app.config["COUNTRY"],
        policy=current_app.extensions["scamshare.policy"],
        now=utcnow(),
        atomic=single or atomic_arg in ("true", "1"),
    )
    # to_dict() already has the schema's exact shape and types; dumping thousands of nested
    # entries through marshmallow (twice, with the decorator's own dump) took longer than
    # storing them. A Response passes the decorator untouched; the schema still documents it.
    body = result.to_dict()
    if key is not None:
        idempotency.remember(session, caller.organisation_id, key, request_hash, 200, body)
    try:
        session.commit()
    except IntegrityError:
        # The same key raced us and won: answer as a retry would be answered.
        session.rollback()
        if key is None:
            raise
        earlier = idempotency.replay(session, caller.organisation_id, key, request_hash)
        if earlier is None:
            raise
        return earlier.response
    return jsonify(body)
