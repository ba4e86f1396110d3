"""Paths and loaders for the data sets the normalisation tests use (copies in `fixtures/`)."""

from __future__ import annotations

import csv
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ASEAN_EXAMPLES = FIXTURES / "libphonenumber-asean-examples" / "asean_example_numbers.csv"
SMS_SPAM_COLLECTION = FIXTURES / "sms-spam-collection-uci" / "SMSSpamCollection"
ASEAN_REGIONS = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN")


def asean_examples() -> list[dict[str, str]]:
    """Return libphonenumber's example numbers for the eleven regions, one dict per row."""
    with ASEAN_EXAMPLES.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sms_spam_collection() -> list[tuple[str, str]]:
    """Return the SMS Spam Collection as (label, text) pairs."""
    with SMS_SPAM_COLLECTION.open(encoding="utf-8") as handle:
        return [
            (label, text)
            for label, text in (line.split("\t", 1) for line in handle.read().splitlines())
        ]
