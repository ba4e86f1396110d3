"""Number ranges: an E.164 prefix plus wildcard digits, capped in width and checked for validity."""

from __future__ import annotations

import pytest

from scamshare.normalise import NormalisationError, normalise, range_bounds, range_covers

from .data import asean_examples

MOBILE_EXAMPLES = [row for row in asean_examples() if row["type"] == "MOBILE"]


@pytest.mark.parametrize(
    ("value", "region"),
    [
        ("+63 917 123 45xx", None),
        ("+63 917 123 45XX", None),
        ("+6391712345**", None),
        ("+6391712345??", None),
        ("+6391712345*{2}", None),
        ("+63 917 123 45 x{2}", None),
        ("0917 123 45xx", "PH"),
        ("0917-123-45-xx", "PH"),
        ("00 63 917 123 45xx", "VN"),
        ("001 63 917 123 45 xx", "SG"),
        ("\u200e+63\u00a0917\u00a0123\u00a045xx", None),
        ("＋６３ ９１７ １２３ ４５ｘｘ", None),
    ],
)
def test_range_notations_meet_in_one_value(value, region):
    """Wildcards written as x, *, ? or with a stated width give one canonical range."""
    result = normalise("phone_range", value, region)
    assert result.kind == "phone_range"
    assert result.value == "+6391712345**"
    assert result.listable is True
    assert result.facts == {"prefix": "+6391712345", "wildcards": 2, "size": 100, "region": "PH"}


@pytest.mark.parametrize("row", MOBILE_EXAMPLES, ids=lambda row: row["region"])
def test_a_range_in_every_region(row):
    """The last three digits of each region's mobile example become a thousand-number block."""
    national = row["national"]
    result = normalise("phone_range", national[:-3] + "xxx", row["region"])
    assert result.value == row["e164"][:-3] + "***"
    assert result.facts["size"] == 1000
    assert result.facts["region"] == row["region"]
    assert range_covers(result.value, row["e164"])


def test_the_maximum_width_is_configurable():
    """The default cap is 1,000 numbers; a node may allow more or fewer."""
    with pytest.raises(NormalisationError) as raised:
        normalise("phone_range", "+63917123****")
    assert raised.value.reason == "range_too_wide"
    assert normalise("phone_range", "+63917123****", max_range=10_000).facts["size"] == 10_000
    with pytest.raises(NormalisationError) as raised:
        normalise("phone_range", "+6391712345**", max_range=10)
    assert raised.value.reason == "range_too_wide"


@pytest.mark.parametrize(
    ("value", "region", "reason"),
    [
        ("", None, "empty"),
        ("+65 0000 00xx", None, "invalid_range_prefix"),
        ("+65 1234 56xx", None, "invalid_range_prefix"),
        # A single '*' is one digit, which leaves this Philippine mobile number a digit short.
        ("+6391712345*", None, "invalid_range_prefix"),
        ("+63 917 1x3 45xx", None, "invalid_range"),
        ("+6581234567", None, "invalid_range"),
        ("xx", None, "invalid_range"),
        ("0917 123 45xx", None, "missing_region"),
        ("+969 1234 5xx", None, "unknown_country_code"),
        ("+63 ***", None, "invalid_range_prefix"),
        ("+6391712345" + "*" * 20, None, "range_too_wide"),
    ],
)
def test_range_rejections(value, region, reason):
    """Wide, misplaced, empty or impossible ranges are rejected with their reason."""
    with pytest.raises(NormalisationError) as raised:
        normalise("phone_range", value, region)
    assert raised.value.reason == reason


def test_range_bounds_and_coverage():
    """The lifecycle can ask whether a range covers a protected number."""
    assert range_bounds("+6391712345**") == (639171234500, 639171234599)
    assert range_covers("+6391712345**", "+639171234500")
    assert range_covers("+6391712345**", "+639171234599")
    assert not range_covers("+6391712345**", "+639171234600")
    assert not range_covers("+6391712345**", "+63917123459")
    assert not range_covers("+6391712345**", "+6391712345000")
    assert not range_covers("+6391712345**", "6391712345000")
    assert not range_covers("+6391712345**", "+63917123450٠")


@pytest.mark.parametrize("value", ["+6391712345", "6391712345**", "+63917*12345*", "+**"])
def test_range_bounds_refuses_values_that_are_not_canonical_ranges(value):
    """Only canonical range values have bounds; anything else is a programming error."""
    with pytest.raises(ValueError, match="not a canonical phone_range"):
        range_bounds(value)
