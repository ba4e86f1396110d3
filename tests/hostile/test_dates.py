"""Dates a node cannot store or compute with are refused wherever they enter, naming the field.

Each test runs every extreme value in turn on one database: on PostgreSQL a fresh database per
case would cost more than the cases.
"""

from __future__ import annotations

from datetime import timedelta

from scamshare.clock import utcnow
from tests.hostile.conftest import EXTREME_DAYS, EXTREME_MOMENTS, refused, report, stored


def test_a_report_observed_outside_2000_to_2100_is_refused_and_the_node_still_lists(
    app, client, keys
):
    """The report that once broke an indicator for good on PostgreSQL is a 422 now."""
    operator = keys["operator"].headers
    assert client.post("/api/v1/reports", json=report(), headers=operator).status_code == 200
    before = stored(app)
    for moment in EXTREME_MOMENTS:
        single = client.post("/api/v1/reports", json=report(observed_at=moment), headers=operator)
        refused(single, 422, "observed_at", "out_of_range")
        batch = client.post(
            "/api/v1/reports?atomic=true",
            json={"reports": [report(), report(observed_at=moment)]},
            headers=operator,
        )
        assert batch.status_code == 422, moment
        assert [(e["index"], e["field"]) for e in batch.json["errors"]] == [(1, "observed_at")]
    assert stored(app) == before
    for path in ("/api/v1/indicators", "/api/v1/lookup?value=%2B6581234567"):
        assert client.get(path, headers=operator).status_code == 200


def test_a_disconnection_day_outside_2000_to_2100_is_refused(app, client, keys):
    """Single notices and batches name the day's field."""
    before = stored(app)
    for day in EXTREME_DAYS:
        for body, field in (
            ({"number": "8123 4567", "disconnected_on": day}, "disconnected_on"),
            (
                {"disconnections": [{"number": "8123 4567", "disconnected_on": day}]},
                "disconnections.0.disconnected_on",
            ),
        ):
            response = client.post(
                "/api/v1/disconnections", json=body, headers=keys["operator"].headers
            )
            refused(response, 422, field, "out_of_range")
    assert stored(app) == before


def test_stats_periods_and_audit_filters_outside_2000_to_2100_are_refused(client, keys):
    """Both ends of a statistics period and of the audit log's time filter are bounded."""
    regulator = keys["regulator"].headers
    for path, names, values in (
        ("/api/v1/stats", ("from", "to"), EXTREME_DAYS),
        ("/api/v1/audit", ("since", "until"), EXTREME_MOMENTS),
    ):
        for name in names:
            for value in values:
                response = client.get(path, query_string={name: value}, headers=regulator)
                refused(response, 422, name, "out_of_range")


def test_a_peer_batch_dated_outside_2000_to_2100_is_refused(app, client, peer):
    """A batch carrying such a date is refused whole, naming the contribution's field."""
    before = stored(app)
    for moment in EXTREME_MOMENTS:
        for name in ("first_reported", "last_reported", "expires_at"):
            batch = peer.batch(peer.contribution(**{name: moment}))
            refused(peer.send(client, batch), 422, f"contributions.0.{name}", "out_of_range")
        refused(peer.send(client, peer.batch(created_at=moment)), 422, "created_at")
    assert stored(app) == before


def test_a_peer_contribution_reported_in_the_future_is_refused(app, client, peer):
    """A peer may be ahead of this node's clock by the allowed skew, never by a day."""
    ahead, within = utcnow() + timedelta(days=1), utcnow() + timedelta(minutes=2)
    before = stored(app)
    for name in ("first_reported", "last_reported"):
        response = peer.send(client, peer.batch(peer.contribution(**{name: ahead.isoformat()})))
        refused(response, 422, f"contributions.0.{name}", "in_future")
    assert stored(app) == before
    for name in ("first_reported", "last_reported"):
        batch = peer.batch(peer.contribution(**{name: within.isoformat()}))
        assert peer.send(client, batch).status_code == 200


def test_a_cursor_beyond_bigint_is_refused(client, keys):
    """Cursors are sequence values and ids: what a BIGINT holds, or a 422."""
    for path, name, value in (
        ("/api/v1/blocklist", "since", 2**63),
        ("/api/v1/indicators", "before", 10**30),
        ("/api/v1/audit", "before", 2**64),
        ("/api/v1/appeals", "before", 2**63),
        ("/api/v1/protected", "after", 10**30),
    ):
        response = client.get(path, query_string={name: value}, headers=keys["regulator"].headers)
        refused(response, 422, name)
