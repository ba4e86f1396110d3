"""Downloading the blocklist: formats, filters, cursors and deltas, caching, gzip and audit.

Longer than most test modules: every format, filter and cursor rule of one endpoint.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
from datetime import timedelta

import pytest

from scamshare import db
from scamshare.clock import utcnow
from scamshare.services.audit import Actor
from scamshare.services.expiry import expire_due
from tests import reporting
from tests.conftest import make_credential

report = functools.partial(reporting.report, channel="sms")

COLUMNS = "kind,value,status,risk,categories,origins,first_reported,last_reported,expires_at"


def list_values(client, credential, *reports) -> None:
    """List values at once: verified reports from a regulator or law enforcement."""
    body = {"reports": [{**r, "verified": True} for r in reports]}
    response = client.post("/api/v1/reports", json=body, headers=credential.headers)
    assert response.status_code == 200 and response.json["accepted"] == len(reports)


def fetch(client, url: str, headers: dict, **query):
    """GET a download, read it to the end (as a client does) and close it."""
    response = client.get(url, query_string=query, headers=headers)
    response.get_data()
    response.close()
    return response


def download(client, credential, **query):
    """GET the blocklist and return the response, read to the end."""
    return fetch(client, "/api/v1/blocklist", credential.headers, **query)


def rows(response) -> list[dict]:
    """The CSV rows of a download."""
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def listed(client, keys):
    """Three listed values of three kinds, plus one that is only reported."""
    list_values(
        client,
        keys["regulator"],
        report("+65 8123 4567"),
        report("+60 12-345 6789", category="loan"),
        report("http://pay-now.example.com/x,y", kind="url", category="parcel_delivery"),
    )
    client.post("/api/v1/reports", json=report("+65 9123 4567"), headers=keys["operator"].headers)
    return keys


def test_full_list_in_csv_holds_exactly_the_exported_indicators(client, listed):
    """CSV has the documented columns, a quoted value with a comma, and no unlisted value."""
    response = download(client, listed["operator"], format="csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).splitlines()[0] == COLUMNS
    assert '"pay-now.example.com/x,y"' in response.get_data(as_text=True)
    found = {row["value"]: row for row in rows(response)}
    assert set(found) == {"+6581234567", "+60123456789", "pay-now.example.com/x,y"}
    phone = found["+6581234567"]
    assert (phone["kind"], phone["status"], phone["risk"]) == ("phone", "listed", "high")
    assert phone["categories"] == "investment" and phone["origins"] == "SG:block"
    assert phone["first_reported"].endswith("Z") and phone["expires_at"] > phone["last_reported"]


def test_categories_follow_later_reports_in_full_lists_and_deltas(client, listed):
    """A listed value reported again under other categories shows every name, sorted."""
    operator = listed["operator"]
    cursor = download(client, operator, format="csv").headers["X-ScamShare-Cursor"]
    list_values(client, listed["regulator"], report("+65 8123 4567", category="parcel_delivery"))
    list_values(client, listed["regulator"], report("+65 8123 4567", category="bank_impersonation"))
    expected = "bank_impersonation;investment;parcel_delivery"

    full = {row["value"]: row for row in rows(download(client, operator, format="csv"))}
    assert full["+6581234567"]["categories"] == expected
    assert full["+60123456789"]["categories"] == "loan"
    delta = rows(download(client, operator, format="csv", since=cursor))
    assert [(row["value"], row["categories"]) for row in delta] == [("+6581234567", expected)]
    items = json.loads(download(client, operator, format="json").data)["items"]
    found = {item["value"]: item for item in items}
    assert found["+6581234567"]["categories"] == expected.split(";")


def test_csv_lines_hold_the_same_fields_as_json_items(client, listed):
    """Every CSV field of a listing equals its JSON item's, including the quoted URL."""
    csv_rows = rows(download(client, listed["operator"], format="csv"))
    items = json.loads(download(client, listed["operator"], format="json").data)["items"]
    assert len(csv_rows) == len(items) == 3
    by_value = {item["value"]: item for item in items}
    for row in csv_rows:
        item = by_value[row["value"]]
        origins = ";".join(f"{o['country']}:{o['policy']}" for o in item["origins"])
        assert row == {
            **{name: item[name] for name in ("kind", "value", "status", "risk")},
            "categories": ";".join(item["categories"]),
            "origins": origins,
            **{name: item[name] or "" for name in COLUMNS.split(",")[6:]},
        }


def test_every_format_carries_the_cursor_and_the_same_values(client, listed):
    """json, ndjson and txt hold the same values; the cursor is in a header (and json's body)."""
    csv_response = download(client, listed["operator"], format="csv")
    cursor = csv_response.headers["X-ScamShare-Cursor"]
    expected = {row["value"] for row in rows(csv_response)}

    as_json = download(client, listed["operator"], format="json")
    body = json.loads(as_json.data)
    assert as_json.mimetype == "application/json"
    assert str(body["cursor"]) == cursor == as_json.headers["X-ScamShare-Cursor"]
    assert {item["value"] for item in body["items"]} == expected
    assert body["items"][0]["origins"] == [{"country": "SG", "policy": "block"}]

    as_ndjson = download(client, listed["operator"], format="ndjson")
    assert as_ndjson.mimetype == "application/x-ndjson"
    lines = as_ndjson.get_data(as_text=True).splitlines()
    assert {json.loads(line)["value"] for line in lines} == expected

    txt_values = set()
    for kind in ("phone", "url"):  # a txt list holds one kind
        as_txt = download(client, listed["operator"], format="txt", kind=kind)
        assert as_txt.mimetype == "text/plain"
        assert as_txt.headers["X-ScamShare-Cursor"] == cursor
        txt_values |= set(as_txt.get_data(as_text=True).splitlines())
    assert txt_values == expected


@pytest.mark.parametrize(
    ("query", "reason"), [({}, "required"), ({"kind": "phone,url"}, "one_kind_required")]
)
def test_a_txt_list_without_exactly_one_kind_is_422_naming_kind(client, listed, query, reason):
    """A firewall list mixing numbers and links is refused, naming the field and the reason."""
    response = download(client, listed["operator"], format="txt", **query)
    assert response.status_code == 422
    [error] = response.json["errors"]
    assert (error["field"], error["reason"], error["location"]) == ("kind", reason, "query")


def test_a_txt_list_by_the_accept_header_needs_one_kind_too(client, listed):
    """Accept: text/plain is a txt download, with the same rule."""
    headers = {**listed["operator"].headers, "Accept": "text/plain"}
    refused = fetch(client, "/api/v1/blocklist", headers)
    assert refused.status_code == 422
    assert refused.json["errors"][0]["field"] == "kind"
    served = fetch(client, "/api/v1/blocklist", headers, kind="phone")
    assert served.status_code == 200 and served.mimetype == "text/plain"
    assert set(served.get_data(as_text=True).splitlines()) == {"+6581234567", "+60123456789"}


def test_the_accept_header_chooses_the_format_when_no_format_is_given(client, listed):
    """Accept: application/x-ndjson gives NDJSON; no preference gives CSV."""
    headers = {**listed["operator"].headers, "Accept": "application/x-ndjson"}
    assert fetch(client, "/api/v1/blocklist", headers).mimetype == "application/x-ndjson"
    assert download(client, listed["operator"]).mimetype == "text/csv"


def test_delta_holds_each_change_after_the_cursor_with_removal_reasons(app, client, listed):
    """Listings are upserts; expiry, delisting, disconnection and protection are removes."""
    regulator, operator = listed["regulator"], listed["operator"]
    cursor = download(client, operator, format="csv").headers["X-ScamShare-Cursor"]
    list_values(
        client,
        regulator,
        report("+65 8765 4321"),
        report("+65 8111 2222"),
        report("+65 8333 4444", days_ago=20),
        report("OLDBANK", kind="sender_id", days_ago=60),
    )
    appeal = client.post(
        "/api/v1/appeals",
        json={"value": "+65 8111 2222", "reason": "new holder", "contact_ref": "c-1"},
        headers=operator.headers,
    )
    assert appeal.status_code == 201
    resolved = client.post(
        f"/api/v1/appeals/{appeal.json['id']}/resolve",
        json={"outcome": "delisted"},
        headers=regulator.headers,
    )
    assert resolved.status_code == 200
    disconnected = client.post(
        "/api/v1/disconnections",
        json={"number": "+65 8333 4444", "disconnected_on": utcnow().date().isoformat()},
        headers=operator.headers,
    )
    assert disconnected.status_code == 200, disconnected.json
    protected = client.post(
        "/api/v1/protected",
        json={
            "kind": "phone",
            "value": "+60 12-345 6789",
            "label": "hotline",
            "category": "bank_hotline",
        },
        headers=regulator.headers,
    )
    assert protected.status_code == 201, protected.json
    with db.transaction(app) as session:
        expire_due(
            session, app.extensions["scamshare.policy"], utcnow() + timedelta(days=15), Actor()
        )

    delta = download(client, operator, format="csv", since=cursor)
    assert delta.status_code == 200
    assert delta.get_data(as_text=True).splitlines()[0] == COLUMNS + ",action,reason"
    changes = {row["value"]: (row["action"], row["reason"]) for row in rows(delta)}
    assert changes == {
        "+6587654321": ("upsert", ""),
        "+6581112222": ("remove", "delisted"),
        "+6583334444": ("remove", "disconnected"),
        "+60123456789": ("remove", "protected"),
        "pay-now.example.com/x,y": ("remove", "expired"),
        "OLDBANK": ("upsert", ""),
    }
    assert int(delta.headers["X-ScamShare-Cursor"]) > int(cursor)
    again = download(client, operator, format="json", since=delta.headers["X-ScamShare-Cursor"])
    assert json.loads(again.data)["items"] == []


def test_txt_delta_marks_additions_and_removals(client, listed):
    """A txt delta is diff-like: +value to add, -value to remove."""
    cursor = download(client, listed["operator"], format="txt", kind="phone").headers[
        "X-ScamShare-Cursor"
    ]
    list_values(client, listed["regulator"], report("+65 8765 4321"))
    client.post(
        "/api/v1/protected",
        json={
            "kind": "phone",
            "value": "+65 8123 4567",
            "label": "hotline",
            "category": "bank_hotline",
        },
        headers=listed["regulator"].headers,
    )
    delta = download(client, listed["operator"], format="txt", kind="phone", since=cursor)
    assert delta.get_data(as_text=True).splitlines() == ["++6587654321", "-+6581234567"]


def test_filters_narrow_the_list(client, listed):
    """Kind, calling code, region, origin, risk, category and status each narrow the list."""
    operator = listed["operator"]

    def values(**query) -> set[str]:
        """The values of a filtered CSV download."""
        response = download(client, operator, format="csv", **query)
        assert response.status_code == 200, response.json
        return {row["value"] for row in rows(response)}

    everything = {"+6581234567", "+60123456789", "pay-now.example.com/x,y"}
    assert values() == everything
    assert values(kind="url") == {"pay-now.example.com/x,y"}
    assert values(kind="phone,url") == everything
    assert values(kind="phone", calling_code="60") == {"+60123456789"}
    assert values(calling_code="65") == {"+6581234567", "pay-now.example.com/x,y"}
    assert values(kind="phone", region="sg") == {"+6581234567"}
    assert values(origin="SG") == everything
    assert values(origin="MY") == set()
    assert values(category="loan,parcel_delivery") == {
        "+60123456789",
        "pay-now.example.com/x,y",
    }
    assert values(min_risk="very_high") == set()
    assert values(min_risk="high") == everything
    assert values(status="disputed") == set()


def test_limit_gives_the_top_n_by_risk_then_recency(app, client, keys):
    """very_high before high; among equals, the most recently reported first."""
    list_values(
        client,
        keys["regulator"],
        report("+65 8100 0001", days_ago=5),
        report("+65 8100 0002", days_ago=1),
        report("+65 8100 0003", days_ago=3),
    )
    # A second country's report makes the oldest one very_high.
    malaysian = make_credential(app, "law_enforcement", name="PDRM", country="MY")
    list_values(client, malaysian, report("+65 8100 0001", days_ago=5, region="SG"))
    response = download(client, keys["operator"], format="csv", limit=2)
    assert [row["value"] for row in rows(response)] == ["+6581000001", "+6581000002"]
    assert [row["risk"] for row in rows(response)] == ["very_high", "high"]


def test_a_filtered_delta_removes_what_left_the_filter(client, listed):
    """A listing that becomes disputed leaves a status=listed list as a remove, reason filtered."""
    operator = listed["operator"]
    cursor = download(client, operator, status="listed").headers["X-ScamShare-Cursor"]
    client.post(
        "/api/v1/appeals",
        json={"value": "+65 8123 4567", "reason": "not mine", "contact_ref": "c-2"},
        headers=operator.headers,
    )
    delta = rows(download(client, operator, status="listed", since=cursor))
    assert [(r["value"], r["status"], r["action"], r["reason"]) for r in delta] == [
        ("+6581234567", "disputed", "remove", "filtered")
    ]
    unfiltered = rows(download(client, operator, since=cursor))
    assert [(r["value"], r["action"]) for r in unfiltered] == [("+6581234567", "upsert")]


def test_full_lists_have_an_etag_and_answer_304_until_something_changes(client, listed):
    """Same cursor, filters and format: same bytes, same ETag; If-None-Match gets 304."""
    operator = listed["operator"]
    first = download(client, operator, format="csv", kind="phone")
    second = download(client, operator, format="csv", kind="phone")
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    other = download(client, operator, format="csv")
    assert other.headers["ETag"] != first.headers["ETag"]
    headers = {**operator.headers, "If-None-Match": first.headers["ETag"]}
    cached = fetch(client, "/api/v1/blocklist", headers, format="csv", kind="phone")
    assert cached.status_code == 304 and cached.data == b""
    assert cached.headers["X-ScamShare-Cursor"] == first.headers["X-ScamShare-Cursor"]
    list_values(client, listed["regulator"], report("+65 8765 4321"))
    changed = fetch(client, "/api/v1/blocklist", headers, format="csv", kind="phone")
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    delta = download(client, operator, since=first.headers["X-ScamShare-Cursor"])
    assert "ETag" not in delta.headers


def test_gzip_is_used_when_the_client_accepts_it(client, listed):
    """Accept-Encoding: gzip gives the same file compressed, with its own ETag."""
    plain = download(client, listed["operator"], format="ndjson")
    headers = {**listed["operator"].headers, "Accept-Encoding": "gzip, deflate"}
    packed = fetch(client, "/api/v1/blocklist", headers, format="ndjson")
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert "Content-Encoding" not in plain.headers


def test_file_name_names_the_node_country_and_cursors(client, listed):
    """Content-Disposition: scamshare-sg-blocklist-<cursor>.csv, or delta-<since>-<cursor>."""
    full = download(client, listed["operator"], format="csv")
    cursor = full.headers["X-ScamShare-Cursor"]
    assert full.headers["Content-Disposition"] == (
        f'attachment; filename="scamshare-sg-blocklist-{cursor}.csv"'
    )
    delta = download(client, listed["operator"], format="json", since=1)
    assert delta.headers["Content-Disposition"] == (
        f'attachment; filename="scamshare-sg-delta-1-{cursor}.json"'
    )


def test_each_download_is_audited_with_format_filters_and_cursor(client, listed):
    """The audit log names the organisation, format, filters and cursors of each download."""
    response = download(client, listed["operator"], format="txt", kind="phone", since=1)
    entries = client.get(
        "/api/v1/audit?action=blocklist.download", headers=listed["regulator"].headers
    ).json["items"]
    assert len(entries) == 1
    assert entries[0]["organisation"] == listed["operator"].name
    assert entries[0]["details"] == {
        "format": "txt",
        "filters": {"kinds": ["phone"], "block_only": True},
        "since": 1,
        "cursor": int(response.headers["X-ScamShare-Cursor"]),
        "not_modified": False,
        "gzip": False,
    }


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({"since": 10_000}, "since", "cursor_ahead"),
        ({"since": 0, "limit": 5}, "limit", "limit_with_since"),
        ({"region": "XX"}, "region", "unknown_region"),
        ({"calling_code": "999"}, "calling_code", "unknown_code"),
        ({"format": "xml"}, "format", "not_allowed"),
        ({"status": "expired"}, "status.0", "not_allowed"),
    ],
)
def test_downloads_that_cannot_be_served_are_422_naming_the_field(
    client, keys, query, field, reason
):
    """Bad cursors, impossible combinations and unknown values are refused, never a 500."""
    response = download(client, keys["operator"], **query)
    assert response.status_code == 422
    assert (response.json["errors"][0]["field"], response.json["errors"][0]["reason"]) == (
        field,
        reason,
    )


@pytest.mark.parametrize("role", ["peer_node", "admin"])
def test_roles_without_download_permission_are_refused(client, keys, role):
    """Only regulators, law enforcement and operators download."""
    assert download(client, keys[role]).status_code == 403
