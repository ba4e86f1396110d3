"""Structured logs: one JSON object per line, one line per request."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid

from flask import Flask, g, request

_REQUEST_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line, keeping any structured fields it carries."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record."""
        line = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


JsonFormatter.converter = time.gmtime


class StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever sys.stderr is now (test runners swap it)."""

    @property
    def stream(self):
        """Return the current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        """Ignore StreamHandler's own assignment."""


def configure(level: str) -> None:
    """Send the scamshare loggers to standard error as JSON lines (once per process)."""
    logger = logging.getLogger("scamshare")
    logger.setLevel(level.upper())
    if not any(getattr(h, "scamshare", False) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler.scamshare = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False


def init_app(app: Flask) -> None:
    """Give each request an id and log one line when it ends."""
    configure(app.config["LOG_LEVEL"])
    access = logging.getLogger("scamshare.request")

    @app.before_request
    def _start():
        """Take the caller's request id if it is sane, else make one; start the clock."""
        incoming = request.headers.get("X-Request-Id", "")
        valid = 0 < len(incoming) <= 64 and set(incoming) <= _REQUEST_ID_CHARS
        g.request_id = incoming if valid else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        """Return the request id and write the access line."""
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        if app.config["LOG_REQUESTS"]:
            caller = g.get("caller")
            access.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round(
                            (time.perf_counter() - g.get("started", time.perf_counter())) * 1000,
                            2,
                        ),
                        "organisation": caller.organisation_name if caller else None,
                    }
                },
            )
        return response
