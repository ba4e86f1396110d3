"""The application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, request
from werkzeug.exceptions import InternalServerError

from scamshare import api, console, db, errors, logs, metrics
from scamshare import config as config_module
from scamshare.policy import Policy


class ScamShareFlask(Flask):
    """Flask, leaving the one log line of an unhandled error to the node's own handler."""

    def log_exception(self, exc_info) -> None:
        """Write nothing: _internal_error logs the failure once, with its request id."""


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build a ScamShare app: configuration, database, logging, API, console, error handlers."""
    app = ScamShareFlask(__name__, instance_relative_config=False)
    app.config.update(config_module.load(config))
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.json.sort_keys = False
    app.extensions["scamshare.policy"] = Policy.from_config(app.config)
    db.init_app(app)
    logs.init_app(app)
    metrics.init_app(app)
    api.init_app(app)
    console.init_app(app)
    app.after_request(api.audit_failure)
    app.register_error_handler(InternalServerError, _internal_error)
    return app


def _internal_error(error: InternalServerError):
    """Log an unexpected failure with its traceback and answer with a problem, never HTML."""
    original = getattr(error, "original_exception", None)
    logging.getLogger("scamshare.error").error(
        "unhandled error",
        exc_info=(type(original), original, original.__traceback__) if original else None,
        extra={
            "fields": {
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path,
            }
        },
    )
    return errors.problem(
        500,
        "Internal server error",
        "The node failed to handle this request; nothing was saved. The request id identifies "
        "it in the node's logs.",
        "internal_error",
    )
