"""What every STIX object the node produces must pass: the OASIS validator and the stix2 parser."""

from __future__ import annotations

import functools
import json

import stix2
import stix2validator.validator
from stix2validator import ValidationOptions, validate_instance


def _cache_schemas() -> None:
    """Keep the validator's schema files and compiled schemas across calls.

    stix2-validator 3.2.0 reads and compiles its JSON schemas again for every object, most of
    its time per object; the schemas never change, so the checks stay the same, twice as fast.
    """
    module = stix2validator.validator
    module.retrieve_from_filesystem = functools.lru_cache(maxsize=None)(
        module.retrieve_from_filesystem
    )
    load = module.load_validator
    compiled: dict = {}

    def load_validator(schema_path, schema, schema_dir):
        """The validator of one schema file, compiled once."""
        key = (schema_path, schema_dir)
        if key not in compiled:
            compiled[key] = load(schema_path, schema, schema_dir)
        return compiled[key]

    module.load_validator = load_validator


_cache_schemas()

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


def _shape(obj) -> object:
    """An object's structure: its keys, nesting and value types, without its values."""
    if isinstance(obj, dict):
        return tuple(
            sorted((key if "--" not in key else "ref", _shape(v)) for key, v in obj.items())
        )
    if isinstance(obj, list):
        return ("list", tuple(sorted({repr(_shape(item)) for item in obj})))
    return type(obj).__name__


def check_sampled(objects: list[dict], every: int = 50) -> None:
    """Validate every `every`-th object fully, and check each other one has a validated shape.

    Full validation costs about 10 ms of CPU per object; 10,000 would take most of this
    module's time budget. Objects of one shape come from one rendering path, so every shape is
    validated at its first object and again every `every` objects.
    """
    validated = {}
    for index, obj in enumerate(objects):
        shape = _shape(obj)
        if index % every == 0 or shape not in validated:
            check(obj)
            validated[shape] = obj
