"""Organisations and their API keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare.auth import ROLE_MATRIX, Caller, new_key
from scamshare.clock import utcnow
from scamshare.config import MEMBER_STATES
from scamshare.errors import Conflict, Forbidden, Invalid, NotFound
from scamshare.models import ROLES, ApiKey, Organisation
from scamshare.services import audit
from schemas.common import BIGINT_MAX

# The organisations a regulator manages, in its own country; any other only a full manager.
REGULATED_ROLES = ("regulator", "law_enforcement", "operator")


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: the secret is in `key` and is never retrievable again."""

    record: ApiKey
    key: str


def check_manages(manager: Caller | None, role: str, country: str) -> None:
    """Refuse a caller who may not manage an organisation of this role and country, or its keys.

    No role grants more than it holds: a regulator manages the regulators, law-enforcement
    bodies and operators of its own country; admin and peer-node organisations, and those of
    other countries, are for holders of orgs.manage_all (the node itself, through the CLI, is
    `manager` None).
    """
    if manager is None or manager.role in ROLE_MATRIX["orgs.manage_all"]:
        return
    if role in REGULATED_ROLES and country == manager.country:
        return
    allowed = ", ".join(sorted(ROLE_MATRIX["orgs.manage_all"]))
    raise Forbidden(
        f"The role {manager.role} manages only {', '.join(REGULATED_ROLES)} organisations of "
        f"its own country ({manager.country}) and their keys; a {role} organisation of "
        f"{country} needs orgs.manage_all ({allowed}).",
        code="forbidden",
    )


def create_organisation(
    session: Session,
    actor: audit.Actor,
    *,
    name: str,
    role: str,
    country: str,
    manager: Caller | None = None,
) -> Organisation:
    """Create an organisation with a unique name, a known role and a member-state country."""
    name = name.strip()
    country = country.upper()
    if not name:
        raise Invalid("An organisation needs a name.", errors=[_err("name", "required")])
    if role not in ROLES:
        raise Invalid(
            f"Unknown role {role!r}; roles are {', '.join(ROLES)}.",
            errors=[_err("role", "not_allowed")],
        )
    if country not in MEMBER_STATES:
        raise Invalid(
            f"Unknown country {country!r}; countries are {' '.join(MEMBER_STATES)}.",
            errors=[_err("country", "not_allowed")],
        )
    check_manages(manager, role, country)
    if session.scalars(select(Organisation).where(Organisation.name == name)).first():
        raise Conflict(f"An organisation named {name!r} already exists.", code="duplicate_name")
    organisation = Organisation(name=name, role=role, country=country)
    session.add(organisation)
    session.flush()
    audit.record(
        session,
        actor,
        "org.create",
        target=f"org:{organisation.id}",
        details={"name": name, "role": role, "country": country},
    )
    return organisation


def find_organisation(session: Session, name_or_id: str | int) -> Organisation:
    """Find an organisation by its id or its exact name."""
    query = select(Organisation)
    if isinstance(name_or_id, int) or _is_id(name_or_id):
        query = query.where(Organisation.id == int(name_or_id))
    else:
        query = query.where(Organisation.name == name_or_id)
    organisation = session.scalars(query).first()
    if organisation is None:
        raise NotFound(f"No organisation {name_or_id!r} on this node.")
    return organisation


def _is_id(text: str) -> bool:
    """Say whether a string is an organisation id (ASCII digits a BIGINT holds)."""
    return text.isascii() and text.isdigit() and len(text) < 20 and int(text) <= BIGINT_MAX


def list_organisations(session: Session) -> list[Organisation]:
    """List every organisation by name."""
    return list(session.scalars(select(Organisation).order_by(Organisation.name)))


def create_key(
    session: Session,
    actor: audit.Actor,
    organisation: Organisation,
    manager: Caller | None = None,
) -> IssuedKey:
    """Issue a new API key for an organisation the manager may manage."""
    check_manages(manager, organisation.role, organisation.country)
    key_id, key, secret_hash = new_key()
    record = ApiKey(key_id=key_id, organisation_id=organisation.id, secret_hash=secret_hash)
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "key.create",
        target=f"key:{key_id}",
        details={"organisation": organisation.name},
    )
    return IssuedKey(record=record, key=key)


def list_keys(session: Session, organisation: Organisation | None = None) -> list[ApiKey]:
    """List keys, optionally of one organisation, oldest first; secrets are never included."""
    query = select(ApiKey).order_by(ApiKey.id)
    if organisation is not None:
        query = query.where(ApiKey.organisation_id == organisation.id)
    return list(session.scalars(query))


def revoke_key(
    session: Session, actor: audit.Actor, key_id: str, manager: Caller | None = None
) -> ApiKey:
    """Revoke a key; revoking a revoked key is a conflict, so nobody is misled."""
    record = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()
    if record is None:
        raise NotFound(f"No API key {key_id!r} on this node.")
    check_manages(manager, record.organisation.role, record.organisation.country)
    if record.revoked_at is not None:
        raise Conflict(
            f"The API key {key_id} was already revoked at {record.revoked_at.isoformat()}.",
            code="already_revoked",
        )
    record.revoked_at = utcnow()
    audit.record(
        session,
        actor,
        "key.revoke",
        target=f"key:{key_id}",
        details={"organisation": record.organisation.name},
    )
    return record


def _err(field: str, reason: str) -> dict:
    """One per-field error entry."""
    return {"field": field, "reason": reason, "message": f"{field}: {reason}"}
