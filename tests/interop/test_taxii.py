"""The TAXII 2.1 server, through HTTP: its resources, filters, paging, keys and errors."""

from __future__ import annotations

import base64

import pytest

from scamshare.interop import stix, taxii
from tests.interop.conftest import list_phones, phone
from tests.interop.stixcheck import check_all

TAXII = "application/taxii+json;version=2.1"


def basic(credential) -> dict[str, str]:
    """HTTP Basic headers: the key id as user name, the whole key as password."""
    raw = f"{credential.key_id}:{credential.key}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode(), "Accept": TAXII}


def objects_url(app) -> str:
    """The objects endpoint of the node's collection."""
    return f"/taxii2/api/collections/{taxii.collection_id(app.config['COUNTRY'])}/objects/"


def test_discovery_root_and_collection_answer_in_taxii_media_type(app, client, keys):
    """A reader with HTTP Basic walks discovery, the API root and the collection."""
    headers = basic(keys["operator"])
    found = client.get("/taxii2/", headers=headers)
    assert found.status_code == 200
    assert found.headers["Content-Type"] == TAXII
    assert found.json["api_roots"] == ["http://localhost/taxii2/api/"]
    root = client.get("/taxii2/api/", headers=headers)
    assert root.json["versions"] == [TAXII]
    listing = client.get("/taxii2/api/collections/", headers=headers).json["collections"]
    assert [c["id"] for c in listing] == [taxii.collection_id("SG")]
    assert listing[0]["can_read"] is True and listing[0]["can_write"] is False
    one = client.get(f"/taxii2/api/collections/{listing[0]['id']}/", headers=headers)
    assert one.json == listing[0]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic " + base64.b64encode(b"kwrong:ss.kx.y").decode()}, 401),
        ("peer_node", 403),
        ("admin", 403),
    ],
)
def test_taxii_refuses_callers_without_download_permission_with_taxii_errors(
    app, client, keys, headers, status
):
    """No key, a wrong key or a role without blocklist.download get a TAXII error message."""
    if isinstance(headers, str):
        headers = basic(keys[headers])
    response = client.get("/taxii2/api/collections/", headers=headers)
    assert response.status_code == status
    assert response.headers["Content-Type"] == TAXII
    assert response.json["http_status"] == str(status)
    assert response.json["title"] and response.json["description"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_bearer_keys_work_as_on_the_rest_of_the_api(app, client, keys):
    """The same key as a Bearer token reads the collection."""
    headers = {**keys["law_enforcement"].headers, "Accept": TAXII}
    assert client.get(objects_url(app), headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ({"added_after": "yesterday"}, "Invalid filter"),
        ({"next": "not-a-token"}, "Invalid next"),
        ({"limit": "-3"}, "Invalid limit"),
        ({"match[id]": "indicator--nope"}, "Invalid id"),
        ({"match[version]": "newest"}, "Invalid filter"),
        ({"colour": "red"}, "Unknown filter"),
    ],
)
def test_bad_filters_are_400_taxii_errors_naming_the_filter(app, client, keys, query, title):
    """Every malformed filter is refused with a TAXII error, never a 500."""
    response = client.get(objects_url(app), query_string=query, headers=basic(keys["operator"]))
    assert response.status_code == 400
    assert response.json["title"] == title
    assert response.headers["Content-Type"] == TAXII


def test_unknown_resources_writes_and_media_types_are_taxii_errors(app, client, keys):
    """Unknown collections and objects are 404, writes 405, a non-TAXII Accept 406."""
    headers = basic(keys["operator"])
    assert client.get("/taxii2/api/collections/nope/objects/", headers=headers).status_code == 404
    missing = objects_url(app) + stix.stix_id("phone", "+6590000000") + "/"
    assert client.get(missing, headers=headers).status_code == 404
    written = client.post(objects_url(app), headers=headers, data=b"{}", content_type=TAXII)
    assert written.status_code == 405
    assert written.headers["Content-Type"] == TAXII
    html = client.get(objects_url(app), headers={**headers, "Accept": "text/html"})
    assert html.status_code == 406


def test_filters_select_objects_and_pages_carry_date_added_headers(app, client, keys):
    """match[type], match[id], match[version], limit/next and the date headers work together."""
    list_phones(client, keys["regulator"], 0, 5)
    headers = basic(keys["operator"])
    url = objects_url(app)
    everything = client.get(url, headers=headers).json["objects"]
    check_all(everything)
    kinds = [obj["type"] for obj in everything]
    assert kinds.count("indicator") == 5 and "marking-definition" in kinds
    only = client.get(url, query_string={"match[type]": "indicator"}, headers=headers)
    assert [obj["type"] for obj in only.json["objects"]] == ["indicator"] * 5
    first, last = only.headers["X-TAXII-Date-Added-First"], only.headers["X-TAXII-Date-Added-Last"]
    assert first < last
    target = only.json["objects"][2]
    by_id = client.get(url, query_string={"match[id]": target["id"]}, headers=headers)
    assert by_id.json["objects"] == [target]
    by_version = client.get(
        url,
        query_string={"match[version]": target["modified"], "match[type]": "indicator"},
        headers=headers,
    )
    assert target in by_version.json["objects"]
    none = client.get(url, query_string={"match[spec_version]": "2.0"}, headers=headers)
    assert none.json == {"more": False}
    one = client.get(url + target["id"] + "/", headers=headers)
    assert one.json["objects"] == [target]
    versions = client.get(url + target["id"] + "/versions/", headers=headers)
    assert versions.json == {"more": False, "versions": [target["modified"]]}
    manifest = client.get(url.replace("objects/", "manifest/"), headers=headers).json
    assert [record["id"] for record in manifest["objects"]] == [obj["id"] for obj in everything]
    assert all(record["media_type"] == stix.MEDIA_TYPE for record in manifest["objects"])
    seen, query = [], {"limit": "4"}
    while True:
        response = client.get(url, query_string=query, headers=headers).json
        seen += response.get("objects", [])
        if not response["more"]:
            break
        query = {"limit": "4", "next": response["next"]}
    assert seen == everything
    after = client.get(url, query_string={"added_after": first}, headers=headers).json
    assert [obj["id"] for obj in after["objects"]] == [o["id"] for o in only.json["objects"][1:]]
    assert phone(0) in only.json["objects"][0]["pattern"]
