"""`scamshare import --taxii URL --collection ID --org N`: pull STIX indicators as reports."""

from __future__ import annotations

import os

import click
import httpx

from scamshare import db
from scamshare.cli.common import current, fail, record_import
from scamshare.clock import utcnow
from scamshare.errors import DomainError
from scamshare.services import importer, taxii_import
from scamshare.services import organisations as orgs_service

PASSWORD_VARIABLE = "SCAMSHARE_TAXII_PASSWORD"


def run(url: str, collection: str, organisation: str, user: str | None) -> None:
    """Import every indicator added to the collection since the last run, page by page."""
    app = current()
    try:
        with db.transaction(app) as session:
            caller = importer.caller_for(orgs_service.find_organisation(session, organisation))
            name = taxii_import.state_name(url, collection)
            added_after = taxii_import.resume_point(session, name)
    except DomainError as error:
        fail(error)
    password = os.environ.get(PASSWORD_VARIABLE)
    auth = (user, password or "") if user else None
    objects_url = f"{url.rstrip('/')}/collections/{collection}/objects/"
    outcome = taxii_import.Outcome()
    timeout = httpx.Timeout(app.config["FEDERATION_READ_TIMEOUT"])
    try:
        with httpx.Client(timeout=timeout) as client:
            for page in taxii_import.pages(client, objects_url, added_after, auth):
                with db.transaction(app) as session:
                    policy = app.extensions["scamshare.policy"]
                    taxii_import.submit_page(session, page, caller, policy, utcnow(), outcome)
                    if page.last_added:
                        taxii_import.remember(session, name, page.last_added)
    except (DomainError, httpx.HTTPError) as error:
        message = error.message if isinstance(error, DomainError) else str(error)
        raise click.ClickException(
            f"{message} Stopped there; {outcome.summary()} so far, kept for the next run."
        ) from None
    details = {"taxii": url, "collection": collection, "added_after": added_after}
    details |= {"accepted": outcome.accepted, "rejected": outcome.rejected}
    record_import(app, caller, {**details, "skipped": dict(outcome.skipped)})
    click.echo(f"{collection}: {outcome.summary()} (as {caller.organisation_name})")
