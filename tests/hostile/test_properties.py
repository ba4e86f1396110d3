"""Generated hostile report bodies and peer batches: never a 5xx, and what is accepted reads back.

Fixed seed (derandomize) and a bounded number of examples, so that a run is repeatable and fast;
each example goes through the HTTP API like a real caller's request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from scamshare.db import transaction
from scamshare.models import Contribution
from schemas.federation import REMOVAL_REASONS, RISKS, STATUSES
from schemas.reports import CATEGORIES, CHANNELS

HOSTILE = settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HOSTILE_TEXT = [
    "\x00",
    "a\ud800b",
    "\udfff",
    "<script>alert(1)</script>",
    "x" * 3000,
    "",
    " ",
    "%00",
    "\u2028",
    "١٢٣٤٥٦٧٨",
    "'; DROP TABLE reports; --",
]
EXTREME_MOMENTS = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-13-45", "now"]
OFFSETS = [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))]

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
texts = st.text(max_size=30) | st.sampled_from(HOSTILE_TEXT)
moments = (
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
    )
    | st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(OFFSETS),
    )
).map(datetime.isoformat) | st.sampled_from(EXTREME_MOMENTS)


recent = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2026, 1, 1),
    timezones=st.sampled_from(OFFSETS),
).map(datetime.isoformat)
hostile_values = junk | texts | moments


def corrupted(valid: dict, optional: dict):
    """A plausible object with none, one or two of its fields made hostile (or added)."""
    names = sorted(valid) + sorted(optional) + ["colour"]
    return st.tuples(
        st.fixed_dictionaries(valid, optional=optional),
        st.dictionaries(st.sampled_from(names), hostile_values, max_size=2),
    ).map(lambda pair: pair[0] | pair[1])


reports = corrupted(
    {
        "kind": st.just("phone"),
        "value": st.sampled_from(["+6581234567", "8123 4568", "+60123456789", "+6591234567"]),
        "category": st.sampled_from(CATEGORIES),
        "channel": st.sampled_from(CHANNELS),
        "observed_at": recent,
        "evidence_ref": st.text(min_size=1, max_size=20),
    },
    {
        "note": st.text(max_size=20),
        "region": st.sampled_from(["SG", "MY"]),
        "spoofed_caller_id": st.booleans(),
    },
)
bodies = reports | st.fixed_dictionaries({"reports": st.lists(reports, min_size=1, max_size=4)})


@HOSTILE
@given(body=bodies)
def test_generated_report_bodies_never_fail_and_accepted_reports_read_back(client, keys, body):
    """Each body is accepted or refused with a 4xx; each accepted report's indicator reads back."""
    operator = keys["operator"].headers
    response = client.post("/api/v1/reports", json=body, headers=operator)
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    if response.status_code == 200:
        for accepted in response.json["reports"]:
            indicator = accepted["indicator"]
            detail = client.get(f"/api/v1/indicators/{indicator['id']}", headers=operator)
            assert detail.status_code == 200, detail.json
            assert (detail.json["kind"], detail.json["value"]) == (
                indicator["kind"],
                indicator["value"],
            )
    else:
        assert response.status_code in (403, 422), response.json
        assert response.json["errors"], response.json
    assert client.get("/api/v1/indicators", headers=operator).status_code == 200


def contributions(node_id: str, country: str):
    """Contributions of the peer's origin with none, one or two fields hostile."""
    return corrupted(
        {
            "kind": st.just("phone"),
            "value": st.sampled_from(["+60123456789", "+60198765432", "+60312345678"]),
            "status": st.sampled_from(STATUSES),
            "removal_reason": st.none() | st.sampled_from(REMOVAL_REASONS),
            "risk": st.sampled_from(RISKS),
            "categories": st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True),
            "report_count": st.integers(0, 1000),
            "org_count": st.integers(0, 100),
            "first_reported": recent,
            "last_reported": recent,
            "expires_at": st.none() | recent,
            "origin_node": st.just(node_id),
            "origin_country": st.just(country),
            "origin_version": st.integers(1, 10**6),
        },
        {},
    )


@HOSTILE
@given(data=st.data())
def test_generated_peer_batches_never_fail_and_applied_contributions_are_held(
    app, client, keys, peer, data
):
    """Signed batches with hostile fields get a 4xx or apply; what applies is held as sent."""
    items = data.draw(st.lists(contributions(peer.node_id, peer.country), min_size=1, max_size=3))
    response = peer.send(client, peer.batch(*items))
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    if response.status_code != 200:
        assert response.status_code == 422 and response.json["errors"], response.json
        return
    refused = {entry["index"] for entry in response.json["rejected"]}
    with transaction(app) as session:
        for index, item in enumerate(items):
            if index in refused:
                continue
            held = session.scalars(
                select(Contribution).where(
                    Contribution.origin_node == peer.node_id,
                    Contribution.kind == item["kind"],
                    Contribution.value == item["value"],
                )
            ).one()
            assert held.origin_version >= item["origin_version"]
    lookup = client.get("/api/v1/lookup?value=%2B60123456789", headers=keys["operator"].headers)
    assert lookup.status_code == 200
