"""A signed WebM played and seeked in a real browser (SPEC §1: passthrough files with ``Range``).

PyAV writes a 5 s, 320×240 VP8 WebM of moving coloured frames with a keyframe every second, noisy
enough (about 1.7 MB) that, over a connection slowed to a known rate, headless Chromium cannot have
it all when the test seeks. The page holds ``<video src=SIGNED_URL muted preload=auto>``; the test waits
for playback, seeks to 3.5 s, and waits for the seek and for playback beyond it. The origin, served by
uvicorn in a thread, records every request it sees, so the test can assert that the seek was
answered by a 206 for a range starting near the 3 s keyframe: the origin's ranges are what make
seeking work. An unsigned request for the same video is a 403, and the element reports an error.

Nothing here is skipped: without Playwright or Chromium the tests fail and say how to install them.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import pytest
from PIL import Image, ImageDraw
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from origin import Settings, create_app
from tests.conftest import SECRET, make_token
from tests.live import LiveServer, exchange, live_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

TIMEOUT_MS = 30_000
WIDTH, HEIGHT = 320, 240
FPS = 25
SECONDS = 5
SEEK_TO = 3.5
# Slower than the video's own bitrate (about 2.7 Mbit/s): when the test seeks, the first request has
# brought well under the 3 s keyframe, further away than Chromium waits for a running request to reach.
DOWNLOAD_BYTES_PER_SECOND = 150_000


@dataclass(frozen=True)
class Video:
    root: Path
    size: int
    keyframes: dict[float, int]  # presentation time in seconds -> byte offset of the keyframe


@dataclass(frozen=True)
class Seen:
    """One request as the origin saw it."""

    path: str
    range: str | None
    status: int
    content_range: str | None
    auth: str | None

    @property
    def first_byte(self) -> int | None:
        """Where the requested range starts (``bytes=N-``), if it has a start."""
        if self.range is None or not self.range.startswith("bytes="):
            return None
        start = self.range.removeprefix("bytes=").split(",")[0].split("-")[0].strip()
        return int(start) if start.isdigit() else None


@dataclass
class Recorder:
    """An ASGI wrapper noting the request headers and response status of every request."""

    app: ASGIApp
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in message["headers"]}
                entry = Seen(
                    scope["path"],
                    headers.get("range"),
                    message["status"],
                    sent.get("content-range"),
                    sent.get("x-auth-result"),
                )
                with self.lock:
                    self.seen.append(entry)
            await send(message)

        await self.app(scope, receive, observe)

    def snapshot(self) -> list[Seen]:
        with self.lock:
            return list(self.seen)


@dataclass(frozen=True)
class Origin:
    server: LiveServer
    recorder: Recorder


# ---------------------------------------------------------------------------------------- fixtures


def write_webm(path: Path) -> None:
    """VP8 in WebM: blocky colour noise (for bytes) under a yellow square crossing the frame."""
    noise = random.Random(20)
    cells = (WIDTH // 8, HEIGHT // 8)
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=FPS, options={"deadline": "realtime", "cpu-used": "8"})
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 3_000_000
        stream.codec_context.gop_size = FPS  # a keyframe every second
        stream.codec_context.time_base = Fraction(1, FPS)
        for number in range(FPS * SECONDS):
            image = Image.frombytes("RGB", cells, noise.randbytes(cells[0] * cells[1] * 3))
            image = image.resize((WIDTH, HEIGHT), Image.Resampling.NEAREST)
            left = number * 2 % (WIDTH - 40)
            ImageDraw.Draw(image).rectangle((left, 100, left + 40, 140), fill=(255, 255, 0))
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
            frame.pts = number
            frame.time_base = Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def keyframes_of(path: Path) -> dict[float, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            float(packet.pts * packet.time_base): packet.pos
            for packet in container.demux(stream)
            if packet.is_keyframe and packet.pts is not None and packet.pos is not None
        }


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Video:
    root = tmp_path_factory.mktemp("video")
    write_webm(root / "clip.webm")
    keyframes = keyframes_of(root / "clip.webm")
    assert sorted(keyframes) == [float(second) for second in range(SECONDS)], keyframes
    size = (root / "clip.webm").stat().st_size
    assert keyframes[3.0] > 500_000, f"the video is too small ({size} bytes) to be still loading when seeked"
    return Video(root, size, keyframes)


@pytest.fixture(scope="module")
def origin(video: Video) -> Iterator[Origin]:
    recorder = Recorder(create_app(Settings(root=video.root, keys={"main": SECRET}, render_concurrency=1)))
    with live_server(recorder) as server:
        yield Origin(server, recorder)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    devtools = context.new_cdp_session(tab)
    devtools.send("Network.enable")
    devtools.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": DOWNLOAD_BYTES_PER_SECOND, "uploadThroughput": -1},
    )
    yield tab
    context.close()


def show_video(page: Page, url: str) -> None:
    page.set_content(f'<!doctype html><video id="clip" src="{url}" muted preload="auto"></video>')


# ---------------------------------------------------------------------------------------- tests


def test_a_signed_video_plays_and_seeks_through_ranges(page: Page, origin: Origin, video: Video) -> None:
    url = f"{origin.server.base_url}/clip.webm?jwt={make_token(exp_in=600)}"
    show_video(page, url)
    assert page.evaluate("() => document.getElementById('clip').play().then(() => true)") is True
    page.wait_for_function("() => document.getElementById('clip').currentTime > 0.3")
    playing = page.evaluate(
        """() => { const v = document.getElementById('clip');
                   return {width: v.videoWidth, height: v.videoHeight, duration: v.duration, error: v.error}; }"""
    )
    assert playing == {"width": WIDTH, "height": HEIGHT, "duration": SECONDS, "error": None}

    before_seek = len(origin.recorder.snapshot())
    landed = page.evaluate(
        """(to) => new Promise((resolve) => {
               const v = document.getElementById('clip');
               v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
               v.currentTime = to;
           })""",
        SEEK_TO,
    )
    assert abs(landed - SEEK_TO) < 0.1
    page.wait_for_function(f"() => document.getElementById('clip').currentTime > {SEEK_TO + 0.3}")
    assert page.evaluate("() => document.getElementById('clip').error") is None

    everything = origin.recorder.snapshot()
    seen = [entry for entry in everything if entry.path == "/clip.webm"]
    assert seen, "the origin saw no request for the video"
    assert all(entry.status in (200, 206) for entry in seen), seen
    for entry in seen:
        if entry.status == 206:
            assert entry.content_range is not None and entry.content_range.endswith(f"/{video.size}"), entry
            assert entry.content_range.startswith(f"bytes {entry.first_byte}-"), entry
    seek_ranges = [
        entry
        for entry in everything[before_seek:]
        if entry.path == "/clip.webm"
        and entry.status == 206
        and entry.first_byte is not None
        and 0 < entry.first_byte <= video.keyframes[3.0]
    ]
    assert seek_ranges, f"no range request brought the data at the {SEEK_TO} s seek: {seen}"
    assert seek_ranges[0].first_byte is not None
    assert seek_ranges[0].first_byte > video.keyframes[2.0] - 64 * 1024, "the seek started reading far too early"


def test_an_unsigned_video_is_refused_and_the_element_errors(page: Page, origin: Origin) -> None:
    refused = exchange(origin.server.port, b"/clip.webm", headers=(b"Range: bytes=0-",))
    assert refused.status == 403
    assert refused.headers["x-auth-result"] == "missing token"

    before = len(origin.recorder.snapshot())
    show_video(page, f"{origin.server.base_url}/clip.webm")
    code = page.evaluate(
        """() => new Promise((resolve) => {
               const v = document.getElementById('clip');
               if (v.error) { resolve(v.error.code); return; }
               v.addEventListener('error', () => resolve(v.error.code), {once: true});
           })"""
    )
    assert code == 4  # MEDIA_ERR_SRC_NOT_SUPPORTED: the browser got a 403, not a video
    assert page.evaluate("() => document.getElementById('clip').videoWidth") == 0
    asked = [entry for entry in origin.recorder.snapshot()[before:] if entry.path == "/clip.webm"]
    assert asked and all((entry.status, entry.auth) == (403, "missing token") for entry in asked), asked
