"""One matcher: lookups (GET and POST) and message checks see the same matches for a value."""

from __future__ import annotations

import functools

import pytest

from tests import reporting

report = functools.partial(reporting.report, channel="sms", category="parcel_delivery")


def list_values(client, keys, *reports: dict) -> None:
    """List values with verified regulator reports."""
    reporting.submit_batch(client, keys["regulator"], *({**r, "verified": True} for r in reports))


def get(client, credential, value: str, kind: str | None = None) -> dict:
    """GET one lookup and return its body."""
    query = {"value": value} | ({"kind": kind} if kind else {})
    response = client.get("/api/v1/lookup", query_string=query, headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


def post(client, credential, *values: dict) -> list[dict]:
    """POST a batch lookup and return its items."""
    response = client.post(
        "/api/v1/lookup", json={"values": list(values)}, headers=credential.headers
    )
    assert response.status_code == 200, response.json
    return response.json["items"]


def check(client, credential, **body) -> dict:
    """POST one message check and return its verdict."""
    response = client.post("/api/v1/messages/check", json=body, headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


def matched(answer: dict) -> list[tuple[str, str, str]]:
    """The (kind, value, status) of every match of a lookup answer."""
    return [(m["kind"], m["value"], m["status"]) for m in answer["matched"]]


def test_a_number_inside_a_listed_range_is_listed_through_the_range(client, keys):
    """With +65912345** listed, +6591234512 is listed, the range named with its origins."""
    list_values(client, keys, report("+65912345**", kind="phone_range"))
    answer = get(client, keys["operator"], "+6591234512")
    assert (answer["kind"], answer["value"]) == ("phone", "+6591234512")
    assert (answer["status"], answer["listed"], answer["risk"]) == ("listed", True, "high")
    [match] = answer["matched"]
    assert (match["kind"], match["value"], match["status"]) == (
        "phone_range",
        "+65912345**",
        "listed",
    )
    assert match["origins"] == [{"country": "SG", "policy": "block"}]
    assert answer["counts"]["reports"] == 0  # the number's own evidence: none
    outside = get(client, keys["operator"], "+6591234612")
    assert (outside["status"], outside["matched"]) == ("unknown", [])


def test_a_url_under_a_listed_domain_is_listed_through_the_domain(client, keys):
    """With maybank2u-verify.com listed, a link on a subdomain of it is listed."""
    list_values(client, keys, report("maybank2u-verify.com", kind="domain"))
    answer = get(client, keys["operator"], "https://secure.maybank2u-verify.com/login", "url")
    assert (answer["status"], answer["listed"]) == ("listed", True)
    assert matched(answer) == [("domain", "maybank2u-verify.com", "listed")]
    other = get(client, keys["operator"], "https://maybank2u-verify.com.example.org/x", "url")
    assert other["status"] == "unknown"


def test_the_most_severe_match_decides_and_every_match_is_listed(client, keys):
    """A number only reported, inside a listed range: listed, with its own counts kept."""
    list_values(client, keys, report("+65912345**", kind="phone_range"))
    reporting.submit(client, keys["operator"], report("+6591234512"))
    answer = get(client, keys["operator"], "+6591234512")
    assert answer["status"] == "listed"
    assert answer["counts"]["reports"] == 1
    assert matched(answer) == [("phone_range", "+65912345**", "listed")]
    list_values(client, keys, report("+659123451*", kind="phone_range"), report("+6591234512"))
    answer = get(client, keys["operator"], "+6591234512")
    assert matched(answer) == [
        ("phone", "+6591234512", "listed"),
        ("phone_range", "+659123451*", "listed"),
        ("phone_range", "+65912345**", "listed"),
    ]


def test_a_disputed_number_in_a_listed_range_is_listed(client, keys):
    """A listing outweighs a dispute: the number's appeal does not lift the range."""
    list_values(client, keys, report("+65912345**", kind="phone_range"), report("+6591234512"))
    appeal = client.post(
        "/api/v1/appeals",
        json={"value": "+6591234512", "reason": "Number reassigned.", "contact_ref": "T-1"},
        headers=keys["operator"].headers,
    )
    assert appeal.status_code == 201, appeal.json
    answer = get(client, keys["operator"], "+6591234512")
    assert (answer["status"], answer["disputed"]) == ("listed", False)
    assert matched(answer) == [
        ("phone_range", "+65912345**", "listed"),
        ("phone", "+6591234512", "disputed"),
    ]


def test_a_protected_number_stays_protected_inside_a_listed_range(client, keys):
    """An allowlist beats a blocklist: a protected hotline is never shown as listed."""
    list_values(client, keys, report("+65912345**", kind="phone_range"))
    protect = client.post(
        "/api/v1/protected",
        json={
            "kind": "phone",
            "value": "+6591234512",
            "label": "Test bank hotline",
            "category": "bank_hotline",
        },
        headers=keys["regulator"].headers,
    )
    assert protect.status_code == 201, protect.json
    reporting.submit(client, keys["operator"], report("+6591234512"))
    answer = get(client, keys["operator"], "+6591234512")
    assert (answer["status"], answer["listed"]) == ("protected", False)


# One value of each kind, listed; how a lookup asks for it; and how a message check carries it.
LISTED = {
    "phone": ("+6581234567", {"value": "8123 4567"}, {"text": "Hi", "number": "8123 4567"}),
    "phone_range": (
        "+65912345**",
        {"value": "+6591234512"},
        {"text": "Call back 9123 4512 now"},
    ),
    "sender_id": ("DBS-ALERT", {"value": "dbs-alert", "kind": "sender_id"}, None),
    "url": (
        "https://singpost-redelivery.top/track",
        {"value": "http://singpost-redelivery.top/track", "kind": "url"},
        {"text": "Your parcel is held: singpost-redelivery.top/track"},
    ),
    "domain": (
        "maybank2u-verify.com",
        {"value": "https://secure.maybank2u-verify.com/login", "kind": "url"},
        {"text": "Verify at https://secure.maybank2u-verify.com/login today"},
    ),
    "message": (
        "Your account is locked. Reply YES to unlock it",
        {"value": "Your account is locked. Reply YES to unlock it", "kind": "message"},
        {"text": "Your account is locked. Reply YES to unlock it"},
    ),
}


@pytest.mark.parametrize("kind", sorted(LISTED))
def test_one_value_gets_one_answer_from_get_post_and_message_checks(client, keys, kind):
    """GET, POST and a message check see the same matches, for a value of every kind."""
    value, asked, carried = LISTED[kind]
    list_values(client, keys, report(value, kind=kind))
    operator = keys["operator"]
    one = get(client, operator, asked["value"], asked.get("kind"))
    [item] = post(client, operator, asked)
    assert item.pop("input") == asked["value"]
    assert item == one
    assert one["status"] == "listed" and one["matched"]
    if carried is None:  # a sender ID travels as the message's sender
        carried = {"text": "Your code is ready", "sender": asked["value"]}
    verdict = check(client, operator, **carried)
    seen = {(m["kind"], m["value"], m["status"]) for m in verdict["matches"]}
    assert set(matched(one)) <= seen
    assert verdict["verdict"] == "block"


def test_a_link_is_one_indicator_whatever_its_scheme_in_reports_lookups_and_checks(client, keys):
    """https, http and scheme-less spellings by three organisations list one URL together."""
    spellings = (
        "https://singpost-redelivery.top/track",
        "http://singpost-redelivery.top/track/",
        "SINGPOST-REDELIVERY.TOP/track",
    )
    reporters = [keys["operator"], keys["regulator"], keys["law_enforcement"]]
    indicators = {
        reporting.submit(client, credential, report(value, kind="url"))["value"]
        for credential, value in zip(reporters, spellings, strict=True)
    }
    assert indicators == {"singpost-redelivery.top/track"}
    for value in (*spellings, "https://singpost-redelivery.top:443/track"):
        answer = get(client, keys["operator"], value, "url")
        assert (answer["value"], answer["status"]) == ("singpost-redelivery.top/track", "listed")
        assert answer["counts"]["organisations"] == 3
    for text in (
        "Your parcel is held, pay at http://singpost-redelivery.top/track",
        "Your parcel is held, pay at singpost-redelivery.top/track",
        "Your parcel is held, pay at HTTPS://Singpost-Redelivery.top/track/",
    ):
        verdict = check(client, keys["operator"], text=text)
        assert verdict["verdict"] == "block", text
        assert ("url", "singpost-redelivery.top/track") in {
            (m["kind"], m["value"]) for m in verdict["matches"]
        }
