"""The one writer of download lines, pure: CSV, JSON and TXT of a merged view."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from scamshare.indicators import render, rules

NOW = datetime(2026, 11, 30, 12, 0, 5, 123456, tzinfo=UTC)


def view(value: str = "+6581234567", kind: str = "phone", **fields) -> rules.View:
    """A listed view with one SG origin."""
    origin = rules.Origin("SG", "block", "listed", "high", ("loan",), 1, 1, None, None, None)
    values = {
        "kind": kind,
        "value": value,
        "status": "listed",
        "risk": "high",
        "removal_reason": None,
        "categories": ("investment", "loan"),
        "report_count": 2,
        "org_count": 1,
        "country_count": 1,
        "first_reported": NOW - timedelta(days=2),
        "last_reported": NOW,
        "expires_at": None,
        "origins": (origin,),
    }
    return rules.View(**{**values, **fields})


def test_a_csv_line_has_every_column_in_order_and_times_to_the_second():
    """kind,value,status,risk,categories,origins,first,last,expires."""
    assert render.csv_line(view()) == (
        "phone,+6581234567,listed,high,investment;loan,SG:block,"
        "2026-11-28T12:00:05Z,2026-11-30T12:00:05Z,"
    )
    assert render.csv_line(view(), "remove", "expired").endswith(",remove,expired")


def test_a_url_with_commas_and_quotes_is_one_csv_cell():
    """The csv module reads the line back with the value whole."""
    value = 'https://evil.example/a,b?x="1"'
    [row] = csv.reader(io.StringIO(render.csv_line(view(value, "url"))))
    assert len(row) == len(render.COLUMNS) and row[1] == value


def test_a_json_item_carries_the_same_fields():
    """The JSON item of the same view, compact."""
    item = json.loads(render.json_item(view(), "upsert"))
    assert item["origins"] == [{"country": "SG", "policy": "block"}]
    assert (item["categories"], item["expires_at"], item["action"]) == (
        ["investment", "loan"],
        None,
        "upsert",
    )
    assert item["first_reported"] == "2026-11-28T12:00:05Z"


@pytest.mark.parametrize(
    "listing",
    [view(), view('singpost.example/a,b?x="1"', "url"), view("Bank\u00e9 {NUM}", "message")],
)
def test_a_delta_upsert_from_a_stored_line_is_the_line_the_writer_gives(listing):
    """Deltas add the action to the stored CSV line and JSON item instead of rendering again."""
    assert render.upsert_line(render.csv_line(listing), "csv") == render.csv_line(listing, "upsert")
    for fmt in ("json", "ndjson"):
        assert render.upsert_line(render.json_item(listing), fmt) == render.json_item(
            listing, "upsert"
        )


def test_txt_lines_are_values_and_delta_lines_say_plus_or_minus():
    """A firewall reads one value per line."""
    assert render.txt_line(view()) == "+6581234567"
    assert render.txt_line(view(), "upsert") == "++6581234567"
    assert render.txt_line(view(), "remove") == "-+6581234567"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("A,B\r\nphone,+1999", "control_character"),
        ("line\nbreak", "control_character"),
        ("tab\there", "control_character"),
        ("=HYPERLINK(1)", "formula_start"),
        ("-2+3", "formula_start"),
        ("@SUM(A1)", "formula_start"),
        ("+cmd", "formula_start"),
        ("", "empty"),
    ],
)
def test_values_that_could_break_a_row_or_start_a_formula_are_unsafe(value, reason):
    """The last check before a value is stored."""
    assert render.unsafe(value) == reason


@pytest.mark.parametrize(
    "value", ["+6581234567", "+6591234**", "https://example.com/a", "DBSBANK", "example.com"]
)
def test_canonical_values_are_safe(value):
    """Every kind's canonical form passes."""
    assert render.unsafe(value) is None
