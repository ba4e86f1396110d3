"""Phone numbers: every ASEAN example in every format, other scripts, separators, and rejections."""

from __future__ import annotations

import pytest

from scamshare.normalise import NormalisationError, normalise

from .data import ASEAN_REGIONS, asean_examples

EXAMPLES = asean_examples()


def in_script(text: str, zero: str) -> str:
    """Return text with its ASCII digits written in the script whose digit zero is `zero`."""
    return text.translate({ord(str(digit)): chr(ord(zero) + digit) for digit in range(10)})


def example_id(row: dict[str, str]) -> str:
    """Name a fixture row in test ids."""
    return f"{row['region']}-{row['type']}"


def test_the_fixture_covers_every_asean_region():
    """Each of the eleven regions has at least a fixed-line or mobile example."""
    assert {row["region"] for row in EXAMPLES} == set(ASEAN_REGIONS)


@pytest.mark.parametrize("row", EXAMPLES, ids=example_id)
@pytest.mark.parametrize("column", ["e164", "national", "international"])
def test_every_example_normalises_to_e164_in_every_format(row, column):
    """E.164, national (with trunk prefix) and international formats all meet in one value."""
    result = normalise("phone", row[column], row["region"])
    assert result.kind == "phone"
    assert result.value == row["e164"]
    assert result.listable is True
    assert result.facts == {
        "region": row["region"],
        "country_code": int(row["country_code"]),
        "number_type": row["number_type_detected"].lower(),
        "is_short_code": False,
        "is_emergency": False,
    }


@pytest.mark.parametrize("row", EXAMPLES, ids=example_id)
@pytest.mark.parametrize("column", ["e164", "international"])
def test_numbers_with_a_country_code_need_no_region(row, column):
    """A number that carries +CC is understood without the submitter's region."""
    assert normalise("phone", row[column]).value == row["e164"]


# Calling region and one of its own international dialling prefixes.
DIALLING_PREFIXES = [
    ("VN", "00"),
    ("PH", "00"),
    ("SG", "001"),
    ("SG", "008"),
    ("SG", "019"),
    ("TH", "001"),
    ("TH", "009"),
    ("MY", "00"),
    ("ID", "008"),
    ("ID", "009"),
    ("KH", "001"),
    ("LA", "00"),
    ("MM", "00"),
    ("BN", "00"),
    ("TL", "00"),
]
MOBILE_EXAMPLES = [row for row in EXAMPLES if row["type"] == "MOBILE"]


@pytest.mark.parametrize(("caller", "prefix"), DIALLING_PREFIXES)
@pytest.mark.parametrize("row", MOBILE_EXAMPLES, ids=example_id)
def test_international_format_with_the_callers_dialling_prefix(caller, prefix, row):
    """`00 84 ...` from Viet Nam and `019 63 ...` from Singapore are the same numbers as +84/+63."""
    dialled = f"{prefix} {row['international'][1:]}"
    assert normalise("phone", dialled, caller).value == row["e164"]


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("tel:+65-8123-4567", None, "+6581234567"),
        ("TEL:+66812345678", None, "+66812345678"),
        ("tel:8123-4567;phone-context=+65", None, "+6581234567"),
        ("tel:+63-905-123-4567;ext=12", None, "+639051234567"),
        ("+65-8123-4567", None, "+6581234567"),
        ("+65.8123.4567", None, "+6581234567"),
        ("(+65) 8123 4567", None, "+6581234567"),
        ("+84 (912) 345-678", None, "+84912345678"),
        ("0912.345.678", "VN", "+84912345678"),
        ("  \t+65 8123 4567\n ", None, "+6581234567"),
        ("+65\u00a08123\u00a04567", None, "+6581234567"),
        ("+65\u202f8123\u20094567", None, "+6581234567"),
        ("+65 8123\u200b4567", None, "+6581234567"),
        ("+65\u200c8123\u200d4567\ufeff", None, "+6581234567"),
        ("\u202a+65 8123 4567\u202c", None, "+6581234567"),
        ("\u2066+66 81 234 5678\u2069", None, "+66812345678"),
        ("\u200e+63 905 123 4567\u200f", None, "+639051234567"),
        ("\u202b0912 345 678\u202c", "VN", "+84912345678"),
        ("８１２３ ４５６７", "SG", "+6581234567"),
        ("＋６５ ８１２３－４５６７", None, "+6581234567"),
        ("+66 81 234 5678", "SG", "+66812345678"),
        ("8123 4567", "sg", "+6581234567"),
    ],
)
def test_uris_separators_invisible_characters_and_full_width_forms(value, region, expected):
    """`tel:` URIs, any separators, no-break, zero-width and bidi controls all fall away."""
    assert normalise("phone", value, region).value == expected


SCRIPT_ZEROS = {
    "thai": "๐",
    "myanmar": "၀",
    "khmer": "០",
    "lao": "໐",
    "full-width": "０",
    "arabic-indic": "٠",
    "devanagari": "०",
    "balinese": "᭐",
}


@pytest.mark.parametrize("script", SCRIPT_ZEROS)
@pytest.mark.parametrize("row", MOBILE_EXAMPLES, ids=example_id)
def test_digits_of_any_script(script, row):
    """Thai, Myanmar, Khmer, Lao and other decimal digits read as the same number."""
    assert (
        normalise("phone", in_script(row["national"], SCRIPT_ZEROS[script]), row["region"]).value
        == (row["e164"])
    )
    assert normalise("phone", in_script(row["e164"], SCRIPT_ZEROS[script])).value == row["e164"]


@pytest.mark.parametrize(
    ("value", "region", "reason"),
    [
        ("", "SG", "empty"),
        ("   ", "SG", "empty"),
        ("\u200b\u00a0\u2066", None, "empty"),
        ("hello", "SG", "not_a_number"),
        ("+", "SG", "not_a_number"),
        ("*123#", "SG", "not_a_number"),
        ("*21*0812345678#", "TH", "not_a_number"),
        ("1", "SG", "too_short"),
        ("12", "SG", "too_short"),
        ("+65 8123456", None, "too_short"),
        ("+66 2 123 456", None, "too_short"),
        ("+65 812345678901", None, "too_long"),
        ("+65 1234567890123456789", None, "too_long"),
        ("+65 1234 5678", None, "invalid_for_region"),
        ("+84 912 345 6789", None, "invalid_for_region"),
        ("0812 345 678", "SG", "invalid_for_region"),
        ("+999 1234 5678", None, "unknown_country_code"),
        ("+969 1234567", None, "unknown_country_code"),
        ("8123 4567", None, "missing_region"),
        ("0912 345 678", None, "missing_region"),
        ("+63 917 123 45xx", "PH", "looks_like_range"),
        ("+6391712345**", None, "looks_like_range"),
    ],
)
def test_rejections_carry_their_own_reason(value, region, reason):
    """Each kind of bad input gets its own machine-readable reason and a sentence."""
    with pytest.raises(NormalisationError) as raised:
        normalise("phone", value, region)
    assert raised.value.reason == reason
    assert raised.value.message.endswith(".")


def test_an_unknown_region_is_rejected():
    """A region libphonenumber does not know is an error, not a silent fallback."""
    with pytest.raises(NormalisationError) as raised:
        normalise("phone", "8123 4567", "XX")
    assert raised.value.reason == "unknown_region"


EMERGENCY_NUMBERS = [
    ("BN", "991"), ("BN", "993"), ("BN", "995"),
    ("KH", "117"), ("KH", "118"), ("KH", "119"),
    ("ID", "110"), ("ID", "112"), ("ID", "113"),
    ("LA", "190"), ("LA", "191"), ("LA", "195"),
    ("MY", "999"), ("MY", "112"),
    ("MM", "199"),
    ("PH", "911"), ("PH", "112"), ("PH", "117"),
    ("SG", "999"), ("SG", "995"),
    ("TH", "191"), ("TH", "1669"),
    ("TL", "112"), ("TL", "115"),
    ("VN", "113"), ("VN", "114"), ("VN", "115"),
]  # fmt: skip


@pytest.mark.parametrize(("region", "digits"), EMERGENCY_NUMBERS)
def test_emergency_numbers_are_flagged_and_never_listable(region, digits):
    """Emergency numbers of every region are short codes that can never be listed."""
    result = normalise("phone", digits, region)
    country_code = result.facts["country_code"]
    assert result.value == f"+{country_code}{digits}"
    assert result.facts["region"] == region
    assert result.facts["is_emergency"] is True
    assert result.facts["is_short_code"] is True
    assert result.facts["number_type"] == "short_code"
    assert result.listable is False
    # The canonical form reads back as the same emergency number without a region.
    assert normalise("phone", result.value).to_dict() == result.to_dict()


@pytest.mark.parametrize(("region", "digits"), [("SG", "1599"), ("TH", "1599"), ("MY", "123")])
def test_other_short_codes_are_not_listable_either(region, digits):
    """Service short codes are recognised from the short-number data and never listed."""
    result = normalise("phone", digits, region)
    assert result.facts["is_short_code"] is True
    assert result.facts["is_emergency"] is False
    assert result.listable is False


def test_a_short_code_of_another_country_is_read_in_that_country():
    """`+66 191` is Thailand's police number even when a Singapore operator submits it."""
    result = normalise("phone", "+66 191", "SG")
    assert result.facts["region"] == "TH"
    assert result.facts["is_emergency"] is True


def test_non_geographic_numbers_have_region_001():
    """International freephone numbers (+800) belong to no country."""
    result = normalise("phone", "+800 1234 5678")
    assert result.value == "+80012345678"
    assert result.facts["region"] == "001"
    assert result.facts["number_type"] == "toll_free"
