"""Domain errors and their one rendering: RFC 9457 problem details."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, json
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE_BASE = "https://scamshare.asean/problems/"
# Error bodies quote what callers sent (field names, ids, header values): at most this much.
MAX_FIELD_CHARS = 200
MAX_TEXT_CHARS = 1000
# JSON escapes of the characters that make text markup, should anything ever render it as HTML.
_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


class DomainError(Exception):
    """A failure a service reports; the API turns it into a 4xx problem."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        errors: list[dict] | None = None,
        **extra: Any,
    ):
        """Keep the human message, a specific code, the per-field errors and any extra members."""
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.errors = errors or []
        self.extra = extra


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class Invalid(DomainError):
    """The request is well-formed but its content cannot be accepted."""

    status = 422
    code = "validation_failed"


class Unauthorised(DomainError):
    """No usable API key."""

    status = 401
    code = "unauthorised"


class Forbidden(DomainError):
    """The caller's role may not do this."""

    status = 403
    code = "forbidden"


def field_errors(messages: dict, location: str | None = None, prefix: str = "") -> list[dict]:
    """Flatten marshmallow's nested error messages into a list of {field, message} entries."""
    errors: list[dict] = []
    for key, value in messages.items():
        field = clip(f"{prefix}.{key}" if prefix else str(key), MAX_FIELD_CHARS)
        if isinstance(value, dict):
            errors.extend(field_errors(value, location, field))
            continue
        for message in value if isinstance(value, list) else [value]:
            if isinstance(message, dict):
                errors.extend(field_errors(message, location, field))
                continue
            entry = {"field": field, "reason": _reason(str(message)), "message": str(message)}
            if location:
                entry["location"] = location
            errors.append(entry)
    return errors


def clip(text: str, limit: int) -> str:
    """Shorten text a caller sent to at most `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(message: str) -> str:
    """Derive a stable machine reason from marshmallow's standard messages."""
    lowered = message.lower()
    for needle, reason in (
        ("unknown field", "unknown_field"),
        ("missing data", "required"),
        ("required", "required"),
        ("not a valid", "invalid_type"),
        ("must be one of", "not_allowed"),
        ("field may not be null", "null"),
        ("length", "invalid_length"),
        ("out of range", "out_of_range"),
    ):
        if needle in lowered:
            return reason
    return "invalid"


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> Response:
    """Build an application/problem+json response; quoted input is clipped and escaped."""
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": clip(detail, MAX_TEXT_CHARS),
        "code": code,
    }
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update({key: value for key, value in extra.items() if value is not None})
    if "errors" in body:
        body["errors"] = [_clipped(entry) for entry in body["errors"]]
    # Escaped, `<script>` in a field name reaches the client as data, never as markup.
    text = json.dumps(body).translate(_HTML_SAFE)
    return current_app.response_class(text, status=status, mimetype="application/problem+json")


def _clipped(entry: dict) -> dict:
    """One per-field error with its field and message clipped."""
    clipped = dict(entry)
    for name, limit in (("field", MAX_FIELD_CHARS), ("message", MAX_TEXT_CHARS)):
        if isinstance(clipped.get(name), str):
            clipped[name] = clip(clipped[name], limit)
    return clipped


# One title per status, whichever part of the node refused the request (RFC 9110's names).
TITLES = {
    400: "Bad request",
    401: "Unauthorised",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def from_domain_error(error: DomainError) -> Response:
    """Render a domain error."""
    title = TITLES.get(error.status, "Error")
    response = problem(
        error.status, title, error.message, error.code, errors=error.errors or None, **error.extra
    )
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="scamshare"'
    return response


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def from_http_exception(error: HTTPException) -> Response:
    """Render werkzeug and webargs HTTP errors, including validation failures, as problems."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = None
    detail = data.get("message") or error.description or error.name
    if "messages" in data:
        errors = []
        for location, messages in data["messages"].items():
            if isinstance(messages, dict):
                errors.extend(field_errors(messages, location))
            else:  # a message about the whole body, such as webargs' "Invalid JSON body."
                errors.extend(
                    {"field": location, "reason": "malformed", "message": str(message)}
                    for message in messages
                )
        if errors:
            detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
            if len(errors) > 5:
                detail += f"; and {len(errors) - 5} more"
    if status == 400 and "json" in str(detail).lower():
        detail = "The request body is not valid JSON."
        code = "malformed_json"
    elif status == 413:
        limit = current_app.config["MAX_BODY_BYTES"]
        detail = f"The request body is larger than this node's limit of {limit} bytes."
        code = "body_too_large"
    else:
        code = _HTTP_CODES.get(status, "http_error")
    response = problem(status, TITLES.get(status, error.name), str(detail), code, errors=errors)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response
