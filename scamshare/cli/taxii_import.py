"""`scamshare import --taxii URL --collection ID --org N`: pull STIX indicators as reports."""

from __future__ import annotations

import click

from scamshare.cli.common import current, fail, record_import
from scamshare.errors import DomainError
from scamshare.services import taxii_import


def run(url: str, collection: str, organisation: str, user: str | None) -> None:
    """Import every indicator added to the collection since the last run, page by page."""
    app = current()
    try:
        caller, outcome, added_after = taxii_import.run_import(
            app, url, collection, organisation, user
        )
    except taxii_import.Stopped as error:
        raise click.ClickException(
            f"{error.reason} Stopped there; {error.outcome.summary()} so far, kept for the "
            "next run."
        ) from None
    except DomainError as error:
        fail(error)
    details = {"taxii": url, "collection": collection, "added_after": added_after}
    details |= {"accepted": outcome.accepted, "rejected": outcome.rejected}
    record_import(app, caller, {**details, "skipped": dict(outcome.skipped)})
    click.echo(f"{collection}: {outcome.summary()} (as {caller.organisation_name})")
