"""Protected values: the never-list, its fixtures, and what it does to indicators.

Longer than most test modules: the list, its fixtures and its effect on indicators are one
feature, tested in one place.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from phonenumbers import shortnumberinfo
from sqlalchemy import select

from scamshare import db
from scamshare import normalise as norm
from scamshare.config import MEMBER_STATES
from scamshare.models import AuditEntry
from schemas.protected import PROTECTED_CATEGORIES, PROTECTED_KINDS
from tests import reporting
from tests.conftest import make_credential

report = functools.partial(reporting.report, category="bank_impersonation")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protected"


def submit(client, credential, *reports: dict) -> dict:
    """Submit reports as one batch and return the response body."""
    response = client.post(
        "/api/v1/reports", json={"reports": list(reports)}, headers=credential.headers
    )
    assert response.status_code == 200, response.json
    return response.json


def indicator(client, credential, indicator_id: int) -> dict:
    """One indicator with its history, as a credential sees it."""
    response = client.get(f"/api/v1/indicators/{indicator_id}", headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


def protect(client, credential, value: str, kind: str = "phone", **extra):
    """POST a protected value and return the response."""
    body = {
        "kind": kind,
        "value": value,
        "label": extra.pop("label", "Test hotline"),
        "category": extra.pop("category", "bank_hotline"),
        **extra,
    }
    return client.post("/api/v1/protected", json=body, headers=credential.headers)


def protected_list(client, credential, **query) -> dict:
    """One page of the protected list."""
    response = client.get("/api/v1/protected", query_string=query, headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


def audit_actions(app, action: str) -> list[AuditEntry]:
    """The audit entries of one action, oldest first."""
    with db.transaction(app) as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


@pytest.fixture
def run(cli):
    """Run a scamshare command on the test database (a Singapore node)."""
    return cli("SG")


# --- the list through the API -----------------------------------------------------------------


def test_regulator_adds_lists_and_removes_a_protected_value(client, keys):
    """A value is normalised on the way in, shown in the list, and removed by its id."""
    regulator = keys["regulator"]
    added = protect(client, regulator, "1800 111 1111", label="DBS customer service")
    assert added.status_code == 201, added.json
    assert added.json["kind"] == "phone"
    assert added.json["value"] == "+6518001111111"
    assert added.json["source"] == "manual"
    assert added.json["indicators_changed"] == 0
    page = protected_list(client, regulator)
    assert [(i["value"], i["label"]) for i in page["items"]] == [
        ("+6518001111111", "DBS customer service")
    ]
    assert page["next"] is None

    removed = client.delete(f"/api/v1/protected/{added.json['id']}", headers=regulator.headers)
    assert removed.status_code == 200, removed.json
    assert removed.json["value"] == "+6518001111111"
    assert protected_list(client, regulator)["items"] == []


def test_a_protected_value_without_kind_is_a_phone_number_as_in_the_command(client, keys):
    """POST /protected defaults `kind` to phone, like `scamshare protected add`."""
    body = {"value": "1800 111 1111", "label": "DBS", "category": "bank_hotline"}
    added = client.post("/api/v1/protected", json=body, headers=keys["regulator"].headers)
    assert (added.status_code, added.json["kind"]) == (201, "phone")


def test_protected_list_filters_and_pages_with_a_cursor(client, keys):
    """Kind and category filter; `next` walks the list in the order values were added."""
    regulator = keys["regulator"]
    for number in ("6255 0001", "6255 0002", "6255 0003"):
        assert protect(client, regulator, number).status_code == 201
    domain = protect(client, regulator, "dbs.com.sg", kind="domain", category="official_domain")
    assert domain.status_code == 201
    seen, cursor = [], None
    while True:
        query = {"kind": "phone", "limit": 2, **({"after": cursor} if cursor else {})}
        page = protected_list(client, regulator, **query)
        seen.extend(item["value"] for item in page["items"])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["+6562550001", "+6562550002", "+6562550003"]
    domains = protected_list(client, regulator, category="official_domain")["items"]
    assert [item["value"] for item in domains] == ["dbs.com.sg"]


def test_the_same_value_twice_is_a_conflict_whatever_its_spelling(client, keys):
    """Protection is keyed on the canonical value."""
    regulator = keys["regulator"]
    assert protect(client, regulator, "+65 6255 0000").status_code == 201
    again = protect(client, regulator, "6255-0000")
    assert again.status_code == 409
    assert again.json["code"] == "already_protected"
    assert "+6562550000" in again.json["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "phone", "value": "not a number"}, "value"),
        ({"kind": "domain", "value": "gov.sg"}, "value"),
        ({"kind": "url", "value": "https://dbs.com.sg/"}, "kind"),
        ({"kind": "phone", "value": "62550000", "category": "banks"}, "category"),
        ({"kind": "phone", "value": "62550000", "label": ""}, "label"),
        ({"kind": "phone", "value": "62550000", "region": "ZZ"}, "region"),
    ],
)
def test_an_invalid_protected_value_is_422_naming_the_field(client, keys, body, field):
    """Values that cannot be normalised, unknown kinds and categories are refused by field."""
    payload = {"label": "Test", "category": "bank_hotline", **body}
    response = client.post("/api/v1/protected", json=payload, headers=keys["regulator"].headers)
    assert response.status_code == 422, response.json
    assert field in [error["field"] for error in response.json["errors"]]


def test_removing_an_unknown_protected_value_is_404(client, keys):
    """Ids that do not exist, or are not numbers at all, are not found."""
    for raw in ("424242", "abc", "9" * 30):
        response = client.delete(f"/api/v1/protected/{raw}", headers=keys["regulator"].headers)
        assert response.status_code == 404, (raw, response.json)


def test_only_regulators_read_or_manage_the_protected_list(client, keys):
    """Operators and law enforcement are refused by the role matrix."""
    for role in ("operator", "law_enforcement", "admin"):
        assert client.get("/api/v1/protected", headers=keys[role].headers).status_code == 403
        assert protect(client, keys[role], "62550000").status_code == 403


# --- what protection does to indicators -------------------------------------------------------


def test_protecting_a_listed_value_makes_it_protected_with_a_new_sequence(app, client, keys):
    """The listing ends at once: protected, removal reason protected, stamped and audited."""
    regulator = keys["regulator"]
    listed = submit(client, regulator, report("8123 4567", verified=True))
    ref = listed["reports"][0]["indicator"]
    assert ref["status"] == "listed"
    before = indicator(client, regulator, ref["id"])

    added = protect(client, regulator, "+65 8123 4567", label="Holder's hotline")
    assert added.status_code == 201, added.json
    assert added.json["indicators_changed"] == 1

    after = indicator(client, regulator, ref["id"])
    assert after["status"] == "protected"
    assert after["removal_reason"] == "protected"
    assert after["sequence"] > before["sequence"]
    event = after["history"][-1]
    assert (event["from_status"], event["to_status"]) == ("listed", "protected")
    assert event["sequence"] == after["sequence"]
    assert event["reason"] == "protected: Holder's hotline"
    [entry] = audit_actions(app, "indicator.protected")
    assert entry.organisation_name == regulator.name
    assert entry.key_id == regulator.key_id
    assert entry.details["reason"] == "protected: Holder's hotline"
    assert entry.details["removal_reason"] == "protected"
    [added_entry] = audit_actions(app, "protected.add")
    assert added_entry.details["indicators_changed"] == 1


def test_removing_a_protected_value_settles_its_indicators_again(app, client, keys):
    """Without protection the normal rules apply: a verified report lists it again."""
    regulator = keys["regulator"]
    added = protect(client, regulator, "8123 4567").json
    ref = submit(client, regulator, report("8123 4567", verified=True))["reports"][0]["indicator"]
    assert ref["status"] == "protected"

    removed = client.delete(f"/api/v1/protected/{added['id']}", headers=regulator.headers)
    assert removed.json["indicators_changed"] == 1
    after = indicator(client, regulator, ref["id"])
    assert after["status"] == "listed"
    assert after["removal_reason"] is None
    assert after["history"][-1]["reason"] == "no longer protected: Test hotline"
    [entry] = audit_actions(app, "protected.remove")
    assert entry.organisation_name == regulator.name
    assert entry.details["value"] == "+6581234567"


def test_reports_against_a_protected_value_are_stored_and_counted(app, client, keys):
    """Each report is kept as impersonation evidence; the value is never listed."""
    regulator = keys["regulator"]
    protect(client, regulator, "1800 111 1111", label="DBS customer service")
    operators = [make_credential(app, "operator", f"Operator {n}") for n in range(3)]
    for operator in operators:
        body = submit(client, operator, report("1800 111 1111"))
        assert body["accepted"] == 1
        assert body["reports"][0]["indicator"]["status"] == "protected"
    submit(client, regulator, report("+6518001111111", verified=True))
    submit(client, operators[0], report("1800 111 1111", spoofed_caller_id=True))

    [item] = protected_list(client, regulator)["items"]
    assert item["impersonation_reports"] == 5
    ref = submit(client, operators[1], report("18001111111"))["reports"][0]["indicator"]
    shown = indicator(client, regulator, ref["id"])
    assert shown["status"] == "protected"
    assert shown["report_count"] == 5
    assert shown["org_count"] == 4
    assert shown["category_counts"] == {"bank_impersonation": 5}


def test_protecting_a_domain_protects_every_url_on_it(client, keys):
    """A listed phishing URL on an official domain stops being listed."""
    regulator = keys["regulator"]
    body = submit(
        client, regulator, report("https://www.dbs.com.sg/login", kind="url", verified=True)
    )
    ref = body["reports"][0]["indicator"]
    assert ref["status"] == "listed"
    added = protect(client, regulator, "dbs.com.sg", kind="domain", category="official_domain")
    assert added.json["indicators_changed"] == 1
    assert indicator(client, regulator, ref["id"])["status"] == "protected"


def test_emergency_and_short_numbers_are_protected_without_being_on_the_list(client, keys):
    """Normalisation marks them unlistable, so even a verified report never lists one."""
    regulator = keys["regulator"]
    for number in ("999", "1799"):
        body = submit(client, regulator, report(number, verified=True))
        assert body["reports"][0]["indicator"]["status"] == "protected"
    assert protected_list(client, regulator)["items"] == []


def test_a_number_range_over_a_protected_number_is_refused(client, keys):
    """A range that covers a protected number is rejected; one beside it is accepted."""
    regulator = keys["regulator"]
    protect(client, regulator, "+65 8123 4567")
    body = submit(
        client,
        regulator,
        report("+65 8123 45xx", kind="phone_range", verified=True),
        report("+65 8123 46xx", kind="phone_range", verified=True),
    )
    assert body["accepted"] == 1
    [rejected] = body["rejected"]
    assert (rejected["index"], rejected["reason"]) == (0, "covers_protected")
    assert "+6581234567" in rejected["message"]


# --- fixtures ---------------------------------------------------------------------------------


def fixture(country: str) -> dict:
    """One member state's protected-values file."""
    return json.loads((FIXTURES / f"{country}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("country", MEMBER_STATES)
def test_every_member_state_has_a_fixture_whose_entries_normalise(country):
    """Each file names its country and every entry is a valid, unique value of its kind."""
    data = fixture(country)
    assert data["country"] == country
    assert len(data["entries"]) >= 5
    seen = set()
    for entry in data["entries"]:
        assert set(entry) == {"kind", "value", "label", "category"}, entry
        assert entry["kind"] in PROTECTED_KINDS
        assert entry["category"] in PROTECTED_CATEGORIES
        assert entry["label"].strip()
        normalised = norm.normalise(entry["kind"], entry["value"], country)
        assert (normalised.kind, normalised.value) not in seen, entry
        seen.add((normalised.kind, normalised.value))
    categories = {entry["category"] for entry in data["entries"]}
    assert {"emergency", "sender_id", "official_domain"} <= categories


@pytest.mark.parametrize("country", MEMBER_STATES)
def test_each_fixture_holds_its_countrys_emergency_numbers(country):
    """Every emergency number libphonenumber knows for the country is on the list."""
    known = {
        str(number)
        for number in range(100, 10000)
        if shortnumberinfo.is_emergency_number(str(number), country)
    }
    listed = {e["value"] for e in fixture(country)["entries"] if e["category"] == "emergency"}
    assert known
    assert known <= listed


def test_the_source_of_the_fixtures_is_written_down():
    """SOURCE.md says where the values come from and that regulators must review them."""
    source = (FIXTURES / "SOURCE.md").read_text(encoding="utf-8")
    assert "2026" in source
    assert "review" in source.lower()


@pytest.mark.parametrize("country", MEMBER_STATES)
def test_protected_load_adds_a_countrys_values_once(run, client, keys, country):
    """`scamshare protected load --country CC` adds every entry, and nothing the second time."""
    entries = len(fixture(country)["entries"])
    first = run("protected", "load", "--country", country.lower()).output
    assert f"{country}: {entries} protected values added, 0 already present" in first
    again = run("protected", "load", "--country", country).output
    assert f"{country}: 0 protected values added, {entries} already present" in again
    items = protected_list(client, keys["regulator"], limit=1000)["items"]
    assert len(items) == entries
    assert {item["source"] for item in items} == {f"fixture:{country}"}


def test_protected_load_defaults_to_the_node_country_and_settles_indicators(app, run, client, keys):
    """Loading protects already-listed values; the change is audited to the command's user."""
    regulator = keys["regulator"]
    ref = submit(client, regulator, report("1800 339 6666", verified=True))["reports"][0]
    assert ref["indicator"]["status"] == "listed"
    output = run("protected", "load").output
    assert "SG: " in output and "1 indicators changed" in output
    assert indicator(client, regulator, ref["indicator"]["id"])["status"] == "protected"
    [entry] = audit_actions(app, "protected.load")
    assert entry.organisation_name.startswith("cli:")
    assert entry.details["indicators_changed"] == 1


def test_a_new_database_loads_the_node_countrys_protected_values(empty_database_url, tmp_path):
    """The first start creates the schema, the sample organisations and the protected list."""
    from scamshare.app import create_app
    from scamshare.bootstrap import initialise

    app = create_app(
        {"DATABASE_URL": empty_database_url, "DATA_DIR": str(tmp_path), "COUNTRY": "MY"}
    )
    try:
        issued = initialise(app)
        regulator_key = next(key.key for key in issued if key.role == "regulator")
        client = app.test_client()
        page = client.get(
            "/api/v1/protected",
            query_string={"limit": 1000},
            headers={"Authorization": f"Bearer {regulator_key}"},
        ).json
        assert len(page["items"]) == len(fixture("MY")["entries"])
        values = {item["value"] for item in page["items"]}
        assert {"+60999", "+601300886688", "maybank2u.com.my", "MAYBANK"} <= values
        [entry] = audit_actions(app, "protected.load")
        assert entry.organisation_name == "node"
        assert entry.details == {
            "country": "MY",
            "added": len(values),
            "present": 0,
            "indicators_changed": 0,
        }
        assert initialise(app) == []  # a second start loads nothing again
        assert len(audit_actions(app, "protected.load")) == 1
    finally:
        app.extensions["scamshare.engine"].dispose()


# --- the command line -------------------------------------------------------------------------


def test_protected_add_list_and_remove_from_the_command_line(app, run):
    """The same service behind the commands, audited with the local account."""
    added = run(
        "protected", "add", "6255 0000", "--label", "Bank hotline", "--category", "bank_hotline"
    ).output
    assert "protected phone +6562550000" in added
    run(
        "protected",
        "add",
        "gov.sg",
        "--kind",
        "sender_id",
        "--label",
        "Gov",
        "--category",
        "sender_id",
    )
    listing = run("protected", "list").output.splitlines()
    assert len(listing) == 2
    assert listing[0].split("\t")[1:6] == [
        "phone",
        "+6562550000",
        "bank_hotline",
        "Bank hotline",
        "manual",
    ]
    assert run("protected", "list", "--kind", "sender_id").output.split("\t")[2] == "GOV.SG"

    duplicate = run(
        "protected", "add", "+65 6255 0000", "--label", "X", "--category", "bank_hotline", ok=False
    )
    assert duplicate.exit_code == 1
    assert "already protected" in duplicate.output

    removed = run("protected", "remove", "62550000").output
    assert "removed phone +6562550000" in removed
    assert "+6562550000" not in run("protected", "list").output
    missing = run("protected", "remove", "62550000", ok=False)
    assert missing.exit_code == 1
    assert "not on this node's protected list" in missing.output
    actions = [(e.action, e.organisation_name[:4]) for e in audit_actions(app, "protected.add")]
    assert actions == [("protected.add", "cli:"), ("protected.add", "cli:")]
