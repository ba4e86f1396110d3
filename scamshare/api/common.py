"""Small helpers every view shares."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import flask_smorest
from flask import g, jsonify, request
from sqlalchemy.exc import IntegrityError
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from scamshare import db, text
from scamshare.services import idempotency
from scamshare.services.audit import Actor

IDEMPOTENCY_KEY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "schema": {"type": "string", "maxLength": idempotency.MAX_KEY_LENGTH},
    "description": "Retries with the same key and body return the first response",
}


class _Parser(FlaskParser):
    """webargs' Flask parser, decoding JSON bodies with the node's bounded, checked decoder."""

    def _raw_load_json(self, req):
        """Decode the body as text.loads does; webargs words a malformed body as its own."""
        if not is_json_request(req):
            return core.missing
        try:
            return text.loads(req.get_data(cache=True))
        except json.JSONDecodeError:
            raise
        except ValueError as error:  # not UTF-8, or an integer of thousands of digits
            raise json.JSONDecodeError(str(error), "<body>", 0) from None


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the node's JSON decoding; every API module uses it."""

    ARGUMENTS_PARSER = _Parser()


def accepts(*mimetypes: str):
    """Declare the request body types a view takes (JSON when a view declares none)."""

    def decorator(view):
        """Mark the view."""
        view.accepts = mimetypes
        return view

    return decorator


def actor() -> Actor:
    """Return the audit actor of the authenticated caller."""
    caller = g.caller
    return Actor(caller.organisation_id, caller.organisation_name, caller.key_id)


def idempotent(view: Callable[..., dict]) -> Callable:
    """Commit a view's work once per Idempotency-Key; a retry gets the first response back.

    The view returns its response body as a dict that already has the response schema's
    shape; it goes out as JSON without a second dump. A stored response is returned as it was
    stored, for the response schema to dump.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        """Replay, or run the view and store its response in the same transaction."""
        session = db.session()
        key = request.headers.get("Idempotency-Key")
        if key is None:
            body = view(*args, **kwargs)
            session.commit()
            return jsonify(body)
        organisation_id = g.caller.organisation_id
        key = idempotency.check_key(key)
        request_hash = idempotency.fingerprint(
            request.full_path, request.mimetype, request.get_data(cache=True)
        )
        earlier = idempotency.replay(session, organisation_id, key, request_hash)
        if earlier is not None:
            return earlier.response
        body = view(*args, **kwargs)
        idempotency.remember(session, organisation_id, key, request_hash, 200, body)
        try:
            session.commit()
        except IntegrityError:
            # The same key raced us and won: answer as a retry would be answered.
            session.rollback()
            earlier = idempotency.replay(session, organisation_id, key, request_hash)
            if earlier is None:
                raise
            return earlier.response
        return jsonify(body)

    return wrapper
