"""Console accounts: people of an organisation who sign in with a password and take its role."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare.auth import Caller
from scamshare.clock import utcnow
from scamshare.errors import Conflict, Invalid, NotFound, Unauthorised
from scamshare.models import Organisation, User
from scamshare.services import audit
from scamshare.services.organisations import check_manages

# argon2-cffi's defaults (RFC 9106's second recommendation); one hasher per process.
_hasher = PasswordHasher()
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte of "password" is a denial of service
# Peer nodes deliver signed batches; no person signs in as one.
NO_ACCOUNTS_FOR = frozenset({"peer_node"})
# Checked against when the username is unknown, so that both answers take as long.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def _invalid(field: str, reason: str, message: str) -> Invalid:
    """A 422 naming one field of an account."""
    return Invalid(
        f"{field}: {message}", errors=[{"field": field, "reason": reason, "message": message}]
    )


def check_password(password: str) -> None:
    """Refuse a password too short or too long to be a sensible one."""
    if len(password) < MIN_PASSWORD:
        raise _invalid(
            "password", "too_short", f"A password has at least {MIN_PASSWORD} characters."
        )
    if len(password) > MAX_PASSWORD:
        raise _invalid("password", "too_long", f"A password has at most {MAX_PASSWORD} characters.")


def create_user(
    session: Session,
    actor: audit.Actor,
    organisation: Organisation,
    username: str,
    password: str,
    manager: Caller | None = None,
) -> User:
    """Create an account of an organisation; only the argon2 hash of its password is kept."""
    check_manages(manager, organisation.role, organisation.country)
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise _invalid(
            "username",
            "invalid",
            "A username is 2 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit.",
        )
    if organisation.role in NO_ACCOUNTS_FOR:
        raise _invalid(
            "org", "no_accounts", f"A {organisation.role} organisation has no console accounts."
        )
    check_password(password)
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"The username {username!r} is taken.", code="username_taken")
    user = User(
        username=username,
        organisation_id=organisation.id,
        password_hash=_hasher.hash(password),
        organisation=organisation,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "account.create",
        target=f"user:{user.id}",
        details={"username": username, "organisation": organisation.name},
    )
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def find_user(session: Session, username: str) -> User:
    """The account of a username, or NotFound."""
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NotFound(f"No account {username!r} on this node.")
    return user


def disable_user(
    session: Session, actor: audit.Actor, username: str, manager: Caller | None = None
) -> User:
    """Disable an account: it signs in no more and its sessions end at their next request."""
    user = find_user(session, username)
    check_manages(manager, user.organisation.role, user.organisation.country)
    if user.disabled_at is not None:
        raise Conflict(
            f"The account {user.username} was already disabled at {user.disabled_at.isoformat()}.",
            code="already_disabled",
        )
    user.disabled_at = utcnow()
    user.session_generation += 1
    audit.record(
        session,
        actor,
        "account.disable",
        target=f"user:{user.id}",
        details={"username": user.username, "organisation": user.organisation.name},
    )
    return user


def caller_of(user: User) -> Caller:
    """The caller a signed-in account acts as: its organisation, role and country."""
    org = user.organisation
    return Caller(org.id, org.name, org.role, org.country, key_id=f"user:{user.id}")


def actor_of(user: User) -> audit.Actor:
    """The audit actor of a signed-in account (the key id column names the account)."""
    return audit.Actor(user.organisation_id, user.organisation.name, f"user:{user.id}")


def sign_in(session: Session, username: str, password: str) -> User:
    """Check a username and password; record the attempt in the audit log either way."""
    user = session.scalars(
        select(User).where(User.username == username.strip().lower()[:64])
    ).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:MAX_PASSWORD])
        valid = user is not None and user.disabled_at is None
    except (VerificationError, InvalidHashError):
        valid = False
    if not valid:
        audit.record(
            session,
            audit.Actor(user.organisation_id, user.organisation.name) if user else audit.Actor(),
            "console.sign_in",
            outcome="denied",
            target=f"user:{user.id}" if user else None,
            details={"username": username[:64]},
        )
        raise Unauthorised("The username or password is not right.", code="bad_credentials")
    user.last_login_at = utcnow()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(session, actor_of(user), "console.sign_in", target=f"user:{user.id}")
    return user


def sign_out(session: Session, user: User) -> None:
    """End the account's sessions: cookies of the old generation sign nobody in."""
    user.session_generation += 1
    audit.record(session, actor_of(user), "console.sign_out", target=f"user:{user.id}")
