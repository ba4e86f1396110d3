"""The package's public surface: one entry point, one result type, one error type, no framework."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

import scamshare.normalise as normalisation
from scamshare.normalise import KINDS, NormalisationError, Normalised, normalise


def test_kinds_are_the_six_indicator_kinds():
    """The kinds match the design's indicator kinds, in order."""
    assert KINDS == ("phone", "phone_range", "sender_id", "url", "domain", "message")


@pytest.mark.parametrize(
    ("kind", "value", "region"),
    [
        ("phone", "+65 8123 4567", None),
        ("phone_range", "+6391712345xx", None),
        ("sender_id", "DBS", None),
        ("url", "bit.ly/x", None),
        ("domain", "evil.pages.dev", None),
        ("message", "[DBS] call 8123 4567 or visit bit.ly/x", "SG"),
    ],
)
def test_every_kind_returns_a_frozen_json_serialisable_result(kind, value, region):
    """Results are immutable and their dict form survives a JSON round trip."""
    result = normalise(kind, value, region)
    assert isinstance(result, Normalised)
    assert result.kind == kind
    shown = result.to_dict()
    assert set(shown) == {"kind", "value", "listable", "facts"}
    assert json.loads(json.dumps(shown)) == shown
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "value", "region", "reason"),
    [
        ("email", "a@b.c", None, "unknown_kind"),
        ("phone", None, None, "not_text"),
        ("phone", b"+6581234567", None, "not_text"),
        ("url", "example.com", "ZZZ", "unknown_region"),
    ],
)
def test_misuse_is_a_normalisation_error_too(kind, value, region, reason):
    """Unknown kinds, non-text values and unknown regions raise the one error type."""
    with pytest.raises(NormalisationError) as raised:
        normalise(kind, value, region)
    assert raised.value.reason == reason
    assert raised.value.to_dict() == {"reason": reason, "message": raised.value.message}
    assert reason in repr(raised.value)


def test_a_blank_region_means_no_region():
    """An empty region from a form is the same as none."""
    with pytest.raises(NormalisationError) as raised:
        normalise("phone", "8123 4567", " ")
    assert raised.value.reason == "missing_region"


def test_importing_the_package_imports_no_framework_and_loads_nothing_heavy():
    """No Flask or SQLAlchemy, and the PSL and Zawgyi model load only on first use."""
    code = (
        "import sys, scamshare.normalise; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'flask', 'sqlalchemy', 'tldextract', 'myanmartools', 'requests'}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


def test_the_public_names_are_exported():
    """The names the rest of the node imports are all there."""
    for name in (
        "normalise",
        "NormalisationError",
        "Normalised",
        "KINDS",
        "SIMILARITY_THRESHOLD",
        "similarity",
        "signature_bands",
        "message_signature",
        "range_bounds",
        "range_covers",
    ):
        assert name in normalisation.__all__
        assert hasattr(normalisation, name)
