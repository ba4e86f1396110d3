"""Blocklist downloads for operators: full lists and deltas, streamed in four formats."""

from __future__ import annotations

from flask import Response, current_app, request

from scamshare import db
from scamshare.api.common import Blueprint, actor
from scamshare.auth import requires
from scamshare.services import blocklist as service
from schemas.blocklist import BlocklistFileSchema, BlocklistQuerySchema, ConditionalHeadersSchema

blp = Blueprint("blocklist", __name__, url_prefix="/api/v1", description="Blocklist downloads")

CURSOR_HEADER = "X-ScamShare-Cursor"
_FORMAT_BY_MEDIA_TYPE = {media: fmt for fmt, media in service.MEDIA_TYPES.items()}
_CHARSET = {"csv": "; charset=utf-8", "txt": "; charset=utf-8"}

_HEADERS = {
    CURSOR_HEADER: {
        "description": "The cursor of this download: pass it as since= to get what changes next",
        "schema": {"type": "integer"},
        "required": True,
    },
    "Content-Disposition": {
        "description": "attachment, with a file name holding the node country and the cursor",
        "schema": {"type": "string"},
        "required": True,
    },
    "ETag": {
        "description": "Full lists only: send it back in If-None-Match to get 304 when unchanged",
        "schema": {"type": "string"},
    },
}
_TEXT = {"type": "string"}
# A STIX 2.1 bundle (docs: README "STIX, TAXII and MISP"); its objects follow the STIX schemas.
_BUNDLE = {
    "type": "object",
    "required": ["type", "id", "objects"],
    "properties": {
        "type": {"type": "string", "enum": ["bundle"]},
        "id": {"type": "string"},
        "objects": {"type": "array", "items": {"type": "object"}},
    },
}


def _negotiated_format() -> str:
    """Pick the format from the Accept header; CSV when it names none of ours."""
    best = request.accept_mimetypes.best_match(list(_FORMAT_BY_MEDIA_TYPE))
    return _FORMAT_BY_MEDIA_TYPE.get(best or "", "csv")


@blp.route("/blocklist")
@requires("blocklist.download")
@blp.arguments(BlocklistQuerySchema, location="query")
@blp.arguments(ConditionalHeadersSchema, location="headers")
@blp.alt_response(
    200, schema=BlocklistFileSchema, content_type="application/json", headers=_HEADERS, success=True
)
@blp.alt_response(200, schema=_TEXT, content_type="text/csv", headers=_HEADERS, success=True)
@blp.alt_response(200, schema=_TEXT, content_type="application/x-ndjson", success=True)
@blp.alt_response(200, schema=_TEXT, content_type="text/plain", success=True)
@blp.alt_response(200, schema=_BUNDLE, content_type=service.MEDIA_TYPES["stix"], success=True)
@blp.alt_response(
    304,
    description="Not modified: the full list at this cursor is the one named in If-None-Match",
    headers={
        CURSOR_HEADER: _HEADERS[CURSOR_HEADER],
        "ETag": {**_HEADERS["ETag"], "required": True},
    },
)
def download(query, _conditional):
    """Download the blocklist (or every change after `since`) as csv, json, ndjson, txt or stix."""
    # If-None-Match is read by werkzeug, which knows ETag lists and weak tags; the header
    # schema documents it.
    fmt = query.get("format") or _negotiated_format()
    gzip = request.accept_encodings["gzip"] > 0
    # The download's own session, closed when the server closes the response: Flask tears the
    # request's session down before a streamed body is sent.
    session = db.reader()
    try:
        blocklist = _opened(session, fmt, query, gzip)
    except BaseException:
        session.close()
        raise
    return _response(session, blocklist, gzip)


def _opened(session, fmt: str, query: dict, gzip: bool) -> service.Download:
    """Open the download and audit it (with whether the caller's copy is still current)."""
    blocklist = service.open_download(
        session,
        fmt,
        service.Filters.from_query(query),
        current_app.config["COUNTRY"],
        query.get("since"),
        current_app.config["TLP"],
    )
    etag = blocklist.etag(gzip)
    blocklist.not_modified = etag is not None and request.if_none_match.contains_weak(etag)
    with db.transaction(current_app._get_current_object()) as log:
        service.record_download(
            log, actor(), blocklist, not_modified=blocklist.not_modified, gzip=gzip
        )
    return blocklist


def _response(session, blocklist: service.Download, gzip: bool) -> Response:
    """The streamed file (or 304) with its cursor, file name, ETag and encoding headers."""
    headers = {CURSOR_HEADER: str(blocklist.cursor), "Vary": "Accept, Accept-Encoding"}
    if blocklist.not_modified:
        session.close()
        response = Response(status=304, headers=headers)
    else:
        fmt = blocklist.format
        response = Response(
            blocklist.chunks(gzip),
            content_type=service.MEDIA_TYPES[fmt] + _CHARSET.get(fmt, ""),
            headers=headers,
        )
        response.call_on_close(session.close)
        response.headers["Content-Disposition"] = f'attachment; filename="{blocklist.filename}"'
        if gzip:
            response.headers["Content-Encoding"] = "gzip"
    etag = blocklist.etag(gzip)
    if etag is not None:
        response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
