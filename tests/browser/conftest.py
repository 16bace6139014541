"""Debian's Chromium driven by Playwright, shared by the browser tests (no `playwright install`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",  # the video test plays a muted <video> without a click
]
INSTALL_HINT = (
    "The browser tests need Playwright for Python and Debian's Chromium. CI installs both "
    "(.ci/run: apt-get install -y chromium; pip install -e '.[test]', which includes playwright); by hand: "
    "apt-get install -y chromium && .venv/bin/pip install -e '.[test]' (no `playwright install`: the tests "
    f"drive the system Chromium at {CHROMIUM})."
)


# Module scope, not session: while Playwright's sync API is open it runs an event loop on this
# thread, and every later test that starts one of its own would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"Playwright is not installed ({exc}). {INSTALL_HINT}", pytrace=False)
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}. {INSTALL_HINT}", pytrace=False)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
