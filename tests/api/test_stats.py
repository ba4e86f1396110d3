"""Node statistics through the API: counts per UTC day, metric, kind and category, JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta

import pytest

from scamshare import db
from scamshare.api import reports as reports_api
from scamshare.clock import utcnow
from scamshare.indicators.lifecycle import Lifecycle
from scamshare.models import Appeal, Indicator
from scamshare.services.audit import NODE
from tests.conftest import make_credential

TODAY = utcnow().date()
DAY_1 = TODAY - timedelta(days=3)
DAY_2 = TODAY - timedelta(days=2)


def at(day, hour: int, minute: int = 0) -> datetime:
    """An aware UTC moment on a day."""
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def report(value: str, kind: str = "phone", category: str = "investment", **extra) -> dict:
    """A valid report observed a little before the moment it is sent."""
    return {
        "kind": kind,
        "value": value,
        "category": category,
        "channel": "sms",
        "observed_at": (at(DAY_1, 0) - timedelta(days=1)).isoformat(),
        "evidence_ref": "case-1",
        **extra,
    }


def submit_at(client, monkeypatch, moment: datetime, credential, *reports: dict) -> dict:
    """Submit reports through the API as if the node's clock read `moment`."""
    monkeypatch.setattr(reports_api, "utcnow", lambda: moment)
    response = client.post(
        "/api/v1/reports", json={"reports": list(reports)}, headers=credential.headers
    )
    assert response.status_code == 200, response.json
    return response.json


def change(app, indicator_id: int, status: str, moment: datetime) -> None:
    """Stamp an exported-state change as the appeal and expiry paths do."""
    with db.transaction(app) as session:
        indicator = session.get(Indicator, indicator_id)
        policy = app.extensions["scamshare.policy"]
        Lifecycle(session, policy, NODE, moment).set_status(indicator, status, None, "test")


def appeal(app, indicator_id: int, organisation_id: int, filed, resolved=None) -> None:
    """File an appeal (and resolve it) at given moments."""
    with db.transaction(app) as session:
        session.add(
            Appeal(
                indicator_id=indicator_id,
                organisation_id=organisation_id,
                reason="the number was reassigned",
                contact_ref="ticket-9",
                status="resolved" if resolved else "open",
                filed_at=filed,
                resolved_at=resolved,
            )
        )


def stats(client, credential, **query):
    """GET the statistics."""
    return client.get("/api/v1/stats", query_string=query, headers=credential.headers)


@pytest.fixture
def history(app, client, keys, monkeypatch):
    """Two days of activity: reports, a listing, an appeal round trip, an expiry, a delisting."""
    operators = [make_credential(app, "operator", f"Operator {n}") for n in range(3)]
    # Late on day 1 and just after midnight on day 2: grouping must follow the UTC day.
    for credential in operators:
        body = submit_at(
            client, monkeypatch, at(DAY_1, 23, 30), credential, report("+65 8123 4567")
        )
    listed_id = body["reports"][0]["indicator"]["id"]
    submit_at(
        client,
        monkeypatch,
        at(DAY_1, 23, 59),
        operators[0],
        report("+65 9876 5432", category="loan"),
        report("https://pay.example.com/x", kind="url", category="phishing_link"),
    )
    body = submit_at(
        client,
        monkeypatch,
        at(DAY_2, 0, 1),
        operators[1],
        report("+65 9876 5432", category="job"),
        report("+65 9876 5432", category="job"),
    )
    other_id = body["reports"][0]["indicator"]["id"]
    # An appeal filed and upheld: disputed and back to listed is not a new listing.
    change(app, listed_id, "disputed", at(DAY_2, 9))
    appeal(app, listed_id, operators[2].organisation_id, at(DAY_2, 9), at(DAY_2, 15))
    change(app, listed_id, "listed", at(DAY_2, 15))
    appeal(app, listed_id, operators[2].organisation_id, at(DAY_2, 16))
    change(app, listed_id, "delisted", at(DAY_2, 17))
    change(app, other_id, "listed", at(DAY_2, 10))
    change(app, other_id, "expired", at(DAY_2, 18))
    # Outside the period asked for below.
    submit_at(
        client,
        monkeypatch,
        at(DAY_2 + timedelta(days=1), 0, 0),
        operators[2],
        report("+65 8123 4599"),
    )
    return keys["regulator"]


EXPECTED = [
    (str(DAY_1), "reports_received", "phone", "investment", 3),
    (str(DAY_1), "reports_received", "phone", "loan", 1),
    (str(DAY_1), "reports_received", "url", "phishing_link", 1),
    (str(DAY_1), "indicators_listed", "phone", "investment", 1),
    (str(DAY_2), "reports_received", "phone", "job", 2),
    # The other number's main category is now "job" (2 reports against 1 for "loan").
    (str(DAY_2), "indicators_listed", "phone", "job", 1),
    (str(DAY_2), "indicators_expired", "phone", "job", 1),
    (str(DAY_2), "indicators_delisted", "phone", "investment", 1),
    (str(DAY_2), "appeals_opened", "phone", "investment", 2),
    (str(DAY_2), "appeals_resolved", "phone", "investment", 1),
]


def test_stats_count_each_metric_per_utc_day_kind_and_category(client, history):
    """Reports, listings, expiries, delistings and appeals are counted where they happened."""
    response = stats(client, history, **{"from": str(DAY_1), "to": str(DAY_2)})
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["from"], body["to"]) == (str(DAY_1), str(DAY_2))
    rows = [(r["day"], r["metric"], r["kind"], r["category"], r["count"]) for r in body["rows"]]
    assert rows == EXPECTED
    assert body["totals"] == {
        "reports_received": 7,
        "indicators_listed": 2,
        "indicators_expired": 1,
        "indicators_delisted": 1,
        "appeals_opened": 2,
        "appeals_resolved": 1,
    }


def test_stats_as_csv_have_one_row_per_day_metric_kind_and_category(client, history):
    """The CSV holds the same rows as the JSON, under a header, as a download."""
    response = stats(client, history, **{"from": str(DAY_1), "to": str(DAY_2), "format": "csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0] == ["day", "metric", "kind", "category", "count"]
    assert [(*row[:4], int(row[4])) for row in table[1:]] == EXPECTED


def test_stats_period_bounds_are_whole_utc_days(client, history):
    """One day asked for is that day alone; by default the last 30 days up to today."""
    one_day = stats(client, history, **{"from": str(DAY_1), "to": str(DAY_1)}).json
    assert {row["day"] for row in one_day["rows"]} == {str(DAY_1)}
    assert one_day["totals"]["reports_received"] == 5
    default = stats(client, history).json
    assert default["to"] == str(TODAY)
    assert default["from"] == str(TODAY - timedelta(days=29))
    assert default["totals"]["reports_received"] == 8


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"from": "2024-01-01", "to": "2025-12-31"}, "to"),
        ({"from": "1999-12-31"}, "from"),
        ({"to": "not-a-day"}, "to"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_periods_and_formats_are_422_naming_the_field(client, keys, query, field):
    """A period backwards, over a year, out of range or malformed is refused, never a 500."""
    response = stats(client, keys["admin"], **query)
    assert response.status_code == 422, response.json
    assert [e["field"] for e in response.json["errors"]] == [field]


@pytest.mark.parametrize("role", ["operator", "law_enforcement", "peer_node"])
def test_only_regulators_and_admins_read_stats(client, keys, role):
    """Statistics are for the node's regulator and administrators."""
    response = stats(client, keys[role])
    assert response.status_code == 403
    assert "stats.read" in response.json["detail"]
