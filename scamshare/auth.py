"""API keys and the one role matrix that decides who may call what."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, g, request
from sqlalchemy import select, update

from scamshare import db
from scamshare.clock import utcnow
from scamshare.errors import Forbidden, Unauthorised
from scamshare.models import ApiKey

# Permission -> roles that hold it. The README's role matrix is this table; a test keeps them equal.
ROLE_MATRIX: dict[str, frozenset[str]] = {
    "node.read": frozenset({"regulator", "operator", "law_enforcement", "peer_node", "admin"}),
    "orgs.manage": frozenset({"regulator", "admin"}),
    # Every organisation of any role and country; orgs.manage alone covers a regulator's own
    # country's regulators, law enforcement and operators (services.organisations).
    "orgs.manage_all": frozenset({"admin"}),
    "audit.read": frozenset({"regulator", "admin"}),
    "reports.submit": frozenset({"regulator", "law_enforcement", "operator"}),
    "protected.read": frozenset({"regulator"}),
    "protected.manage": frozenset({"regulator"}),
    "disconnections.submit": frozenset({"operator", "regulator"}),
    "appeals.file": frozenset({"operator", "regulator"}),
    "appeals.resolve": frozenset({"regulator"}),
    "appeals.read": frozenset({"operator", "regulator"}),
    "indicators.read": frozenset({"regulator", "law_enforcement", "operator"}),
    # The console's review queue: verify and list, or dismiss, what is reported but not listed.
    "indicators.review": frozenset({"regulator"}),
    "stats.read": frozenset({"regulator", "admin"}),
    "blocklist.download": frozenset({"regulator", "law_enforcement", "operator"}),
    "lookup": frozenset({"regulator", "law_enforcement", "operator"}),
    "messages.check": frozenset({"regulator", "law_enforcement", "operator"}),
    "peers.read": frozenset({"regulator", "admin"}),
    "peers.manage": frozenset({"admin"}),
    "metrics.read": frozenset({"admin"}),
}

KEY_PREFIX = "ss"
_monotonic = time.monotonic  # the key cache's clock; tests move it


@dataclass(frozen=True)
class Caller:
    """The organisation and key behind a request."""

    organisation_id: int
    organisation_name: str
    role: str
    country: str
    key_id: str


def hash_secret(secret: str) -> str:
    """Hash a key's secret; keys are 256 random bits, so a fast hash does not weaken them."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """Make a new key: return its public id, the full key to show once, and the stored hash."""
    key_id = "k" + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{KEY_PREFIX}.{key_id}.{secret}", hash_secret(secret)


def authenticate(header: str | None) -> Caller:
    """Resolve an Authorization header to its caller, or raise Unauthorised saying why."""
    if not header:
        raise Unauthorised(
            "This endpoint needs an API key: send 'Authorization: Bearer <key>'.",
            code="missing_key",
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "basic":  # TAXII clients: the key id as user name, the key as password
        scheme, token = "bearer", _basic_key(token)
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthorised(
            "The Authorization header must be 'Bearer ss.<key id>.<secret>' (or HTTP Basic with "
            "the key id as user name and the key as password).",
            code="invalid_key",
        )
    _, key_id, secret = parts
    record = _key_record(key_id)
    if record is None or not hmac.compare_digest(record.secret_hash, hash_secret(secret)):
        raise Unauthorised("The API key is not valid on this node.", code="invalid_key")
    if record.revoked_at is not None:
        raise Unauthorised(
            f"The API key {key_id} was revoked at {record.revoked_at.isoformat()}.",
            code="revoked_key",
        )
    _touch(key_id, record)
    return record.caller


def _basic_key(credentials: str) -> str:
    """The key of HTTP Basic credentials whose user name is its key id, else empty text."""
    try:
        user, _, password = (
            base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return ""
    parts = password.split(".")
    return password if len(parts) == 3 and parts[1] == user else ""


@dataclass
class _KeyRecord:
    """What authentication needs of one key, as read from the database at `read_at`."""

    secret_hash: str
    revoked_at: datetime | None
    last_used_at: datetime | None
    caller: Caller
    read_at: float


def _key_record(key_id: str) -> _KeyRecord | None:
    """Read a key, or take it from this process's cache while it is fresh.

    Lookups are the node's hot path; re-reading the key on every request doubled their cost.
    A revocation through this process forgets the key at once; one made elsewhere (another
    worker, the CLI) takes effect within SCAMSHARE_KEY_CACHE_SECONDS.
    """
    cache: dict[str, _KeyRecord] = current_app.extensions.setdefault("scamshare.keys", {})
    ttl = current_app.config["KEY_CACHE_SECONDS"]
    cached = cache.get(key_id)
    if cached is not None and _monotonic() - cached.read_at < ttl:
        return cached
    # Its own short read, so that the request's transaction (and its write lock) starts later.
    with db.reader() as session:
        key = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).one_or_none()
        if key is None:
            cache.pop(key_id, None)
            return None
        org = key.organisation
        record = _KeyRecord(
            key.secret_hash,
            key.revoked_at,
            key.last_used_at,
            Caller(org.id, org.name, org.role, org.country, key.key_id),
            _monotonic(),
        )
    if ttl > 0:
        cache[key_id] = record
    return record


def forget(key_id: str) -> None:
    """Drop a key from this process's cache (after revoking it here)."""
    current_app.extensions.setdefault("scamshare.keys", {}).pop(key_id, None)


def _touch(key_id: str, record: _KeyRecord) -> None:
    """Record the key's last use, at most once a minute, in its own short transaction."""
    now = utcnow()
    stale = timedelta(seconds=current_app.config["KEY_TOUCH_SECONDS"])
    if record.last_used_at is not None and now - record.last_used_at < stale:
        return
    record.last_used_at = now
    with db.transaction(current_app._get_current_object()) as session:
        session.execute(update(ApiKey).where(ApiKey.key_id == key_id).values(last_used_at=now))


def check_role(caller: Caller, permission: str) -> None:
    """Raise Forbidden unless the caller's role holds the permission."""
    if caller.role not in ROLE_MATRIX[permission]:
        allowed = ", ".join(sorted(ROLE_MATRIX[permission]))
        raise Forbidden(
            f"The role {caller.role!r} may not do this ({permission}); allowed roles: {allowed}.",
            code="forbidden",
        )


def requires(permission: str, audit: str | None = None) -> Callable:
    """Decorate a view: authenticate the caller, check the role matrix, name the audit action."""
    if permission not in ROLE_MATRIX:
        raise KeyError(f"unknown permission {permission!r}")

    def decorator(view: Callable) -> Callable:
        """Wrap one view."""

        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            """Authenticate, then authorise, then run the view."""
            g.audit_action = audit
            g.caller = authenticate(request.headers.get("Authorization"))
            check_role(g.caller, permission)
            return view(*args, **kwargs)

        wrapper.permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorator


def current_caller() -> Caller:
    """Return the authenticated caller of this request."""
    return g.caller
