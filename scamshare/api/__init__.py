"""The HTTP API: flask-smorest wiring, the problem-details error shape, blueprints."""

from __future__ import annotations

import base64
import hashlib
import http
import re

import swagger_ui_bundle
from flask import Flask, current_app, g, request, send_from_directory
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from scamshare import __version__, db, errors, text
from scamshare.api import (
    appeals,
    audit,
    blocklist,
    disconnections,
    federation,
    feeds,
    health,
    indicators,
    lookup,
    messages,
    metrics,
    node,
    organisations,
    protected,
    reports,
    stats,
    taxii,
)
from scamshare.api.common import actor as caller_actor
from scamshare.db import SAFE_METHODS
from scamshare.services import audit as audit_service
from schemas.common import ProblemSchema
from schemas.federation import BatchSchema
from schemas.reports import ReportBatchSchema, ReportSchema

API_PREFIX = "/api/v1"
PROBLEM_MIMETYPE = "application/problem+json"


class ScamShareApi(Api):
    """flask-smorest's Api, speaking RFC 9457 problem details for every error."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException):
        """Render every HTTP error, including request-validation failures, as a problem."""
        return errors.from_http_exception(error)

    def _register_responses(self):
        """Document error responses as application/problem+json."""
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def _check_content_type() -> None:
    """Refuse a request body whose type the view does not take, before anything parses it."""
    if request.method in SAFE_METHODS or not (
        request.content_length or request.headers.get("Transfer-Encoding")
    ):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    allowed = getattr(view, "accepts", ("application/json",))
    if request.mimetype not in allowed:
        given = request.mimetype or "none"
        raise UnsupportedMediaType(
            f"This endpoint takes {' or '.join(allowed)} request bodies, not {given}."
        )


def _check_text() -> None:
    """Refuse a query string, header or path id holding text the node cannot store."""
    req = request._get_current_object()
    environ = req.environ
    # Every request passes here and nearly none holds such text: one search of the environ's
    # text (headers, the decoded path, the raw query string, where NUL arrives as %00) first.
    raw = "".join(value for value in environ.values() if type(value) is str)
    if "%00" not in environ.get("QUERY_STRING", "") and text.refusal(raw) is None:
        return
    for name, value in req.args.items(multi=True):
        text.check(name, name, "query")
        text.check(value, name, "query")
    for name, value in req.headers.items():
        text.check(value, name, "headers")
    for name, value in (req.view_args or {}).items():
        if isinstance(value, str):
            text.check(value, name, "path")


def _handle_refused(error: text.Refused):
    """Render input refused by the text rules as a 422 naming its field."""
    return errors.from_domain_error(
        errors.Invalid(f"{error.field}: {error.message}", code=error.code, errors=[error.entry()])
    )


_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _safe_to_show(response):
    """Forbid content sniffing everywhere; the docs page may run its own scripts only."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.endpoint and request.endpoint.endswith("openapi_swagger_ui"):
        # The page's one inline script is allowed by its hash, so no other inline script runs.
        hashes = " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
            for script in _INLINE_SCRIPT.findall(response.get_data())
        )
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
    return response


def _serve_swagger_asset(filename: str):
    """Serve Swagger UI from the installed swagger-ui-bundle package: no CDN needed."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)


def init_app(app: Flask) -> ScamShareApi:
    """Configure OpenAPI, the error handlers and every blueprint."""
    app.config.update(
        API_TITLE="ScamShare",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"{API_PREFIX}/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "ScamShare node API: submit scam indicators, download blocklists, look "
                    "values up, and federate aggregated indicators between ASEAN member states. "
                    "Every error is RFC 9457 problem details (application/problem+json)."
                )
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API key: `Authorization: Bearer ss.<key id>.<secret>`",
                    }
                }
            },
            "security": [{"bearerAuth": []}],
        },
    )
    api = ScamShareApi(app)
    app.add_url_rule(
        f"{API_PREFIX}/docs/assets/<path:filename>",
        endpoint="swagger_assets",
        view_func=_serve_swagger_asset,
    )
    app.before_request(_check_text)
    app.before_request(_check_content_type)
    app.after_request(_safe_to_show)
    app.register_error_handler(errors.DomainError, _handle_domain_error)
    app.register_error_handler(text.Refused, _handle_refused)
    api.spec.components.schema("Report", schema=ReportSchema)
    api.spec.components.schema("ReportBatch", schema=ReportBatchSchema)
    api.spec.components.schema("Batch", schema=BatchSchema)
    for module in (
        health,
        node,
        organisations,
        audit,
        reports,
        indicators,
        stats,
        protected,
        disconnections,
        appeals,
        blocklist,
        lookup,
        messages,
        federation,
        feeds,
        metrics,
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(taxii.bp)  # TAXII's own media types and errors, outside OpenAPI
    return api


def _handle_domain_error(error: errors.DomainError):
    """Render a service's domain error."""
    return errors.from_domain_error(error)


def audit_failure(response):
    """Append an audit entry for a state-changing call that was refused or failed."""
    action = g.get("audit_action")
    if not action or request.method in SAFE_METHODS or response.status_code < 400:
        return response
    status = response.status_code
    outcome = "denied" if status in (401, 403) else "error" if status >= 500 else "rejected"
    actor = caller_actor() if g.get("caller") else audit_service.Actor()
    db.close_session()  # drop the failed request's transaction (and any lock) first
    with db.transaction(current_app._get_current_object()) as session:
        audit_service.record(
            session,
            actor,
            action,
            outcome=outcome,
            target=request.path,
            details={"status": status, "code": _problem_code(response)},
        )
    return response


def _problem_code(response) -> str | None:
    """Read the machine code out of a problem response."""
    if response.mimetype != PROBLEM_MIMETYPE:
        return None
    return (response.get_json(silent=True, force=True) or {}).get("code")
