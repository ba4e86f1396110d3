"""Submitting reports through the API: formats, validation, aggregation and listing.

Longer than most test modules: one endpoint, every format and every kind of refusal.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scamshare import db
from scamshare.indicators.lifecycle import Lifecycle
from scamshare.models import AuditEntry, Indicator, IndicatorEvent, Report
from tests.conftest import make_credential
from tests.reporting import report


def submit(client, credential, body, **query):
    """POST reports as JSON and return the response."""
    return client.post("/api/v1/reports", json=body, headers=credential.headers, query_string=query)


def indicators(app) -> list[Indicator]:
    """Every indicator in the database."""
    with db.transaction(app) as session:
        return list(session.scalars(select(Indicator).order_by(Indicator.id)))


def count(app, model) -> int:
    """How many rows a table holds."""
    with db.transaction(app) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_one_report_creates_its_indicator_with_the_canonical_value(app, client, keys):
    """A national-format number becomes an E.164 indicator with its aggregates."""
    response = submit(client, keys["operator"], report("8123 4567"))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["accepted"] == 1 and body["rejected"] == []
    indicator = body["reports"][0]["indicator"]
    assert indicator["kind"] == "phone"
    assert indicator["value"] == "+6581234567"
    assert indicator["status"] == "reported"
    [stored] = indicators(app)
    assert stored.report_count == 1
    assert stored.org_count == 1 and stored.country_count == 1
    assert stored.category_counts == {"investment": 1}
    assert stored.channel_counts == {"voice": 1}
    assert stored.facts["number_type"] == "mobile"


def test_two_spellings_of_one_number_are_one_indicator(app, client, keys):
    """Deduplication is on the canonical value."""
    body = {"reports": [report("+65 8123-4567"), report("tel:+6581234567", channel="sms")]}
    response = submit(client, keys["operator"], body)
    ids = {item["indicator"]["id"] for item in response.json["reports"]}
    assert len(ids) == 1
    [stored] = indicators(app)
    assert stored.report_count == 2
    assert stored.org_count == 1
    assert stored.channel_counts == {"voice": 1, "sms": 1}


def test_a_batch_accepts_the_valid_and_names_each_rejected_field(app, client, keys):
    """Invalid items are listed with index, field, reason and message; the rest is stored."""
    bad_kind = report()
    bad_kind["kind"] = "fax"
    future = report(days_ago=-2)
    missing = report()
    del missing["evidence_ref"]
    body = {"reports": [report(), report("12"), bad_kind, future, missing, "nonsense"]}
    response = submit(client, keys["operator"], body)
    assert response.status_code == 200
    assert response.json["accepted"] == 1
    rejected = {(r["index"], r["field"], r["reason"]) for r in response.json["rejected"]}
    assert rejected == {
        (1, "value", "too_short"),
        (2, "kind", "not_allowed"),
        (3, "observed_at", "in_future"),
        (4, "evidence_ref", "required"),
        (5, "report", "invalid_type"),
    }
    assert all(r["message"] for r in response.json["rejected"])
    assert count(app, Report) == 1


def test_atomic_batch_with_one_bad_item_stores_nothing(app, client, keys):
    """atomic=true is all or nothing, and the 422 names every bad item."""
    body = {"reports": [report(), report("+6599"), report("+66 81 234 5678")]}
    response = submit(client, keys["operator"], body, atomic="true")
    assert response.status_code == 422
    assert response.json["code"] == "batch_rejected"
    assert [(e["index"], e["field"]) for e in response.json["errors"]] == [(1, "value")]
    assert count(app, Report) == 0 and count(app, Indicator) == 0


def test_a_single_invalid_report_is_422(client, keys):
    """One report object is its own batch: invalid means a 4xx, not a 200."""
    response = submit(client, keys["operator"], report("not a number"))
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "value"
    assert response.json["title"] == "Unprocessable content"
    assert "atomic" not in response.json["detail"] and "value" in response.json["detail"]


def test_an_unknown_kind_is_rejected_as_not_allowed(client, keys):
    """A kind outside the vocabulary is the `not_allowed` reason the README documents."""
    body = {"reports": [report(), report("x", kind="fax")]}
    answer = submit(client, keys["operator"], body).json
    assert answer["accepted"] == 1 and len(answer["reports"]) == 1
    assert [(r["field"], r["reason"]) for r in answer["rejected"]] == [("kind", "not_allowed")]


def test_validation_titles_are_the_same_from_every_part_of_the_node(client, keys):
    """Query-string validation (webargs) and service validation share one 422 title."""
    response = client.get(
        "/api/v1/blocklist", query_string={"format": "xml"}, headers=keys["operator"].headers
    )
    assert (response.status_code, response.json["title"]) == (422, "Unprocessable content")


def test_ndjson_and_csv_uploads_are_read_like_json(app, client, keys):
    """The same reports in NDJSON and CSV land in the same indicators."""
    ndjson = "\n".join(json.dumps(r) for r in (report(), report("+60 12-345 6789"))) + "\n{bad\n"
    response = client.post(
        "/api/v1/reports",
        data=ndjson,
        content_type="application/x-ndjson",
        headers=keys["operator"].headers,
    )
    assert response.status_code == 200
    assert response.json["accepted"] == 2
    assert [(r["index"], r["reason"]) for r in response.json["rejected"]] == [(2, "invalid_type")]

    row = report("+6581234567")
    csv_text = (
        "kind,value,category,channel,observed_at,evidence_ref,spoofed_caller_id,note\n"
        f"phone,{row['value']},investment,sms,{row['observed_at']},case-9,no,\n"
        f"phone,+601234567890123,investment,sms,{row['observed_at']},case-9,,\n"
    )
    response = client.post(
        "/api/v1/reports", data=csv_text, content_type="text/csv", headers=keys["regulator"].headers
    )
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 1
    assert response.json["rejected"][0]["index"] == 1
    phone = next(i for i in indicators(app) if i.value == "+6581234567")
    assert phone.report_count == 2 and phone.org_count == 2


def test_upload_errors_are_clear(client, keys):
    """A CSV without a header, bad JSON and an oversized batch are 4xx with reasons."""
    headers = keys["operator"].headers
    no_header = client.post(
        "/api/v1/reports", data="x,y\n1,2\n", content_type="text/csv", headers=headers
    )
    assert no_header.status_code == 422 and no_header.json["code"] == "csv_header_missing"
    bad_json = client.post(
        "/api/v1/reports", data="{", content_type="application/json", headers=headers
    )
    assert bad_json.status_code == 400 and bad_json.json["code"] == "malformed_json"
    assert bad_json.json["title"] == "Bad request"
    too_many = submit(client, keys["operator"], {"reports": [report()] * 10001})
    assert too_many.status_code == 422
    assert too_many.json["errors"][0]["field"] == "reports"


def test_verified_flag_is_forbidden_to_operators_and_lists_for_regulators(app, client, keys):
    """Only regulator and law-enforcement keys may verify; a verified report lists at once."""
    refused = submit(client, keys["operator"], report(verified=True))
    assert refused.status_code == 403
    assert refused.json["code"] == "verified_not_allowed"
    assert count(app, Report) == 0
    listed = submit(client, keys["law_enforcement"], report(verified=True))
    assert listed.json["reports"][0]["indicator"]["status"] == "listed"
    assert listed.json["reports"][0]["indicator"]["risk"] == "high"


def test_three_organisations_within_the_window_list_an_indicator(app, client):
    """The crowd rule: 3 distinct organisations within 10 days; one org three times is not."""
    orgs = [make_credential(app, "operator", f"Operator {n}") for n in range(3)]
    for _ in range(3):
        first = submit(client, orgs[0], report())
    assert first.json["reports"][0]["indicator"]["status"] == "reported"
    submit(client, orgs[1], report(days_ago=2))
    third = submit(client, orgs[2], report(days_ago=3))
    indicator = third.json["reports"][0]["indicator"]
    assert indicator["status"] == "listed"
    assert indicator["risk"] == "high"
    [stored] = indicators(app)
    assert stored.report_count == 5 and stored.org_count == 3
    assert stored.expires_at == stored.last_reported_at + timedelta(days=60)


def test_corroboration_outside_the_window_does_not_list(app, client):
    """An organisation whose last report is older than the window does not count."""
    orgs = [make_credential(app, "operator", f"Operator {n}") for n in range(3)]
    submit(client, orgs[0], report(days_ago=12))
    submit(client, orgs[1], report(days_ago=1))
    response = submit(client, orgs[2], report(days_ago=1))
    assert response.json["reports"][0]["indicator"]["status"] == "reported"
    assert response.json["reports"][0]["indicator"]["risk"] == "high"


def test_spoofed_caller_id_never_lists_the_displayed_number(app, client, keys):
    """Even a verified report of a spoofed number leaves it unlisted and is counted apart."""
    response = submit(client, keys["regulator"], report(verified=True, spoofed_caller_id=True))
    assert response.json["reports"][0]["indicator"]["status"] == "reported"
    [stored] = indicators(app)
    assert stored.spoofed_count == 1
    assert stored.report_count == 0 and stored.org_count == 0


def test_number_ranges_need_a_verified_report(app, client):
    """Crowd reports alone never list a range; a verified one does."""
    orgs = [make_credential(app, "operator", f"Operator {n}") for n in range(3)]
    for org in orgs:
        response = submit(client, org, report("+63 917 123 45xx", kind="phone_range"))
    assert response.json["reports"][0]["indicator"]["status"] == "reported"
    assert response.json["reports"][0]["indicator"]["value"] == "+6391712345**"
    regulator = make_credential(app, "regulator")
    response = submit(client, regulator, report("+6391712345**", kind="phone_range", verified=True))
    assert response.json["reports"][0]["indicator"]["status"] == "listed"


def test_short_and_emergency_numbers_stay_protected(app, client, keys):
    """A report of 999 is stored as impersonation evidence; the indicator never lists."""
    response = submit(client, keys["regulator"], report("999", verified=True))
    assert response.status_code == 200, response.json
    indicator = response.json["reports"][0]["indicator"]
    assert indicator["status"] == "protected"
    [stored] = indicators(app)
    assert stored.report_count == 1 and stored.removal_reason == "protected"


def test_message_reports_keep_text_with_the_report_and_extract_indicators(app, client, keys):
    """The indicator holds the template fingerprint; URLs and numbers inside become reports."""
    text = "Your parcel is held. Pay SGD 2.50 at hxxp://parcel-sg[.]top/pay or call +65 8123 4567"
    response = submit(client, keys["operator"], report(text, kind="message", channel="sms"))
    assert response.status_code == 200, response.json
    accepted = response.json["reports"][0]
    fingerprint = accepted["indicator"]["value"]
    assert accepted["indicator"]["kind"] == "message" and text not in fingerprint
    extracted = {(e["kind"], e["value"]) for e in accepted["extracted"]}
    assert ("phone", "+6581234567") in extracted
    assert any(kind == "url" and "parcel-sg.top" in value for kind, value in extracted)
    with db.transaction(app) as session:
        message = session.scalars(select(Indicator).where(Indicator.kind == "message")).one()
        assert text not in json.dumps(message.facts)
        assert "<url>" in message.facts["template"]
        parent = session.get(Report, accepted["report_id"])
        assert parent.message_text == text
        children = session.scalars(
            select(Report).where(Report.extracted_from_id == parent.id)
        ).all()
        assert {(c.kind, c.message_text) for c in children} >= {("phone", None), ("url", None)}


def test_idempotency_key_replays_the_first_response_and_refuses_a_different_body(app, client, keys):
    """Retrying with the same key creates nothing; reusing it for other data is a 409."""
    headers = {**keys["operator"].headers, "Idempotency-Key": "batch-2026-11-23-001"}
    body = {"reports": [report(), report("+60 12-345 6789")]}
    first = client.post("/api/v1/reports", json=body, headers=headers)
    again = client.post("/api/v1/reports", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json == first.json
    assert count(app, Report) == 2
    other = client.post(
        "/api/v1/reports", json={"reports": [report("+66 81 234 5678")]}, headers=headers
    )
    assert other.status_code == 409
    assert other.json["code"] == "idempotency_key_reused"
    assert count(app, Report) == 2


def only_error(response) -> tuple[str, str, str]:
    """The field, reason and location of a problem's one error."""
    [error] = response.json["errors"]
    return error["field"], error["reason"], error["location"]


def test_an_idempotency_key_too_long_to_store_is_422_and_stores_nothing(app, client, keys):
    """The key is checked before anything is submitted."""
    headers = {**keys["operator"].headers, "Idempotency-Key": "k" * 201}
    response = client.post("/api/v1/reports", json=report(), headers=headers)
    assert response.status_code == 422
    assert only_error(response) == ("Idempotency-Key", "invalid_length", "headers")
    assert count(app, Report) == 0


@pytest.mark.parametrize(("value", "stored"), [("true", 0), ("1", 0), ("false", 1), ("0", 1)])
def test_atomic_takes_true_or_false(app, client, keys, value, stored):
    """atomic=true stores nothing of a batch with a bad item; atomic=false stores the good one."""
    body = {"reports": [report(), report("not a number")]}
    response = submit(client, keys["operator"], body, atomic=value)
    assert response.status_code == (422 if stored == 0 else 200)
    assert count(app, Report) == stored


def test_atomic_that_is_not_a_boolean_is_422_naming_the_parameter(app, client, keys):
    """A typo in atomic is refused, not read as false."""
    response = submit(client, keys["operator"], {"reports": [report()]}, atomic="maybe")
    assert response.status_code == 422
    assert only_error(response) == ("atomic", "invalid_type", "query")
    assert count(app, Report) == 0


def test_each_exported_change_takes_the_next_sequence_with_history_and_audit(app, client, keys):
    """Listings and updates of listed values are stamped in order; unlisted changes are not."""
    regulator = keys["regulator"]
    submit(client, regulator, report("+6581234567", verified=True, days_ago=3))
    submit(client, regulator, report("+6591234567", verified=True, days_ago=3))
    submit(client, keys["operator"], report("+66 81 234 5678"))  # reported only: not exported
    submit(client, keys["operator"], report("+6581234567", days_ago=1))  # moves its expiry
    with db.transaction(app) as session:
        stamped = dict(session.execute(select(Indicator.value, Indicator.sequence)).all())
        events = session.execute(
            select(
                IndicatorEvent.sequence, IndicatorEvent.from_status, IndicatorEvent.to_status
            ).order_by(IndicatorEvent.sequence)
        ).all()
        audits = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "indicator.listed")
        ).all()
    assert stamped["+66812345678"] == 0
    first = stamped["+6591234567"] - 1
    assert stamped["+6581234567"] == first + 2
    assert [tuple(e) for e in events] == [
        (first, "reported", "listed"),
        (first + 1, "reported", "listed"),
        (first + 2, "listed", "listed"),
    ]
    assert [a.organisation_name for a in audits] == [regulator.name, regulator.name]
    assert audits[0].details["sequence"] == first


def test_a_crash_mid_batch_leaves_nothing(app, client, keys, monkeypatch):
    """If settling fails after the reports were written, the whole batch rolls back."""

    def broken(*args, **kwargs):
        """Fail where a real crash could."""
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Lifecycle, "settle", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = submit(client, keys["operator"], {"reports": [report(), report("+6591234567")]})
    assert response.status_code == 500
    assert count(app, Report) == 0 and count(app, Indicator) == 0


@pytest.mark.parametrize("role", ["peer_node", "admin"])
def test_roles_without_submit_permission_are_refused(client, keys, role):
    """Peers and admins do not submit reports."""
    assert submit(client, keys[role], report()).status_code == 403


def test_a_verified_message_does_not_list_the_numbers_it_mentions(app, client, keys):
    """The recipient's own number may be in the text: extracted values only corroborate."""
    text = "Dear +65 9888 7777, your account is locked. Call +65 8123 4567 now"
    response = submit(client, keys["regulator"], report(text, kind="message", verified=True))
    accepted = response.json["reports"][0]
    assert accepted["indicator"]["status"] == "listed"
    assert {e["indicator"]["status"] for e in accepted["extracted"]} == {"reported"}
    with db.transaction(app) as session:
        extracted = session.scalars(select(Report).where(Report.extracted_from_id.isnot(None)))
        assert {r.verified for r in extracted} == {False}


def test_the_response_is_exactly_what_the_documented_schema_describes(client, keys):
    """The view builds its body directly for speed; it must equal the schema's rendering."""
    from schemas.reports import SubmissionResultSchema

    text = "Pay SGD 2 at http://parcel-sg.top/x or call +65 8123 4567"
    body = {
        "reports": [
            report(),
            report(text, kind="message", channel="sms"),
            report("12"),
            report(spoofed_caller_id=True),
        ]
    }
    response = submit(client, keys["regulator"], body)
    assert response.status_code == 200
    assert SubmissionResultSchema().dump(response.json) == response.json
    assert response.json["accepted"] == 3 and response.json["rejected_count"] == 1
