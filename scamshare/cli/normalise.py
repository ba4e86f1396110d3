"""`scamshare normalise`: show operators exactly how the node will treat a submitted value."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator

import click

from scamshare.normalise import DEFAULT_MAX_RANGE, KINDS, NormalisationError, normalise
from scamshare.normalise.phone import check_region


def _values(arguments: Iterable[str]) -> Iterator[str]:
    """Yield the values given on the command line, reading standard input where one is `-`."""
    for argument in arguments:
        if argument != "-":
            yield argument
            continue
        for line in sys.stdin:
            value = line.rstrip("\r\n")
            # Blank lines are layout in a pasted list, not values to report as empty.
            if value.strip():
                yield value


@click.command("normalise")
@click.option("--kind", "-k", required=True, type=click.Choice(KINDS), help="Kind of every value.")
@click.option(
    "--region",
    "-r",
    default=None,
    metavar="CC",
    help="Submitter's country (ISO 3166 alpha-2), the default region for national numbers.",
)
@click.option(
    "--max-range",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_RANGE,
    show_default=True,
    help="Largest number of numbers a phone_range may cover.",
)
@click.argument("values", nargs=-1, required=True)
@click.pass_context
def normalise_command(
    context: click.Context, kind: str, region: str | None, max_range: int, values: tuple[str, ...]
) -> None:
    """Print one JSON object per VALUE: its canonical value and facts, or why it is rejected.

    With `-` as a VALUE, read values from standard input, one per line. The exit status is 1 when
    any value was rejected.
    """
    try:
        region = check_region(region)
    except NormalisationError as error:
        raise click.BadParameter(error.message, param_hint="--region") from None
    rejected = False
    for value in _values(values):
        try:
            shown = {
                "input": value,
                **normalise(kind, value, region, max_range=max_range).to_dict(),
            }
        except NormalisationError as error:
            rejected = True
            shown = {"input": value, "kind": kind, "error": error.to_dict()}
        click.echo(json.dumps(shown, ensure_ascii=False))
    context.exit(1 if rejected else 0)
