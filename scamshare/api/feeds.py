"""The MISP feed at /api/v1/feeds/misp/: manifest.json, hashes.csv and one file per event."""

from __future__ import annotations

import json

from flask import Response, current_app
from flask_smorest import Blueprint

from scamshare import db
from scamshare.auth import requires
from scamshare.errors import NotFound
from scamshare.services import misp as service

blp = Blueprint("feeds", __name__, url_prefix="/api/v1/feeds", description="MISP feed")
_OBJECT = {"type": "object"}


def _config() -> tuple[str, str]:
    """The node's country and TLP."""
    return current_app.config["COUNTRY"], current_app.config["TLP"]


def _json(body: dict) -> Response:
    """A feed file as JSON."""
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@blp.route("/misp/manifest.json")
@requires("blocklist.download")
@blp.response(200, _OBJECT, content_type="application/json")
def manifest():
    """The feed's manifest: each event's uuid, title, tags and timestamp."""
    return _json(service.manifest(db.session(), *_config()))


@blp.route("/misp/hashes.csv")
@requires("blocklist.download")
@blp.response(200, {"type": "string"}, content_type="text/csv")
def hashes():
    """MD5 of every attribute value with its event's uuid, one per line."""
    country, _ = _config()
    lines = service.hashes(db.session(), country)
    return Response("".join(line + "\n" for line in lines), mimetype="text/csv")


@blp.route("/misp/<string:event_file>")
@requires("blocklist.download")
@blp.response(200, _OBJECT, content_type="application/json")
def event(event_file: str):
    """One event, `<event uuid>.json`, with every value of its kind and bucket."""
    event_id = event_file.removesuffix(".json")
    if event_id == event_file:
        raise NotFound("Feed files are manifest.json, hashes.csv and <event uuid>.json.")
    return _json(service.event(db.session(), *_config(), event_id))
