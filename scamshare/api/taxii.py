"""The TAXII 2.1 server at /taxii2/: discovery, one API root, its one collection, read-only.

Every response, errors included, is TAXII JSON (application/taxii+json;version=2.1). Keys are
the API's: Bearer, or HTTP Basic with the key id as user name and the key as password; the
role matrix's `blocklist.download` decides who reads.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from scamshare import db
from scamshare.auth import authenticate, check_role
from scamshare.errors import DomainError
from scamshare.interop import taxii
from scamshare.interop.taxii import TaxiiError
from scamshare.services import taxii as service

PERMISSION = "blocklist.download"
bp = Blueprint("taxii", __name__, url_prefix="/taxii2")
_ACCEPTED = ("application/taxii+json", "application/json", "*/*", "application/*")


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    """A TAXII response: the TAXII media type, exactly, as clients compare it."""
    response = Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False), status=status)
    response.headers["Content-Type"] = taxii.MEDIA_TYPE
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers.update(headers or {})
    return response


def _error(status: int, title: str, description: str) -> Response:
    """A TAXII error message; a 401 says which schemes the server takes."""
    response = _json(taxii.error_body(status, title, description), status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="scamshare-taxii"'
    return response


@bp.errorhandler(TaxiiError)
def _taxii_error(error: TaxiiError):
    """Render a refused TAXII request."""
    return _error(error.status, error.title, error.description)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    """Render an authentication or authorisation failure as a TAXII error."""
    return _error(error.status, error.code, error.message)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    """Render an HTTP error (a wrong method, a bad request) as a TAXII error."""
    return _error(error.code or 500, error.name, error.description or error.name)


@bp.before_request
def _authorise() -> None:
    """Authenticate the caller, check the role matrix and the Accept header."""
    g.caller = authenticate(request.headers.get("Authorization"))
    check_role(g.caller, PERMISSION)
    accept = request.headers.get("Accept", "*/*")
    if not any(media in accept for media in _ACCEPTED):
        raise TaxiiError(406, "Not Acceptable", f"This server answers with {taxii.MEDIA_TYPE}.")


def _country() -> str:
    """The node's member state."""
    return current_app.config["COUNTRY"]


def _collection(collection_id: str) -> None:
    """Refuse any collection but the node's one."""
    if collection_id != taxii.collection_id(_country()):
        raise TaxiiError(404, "Unknown collection", f"There is no collection {collection_id}.")


def _page(filters: taxii.Filters) -> taxii.Page:
    """One page of the collection."""
    return service.page(db.session(), _country(), current_app.config["TLP"], filters)


@bp.get("/")
def discovery():
    """The discovery resource."""
    return _json(taxii.discovery(_country(), request.host_url.rstrip("/") + "/taxii2/api/"))


@bp.get("/api/")
def api_root():
    """The API root."""
    return _json(taxii.api_root(_country(), current_app.config["MAX_BODY_BYTES"]))


@bp.get("/api/collections/")
def collections():
    """The collections of the API root: the node's blocklist."""
    return _json({"collections": [taxii.collection(_country())]})


@bp.get("/api/collections/<collection_id>/")
def collection(collection_id: str):
    """One collection."""
    _collection(collection_id)
    return _json(taxii.collection(_country()))


@bp.get("/api/collections/<collection_id>/objects/")
def objects(collection_id: str):
    """A page of the collection's objects, with TAXII's filters and stateless paging."""
    _collection(collection_id)
    page = _page(taxii.parse_filters(request.args))
    return _json(page.envelope(), headers=page.headers())


@bp.get("/api/collections/<collection_id>/manifest/")
def manifest(collection_id: str):
    """A page of the collection's manifest."""
    _collection(collection_id)
    page = _page(taxii.parse_filters(request.args))
    return _json(page.envelope(manifest=True), headers=page.headers())


def _one(collection_id: str, object_id: str, paged: bool = True) -> taxii.Page:
    """The entries of one object (its one version), or a 404."""
    _collection(collection_id)
    taxii.check_id(object_id)
    args = {name: value for name, value in request.args.items() if name != "match[id]"}
    filters = taxii.parse_filters({**args, "match[id]": object_id}, paged=paged)
    page = _page(filters)
    if not page.entries:
        raise TaxiiError(404, "Unknown object", f"The collection holds no {object_id}.")
    return page


@bp.get("/api/collections/<collection_id>/objects/<object_id>/")
def one_object(collection_id: str, object_id: str):
    """One object, in an envelope."""
    page = _one(collection_id, object_id)
    return _json(page.envelope(), headers=page.headers())


@bp.get("/api/collections/<collection_id>/objects/<object_id>/versions/")
def versions(collection_id: str, object_id: str):
    """The versions of one object: this node keeps the current one."""
    page = _one(collection_id, object_id)
    return _json(
        {"more": False, "versions": [entry.version for entry in page.entries]},
        headers=page.headers(),
    )


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown(_rest: str):
    """Anything else under /taxii2/: a TAXII 404, or 405 for a write (the node is read-only)."""
    if request.method != "GET":
        raise TaxiiError(405, "Method Not Allowed", "This TAXII server is read-only.")
    raise TaxiiError(404, "Not Found", f"There is no TAXII resource at {request.path}.")


unknown.accepts = ("application/taxii+json", "application/json")  # type: ignore[attr-defined]
