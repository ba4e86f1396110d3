"""`scamshare users`: the people who sign in to the console."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from scamshare import db
from scamshare.cli.common import actor, current, fail
from scamshare.errors import DomainError
from scamshare.services import accounts
from scamshare.services import organisations as orgs_service


@click.group("users")
def users_group() -> None:
    """Console accounts: each belongs to an organisation and takes its role."""


@users_group.command("create")
@click.option("--org", "organisation", required=True, help="Organisation name or id")
@click.option("--username", required=True)
@click.option(
    "--password-stdin",
    is_flag=True,
    required=True,
    help="Read the password from the first line of standard input (never from the command line)",
)
@with_appcontext
def users_create(organisation: str, username: str, password_stdin: bool) -> None:
    """Create an account; the password is read from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with db.transaction(current()) as session:
            org = orgs_service.find_organisation(session, organisation)
            user = accounts.create_user(session, actor(), org, username, password)
            click.echo(f"created account {user.username} of {org.name} ({org.role})")
    except DomainError as error:
        fail(error)


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List accounts: username, organisation, role, state, last sign-in."""
    with db.snapshot(current()) as session:
        for user in accounts.list_users(session):
            state = "disabled" if user.disabled_at else "active"
            last = user.last_login_at.isoformat() if user.last_login_at else "never"
            org = user.organisation
            click.echo(f"{user.username}\t{org.name}\t{org.role}\t{state}\t{last}")


@users_group.command("disable")
@click.argument("username")
@with_appcontext
def users_disable(username: str) -> None:
    """Disable an account: it can no longer sign in, and its open sessions end."""
    try:
        with db.transaction(current()) as session:
            user = accounts.disable_user(session, actor(), username)
            click.echo(f"disabled account {user.username}")
    except DomainError as error:
        fail(error)
