"""Console accounts and sessions: the users command, sign-in, CSRF, limits and sign-out."""

from __future__ import annotations

from scamshare.db import transaction
from scamshare.models import AuditEntry, User
from tests.console.helpers import PASSWORD, make_account, sign_in, signed_in, token


def test_users_create_list_and_disable_through_the_command(cli):
    """`users create` reads the password from stdin, `list` shows it, `disable` ends it."""
    invoke = cli()
    invoke("orgs", "create", "--name", "IMDA", "--role", "regulator", "--country", "SG")
    from click.testing import CliRunner

    from scamshare.cli import main

    runner = CliRunner()
    created = runner.invoke(
        main,
        ["users", "create", "--org", "IMDA", "--username", "Alice", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    assert "created account alice of IMDA (regulator)" in created.output
    listed = invoke("users", "list").output
    assert "alice\tIMDA\tregulator\tactive\tnever" in listed
    assert PASSWORD not in listed
    assert "disabled account alice" in invoke("users", "disable", "alice").output
    assert "alice\tIMDA\tregulator\tdisabled" in invoke("users", "list").output
    again = invoke("users", "disable", "alice", ok=False)
    assert again.exit_code != 0 and "already disabled" in again.output


def test_users_create_refuses_a_short_password_and_a_peer_node_account(cli):
    """Bad input is refused with the field and the reason; nothing is created."""
    invoke = cli()
    invoke("orgs", "create", "--name", "IMDA", "--role", "regulator", "--country", "SG")
    invoke("orgs", "create", "--name", "Peer TH", "--role", "peer_node", "--country", "TH")
    from click.testing import CliRunner

    from scamshare.cli import main

    runner = CliRunner()
    short = runner.invoke(
        main,
        ["users", "create", "--org", "IMDA", "--username", "bob", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code != 0 and "password" in short.output and "12" in short.output
    peer = runner.invoke(
        main,
        ["users", "create", "--org", "Peer TH", "--username", "bob", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert peer.exit_code != 0 and "no console accounts" in peer.output
    assert "bob" not in invoke("users", "list").output


def test_passwords_are_stored_as_argon2_hashes(app):
    """Only an argon2id hash of the password is kept."""
    make_account(app, "regulator", "hashy")
    with transaction(app) as session:
        user = session.query(User).filter_by(username="hashy").one()
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_sign_in_sets_a_httponly_samesite_expiring_cookie_and_shows_the_dashboard(app):
    """A right password signs in; the cookie is HttpOnly, SameSite and expires."""
    client = app.test_client()
    username = make_account(app, "regulator")
    answer = sign_in(client, username)
    assert answer.status_code == 303 and answer.headers["Location"] == "/console/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie
    page = client.get("/console/")
    assert page.status_code == 200 and "Dashboard" in page.get_data(as_text=True)
    assert "Content-Security-Policy" in page.headers


def test_cookies_are_secure_when_the_node_is_served_over_https(database_url, tmp_path):
    """SCAMSHARE_HTTPS=true makes the session cookie Secure."""
    from scamshare.app import create_app

    app = create_app({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "HTTPS": True})
    client = app.test_client()
    answer = sign_in(client, make_account(app, "regulator"))
    assert "Secure" in answer.headers["Set-Cookie"]
    app.extensions["scamshare.engine"].dispose()


def test_a_wrong_password_is_refused_and_audited(app):
    """A wrong password gets 401 and the form again; the attempt is in the audit log."""
    client = app.test_client()
    username = make_account(app, "operator")
    answer = sign_in(client, username, "not the password at all")
    assert answer.status_code == 401
    assert "username or password is not right" in answer.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    with transaction(app) as session:
        entry = (
            session.query(AuditEntry)
            .filter_by(action="console.sign_in")
            .order_by(AuditEntry.id.desc())
            .first()
        )
        assert entry.outcome == "denied" and entry.details["username"] == username


def test_repeated_failed_sign_ins_are_rate_limited(app):
    """After five failures a minute, even the right password waits (429)."""
    client = app.test_client()
    username = make_account(app, "operator")
    for _ in range(5):
        assert sign_in(client, username, "wrong password here").status_code == 401
    limited = sign_in(client, username)
    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.get_data(as_text=True)


def test_a_post_without_a_csrf_token_is_refused(app):
    """Sign-in and every form refuse a POST without the session's token."""
    client = app.test_client()
    username = make_account(app, "regulator")
    refused = client.post("/console/login", data={"username": username, "password": PASSWORD})
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    client = signed_in(app, "admin")
    forged = client.post(
        "/console/organisations", data={"name": "X", "role": "operator", "country": "SG"}
    )
    assert forged.status_code == 400
    assert "X" not in [
        row for row in client.get("/console/organisations").get_data(as_text=True).split("<td>")
    ]


def test_signing_out_ends_the_session_even_for_a_copied_cookie(app):
    """After sign-out, the old cookie (replayed by another client) no longer signs in."""
    client = signed_in(app, "regulator")
    cookie = client.get_cookie("scamshare_console", path="/console")
    assert (
        client.post("/console/logout", data={"csrf_token": token(client, "/console/")}).status_code
        == 303
    )
    assert client.get("/console/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("scamshare_console", cookie.value, path="/console")
    assert thief.get("/console/").status_code == 302


def test_a_disabled_account_neither_signs_in_nor_keeps_its_session(app, cli):
    """Disabling ends the open session at its next request and refuses new sign-ins."""
    client = signed_in(app, "operator", username="dora")
    assert client.get("/console/").status_code == 200
    cli()("users", "disable", "dora")
    assert client.get("/console/").status_code == 302
    assert sign_in(app.test_client(), "dora").status_code == 401


def test_the_session_expires(app):
    """A session cookie older than its lifetime signs nobody in."""
    from datetime import timedelta

    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=-1)
    client = app.test_client()
    sign_in(client, make_account(app, "regulator"))
    assert client.get("/console/").status_code == 302


def test_next_never_leads_to_another_site(app):
    """After sign-in, `next` may name a console page, never another host."""
    client = app.test_client()
    username = make_account(app, "regulator")
    answer = client.post(
        "/console/login",
        data={
            "username": username,
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": token(client),
        },
    )
    assert answer.headers["Location"] == "/console/"
