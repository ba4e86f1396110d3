"""What every command module shares: its app, its audit actor and how it fails."""

from __future__ import annotations

import getpass

import click
from flask import Flask, current_app

from scamshare import db
from scamshare.auth import Caller
from scamshare.errors import DomainError
from scamshare.services import audit


def actor() -> audit.Actor:
    """The audit actor of a command: the local account that ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return audit.Actor(organisation_name=f"cli:{user}")


def current() -> Flask:
    """Return the app behind the current command."""
    return current_app._get_current_object()


def fail(error: DomainError) -> None:
    """Turn a domain error into a clean command failure."""
    raise click.ClickException(error.message)


def record_import(app: Flask, caller: Caller, details: dict, outcome: str = "ok") -> None:
    """Write one import (a file or a TAXII pull) to the audit log, in its own transaction."""
    with db.transaction(app) as session:
        audit.record(
            session,
            actor(),
            "reports.import",
            target=f"organisation:{caller.organisation_id}",
            outcome=outcome,
            details=details,
        )
