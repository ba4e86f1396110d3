"""The peer registry: other member states' nodes, their keys, policies and sync health."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from scamshare import db
from scamshare import policy as rules
from scamshare.clock import utcnow
from scamshare.config import MEMBER_STATES
from scamshare.errors import Conflict, Invalid, NotFound
from scamshare.indicators import lifecycle
from scamshare.indicators.lifecycle import Lifecycle
from scamshare.models import POLICIES, Indicator, Peer
from scamshare.public_keys import decode_public
from scamshare.services import audit


@dataclass(frozen=True)
class Registration:
    """A peer node as an admin registers it, and how this node treats its listings."""

    node_id: str
    country: str
    url: str
    public_key: str
    policy: str = "block"


def add_peer(
    session: Session, actor: audit.Actor, registration: Registration, policy: rules.Policy
) -> Peer:
    """Register a peer node after checking every field; its listings show its new policy."""
    node_id, url, public_key = registration.node_id, registration.url, registration.public_key
    country = registration.country.upper()
    problems = []
    if country not in MEMBER_STATES:
        problems.append(("country", "not_allowed", f"{country!r} is not a member state"))
    if registration.policy not in POLICIES:
        problems.append(("policy", "not_allowed", "policy is block or warn"))
    if not url.startswith(("http://", "https://")):
        problems.append(("url", "invalid", "the peer URL must start with http:// or https://"))
    if node_id == policy.node_id:
        problems.append(("node_id", "is_self", "a node cannot peer with itself"))
    try:
        decode_public(public_key)
    except ValueError as error:
        problems.append(("public_key", "invalid", str(error)))
    if problems:
        raise Invalid(
            "; ".join(message for _, _, message in problems),
            errors=[{"field": f, "reason": r, "message": m} for f, r, m in problems],
        )
    if session.scalars(select(Peer).where(Peer.node_id == node_id)).first():
        raise Conflict(f"A peer {node_id!r} is already registered.", code="duplicate_peer")
    peer = Peer(
        node_id=node_id,
        country=country,
        url=url.rstrip("/"),
        public_key=public_key.strip(),
        policy=registration.policy,
    )
    session.add(peer)
    session.flush()
    forget_policies()
    Lifecycle(session, policy, actor, utcnow()).refresh_origin(country, f"peer {node_id} added")
    audit.record(
        session,
        actor,
        "peer.add",
        target=f"peer:{node_id}",
        details={"country": country, "url": peer.url, "policy": registration.policy},
    )
    return peer


def get_peer(session: Session, node_id: str) -> Peer:
    """Find a peer by node id."""
    peer = session.scalars(select(Peer).where(Peer.node_id == node_id)).first()
    if peer is None:
        raise NotFound(f"No peer {node_id!r} is registered on this node.")
    return peer


def list_peers(session: Session) -> list[Peer]:
    """Every peer, by node id."""
    return list(session.scalars(select(Peer).order_by(Peer.node_id)))


def remove_peer(session: Session, actor: audit.Actor, node_id: str, policy: rules.Policy) -> None:
    """Forget a peer: nothing more is pushed to it or accepted from it.

    What it already contributed stays, shown under the default policy (block).
    """
    peer = get_peer(session, node_id)
    session.delete(peer)
    session.flush()
    forget_policies()
    Lifecycle(session, policy, actor, utcnow()).refresh_origin(
        peer.country, f"peer {node_id} removed"
    )
    audit.record(session, actor, "peer.remove", target=f"peer:{node_id}")


_POLICIES = "scamshare.policies"


def cached_policies(session: Session | Connection | None = None) -> dict[str, str]:
    """The policies map, read at most once per SCAMSHARE_KEY_CACHE_SECONDS in this process.

    Without a session, a short read session of its own is opened only when the cache is stale:
    the hot lookup path opens none otherwise.
    """
    # Every lookup merges peer origins, and reading the peer table cost a query per lookup. A
    # change through this process's add_peer or remove_peer is seen at once; one made
    # elsewhere (another worker, the CLI) within the cache time, like a key revocation.
    if not has_app_context():
        return lifecycle.peer_policies(session)
    ttl = current_app.config.get("KEY_CACHE_SECONDS", 0)
    cached = current_app.extensions.get(_POLICIES)
    if cached is not None and time.monotonic() - cached[0] < ttl:
        return cached[1]
    read_at = time.monotonic()
    if session is None:
        with db.reader() as reader:
            found = lifecycle.peer_policies(reader)
    else:
        found = lifecycle.peer_policies(session)
    if ttl > 0:
        current_app.extensions[_POLICIES] = (read_at, found)
    return found


def forget_policies() -> None:
    """Drop this process's cached policies (after changing the peer table here)."""
    if has_app_context():
        current_app.extensions.pop(_POLICIES, None)


def lag(session: Session, peer: Peer) -> int:
    """How many own-origin contributions the peer has not acknowledged yet."""
    return session.scalar(
        select(func.count()).select_from(Indicator).where(Indicator.origin_version > peer.cursor)
    )
