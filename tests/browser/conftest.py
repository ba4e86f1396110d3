"""A real Chromium (Debian's, never a downloaded one) driving the console of a served node."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = Path(os.environ.get("SCAMSHARE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(
    os.environ.get(
        "SCAMSHARE_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "build" / "screenshots"
    )
)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the run; missing, it fails the tests (never skips them)."""
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
        ".ci/run does so when it is absent"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


class Outside:
    """Requests a page tried to send anywhere but the node: each is refused and remembered."""

    def __init__(self, base: str):
        """Watch for requests that leave `base`."""
        self.base = urlsplit(base).netloc
        self.refused: list[str] = []
        self.served: list[str] = []

    def route(self, route) -> None:
        """Let a request to the node through; abort and record any other."""
        url = route.request.url
        if urlsplit(url).netloc == self.base or url.startswith(("data:", "about:")):
            self.served.append(url)
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()


@pytest.fixture
def page(browser, served):
    """A fresh browser context and page, whose requests may not leave the node."""
    context = browser.new_context(base_url=served, viewport={"width": 1280, "height": 900})
    outside = Outside(served)
    context.route("**/*", outside.route)
    tab = context.new_page()
    tab.outside = outside
    yield tab
    context.close()
    assert outside.refused == [], f"requests left the node: {outside.refused}"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot of the page to the screenshot folder."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
