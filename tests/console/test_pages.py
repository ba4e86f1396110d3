"""Console pages under the role matrix, and each page's action checked through the API."""

from __future__ import annotations

import re

import pytest

from scamshare.auth import ROLE_MATRIX
from scamshare.db import transaction
from scamshare.models import AuditEntry
from tests.conftest import make_credential
from tests.console.helpers import post, signed_in, unreachable_peer
from tests.reporting import report, submit

PAGES = {
    "/console/": "node.read",
    "/console/indicators": "indicators.read",
    "/console/review": "indicators.review",
    "/console/appeals": "appeals.read",
    "/console/protected": "protected.read",
    "/console/federation": "peers.read",
    "/console/stats": "stats.read",
    "/console/audit": "audit.read",
    "/console/organisations": "orgs.manage",
}
PEOPLE = ("regulator", "law_enforcement", "operator", "admin")


@pytest.mark.parametrize("role", PEOPLE)
def test_each_page_loads_for_the_roles_that_may_see_it_and_is_403_for_others(app, keys, role):
    """The API's role matrix decides every console page."""
    client = signed_in(app, role)
    indicator = submit(app.test_client(), keys["operator"], report())
    pages = {**PAGES, f"/console/indicators/{indicator['id']}": "indicators.read"}
    for path, permission in pages.items():
        answer = client.get(path)
        expected = 200 if role in ROLE_MATRIX[permission] else 403
        assert answer.status_code == expected, (role, path, answer.status_code)
        html = answer.get_data(as_text=True)
        if expected == 403:
            assert "403: not for your role" in html and permission in html
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_a_stranger_is_sent_to_sign_in(client):
    """Every page asks for a sign-in first, and says where it will go back to."""
    answer = client.get("/console/review")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/console/login?next=/console/review"


def test_search_finds_a_value_by_any_spelling(app, keys):
    """A search normalises the value as the API does: any spelling of a number finds it."""
    indicator = submit(app.test_client(), keys["operator"], report("+65 8123 4567"))
    client = signed_in(app, "law_enforcement")
    for spelling in ("8123 4567", "+65-8123-4567", "(+65) 81234567"):
        html = client.get("/console/indicators", query_string={"q": spelling}).get_data(True)
        assert f"/console/indicators/{indicator['id']}" in html.split("Indicators, newest")[0]
    miss = client.get("/console/indicators", query_string={"q": "+65 9999 0000"})
    assert "No indicator of that value" in miss.get_data(as_text=True)
    unreadable = client.get("/console/indicators", query_string={"q": "no digits", "kind": "phone"})
    assert unreadable.status_code == 422 and "q: " in unreadable.get_data(as_text=True)
    bad = client.get("/console/indicators", query_string={"status": "nonsense"})
    assert bad.status_code == 422 and "status" in bad.get_data(as_text=True)


def test_verify_and_list_lists_the_value_as_the_api_then_shows(app, keys, client):
    """Verify and list is a verified report of the regulator's organisation."""
    indicator = submit(client, keys["operator"], report("+65 8123 4567"))
    assert indicator["status"] == "reported"
    regulator = signed_in(app, "regulator")
    queue = regulator.get("/console/review").get_data(as_text=True)
    assert "+6581234567" in queue and "case-1" in queue
    answer = post(regulator, f"/console/review/{indicator['id']}/verify", {}, "/console/review")
    assert answer.status_code == 303
    shown = client.get(f"/api/v1/indicators/{indicator['id']}", headers=keys["regulator"].headers)
    assert shown.json["status"] == "listed" and shown.json["verified_count"] == 1
    after = regulator.get("/console/review").get_data(as_text=True)
    assert "Verified phone +6581234567: now listed." in after
    assert f'id="indicator-{indicator["id"]}"' not in after


def test_dismiss_delists_a_reported_value_and_is_audited(app, keys, client):
    """Dismiss delists what was reported; the lifecycle writes its history and audit entry."""
    indicator = submit(client, keys["operator"], report("+65 8123 4568"))
    regulator = signed_in(app, "regulator")
    answer = post(
        regulator,
        f"/console/review/{indicator['id']}/dismiss",
        {"note": "a bank's real number"},
        "/console/review",
    )
    assert answer.status_code == 303
    shown = client.get(f"/api/v1/indicators/{indicator['id']}", headers=keys["regulator"].headers)
    assert shown.json["status"] == "delisted"
    assert "dismissed on review: a bank's real number" in shown.json["history"][-1]["reason"]
    again = post(regulator, f"/console/review/{indicator['id']}/dismiss", {}, "/console/review")
    assert again.status_code == 409 and "Only a reported indicator" in again.get_data(True)


def test_an_operator_files_and_a_regulator_resolves_an_appeal(app, keys, client):
    """File (operator) and resolve (regulator) through the console, checked through the API."""
    indicator = submit(client, keys["regulator"], report("+65 8123 4569", verified=True))
    assert indicator["status"] == "listed"
    operator = signed_in(app, "operator")
    filed = post(
        operator,
        "/console/appeals",
        {"kind": "phone", "value": "8123 4569", "reason": "new holder", "contact_ref": "T-9"},
        "/console/appeals",
    )
    assert filed.status_code == 303
    appeals = client.get("/api/v1/appeals", headers=keys["regulator"].headers).json["items"]
    assert [(a["status"], a["contact_ref"]) for a in appeals] == [("open", "T-9")]
    assert "new holder" in operator.get("/console/appeals").get_data(as_text=True)
    regulator = signed_in(app, "regulator")
    resolved = post(
        regulator,
        f"/console/appeals/{appeals[0]['id']}/resolve",
        {"outcome": "delisted", "note": "checked"},
        "/console/appeals",
    )
    assert resolved.status_code == 303
    appeal = client.get("/api/v1/appeals", headers=keys["regulator"].headers).json["items"][0]
    assert appeal["status"] == "delisted" and appeal["resolution_note"] == "checked"


def test_a_bad_appeal_names_the_field_and_saves_nothing(app, keys, client):
    """A form missing a required field gets a 422 naming it."""
    operator = signed_in(app, "operator")
    answer = post(operator, "/console/appeals", {"kind": "phone", "value": "1"}, "/console/appeals")
    assert answer.status_code == 422
    assert "reason" in answer.get_data(as_text=True)
    assert client.get("/api/v1/appeals", headers=keys["operator"].headers).json["items"] == []


def test_a_regulator_adds_and_removes_a_protected_value(app, keys, client):
    """Add and remove a protected value, checked through the API."""
    regulator = signed_in(app, "regulator")
    added = post(
        regulator,
        "/console/protected",
        {
            "kind": "phone",
            "value": "6222 2222",
            "label": "Bank hotline",
            "category": "bank_hotline",
        },
        "/console/protected",
    )
    assert added.status_code == 303
    items = client.get("/api/v1/protected", headers=keys["regulator"].headers).json["items"]
    assert [(i["value"], i["label"]) for i in items] == [("+6562222222", "Bank hotline")]
    trail = client.get(
        "/api/v1/audit", query_string={"action": "protected.add"}, headers=keys["regulator"].headers
    ).json["items"]
    assert [(e["organisation"], e["outcome"]) for e in trail] == [("Console regulator SG", "ok")]
    assert trail[0]["key_id"].startswith("user:")
    removed = post(
        regulator, f"/console/protected/{items[0]['id']}/remove", {}, "/console/protected"
    )
    assert removed.status_code == 303
    assert client.get("/api/v1/protected", headers=keys["regulator"].headers).json["items"] == []


def test_a_refused_action_is_audited_as_its_api_twin(app):
    """An operator posting the protected form gets 403 and a denied protected.add entry."""
    operator = signed_in(app, "operator")
    answer = post(
        operator,
        "/console/protected",
        {"kind": "phone", "value": "6222 2222", "label": "x", "category": "bank_hotline"},
        "/console/",
    )
    assert answer.status_code == 403
    with transaction(app) as session:
        entry = session.query(AuditEntry).order_by(AuditEntry.id.desc()).first()
        assert (entry.action, entry.outcome) == ("protected.add", "denied")
        assert entry.key_id.startswith("user:")


def test_an_admin_creates_a_key_shown_once_and_revokes_it(app, client):
    """A new key works against the API, is never shown again, and revoking it ends it."""
    admin = signed_in(app, "admin")
    target = make_credential(app, "operator", name="Telco")
    created = post(
        admin,
        "/console/keys",
        {"organisation": str(target.organisation_id)},
        "/console/organisations",
    )
    assert created.status_code == 201
    key = re.search(r'<code id="new-key">([^<]+)</code>', created.get_data(as_text=True)).group(1)
    assert (
        client.get("/api/v1/indicators", headers={"Authorization": f"Bearer {key}"}).status_code
        == 200
    )
    assert key not in admin.get("/console/organisations").get_data(as_text=True)
    key_id = key.split(".")[1]
    revoked = post(admin, f"/console/keys/{key_id}/revoke", {}, "/console/organisations")
    assert revoked.status_code == 303
    assert (
        client.get("/api/v1/indicators", headers={"Authorization": f"Bearer {key}"}).status_code
        == 401
    )


def test_an_admin_creates_and_disables_an_account(app):
    """Accounts made on the organisations page sign in; disabled ones do not."""
    admin = signed_in(app, "admin")
    target = make_credential(app, "operator", name="Telco")
    made = post(
        admin,
        "/console/accounts",
        {"organisation": str(target.organisation_id), "username": "tel", "password": "x" * 12},
        "/console/organisations",
    )
    assert made.status_code == 303
    from tests.console.helpers import sign_in

    assert sign_in(app.test_client(), "tel", "x" * 12).status_code == 303
    post(admin, "/console/accounts/tel/disable", {}, "/console/organisations")
    assert sign_in(app.test_client(), "tel", "x" * 12).status_code == 401


def test_sync_now_pushes_to_the_peer_and_records_its_health(app, keys, client, tmp_path):
    """Sync now tries the peer at once; an unreachable one shows its error through the API."""
    unreachable_peer(client, keys["admin"].headers, tmp_path)
    submit(client, keys["regulator"], report(verified=True))  # something to send
    app.config.update(FEDERATION_ATTEMPTS=1, FEDERATION_CONNECT_TIMEOUT=1)
    admin = signed_in(app, "admin")
    answer = post(admin, "/console/federation/scamshare-th/sync", {}, "/console/federation")
    assert answer.status_code == 303
    peers = client.get("/api/v1/federation/peers", headers=keys["admin"].headers).json
    assert peers[0]["consecutive_failures"] == 1 and peers[0]["last_error"]
    page = admin.get("/console/federation").get_data(as_text=True)
    assert "Sync with scamshare-th failed" in page and "failing" in page
    # On the map: this node, the failing peer, and a member state that is no peer.
    assert '<circle class="state self"' in page and '<circle class="state failing"' in page
    assert page.count('<circle class="state none"') == 9


def test_statistics_offer_the_api_csv(app, keys, client):
    """The statistics page links a CSV equal to GET /api/v1/stats?format=csv."""
    submit(client, keys["operator"], report("+65 8123 4570", days_ago=0))
    regulator = signed_in(app, "regulator")
    page = regulator.get("/console/stats").get_data(as_text=True)
    assert "<svg" in page and "Download CSV" in page
    mine = regulator.get("/console/stats.csv")
    theirs = client.get("/api/v1/stats?format=csv", headers=keys["regulator"].headers)
    assert mine.mimetype == "text/csv" and mine.data == theirs.data
    assert b"reports_received,phone,investment,1" in mine.data
    bad = regulator.get("/console/stats", query_string={"from": "yesterday"})
    assert bad.status_code == 422 and "from" in bad.get_data(as_text=True)


def test_the_audit_log_filters(app, keys, client):
    """The audit page filters by action family."""
    submit(client, keys["operator"], report())
    regulator = signed_in(app, "regulator")
    html = regulator.get("/console/audit", query_string={"action": "console."}).get_data(True)
    assert "console.sign_in" in html and "reports.submit" not in html


def test_the_dashboard_counts_reports_listings_and_draws_the_chart(app, keys, client):
    """Today's reports, listings per kind and the 30-day chart's peak come from the node."""
    for number in range(3):
        submit(client, keys["regulator"], report(f"+65 8123 55{number:02d}", verified=True))
    submit(client, keys["operator"], report("https://parcel-redelivery.xyz/track", kind="url"))
    page = signed_in(app, "regulator").get("/console/").get_data(as_text=True)
    assert re.search(r'<span class="figure">4</span> reports today', page)
    assert re.search(r'<span class="figure">3</span> listed phone', page)
    assert "listed url" not in page
    chart = page.split('<svg class="chart"')[1].split("</svg>")[0]
    assert 'text-anchor="end">4</text>' in chart  # the peak: four reports today
    assert chart.count("<polyline") == 4
    operator = signed_in(app, "operator").get("/console/").get_data(as_text=True)
    assert "reports today" not in operator and "listed phone" in operator


def test_text_the_node_cannot_store_is_refused_naming_the_field(app, keys, client):
    """A NUL character in a form field gets 422 naming it, never a 500; nothing is saved."""
    operator = signed_in(app, "operator")
    answer = post(
        operator,
        "/console/appeals",
        {"kind": "phone", "value": "8123 4567", "reason": "bad\x00", "contact_ref": "T"},
        "/console/appeals",
    )
    assert answer.status_code == 422
    assert "reason: Holds a NUL character" in answer.get_data(as_text=True)
    assert client.get("/api/v1/appeals", headers=keys["operator"].headers).json["items"] == []
