"""STIX 2.1 bundles of the blocklist, through the API and the command line."""

from __future__ import annotations

import json

import stix2

from scamshare.clock import utcnow
from scamshare.interop import stix
from tests.interop.stixcheck import ALLOWED_WARNINGS, check, check_all, code
from tests.reporting import report, submit_batch

ONE_OF_EACH = [
    report("+65 8123 4567", verified=True, category="investment"),
    report("+65 8123 45**", kind="phone_range", verified=True, category="phishing_link"),
    report("PARCELSG", kind="sender_id", verified=True, category="parcel_delivery"),
    report("https://pay-parcel-fee.com/pay?x='1'", kind="url", verified=True),
    report("maybank2u-verify.com", kind="domain", verified=True, category="phishing_link"),
    report(
        "Your parcel is held. Pay the fee at https://pay-parcel-fee.com/pay now",
        kind="message",
        channel="sms",
        verified=True,
        category="parcel_delivery",
    ),
]


def bundle(client, credential, **query) -> dict:
    """Download the blocklist as a STIX bundle and return it parsed."""
    response = client.get(
        "/api/v1/blocklist", query_string={"format": "stix", **query}, headers=credential.headers
    )
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == "application/stix+json"
    return json.loads(response.data)


def list_two(client, regulator) -> None:
    """List +6581234567 and +6591234567 with verified reports."""
    two = (report("+65 8123 4567", verified=True), report("+65 9123 4567", verified=True))
    submit_batch(client, regulator, *two)


def disconnect(client, credential, number: str) -> None:
    """Post a disconnection notice of a number, disconnected today."""
    response = client.post(
        "/api/v1/disconnections",
        json={"number": number, "disconnected_on": utcnow().date().isoformat()},
        headers=credential.headers,
    )
    assert response.status_code == 200, response.json


def indicators(document: dict) -> dict[str, dict]:
    """The bundle's indicators by name (`kind value`)."""
    return {obj["name"]: obj for obj in document["objects"] if obj["type"] == "indicator"}


def test_every_kind_maps_to_a_valid_stix_indicator_with_its_pattern(client, keys):
    """One listing of each kind becomes an indicator the validator and stix2 accept."""
    submit_batch(client, keys["regulator"], *ONE_OF_EACH)
    document = bundle(client, keys["operator"])
    assert document["type"] == "bundle"
    warnings = check(document)
    warnings |= check_all(document["objects"])
    assert {code(warning) for warning in warnings} <= ALLOWED_WARNINGS, warnings
    found = indicators(document)
    patterns = {obj["pattern"] for obj in found.values()}
    assert "[phone-number:value = '+6581234567']" in patterns
    assert "[phone-number:value LIKE '+65812345__']" in patterns
    assert "[sms-sender-id:value = 'PARCELSG']" in patterns
    assert "[domain-name:value = 'maybank2u-verify.com']" in patterns
    assert any(p.startswith("[url:value = 'pay-parcel-fee.com/pay") for p in patterns)
    assert any(p.startswith("[sms-template:fingerprint = '") for p in patterns)
    assert len(found) >= 6
    phone = found["phone +6581234567"]
    assert phone["id"] == stix.stix_id("phone", "+6581234567")
    assert phone["labels"] == ["investment"]
    assert phone["created_by_ref"] == stix.identity_id("SG")
    assert phone["object_marking_refs"] == [stix.TLP_IDS["TLP:AMBER"]]
    assert phone["valid_until"] > phone["valid_from"]
    by_id = {obj["id"]: obj for obj in document["objects"]}
    assert by_id[stix.TLP_IDS["TLP:AMBER"]]["name"] == "TLP:AMBER"
    assert by_id[phone["created_by_ref"]]["type"] == "identity"
    extension = by_id[stix.extension_id("SG")]
    assert extension["type"] == "extension-definition"
    facts = phone["extensions"][extension["id"]]
    assert facts["status"] == "listed"
    assert phone["confidence"] == stix.CONFIDENCE[facts["risk"]]
    parsed = stix2.parse(document, allow_custom=True)
    assert len(parsed.objects) == len(document["objects"])


def test_ids_are_stable_and_each_change_is_a_newer_version(client, keys):
    """A new report that changes what operators see keeps the id and moves `modified` on."""
    submit_batch(client, keys["regulator"], report("+65 8123 4567", verified=True))
    first = indicators(bundle(client, keys["operator"]))["phone +6581234567"]
    again = indicators(bundle(client, keys["operator"]))["phone +6581234567"]
    assert again == first
    submit_batch(client, keys["operator"], report("+65 8123 4567", category="romance", days_ago=0))
    second = indicators(bundle(client, keys["operator"]))["phone +6581234567"]
    assert second["id"] == first["id"]
    assert second["modified"] > first["modified"]
    assert second["labels"] == ["investment", "romance"]


def test_a_delta_bundle_revokes_a_disconnected_number(client, keys):
    """After a disconnection, the delta since the earlier cursor holds a revoked version."""
    list_two(client, keys["regulator"])
    cursor = int(
        client.get("/api/v1/blocklist", headers=keys["operator"].headers).headers[
            "X-ScamShare-Cursor"
        ]
    )
    before = indicators(bundle(client, keys["operator"]))["phone +6591234567"]
    disconnect(client, keys["operator"], "+6591234567")
    delta = bundle(client, keys["operator"], since=cursor)
    check(delta)
    check_all(delta["objects"])
    found = indicators(delta)
    assert list(found) == ["phone +6591234567"]
    revoked = found["phone +6591234567"]
    assert revoked["revoked"] is True
    assert revoked["id"] == before["id"]
    assert revoked["modified"] > before["modified"]
    assert "phone +6591234567" not in indicators(bundle(client, keys["operator"]))


def test_the_tlp_marking_is_the_node_setting(app, client, keys):
    """SCAMSHARE_TLP decides the marking of every object."""
    app.config["TLP"] = "TLP:GREEN"
    submit_batch(client, keys["regulator"], report("+65 8123 4567", verified=True))
    document = bundle(client, keys["operator"])
    marking = stix.TLP_IDS["TLP:GREEN"]
    assert indicators(document)["phone +6581234567"]["object_marking_refs"] == [marking]
    assert any(obj["id"] == marking for obj in document["objects"])
    check(document)


def test_export_stix_writes_the_same_bundle_the_api_serves(app, client, keys, cli, tmp_path):
    """`scamshare export stix` writes a valid bundle holding every listing."""
    submit_batch(client, keys["regulator"], *ONE_OF_EACH)
    served = bundle(client, keys["operator"])
    path = tmp_path / "listings.json"
    cli()("export", "stix", "--output", str(path))
    written = json.loads(path.read_text())
    check(written)
    assert indicators(written) == indicators(served)
