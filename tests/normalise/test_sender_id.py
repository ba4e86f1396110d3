"""SMS sender IDs: upper case, look-alikes folded, numeric ones handled as phone numbers."""

from __future__ import annotations

import pytest

from scamshare.normalise import NormalisationError, normalise


@pytest.mark.parametrize(
    ("value", "expected", "folded"),
    [
        ("DBS", "DBS", False),
        ("dbs", "DBS", False),
        ("  Shopee  ", "SHOPEE", False),
        ("Grab-SG", "GRAB-SG", False),
        ("AIS 1175", "AIS 1175", False),
        ("M&S", "M&S", False),
        ("Globe  Tel", "GLOBE TEL", False),
        ("ＤＢＳ", "DBS", True),
        ("ｍａｙｂａｎｋ", "MAYBANK", True),
        ("ВАNК", "BANK", True),
        ("PаyPаl", "PAYPAL", True),
        ("ΑΜΑΖΟΝ", "AMAZON", True),
        ("ᎪMAZON", "AMAZON", True),
        ("D\u200bBS", "DBS", True),
        ("\u2066OCBC\u2069", "OCBC", True),
        ("ÉCOLE", "ECOLE", True),
        ("𝐃𝐁𝐒", "DBS", True),
    ],
)
def test_alphanumeric_sender_ids(value, expected, folded):
    """Case, width, look-alike letters, accents and invisible characters do not make a new ID."""
    result = normalise("sender_id", value, "SG")
    assert result.kind == "sender_id"
    assert result.value == expected
    assert result.listable is True
    assert result.facts == {"folded": folded}


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+65 8123 4567", None, "+6581234567"),
        ("8123-4567", "SG", "+6581234567"),
        ("0912 345 678", "VN", "+84912345678"),
        ("๐๘๑๒๓๔๕๖๗๘", "TH", "+66812345678"),
    ],
)
def test_numeric_sender_ids_are_phone_numbers(value, region, expected):
    """A numeric originator deduplicates with the same number submitted as a phone."""
    result = normalise("sender_id", value, region)
    assert result.kind == "phone"
    assert result.value == expected
    assert result.to_dict() == normalise("phone", value, region).to_dict()


def test_numeric_short_code_sender_ids_are_never_listable():
    """A short-code originator is a short code: recognised, never listed."""
    result = normalise("sender_id", "1599", "SG")
    assert result.kind == "phone"
    assert result.facts["is_short_code"] is True
    assert result.listable is False


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("\u200b \u200d", "empty"),
        ("AB", "too_short"),
        ("ABCDEFGHIJKL", "too_long"),
        ("DBS BANK SGP", "too_long"),
        ("DBS!", "invalid_sender_id"),
        ("ธนาคาร", "invalid_sender_id"),
        ("---", "invalid_sender_id"),
        ("-DBS", "invalid_sender_id"),
        ("БАНК", "invalid_sender_id"),
    ],
)
def test_sender_id_rejections(value, reason):
    """Empty, short, long and non-Latin sender IDs are rejected with their reason."""
    with pytest.raises(NormalisationError) as raised:
        normalise("sender_id", value, "SG")
    assert raised.value.reason == reason
