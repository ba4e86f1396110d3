"""Reading indicators through the API: filters, keyset pages, history and who may see reporters."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_credential
from tests.reporting import report
from tests.reporting import submit_batch as submit


def listing(client, credential, **query) -> dict:
    """Return one page of the indicator list."""
    response = client.get("/api/v1/indicators", query_string=query, headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


def values(page: dict) -> list[str]:
    """The values on a page, in order."""
    return [item["value"] for item in page["items"]]


def detail(client, credential, indicator_id) -> dict:
    """Return one indicator as a credential sees it."""
    response = client.get(f"/api/v1/indicators/{indicator_id}", headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


@pytest.fixture
def reporters(app):
    """Three operators of this node and one of Malaysia's."""
    return {
        "singtel": make_credential(app, "operator", "Singtel"),
        "starhub": make_credential(app, "operator", "StarHub"),
        "m1": make_credential(app, "operator", "M1"),
        "maxis": make_credential(app, "operator", "Maxis", country="MY"),
    }


def test_the_list_filters_by_kind_status_category_risk_and_country(client, keys, reporters):
    """Each filter narrows the list to the indicators that match it, newest first."""
    for name in ("singtel", "starhub", "m1"):
        submit(client, reporters[name], report("+65 8123 4567"))
    submit(client, reporters["singtel"], report("+65 9876 5432", category="loan"))
    submit(client, reporters["maxis"], report("https://bad.example.com/pay", kind="url"))
    submit(client, reporters["maxis"], report("+60 12-345 6789", category="job"))
    reader = keys["law_enforcement"]

    everything = listing(client, reader)
    assert values(everything) == [
        "+60123456789",
        "bad.example.com/pay",
        "+6598765432",
        "+6581234567",
    ]
    assert everything["next"] is None
    assert values(listing(client, reader, kind="url")) == ["bad.example.com/pay"]
    assert values(listing(client, reader, status="listed")) == ["+6581234567"]
    assert values(listing(client, reader, status="reported", kind="phone")) == [
        "+60123456789",
        "+6598765432",
    ]
    assert values(listing(client, reader, category="loan")) == ["+6598765432"]
    assert values(listing(client, reader, category="romance")) == []
    listed = listing(client, reader, status="listed")["items"][0]
    assert values(listing(client, reader, risk=listed["risk"])) == ["+6581234567"]
    assert values(listing(client, reader, country="MY")) == [
        "+60123456789",
        "bad.example.com/pay",
    ]
    assert listed["report_count"] == 3 and listed["org_count"] == 3
    assert listed["category_counts"] == {"investment": 3}


def test_keyset_pages_walk_every_indicator_once(client, keys, reporters):
    """Pages follow the `next` cursor, newest first, with no gaps or repeats."""
    numbers = [f"+65 8123 45{n:02d}" for n in range(7)]
    submit(client, reporters["singtel"], *(report(number) for number in numbers))
    seen, cursor = [], None
    while True:
        query = {"limit": 3, "kind": "phone"}
        if cursor:
            query["before"] = cursor
        page = listing(client, keys["operator"], **query)
        seen.extend(values(page))
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [number.replace(" ", "") for number in reversed(numbers)]


def test_the_detail_shows_the_history_of_state_changes(client, keys, reporters):
    """Listing and a later risk change are in the history, in sequence order."""
    for name in ("singtel", "starhub", "m1"):
        body = submit(client, reporters[name], report("+65 8123 4567"))
    indicator_id = body["reports"][0]["indicator"]["id"]
    submit(client, keys["regulator"], report("+65 8123 4567", verified=True))

    shown = detail(client, keys["regulator"], indicator_id)
    assert shown["value"] == "+6581234567"
    assert shown["status"] == "listed"
    assert shown["report_count"] == 4
    assert shown["facts"]["number_type"] == "mobile"
    history = shown["history"]
    assert (history[0]["from_status"], history[0]["to_status"]) == ("reported", "listed")
    assert history[0]["organisation"] == "M1"
    sequences = [event["sequence"] for event in history]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    assert history[-1]["risk"] == shown["risk"]
    assert shown["sequence"] == sequences[-1]


def test_reporters_are_shown_in_full_to_regulators_and_only_their_own_to_others(
    client, keys, reporters
):
    """A regulator sees every reporter and count; an operator only itself; others nothing."""
    submit(client, reporters["singtel"], report("+65 8123 4567"), report("+65 8123 4567"))
    submit(client, reporters["starhub"], report("+65 8123 4567"))
    body = submit(client, reporters["m1"], report("+65 8123 4567"))
    indicator_id = body["reports"][0]["indicator"]["id"]

    as_regulator = detail(client, keys["regulator"], indicator_id)
    counts = {r["organisation"]: r["report_count"] for r in as_regulator["reporters"]}
    assert counts == {"Singtel": 2, "StarHub": 1, "M1": 1}
    assert as_regulator["history"][0]["organisation"] == "M1"

    as_singtel = detail(client, reporters["singtel"], indicator_id)
    assert [(r["organisation"], r["report_count"]) for r in as_singtel["reporters"]] == [
        ("Singtel", 2)
    ]
    # The listing was caused by M1's report: Singtel must not learn that.
    assert as_singtel["history"][0]["organisation"] is None
    as_m1 = detail(client, reporters["m1"], indicator_id)
    assert as_m1["history"][0]["organisation"] == "M1"

    as_police = detail(client, keys["law_enforcement"], indicator_id)
    assert as_police["reporters"] == []
    text = json.dumps(as_police) + json.dumps(listing(client, keys["law_enforcement"]))
    for name in ("Singtel", "StarHub", "M1"):
        assert name not in text


def test_unknown_or_malformed_indicator_ids_are_404(client, keys):
    """Ids that are not an indicator of this node get a problem, never a server error."""
    for raw in ("12345", "abc", "-1", "1.5", "9" * 30, "１２"):
        response = client.get(f"/api/v1/indicators/{raw}", headers=keys["operator"].headers)
        assert response.status_code == 404, raw
        assert response.json["code"] == "not_found"


def test_invalid_filters_are_422_with_the_field(client, keys):
    """A filter outside its allowed values names the query field."""
    response = client.get(
        "/api/v1/indicators",
        query_string={"category": "weather", "limit": 0},
        headers=keys["operator"].headers,
    )
    assert response.status_code == 422
    fields = {(e["field"], e["location"]) for e in response.json["errors"]}
    assert fields == {("category", "query"), ("limit", "query")}


@pytest.mark.parametrize("role", ["admin", "peer_node"])
def test_roles_without_read_permission_are_refused(client, keys, role):
    """Admins and peer nodes do not read this node's indicators through this endpoint."""
    response = client.get("/api/v1/indicators", headers=keys[role].headers)
    assert response.status_code == 403
    assert "indicators.read" in response.json["detail"]
