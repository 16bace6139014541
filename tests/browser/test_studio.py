"""The designers' studio (SPEC §7, ``/studio``) in a real browser, against a real ``origin serve``.

Chromium (Debian's package, driven by Playwright for Python) logs in with the admin token, picks an
image in the folder browser (partly by keyboard), sets a width, a text and its colour, waits for the
live preview, makes a signed link, and then checks from outside the browser that the link serves
exactly what the preview showed: a fresh browser context (no studio cookie) loads it, and the test's
own HTTP client decodes it with Pillow and compares it with the same image minted without the text.
Nothing here is skipped: without Playwright or Chromium the tests fail and say how to install them
(.ci/run does).

``UPDATE_SCREENSHOTS=1`` also writes the screenshot taken on the way to ``docs/studio.png`` (the
README's picture); otherwise it goes to the test's temporary folder, so a test run leaves the work
tree as it was.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from PIL import Image, ImageChops

from origin import sign_url
from tests.delivery.servers import HOST, Drained, free_port, request, wait_until_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Response, ViewportSize

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "images"
SCREENSHOT = REPO / "docs" / "studio.png"
SECRET = "studio-browser-test-secret-0123456789-abcdef"
ADMIN_TOKEN = "studio-browser-test-admin-token-0123456789"
LAPTOP: ViewportSize = {"width": 1366, "height": 900}
TEXT = "© Studio preview"
TEXT_COLOUR = "#ff3366"
TIMEOUT_MS = 15_000


# ---------------------------------------------------------------------------------------- fixtures


@dataclass
class Origin:
    port: int
    process: Drained

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origin]:
    """``python -m origin serve`` on a copy of the fixtures, with a signing key and an admin token."""
    root = tmp_path_factory.mktemp("studio") / "images"
    shutil.copytree(FIXTURES, root)
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("ORIGIN_")}
    env.update(ORIGIN_JWT_SECRET=SECRET, ORIGIN_ADMIN_TOKEN=ADMIN_TOKEN)
    argv = [sys.executable, "-m", "origin", "serve", "--root", str(root), "--host", HOST, "--port", str(port)]
    process = Drained("origin", argv, env=env)
    try:
        wait_until_serving(process, port)
        yield Origin(port, process)
    finally:
        process.stop()


@dataclass
class Watch:
    """What the browser saw: every response body (read as it arrived) and every uncaught script error."""

    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("response", self._response)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _response(self, response: Response) -> None:
        if 300 <= response.status < 400:
            return  # a redirect has no body to read
        try:
            self.bodies.append((response.url, response.body()))
        except Exception as exc:  # noqa: BLE001 - a body the browser already dropped
            self.bodies.append((response.url, f"<unreadable: {exc}>".encode()))

    def assert_clean(self, page: Page) -> None:
        assert not self.errors, f"script errors on the page: {self.errors}"
        assert any(url.endswith("/studio/api/options") for url, _ in self.bodies), "no API response was seen"
        secrets = {"JWT secret": SECRET.encode(), "admin token": ADMIN_TOKEN.encode()}
        for label, secret in secrets.items():
            assert secret.decode() not in page.content(), f"the page shows the {label}"
            for url, body in self.bodies:
                assert secret not in body, f"the {label} was in the response to {url}"


@pytest.fixture
def page(browser: Browser, origin: Origin) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(viewport=LAPTOP, base_url=origin.base, reduced_motion="reduce")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    watch = Watch()
    watch.attach(tab)
    yield tab, watch
    context.close()


# ---------------------------------------------------------------------------------------- helpers


def log_in(page: Page, token: str) -> None:
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("domcontentloaded")


def claims(url: str) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, str]]]:
    """Header, payload and the unsigned query of a signed URL (decoded, not verified)."""
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    tokens = [value for name, value in query if name == "jwt"]
    assert len(tokens) == 1, f"not one jwt in {url}"
    header, payload = (
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in tokens[0].split(".")[:2]
    )
    return header, payload, [(name, value) for name, value in query if name != "jwt"]


def fetch_image(origin: Origin, url: str) -> Image.Image:
    parts = urlsplit(url)
    response = request(origin.port, f"{parts.path}?{parts.query}")
    assert response.status == 200, (response.status, response.body[:300])
    assert response.headers["content-type"].startswith("image/"), response.headers
    image = Image.open(io.BytesIO(response.body))
    image.load()
    return image.convert("RGB")


def wait_for_preview(page: Page, width: int) -> None:
    """Until the preview is up to date with the controls (no render pending) and shows ``width`` px."""
    page.wait_for_function(
        """(width) => {
            const frame = document.getElementById("preview-frame");
            const img = document.getElementById("preview-image");
            return frame.dataset.state === "ready" && !img.hidden && img.complete && img.naturalWidth === width;
        }""",
        arg=width,
    )


# ---------------------------------------------------------------------------------------- tests


def test_login_asks_for_the_admin_token_and_logout_ends_the_session(page: tuple[Page, Watch], origin: Origin) -> None:
    tab, watch = page
    response = tab.goto("/studio")
    assert response is not None and response.status == 200
    assert tab.get_by_label("Admin token").get_attribute("type") == "password"
    assert tab.get_by_test_id("login-error").inner_text().strip() == ""

    log_in(tab, "not-the-admin-token-" + "x" * 24)
    error = tab.get_by_test_id("login-error")
    assert error.is_visible(), "a wrong token shows no error"
    assert error.inner_text().strip(), "a wrong token shows an empty error"
    assert tab.get_by_test_id("controls").count() == 0, "a wrong token opened the studio"

    log_in(tab, ADMIN_TOKEN)
    tab.get_by_test_id("controls").wait_for()
    cookies = tab.context.cookies()
    assert cookies and all(cookie["httpOnly"] and cookie["sameSite"] == "Strict" for cookie in cookies), cookies
    assert tab.locator('meta[name="csrf-token"]').get_attribute("content") not in ("", "{{csrf_token}}")
    tab.get_by_test_id("image-item").first.wait_for()

    tab.get_by_role("button", name="Log out").click()
    tab.get_by_label("Admin token").wait_for()
    status = tab.evaluate("() => fetch('/studio/api/browse?path=/').then((r) => r.status)")
    assert status in (401, 403), f"the studio's API answers {status} after logging out"
    watch.assert_clean(tab)


def test_designer_previews_text_and_copies_a_signed_link(
    page: tuple[Page, Watch], origin: Origin, browser: Browser, tmp_path: Path
) -> None:
    started = time.monotonic()
    tab, watch = page
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin.base)
    tab.goto("/studio")
    log_in(tab, ADMIN_TOKEN)
    tab.get_by_test_id("controls").wait_for()

    # The folder browser, by keyboard: into gallery/ with Enter, back with Space on the breadcrumb,
    # then photo.jpg with Enter.
    gallery = tab.locator('[data-testid="folder-item"][data-folder="/gallery/"]')
    gallery.focus()
    tab.keyboard.press("Enter")
    tab.locator('[data-testid="image-item"][data-path="/gallery/one.jpg"]').wait_for()
    assert tab.get_by_test_id("breadcrumb").inner_text().split() == ["All", "images", "gallery"]
    assert tab.evaluate("() => document.activeElement.closest('#browser') !== null"), "focus left the browser"
    tab.locator('[data-testid="crumb"][data-folder="/"]').focus()
    tab.keyboard.press("Space")
    photo = tab.locator('[data-testid="image-item"][data-path="/photo.jpg"]')
    photo.wait_for()
    thumbnail = photo.locator("img")
    tab.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    photo.focus()
    tab.keyboard.press("Enter")
    assert photo.get_attribute("aria-pressed") == "true"
    assert tab.get_by_test_id("current-path").inner_text() == "/photo.jpg"

    # A bad value is explained next to its control, and goes away when fixed.
    tab.get_by_label("Quality", exact=True).fill("0")
    tab.get_by_test_id("err-q").wait_for()
    assert tab.get_by_test_id("err-q").inner_text().strip()
    assert tab.get_by_label("Quality", exact=True).get_attribute("aria-invalid") == "true"
    tab.get_by_label("Quality", exact=True).fill("")

    # Width, text and colour; the preview catches up with all three.
    tab.get_by_label("Width", exact=True).fill("400")
    tab.get_by_label("Text", exact=True).press_sequentially(TEXT)
    tab.get_by_label("Colour", exact=True).fill(TEXT_COLOUR)
    wait_for_preview(tab, 400)
    assert tab.get_by_test_id("err-q").inner_text().strip() == ""
    assert "400 × " in tab.get_by_test_id("preview-status").inner_text()
    preview_src = tab.get_by_test_id("preview-image").get_attribute("src") or ""
    _, preview_payload, _ = claims(preview_src)
    assert preview_payload["args"] == {"w": 400, "text": TEXT, "text.color": "FF3366"}, preview_payload
    assert preview_payload["exp"] - time.time() <= 300 + 5

    # The signed link, valid for a day.
    tab.get_by_label("Link valid for").select_option("86400")
    tab.get_by_role("button", name="Get signed link").click()
    tab.get_by_test_id("link-result").wait_for()
    url = tab.get_by_test_id("link-url").input_value()
    header, payload, unsigned = claims(url)
    assert url.startswith(origin.base + "/photo.jpg?"), url
    assert header["alg"] == "HS256"
    assert payload["args"] == {"w": 400, "text": TEXT, "text.color": "FF3366"}, payload
    assert payload["aud"] == "/photo.jpg"
    assert 86400 - 60 <= payload["exp"] - time.time() <= 86400 + 5
    assert unsigned == []
    shown = json.loads(tab.get_by_test_id("link-token").inner_text())
    assert shown == {"header": header, "payload": payload}

    tab.get_by_role("button", name="Copy").click()
    copied = tab.evaluate("() => navigator.clipboard.readText().catch(() => null)")
    if copied is not None:
        assert copied == url
    else:  # no clipboard: the fallback selected the text for Ctrl+C
        assert tab.evaluate("() => document.activeElement.id") == "link-url"

    screenshot = tab.screenshot(full_page=False)
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path / "studio.png"
    target.write_bytes(screenshot)
    assert Image.open(io.BytesIO(screenshot)).size == (LAPTOP["width"], LAPTOP["height"])

    # The link works without the studio's cookie, and serves the image with its text.
    outsider = browser.new_context()
    try:
        loaded = outsider.new_page().goto(url)
        assert loaded is not None and loaded.status == 200, loaded and loaded.status
        assert (loaded.header_value("content-type") or "").startswith("image/")
    finally:
        outsider.close()
    with_text = fetch_image(origin, url)
    plain = fetch_image(origin, sign_url("/photo.jpg", key=SECRET.encode(), expires_in=300, args={"w": 400}))
    assert with_text.width == 400 and with_text.size == plain.size, (with_text.size, plain.size)
    width, height = plain.size
    centre = (width // 5, height * 2 // 5, width * 4 // 5, height * 3 // 5)
    difference = ImageChops.difference(with_text.crop(centre), plain.crop(centre)).convert("L")
    changed = sum(difference.histogram()[49:])  # pixels that moved by more than 48 of 255
    assert changed > 150, f"only {changed} pixels of the centre differ: no text drawn?"

    # "Any width": w leaves the signature, the page may pick another one.
    tab.get_by_test_id("link-unsigned-w").check()
    tab.get_by_test_id("link-stale").wait_for()
    tab.get_by_role("button", name="Get signed link").click()
    tab.wait_for_function("(old) => document.getElementById('link-url').value !== old", arg=url)
    flexible = tab.get_by_test_id("link-url").input_value()
    _, payload, unsigned = claims(flexible)
    assert unsigned == [("w", "400")], unsigned
    assert payload["args"] == {"text": TEXT, "text.color": "FF3366"}, payload
    assert fetch_image(origin, flexible.replace("w=400", "w=240")).width == 240

    watch.assert_clean(tab)
    assert time.monotonic() - started < 60
