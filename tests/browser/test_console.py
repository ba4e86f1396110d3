"""The console in a real browser: signing in and out, every page per role, the actions."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from scamshare.auth import ROLE_MATRIX
from tests.browser.conftest import screenshot
from tests.console.helpers import PASSWORD, make_account, unreachable_peer
from tests.console.test_pages import PAGES, PEOPLE
from tests.reporting import report, submit

DOCS = Path(__file__).resolve().parents[2] / "docs"


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    """Fill and send the sign-in form with the mouse, as most people do."""
    page.goto("/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


@pytest.mark.parametrize("role", PEOPLE)
def test_each_role_signs_in_sees_its_pages_gets_403_elsewhere_and_signs_out(app, keys, page, role):
    """Every page for each role that may see it (screenshotted), a 403 page for the others."""
    indicator = submit(app.test_client(), keys["operator"], report())
    submit(app.test_client(), keys["regulator"], report("+65 8123 9999", verified=True))
    username = make_account(app, role)
    sign_in(page, username)
    assert page.url.endswith("/console/")
    assert username in page.inner_text("header")
    pages = {**PAGES, f"/console/indicators/{indicator['id']}": "indicators.read"}
    for path, permission in pages.items():
        answer = page.goto(path)
        name = path.strip("/").replace("/", "-") or "console"
        if role in ROLE_MATRIX[permission]:
            assert answer.status == 200, (role, path)
            assert page.locator("h1").count() == 1
            screenshot(page, f"{role}-{name}")
        else:
            assert answer.status == 403, (role, path)
            assert "403: not for your role" in page.inner_text("main")
    assert page.outside.served  # the page really loaded through the node (and nothing else)
    page.goto("/console/")
    page.get_by_role("button", name="Sign out", exact=True).click()
    assert "/console/login" in page.url
    page.goto("/console/")
    assert "/console/login" in page.url


def test_keyboard_only_sign_in(app, page):
    """The sign-in form works from the keyboard alone: focus, type, Tab, Enter."""
    username = make_account(app, "regulator")
    page.goto("/console/login")
    page.bring_to_front()
    # The field has autofocus; a page opened in the background reaches it with Tab instead.
    for _ in range(5):
        if page.evaluate("document.activeElement.id") == "username":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/")
    assert "Dashboard" in page.inner_text("h1")


def test_a_post_without_the_csrf_token_is_refused(app, page, served):
    """A signed-in browser's POST without the form's token does nothing (400)."""
    sign_in(page, make_account(app, "admin"))
    answer = page.request.post(
        f"{served}/console/organisations",
        form={"name": "Forged Telco", "role": "operator", "country": "SG"},
    )
    assert answer.status == 400
    page.goto("/console/organisations")
    assert "Forged Telco" not in page.inner_text("main")


def test_review_actions_and_appeals_in_the_browser(app, keys, page, served):
    """Verify and list, dismiss, file and resolve an appeal; each checked through the API."""
    api = httpx.Client(base_url=served, headers=keys["regulator"].headers)
    first = submit(app.test_client(), keys["operator"], report("+65 8123 0001"))
    second = submit(app.test_client(), keys["operator"], report("+65 8123 0002"))
    sign_in(page, make_account(app, "regulator"))
    page.goto("/console/review")
    screenshot(page, "action-review")
    page.locator(f"#indicator-{first['id']}").get_by_role("button", name="Verify and list").click()
    assert "now listed" in page.inner_text(".flash")
    assert api.get(f"/api/v1/indicators/{first['id']}").json()["status"] == "listed"
    page.fill(f"#note-{second['id']}", "a courier's real number")
    page.locator(f"#indicator-{second['id']}").get_by_role("button", name="Dismiss").click()
    assert api.get(f"/api/v1/indicators/{second['id']}").json()["status"] == "delisted"

    page.get_by_role("button", name="Sign out", exact=True).click()
    sign_in(page, make_account(app, "operator"))
    page.goto("/console/appeals")
    page.fill("#a-value", "8123 0001")
    page.fill("#a-reason", "The number has a new holder")
    page.fill("#a-contact", "TICKET-77")
    page.get_by_role("button", name="File appeal", exact=True).click()
    appeals = api.get("/api/v1/appeals").json()["items"]
    assert [(a["status"], a["contact_ref"]) for a in appeals] == [("open", "TICKET-77")]

    page.get_by_role("button", name="Sign out", exact=True).click()
    sign_in(page, "regulator-person")
    page.goto("/console/appeals")
    row = page.locator(f"#appeal-{appeals[0]['id']}")
    row.locator("select").select_option("upheld")
    row.locator("input[name=note]").fill("Still a scam line")
    row.get_by_role("button", name="Resolve").click()
    appeal = api.get("/api/v1/appeals").json()["items"][0]
    assert appeal["status"] == "upheld" and appeal["resolution_note"] == "Still a scam line"
    api.close()


def test_protected_values_keys_and_sync_now_in_the_browser(app, keys, page, served, tmp_path):
    """Add a protected value, issue and revoke a key, sync now; each checked through the API."""
    api = httpx.Client(base_url=served)
    sign_in(page, make_account(app, "regulator"))
    page.goto("/console/protected")
    page.fill("#p-value", "1800 222 2222")
    page.fill("#p-label", "National bank hotline")
    page.select_option("#p-category", "bank_hotline")
    page.get_by_role("button", name="Protect", exact=True).click()
    items = api.get("/api/v1/protected", headers=keys["regulator"].headers).json()["items"]
    assert [i["label"] for i in items] == ["National bank hotline"]
    page.get_by_role("button", name="Sign out", exact=True).click()

    unreachable_peer(api, keys["admin"].headers, tmp_path)
    submit(app.test_client(), keys["regulator"], report(verified=True))  # something to send
    app.config.update(FEDERATION_ATTEMPTS=1, FEDERATION_CONNECT_TIMEOUT=1)
    sign_in(page, make_account(app, "admin"))
    page.goto("/console/organisations")
    page.select_option("#k-org", label=keys["operator"].name)
    page.get_by_role("button", name="Issue key", exact=True).click()
    key = page.inner_text("#new-key")
    assert re.fullmatch(r"ss\.k[0-9a-f]+\.\S+", key)
    screenshot(page, "action-new-key")
    assert (
        api.get("/api/v1/indicators", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    page.goto("/console/organisations")
    page.locator(f"#key-{key.split('.')[1]}").get_by_role("button", name="Revoke").click()
    assert (
        api.get("/api/v1/indicators", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    )

    page.goto("/console/federation")
    page.locator("#peer-scamshare-th").get_by_role("button", name="Sync now").click()
    assert "Sync with scamshare-th failed" in page.inner_text(".flash")
    screenshot(page, "action-federation")
    peers = api.get("/api/v1/federation/peers", headers=keys["admin"].headers).json()
    assert peers[0]["consecutive_failures"] == 1 and peers[0]["last_error"]
    api.close()


def test_the_dashboard_screenshot_in_the_readme_comes_from_a_real_page(app, keys, page, tmp_path):
    """The README's dashboard picture: taken here, of a node with some reports and a peer."""
    client = app.test_client()
    for number in range(8):
        submit(
            client,
            keys["regulator"],
            report(
                f"+65 8123 10{number:02d}", days_ago=number % 5 + 0.01, verified=number % 2 == 0
            ),
        )
    submit(client, keys["operator"], report("https://parcel-redelivery.xyz/track", kind="url"))
    unreachable_peer(client, keys["admin"].headers, tmp_path)
    sign_in(page, make_account(app, "regulator"))
    page.goto("/console/")
    assert page.locator("svg.chart").count() == 1
    path = screenshot(page, "dashboard")
    if os.environ.get("SCAMSHARE_UPDATE_DOCS") == "1":  # README's picture, taken again
        shutil.copyfile(path, DOCS / "console-dashboard.png")
