"""Bringing a node up: schema, organisations with their keys, protected values, identity, peers.

`serve` initialises its own node on first start; the demo and the multi-node tests set up
several nodes in one process and peer them with each other through the same functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flask import Flask
from sqlalchemy.orm import Session

from scamshare import db, migrations
from scamshare.clock import utcnow
from scamshare.federation import identity
from scamshare.services import audit
from scamshare.services import organisations as orgs_service
from scamshare.services import peers as peers_service
from scamshare.services import protected as protected_service

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass(frozen=True)
class OrganisationKey:
    """A key issued while setting a node up, with the organisation it belongs to."""

    organisation_id: int
    organisation: str
    role: str
    key_id: str
    key: str


@dataclass(frozen=True)
class NodeSetup:
    """What setting a node up gave it: its identity and a key for each role it has."""

    identity: identity.NodeIdentity
    keys: dict[str, OrganisationKey]


class Reachable(Protocol):
    """A node of this process that the others can reach."""

    app: Flask
    identity: identity.NodeIdentity

    @property
    def url(self) -> str:
        """Its base URL."""
        ...


def initialise(app: Flask) -> list[OrganisationKey]:
    """Create the schema and load the sample organisations on an empty database.

    Returns a key for every sample organisation, or nothing when the database already existed.
    """
    engine = app.extensions["scamshare.engine"]
    if not migrations.is_empty(engine):
        migrations.upgrade(
            engine, country=app.config["COUNTRY"], policy=app.extensions["scamshare.policy"]
        )
        return []
    migrations.upgrade(engine, country=app.config["COUNTRY"])
    samples = json.loads((FIXTURES / "organisations.json").read_text())
    country = app.config["COUNTRY"]
    entries = samples["node"] + samples["countries"][country]
    with db.transaction(app) as session:
        issued = _create_organisations(
            session, ((entry["name"], entry["role"]) for entry in entries), country
        )
        load_protected(app, session, audit.NODE, country)
    return issued


def load_protected(
    app: Flask, session: Session, actor: audit.Actor, country: str
) -> protected_service.Loaded:
    """Load a member state's protected-values fixture through the service (audited)."""
    fixture = protected_service.read_fixture(FIXTURES / "protected" / f"{country}.json")
    return protected_service.load(
        session,
        app.extensions["scamshare.policy"],
        actor,
        fixture,
        country=country,
        now=utcnow(),
    )


def set_up_node(
    app: Flask,
    organisations: Sequence[tuple[str, str]] | None = None,
    *,
    replace_identity: bool = False,
) -> NodeSetup:
    """Give a node organisations (name, role) with a key each, and an identity of its own.

    Without organisations, the node is initialised: on an empty database, that creates the
    schema, the sample organisations and the protected values.
    """
    if organisations is None:
        issued = initialise(app)
    else:
        with db.transaction(app) as session:
            issued = _create_organisations(session, organisations, app.config["COUNTRY"])
    node_identity = identity.create(app.config["DATA_DIR"], force=replace_identity)
    return NodeSetup(node_identity, {key.role: key for key in issued})


def peer_each_other(
    nodes: Sequence[Reachable],
    policy: Callable[[str], str] = lambda country: "block",
    actor: audit.Actor = audit.NODE,
) -> None:
    """Register every node as a peer of each of the others, under the policy its country gets."""
    for node in nodes:
        with db.transaction(node.app) as session:
            for other in nodes:
                if other is node:
                    continue
                country = other.app.config["COUNTRY"]
                registration = peers_service.Registration(
                    other.app.config["NODE_ID"],
                    country,
                    other.url,
                    other.identity.public_key,
                    policy(country),
                )
                peers_service.add_peer(
                    session, actor, registration, node.app.extensions["scamshare.policy"]
                )


def _create_organisations(
    session: Session, organisations: Iterable[tuple[str, str]], country: str
) -> list[OrganisationKey]:
    """Create organisations (name, role) of one country, each with one key."""
    issued = []
    for name, role in organisations:
        org = orgs_service.create_organisation(
            session, audit.NODE, name=name, role=role, country=country
        )
        key = orgs_service.create_key(session, audit.NODE, org)
        issued.append(OrganisationKey(org.id, org.name, org.role, key.record.key_id, key.key))
    return issued
