"""Signing a test client in to the console as a person of an organisation of some role."""

from __future__ import annotations

import re

from scamshare.db import transaction
from scamshare.errors import NotFound
from scamshare.federation import identity
from scamshare.services import accounts, audit
from scamshare.services import organisations as orgs

PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_account(app, role: str, username: str | None = None, country: str = "SG") -> str:
    """Create an organisation of a role (or reuse it) and an account of it; return the username."""
    username = username or f"{role.replace('_', '-')}-person"
    with transaction(app) as session:
        name = f"Console {role} {country}"
        try:
            org = orgs.find_organisation(session, name)
        except NotFound:
            org = orgs.create_organisation(
                session, audit.NODE, name=name, role=role, country=country
            )
        accounts.create_user(session, audit.NODE, org, username, PASSWORD)
    return username


def token(client, path: str = "/console/login") -> str:
    """The CSRF token of the form on a page."""
    page = client.get(path)
    found = _TOKEN.search(page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    return found.group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    """Post the sign-in form as a browser would; return the answer."""
    return client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token(client)},
    )


def signed_in(app, role: str, **extra):
    """A fresh test client signed in with a new account of a role."""
    client = app.test_client()
    answer = sign_in(client, make_account(app, role, **extra))
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client


def post(client, path: str, data: dict, page: str):
    """Post a form with the CSRF token of the page it is on."""
    return client.post(path, data={**data, "csrf_token": token(client, page)})


def unreachable_peer(client, admin_headers: dict, data_dir) -> None:
    """Give the node its key and a peer (TH) at a port nobody listens on, through the API."""
    identity.write(identity.key_path(str(data_dir)), identity.create(str(data_dir)))
    peer = identity.create(str(data_dir / "peer"))
    added = client.post(
        "/api/v1/federation/peers",
        json={
            "node_id": "scamshare-th",
            "country": "TH",
            "url": "http://127.0.0.1:9",
            "public_key": peer.public_key,
        },
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
