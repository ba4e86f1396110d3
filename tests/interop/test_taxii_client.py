"""The node as an operator's TAXII poller sees it: taxii2-client over HTTP on loopback."""

from __future__ import annotations

from datetime import timedelta

from taxii2client.v21 import Server, as_pages

from scamshare import db
from scamshare.clock import utcnow
from scamshare.interop import stix
from scamshare.services.audit import Actor
from scamshare.services.expiry import expire_due
from tests.interop.conftest import list_phones, phone
from tests.interop.stixcheck import check_all, check_sampled
from tests.reporting import report, submit_batch

LISTED = 10_000
PAGE = 1000


def poll(collection, **filters) -> list[dict]:
    """Every object of the collection, a page at a time, as a poller reads them."""
    objects: list[dict] = []
    for envelope in as_pages(collection.get_objects, per_request=PAGE, **filters):
        objects += envelope.get("objects", [])
    return objects


def last_added(collection) -> str:
    """The newest date_added of the collection, from its manifest: where the next poll starts."""
    newest = ""
    for envelope in as_pages(collection.get_manifest, per_request=5000):
        newest = max([newest] + [record["date_added"] for record in envelope.get("objects", [])])
    return newest


def appeal_and_delist(client, keys, number: str) -> None:
    """An operator appeals a listed number and a regulator delists it."""
    filed = client.post(
        "/api/v1/appeals",
        json={"value": number, "reason": "number reassigned", "contact_ref": "ticket-1"},
        headers=keys["operator"].headers,
    )
    assert filed.status_code in (200, 201), filed.json
    resolved = client.post(
        f"/api/v1/appeals/{filed.json['id']}/resolve",
        json={"outcome": "delisted"},
        headers=keys["regulator"].headers,
    )
    assert resolved.status_code == 200, resolved.json


def test_a_taxii_poller_pages_through_every_listing_then_sees_each_change(
    app, client, keys, served
):
    """taxii2-client pages 10,000 listings, then polls after them and gets new and revoked ones."""
    list_phones(client, keys["regulator"], 0, LISTED)
    url = "pay-parcel-fee.com/pay"  # canonical: without its scheme
    submit_batch(
        client,
        keys["regulator"],
        report("https://" + url, kind="url", days_ago=13.5, verified=True),
    )
    reader = keys["operator"]
    server = Server(f"{served}/taxii2/", user=reader.key_id, password=reader.key)
    [root] = server.api_roots
    [collection] = root.collections
    assert collection.can_read and not collection.can_write

    objects = poll(collection)
    indicators = [obj for obj in objects if obj["type"] == "indicator"]
    assert len(indicators) == LISTED + 1
    assert len({obj["id"] for obj in objects}) == len(objects)
    assert not any(obj.get("revoked") for obj in indicators)
    check_sampled(objects)
    since = last_added(collection)

    submit_batch(
        client,
        keys["regulator"],
        report(phone(LISTED), verified=True),
        report(phone(1), category="romance", days_ago=0, verified=True),
    )
    with db.transaction(app) as session:
        expired = expire_due(
            session, app.extensions["scamshare.policy"], utcnow() + timedelta(days=1), Actor()
        )
    assert expired == 1
    appeal_and_delist(client, keys, phone(2))

    changes = poll(collection, added_after=since)
    check_all(changes)
    by_id = {obj["id"]: obj for obj in changes}
    expected = {stix.stix_id("phone", phone(n)): n for n in (LISTED, 1, 2)}
    expected[stix.stix_id("url", url)] = "url"
    assert set(by_id) == set(expected)
    assert by_id[stix.stix_id("phone", phone(2))]["revoked"] is True
    assert by_id[stix.stix_id("url", url)]["revoked"] is True
    updated = by_id[stix.stix_id("phone", phone(1))]
    before = next(obj for obj in indicators if obj["id"] == updated["id"])
    assert updated["modified"] > before["modified"]
    assert "romance" in updated["labels"] and "revoked" not in updated
    assert "revoked" not in by_id[stix.stix_id("phone", phone(LISTED))]
    assert poll(collection, added_after=last_added(collection)) == []
