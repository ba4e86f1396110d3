"""Bringing a node up: its schema, sample organisations with their keys, and protected values."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from scamshare import db, migrations
from scamshare.clock import utcnow
from scamshare.services import audit
from scamshare.services import organisations as orgs_service
from scamshare.services import protected as protected_service

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def initialise(app: Flask) -> list[tuple[str, str, str]]:
    """Create the schema and load the sample organisations on an empty database.

    Returns (organisation, role, key) for every key it issued, or nothing when the database
    already existed.
    """
    engine = app.extensions["scamshare.engine"]
    if not migrations.is_empty(engine):
        migrations.upgrade(engine)
        return []
    migrations.upgrade(engine)
    samples = json.loads((FIXTURES / "organisations.json").read_text())
    country = app.config["COUNTRY"]
    issued = []
    with db.transaction(app) as session:
        for entry in samples["node"] + samples["countries"][country]:
            org = orgs_service.create_organisation(
                session, audit.NODE, name=entry["name"], role=entry["role"], country=country
            )
            key = orgs_service.create_key(session, audit.NODE, org)
            issued.append((org.name, org.role, key.key))
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
