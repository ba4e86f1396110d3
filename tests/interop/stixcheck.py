"""What every STIX object the node produces must pass: the OASIS validator and the stix2 parser."""

from __future__ import annotations

import json

import stix2
from stix2validator import ValidationOptions, validate_instance

# Every check the validator has, strict about anything that is not a SHOULD.
OPTIONS = ValidationOptions(version="2.1")
# {103}: ids are UUIDv5 of the value (stable across versions and nodes), not random UUIDv4 as
# the validator suggests for SDOs; the README lists this warning and why.
ALLOWED_WARNINGS = {"103"}


def code(warning: str) -> str:
    """The validator's code of a warning (`{103}`), without the braces."""
    return warning.split("{", 1)[1].split("}", 1)[0]


def findings(obj: dict) -> tuple[list[str], list[str]]:
    """The validator's errors and warnings about one object or bundle."""
    result = validate_instance(obj, OPTIONS)
    errors = [str(error) for error in result.errors]
    warnings = [str(warning) for warning in result.warnings]
    return errors, warnings


def check(obj: dict) -> set[str]:
    """Assert one object or bundle validates with zero errors and parses; return its warnings."""
    errors, warnings = findings(obj)
    assert errors == [], (errors, json.dumps(obj)[:2000])
    stix2.parse(obj, allow_custom=True)
    return set(warnings)


def check_all(objects: list[dict]) -> set[str]:
    """Check many objects; return the distinct warnings they raised."""
    warnings: set[str] = set()
    for obj in objects:
        warnings.update(check(obj))
    return warnings
