"""The MISP feed, read as MISP reads it and loaded with PyMISP."""

from __future__ import annotations

import csv
import hashlib
import io
import time

from pymisp import MISPEvent

from scamshare.interop import stix
from tests.interop.test_stix import ONE_OF_EACH, disconnect, list_two
from tests.reporting import submit_batch

FEED = "/api/v1/feeds/misp/"


def feed(client, credential, name: str):
    """One feed file, read with the key as MISP sends it (a custom Authorization header)."""
    response = client.get(FEED + name, headers=credential.headers)
    assert response.status_code == 200, (name, response.data[:300])
    return response


def load(client, credential) -> tuple[dict, dict[str, MISPEvent]]:
    """The manifest and every event it names, loaded with PyMISP."""
    manifest = feed(client, credential, "manifest.json").json
    events = {}
    for event_id in manifest:
        event = MISPEvent()
        event.load(feed(client, credential, f"{event_id}.json").json)
        events[event_id] = event
    return manifest, events


def attributes(events: dict[str, MISPEvent]) -> dict[str, object]:
    """Every attribute of the events by uuid."""
    return {str(a.uuid): a for event in events.values() for a in event.attributes}


def test_every_kind_is_an_attribute_of_a_type_misp_knows(client, keys):
    """One listing per kind: the events load in PyMISP and agree with the manifest and hashes."""
    submit_batch(client, keys["regulator"], *ONE_OF_EACH)
    reader = keys["operator"]
    manifest, events = load(client, reader)
    assert manifest
    for event_id, entry in manifest.items():
        event = events[event_id]
        assert str(event.uuid) == event_id
        assert event.info == entry["info"]
        assert int(event.timestamp.timestamp()) == entry["timestamp"]
        assert {tag.name for tag in event.tags} == {tag["name"] for tag in entry["Tag"]}
        assert "tlp:amber" in {tag.name for tag in event.tags}
    found = attributes(events)
    types = {a.type for a in found.values()}
    assert types == {"phone-number", "url", "domain", "text"}
    phone = found[stix.stix_id("phone", "+6581234567").split("--")[1]]
    assert phone.type == "phone-number" and phone.value == "+6581234567"
    assert phone.to_ids is True
    assert 'scamshare:category="investment"' in {tag.name for tag in phone.tags}
    fingerprint = _fingerprint(found)
    template = found[stix.stix_id("message", fingerprint).split("--")[1]]
    assert template.type == "text"
    assert "parcel" in template.value.lower() and fingerprint not in template.value
    rows = list(csv.reader(io.StringIO(feed(client, reader, "hashes.csv").get_data(as_text=True))))
    expected = {
        (hashlib.md5(str(a.value).encode()).hexdigest(), str(event.uuid))
        for event in events.values()
        for a in event.attributes
    }
    assert {tuple(row) for row in rows} == expected


def _fingerprint(found: dict) -> str:
    """The fingerprint of the one message template among the attributes (from its comment)."""
    [comment] = [a.comment for a in found.values() if "fingerprint" in a.comment]
    return comment.rsplit(" ", 1)[1]


def test_a_change_moves_its_event_timestamp_and_a_removal_is_a_deleted_attribute(client, keys):
    """MISP pulls an event again when its timestamp moves; a removed value shows as deleted."""
    list_two(client, keys["regulator"])
    reader = keys["operator"]
    before, _ = load(client, reader)
    time.sleep(1.05)  # MISP timestamps are whole seconds: let the next stamp fall in a new one
    disconnect(client, keys["operator"], "+6591234567")
    after, events = load(client, reader)
    assert set(after) == set(before)
    moved = [
        event_id
        for event_id in after
        if after[event_id]["timestamp"] != before[event_id]["timestamp"]
    ]
    assert len(moved) == 1
    removed = attributes(events)[stix.stix_id("phone", "+6591234567").split("--")[1]]
    assert removed.deleted is True and removed.to_ids is False
    assert str(removed.uuid) in {str(a.uuid) for a in events[moved[0]].attributes}
    kept = attributes(events)[stix.stix_id("phone", "+6581234567").split("--")[1]]
    assert kept.deleted is False and kept.to_ids is True


def test_the_feed_needs_a_download_key_and_names_unknown_events(client, keys):
    """Without a key it is 401, for a peer node 403, an unknown event 404."""
    assert client.get(FEED + "manifest.json").status_code == 401
    assert client.get(FEED + "manifest.json", headers=keys["peer_node"].headers).status_code == 403
    missing = client.get(
        FEED + "00000000-0000-0000-0000-000000000000.json", headers=keys["operator"].headers
    )
    assert missing.status_code == 404
    assert missing.json["code"] == "unknown_event"
