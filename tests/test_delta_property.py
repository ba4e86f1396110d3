"""Property: replaying every delta after a cursor on the snapshot taken at it gives the current one.

Random sequences of reports (several organisations, verified or not, observed at various times),
expiries, appeals and their resolutions, disconnections and protections run through the API and
the services; snapshots and deltas are taken at random points, in a random format and filter.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scamshare import db
from scamshare.clock import utcnow
from scamshare.services.audit import Actor
from scamshare.services.expiry import expire_due
from tests.conftest import make_credential

PHONE_COUNT = 3
VALUE_COUNT = PHONE_COUNT + 2
_examples = itertools.count()


def values_of(example: int) -> list[tuple[str, str]]:
    """Fresh values for each example, so that protections and cool-downs do not pile up."""
    number = example % 1000
    phones = [("phone", f"+6581{number:03d}{index:03d}") for index in range(PHONE_COUNT)]
    return [
        *phones,
        ("url", f"http://parcel-fee-{number}.example.com/pay"),
        ("sender_id", f"PARCEL{number}"),
    ]


CATEGORIES = ["investment", "parcel_delivery", "loan"]
FILTERS = [
    {},
    {"kind": "phone"},
    {"status": "listed"},
    {"min_risk": "very_high"},
    {"category": "loan"},
    {"kind": "phone,url", "calling_code": "65", "origin": "SG"},
]

reports = st.tuples(
    st.just("report"),
    st.sampled_from([0, 1, 2, 3]),  # 0 the regulator, 1-3 operators (3 in Malaysia)
    st.integers(0, VALUE_COUNT - 1),
    st.booleans(),  # verified (the regulator only)
    st.integers(0, 100),  # days ago
    st.sampled_from(CATEGORIES),
)
listings = st.tuples(  # a verified, recent regulator report: lists (or relists) at once
    st.just("report"),
    st.just(0),
    st.integers(0, VALUE_COUNT - 1),
    st.just(True),
    st.integers(0, 5),
    st.sampled_from(CATEGORIES),
)
others = st.one_of(
    st.tuples(st.just("expire"), st.integers(0, 120)),
    st.tuples(st.just("appeal"), st.integers(0, PHONE_COUNT - 1)),
    st.tuples(st.just("appeal"), st.integers(0, PHONE_COUNT - 1)),
    st.tuples(st.just("resolve"), st.sampled_from(["upheld", "delisted"])),
    st.tuples(st.just("resolve"), st.sampled_from(["upheld", "delisted"])),
    st.tuples(st.just("disconnect"), st.integers(0, PHONE_COUNT - 1), st.integers(0, 30)),
    st.tuples(st.just("protect"), st.integers(0, PHONE_COUNT - 1)),
)
# A quarter each: listings, other reports, snapshots (so that deltas start from many cursors),
# and the operations that end or change listings.
operations = st.one_of(listings, reports, st.tuples(st.just("snapshot")), others)


def download(client, credential, fmt: str, filters: dict, since: int | None = None):
    """Download a list or a delta; return its cursor and its entries keyed by (kind, value)."""
    query = {"format": fmt, **filters}
    if since is not None:
        query["since"] = since
    response = client.get("/api/v1/blocklist", query_string=query, headers=credential.headers)
    text = response.get_data(as_text=True)
    response.close()
    assert response.status_code == 200, text
    if fmt == "csv":
        entries = list(csv.DictReader(io.StringIO(text)))
    elif fmt == "ndjson":
        entries = [json.loads(line) for line in text.splitlines()]
    else:
        body = json.loads(text)
        assert body["cursor"] == int(response.headers["X-ScamShare-Cursor"])
        entries = body["items"]
    keyed = {}
    for entry in entries:
        key = (entry["kind"], entry["value"])
        assert key not in keyed, f"{key} twice in one download"
        keyed[key] = entry
    return int(response.headers["X-ScamShare-Cursor"]), keyed


def replay(snapshot: dict, delta: dict) -> dict:
    """Apply a delta to a copy of a snapshot, as an operator's device would."""
    state = dict(snapshot)
    for key, entry in delta.items():
        fields = {name: value for name, value in entry.items() if name not in ("action", "reason")}
        if entry["action"] == "upsert":
            state[key] = fields
        else:
            assert entry["reason"], f"a remove without a reason: {entry}"
            state.pop(key, None)
    return state


class Node:
    """The API calls one random operation makes."""

    def __init__(self, app, client, keys, organisations, values):
        """Keep the app, its client, the credentials to act with and the example's values."""
        self.values = values
        self.app = app
        self.client = client
        self.keys = keys
        self.organisations = organisations

    def report(self, organisation: int, value: int, verified: bool, days_ago: int, category):
        """One report, by one of four organisations."""
        kind, text = self.values[value]
        body = {
            "kind": kind,
            "value": text,
            "category": category,
            "channel": "sms",
            "observed_at": (utcnow() - timedelta(days=days_ago)).isoformat(),
            "evidence_ref": "case",
            "verified": verified and organisation == 0,
        }
        credential = self.organisations[organisation]
        response = self.client.post("/api/v1/reports", json=body, headers=credential.headers)
        assert response.status_code == 200, response.json

    def expire(self, days_ahead: int):
        """Run the expiry job as if it were some days later."""
        with db.transaction(self.app) as session:
            policy = self.app.extensions["scamshare.policy"]
            expire_due(session, policy, utcnow() + timedelta(days=days_ahead), Actor())

    def appeal(self, phone: int):
        """File an appeal (refused unless the number is listed)."""
        body = {"value": self.values[phone][1], "reason": "holder", "contact_ref": "c"}
        response = self.client.post(
            "/api/v1/appeals", json=body, headers=self.keys["operator"].headers
        )
        assert response.status_code < 500

    def resolve(self, outcome: str):
        """Resolve the oldest open appeal, if there is one."""
        regulator = self.keys["regulator"].headers
        open_appeals = self.client.get("/api/v1/appeals?status=open", headers=regulator).json
        if open_appeals["items"]:
            appeal_id = open_appeals["items"][-1]["id"]
            response = self.client.post(
                f"/api/v1/appeals/{appeal_id}/resolve", json={"outcome": outcome}, headers=regulator
            )
            assert response.status_code == 200, response.json

    def disconnect(self, phone: int, days_ago: int):
        """Post a disconnection notice."""
        day = (utcnow() - timedelta(days=days_ago)).date().isoformat()
        body = {"number": self.values[phone][1], "disconnected_on": day}
        response = self.client.post(
            "/api/v1/disconnections", json=body, headers=self.keys["operator"].headers
        )
        assert response.status_code < 500

    def protect(self, phone: int):
        """Protect a number (refused when it already is)."""
        body = {
            "kind": "phone",
            "value": self.values[phone][1],
            "label": "hotline",
            "category": "bank_hotline",
        }
        response = self.client.post(
            "/api/v1/protected", json=body, headers=self.keys["regulator"].headers
        )
        assert response.status_code < 500


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(operations, min_size=4, max_size=16),
    fmt=st.sampled_from(["csv", "json", "ndjson"]),
    filters=st.sampled_from(FILTERS),
)
def test_replaying_deltas_on_any_snapshot_gives_the_current_snapshot(
    app, client, keys, steps, fmt, filters
):
    """For every snapshot taken along the way, snapshot + delta after its cursor == now."""
    if "test.organisations" not in app.extensions:  # examples share the test's database
        app.extensions["test.organisations"] = [
            keys["regulator"],
            keys["operator"],
            make_credential(app, "operator", name="Second operator"),
            make_credential(app, "operator", name="Malaysian operator", country="MY"),
        ]
    organisations = app.extensions["test.organisations"]
    node = Node(app, client, keys, organisations, values_of(next(_examples)))
    reader = keys["operator"]
    taken = [download(client, reader, fmt, filters)]
    replica = dict(taken[0][1])
    for step in steps:
        if step[0] == "snapshot":
            since = taken[-1][0]
            cursor, delta = download(client, reader, fmt, filters, since=since)
            replica = replay(replica, delta)
            taken.append(download(client, reader, fmt, filters))
            # Nothing changed in between: the delta ends where the snapshot stands, and a
            # device that only ever applied deltas holds exactly the snapshot.
            assert cursor == taken[-1][0]
            assert replica == taken[-1][1]
        else:
            getattr(node, step[0])(*step[1:])
    cursor, current = download(client, reader, fmt, filters)
    for since, snapshot in taken:
        delta_cursor, delta = download(client, reader, fmt, filters, since=since)
        assert delta_cursor == cursor
        assert replay(snapshot, delta) == current
