"""Hostile source files against the whole origin (SPEC §6: 422 for a source that cannot be processed;
§9: pixel and byte limits, formats detected from the bytes, EPS/PSD/PDF never opened).

Each case builds its file in the test's tmp folder (``hostile_images``), then runs the origin in a
*subprocess* that

1. builds the app (``Settings(root=..., keys={"main": SECRET})``) and warms it up with one good render,
2. records its peak RSS (``ru_maxrss``), requests the hostile file(s), records the peak RSS again,
3. requests ``photo.jpg`` (a cache miss) from the same app, which must still be a 200.

A separate process gives a peak-RSS figure that belongs to this request alone, a hard ``timeout``
(a hang fails the test, we never assert a duration) and a ``PATH`` we can booby-trap with fake
Ghostscript binaries. As in the suite's ``filterwarnings = error``, warnings are errors in the
subprocess, so a Pillow warning escaping the app shows up as a 500. A few cases also run in
``production`` mode (warnings stay warnings, and those that escape the app are recorded), because
the code paths differ: Pillow's DecompressionBombWarning, for one, only stops a decode when it is
an error.

The property test at the end runs in-process: random mutations of the fixtures are 200 or 422.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from starlette.testclient import TestClient

from origin import Settings, create_app
from tests.conftest import FIXTURES, SECRET, make_token
from tests.security import hostile_images as hostile

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
RSS_GROWTH_LIMIT_MB = 300  # what one hostile request may add to the process's peak RSS
SUBPROCESS_TIMEOUT = 180  # seconds; generous: a hang fails, a slow CI does not
QUERY = "w=300&format=optimal"
# Chrome's Accept for images: format=optimal then picks AVIF (the most expensive encoder).
ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
UNPROCESSABLE = "source cannot be processed"
GOOD = "photo.jpg"


# --------------------------------------------------------------------------------------------
# The subprocess harness
# --------------------------------------------------------------------------------------------

RUNNER = r"""
import base64, gc, json, logging, os, resource, sys, traceback, warnings

config = json.loads(sys.stdin.read())
if config["warnings"] == "error":
    warnings.simplefilter("error")  # as the suite's filterwarnings = error
    caught = None
else:  # "production": warnings stay warnings; record them to report them
    recorder = warnings.catch_warnings(record=True)
    caught = recorder.__enter__()
    warnings.simplefilter("always")

logged = []


class Keep(logging.Handler):
    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        logged.append(f"{record.levelname} {record.name}: {text}")


logging.getLogger().addHandler(Keep(logging.WARNING))

from pathlib import Path
from starlette.testclient import TestClient
import origin

settings = origin.Settings(
    root=Path(config["root"]), keys={"main": bytes.fromhex(config["secret"])}, **config["overrides"]
)


def peak_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def call(client, request):
    try:
        response = client.get(request["url"], headers=request["headers"])
    except BaseException as exc:  # the app must answer; record what escaped instead
        return {"status": None, "exception": "".join(traceback.format_exception(exc))}
    return {
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": base64.b64encode(response.content[: 4 << 20]).decode(),
    }


result = {}
with TestClient(origin.create_app(settings), raise_server_exceptions=False) as client:
    result["warmup"] = call(client, config["warmup"])
    gc.collect()
    result["rss_before_kb"] = peak_kb()
    result["hostile"] = [call(client, request) for request in config["hostile"]]
    result["rss_after_kb"] = peak_kb()
    result["next"] = call(client, config["next"])
result["logged"] = logged
result["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught] if caught is not None else []
print("RESULT " + json.dumps(result))
"""


@dataclass
class Reply:
    status: int | None
    headers: dict[str, str]
    body: bytes
    exception: str | None = None

    @classmethod
    def load(cls, raw: Mapping[str, Any]) -> Reply:
        return cls(
            status=raw["status"],
            headers={key.lower(): value for key, value in raw.get("headers", {}).items()},
            body=base64.b64decode(raw.get("body", "")),
            exception=raw.get("exception"),
        )

    def describe(self) -> str:
        if self.exception:
            return f"no response, exception escaped:\n{self.exception}"
        body = self.body[:300]
        return f"{self.status} {self.headers.get('content-type')} {body!r}"


@dataclass
class Outcome:
    warmup: Reply
    hostile: list[Reply]
    next: Reply
    rss_before_mb: float
    rss_after_mb: float
    logged: list[str]
    warnings: list[str]
    stderr: str
    labels: list[str] = field(default_factory=list)

    @property
    def growth_mb(self) -> float:
        return self.rss_after_mb - self.rss_before_mb

    def context(self) -> str:
        logged = "\n".join(self.logged) or "(nothing logged)"
        return (
            f"peak RSS {self.rss_before_mb:.0f} -> {self.rss_after_mb:.0f} MB (+{self.growth_mb:.0f})\n"
            f"logged:\n{logged}\nwarnings: {self.warnings}\nstderr:\n{self.stderr[-3000:]}"
        )


def signed(path: str, query: str = QUERY) -> str:
    token = make_token()
    return f"/{path}?{query + '&' if query else ''}jwt={token}"


def serve(
    tmp_path: Path,
    files: Mapping[str, bytes],
    requests: list[tuple[str, str]],
    *,
    overrides: Mapping[str, Any] | None = None,
    warnings_mode: str = "error",
    env: Mapping[str, str] | None = None,
    prepare: Callable[[Path], object] | None = None,
) -> Outcome:
    """Run the origin in a subprocess on a root holding ``files`` and ``photo.jpg``; request each
    ``(name, query)`` of ``requests`` after a warm-up, then ``photo.jpg`` again (a cache miss)."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    shutil.copy(FIXTURES / GOOD, root / GOOD)
    for name, data in files.items():
        (root / name).write_bytes(data)
    if prepare is not None:
        prepare(root)
    headers = {"accept": ACCEPT}
    config = {
        "root": str(root),
        "secret": SECRET.hex(),
        "overrides": dict(overrides or {}),
        "warnings": warnings_mode,
        "warmup": {"url": signed(GOOD, "w=120&format=optimal"), "headers": headers},
        "hostile": [{"url": signed(name, query), "headers": headers} for name, query in requests],
        "next": {"url": signed(GOOD, QUERY), "headers": headers},
    }
    process_env = {**os.environ, **(env or {})}
    process_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), process_env.get("PYTHONPATH")]))
    process = subprocess.run(
        [PYTHON, "-c", RUNNER],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=process_env,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    assert process.returncode == 0 and lines, (
        f"the origin's process died (exit {process.returncode}):\n{process.stderr[-5000:]}"
    )
    raw = json.loads(lines[-1][len("RESULT ") :])
    outcome = Outcome(
        warmup=Reply.load(raw["warmup"]),
        hostile=[Reply.load(item) for item in raw["hostile"]],
        next=Reply.load(raw["next"]),
        rss_before_mb=raw["rss_before_kb"] / 1024,
        rss_after_mb=raw["rss_after_kb"] / 1024,
        logged=raw["logged"],
        warnings=raw["warnings"],
        stderr=process.stderr,
        labels=[f"{name}?{query}" for name, query in requests],
    )
    assert outcome.warmup.status == 200, outcome.warmup.describe() + "\n" + outcome.context()
    if outcome.warnings:
        print(f"warnings that escaped the app: {outcome.warnings}")
    print(f"{outcome.labels}: {[reply.status for reply in outcome.hostile]}; " + outcome.context().splitlines()[0])
    return outcome


def assert_unprocessable(reply: Reply, outcome: Outcome, label: str) -> None:
    assert reply.status == 422, f"{label}: {reply.describe()}\n{outcome.context()}"
    assert reply.headers["cache-control"] == "no-store", label
    assert reply.headers["content-type"].startswith("application/json"), label
    assert json.loads(reply.body)["error"] == UNPROCESSABLE, label


def assert_image(reply: Reply, outcome: Outcome, label: str) -> Image.Image:
    assert reply.status == 200, f"{label}: {reply.describe()}\n{outcome.context()}"
    assert reply.headers["content-type"].startswith("image/"), label
    assert reply.headers["x-content-type-options"] == "nosniff", label
    image = Image.open(io.BytesIO(reply.body))
    image.load()
    return image


def assert_healthy_after(outcome: Outcome, limit_mb: float = RSS_GROWTH_LIMIT_MB) -> None:
    """Bounded memory, nothing unexpected logged, and the next good request still served."""
    assert outcome.growth_mb < limit_mb, f"peak RSS grew by {outcome.growth_mb:.0f} MB\n{outcome.context()}"
    assert not [line for line in outcome.logged if "unhandled" in line or "Traceback" in line], outcome.context()
    assert outcome.next.status == 200, "the next good request: " + outcome.next.describe() + "\n" + outcome.context()
    assert outcome.next.headers["x-cache"] == "MISS"  # really rendered, not replayed from the cache
    image = Image.open(io.BytesIO(outcome.next.body))
    assert image.width == 300


def check_all_unprocessable(outcome: Outcome) -> None:
    for reply, label in zip(outcome.hostile, outcome.labels, strict=True):
        assert_unprocessable(reply, outcome, label)
    assert_healthy_after(outcome)


# --------------------------------------------------------------------------------------------
# Size bombs: decided from the header
# --------------------------------------------------------------------------------------------


def test_png_whose_ihdr_claims_65535_squared(tmp_path: Path) -> None:
    data = hostile.png_claiming_size(65535, 65535)
    assert len(data) < 100
    outcome = serve(tmp_path, {"ihdr.png": data}, [("ihdr.png", QUERY), ("ihdr.png", "format=original")])
    check_all_unprocessable(outcome)


@pytest.mark.parametrize("warnings_mode", ["error", "production"])
def test_144_megapixel_single_colour_png_is_refused_from_its_header(tmp_path: Path, warnings_mode: str) -> None:
    data = hostile.png_single_colour(12000, 12000)
    assert len(data) < 1_000_000  # a real, valid image: 432 MB of pixels in ~450 KB
    outcome = serve(
        tmp_path,
        {"big.png": data},
        [("big.png", QUERY), ("big.png", "format=png")],
        warnings_mode=warnings_mode,
    )
    check_all_unprocessable(outcome)


@pytest.mark.parametrize("warnings_mode", ["error", "production"])
def test_144_megapixels_under_a_raised_200_megapixel_limit(tmp_path: Path, warnings_mode: str) -> None:
    """The operator allows 200 MP. 144 MP is past Pillow's *warning* threshold (~89 MP) but under
    its error (~179 MP): the answer may be a 4xx or a 200, never a 500, and the origin survives.

    ``error`` mirrors this suite (warnings are errors), ``production`` a server where they are
    not (the warning is recorded and reported).
    """
    data = hostile.png_single_colour(12000, 12000)
    outcome = serve(
        tmp_path,
        {"big.png": data},
        [("big.png", QUERY)],
        overrides={"max_source_pixels": 200_000_000},
        warnings_mode=warnings_mode,
    )
    reply = outcome.hostile[0]
    assert reply.status is not None and reply.status != 500, reply.describe() + "\n" + outcome.context()
    if reply.status == 200:
        image = assert_image(reply, outcome, "big.png")
        assert image.size == (300, 300)
        # Decoding 144 MP RGB costs 432 MB by itself: bounded by the operator's own limit.
        assert_healthy_after(outcome, limit_mb=200_000_000 * 4 * 2 / 2**20)
    else:
        assert_unprocessable(reply, outcome, "big.png")
        assert_healthy_after(outcome)


def test_over_pillows_own_bomb_guard_under_a_raised_limit(tmp_path: Path) -> None:
    """13500x13500 = 182 MP: under the operator's 200 MP, over Pillow's hard guard (~179 MP)."""
    outcome = serve(
        tmp_path,
        {"bigger.png": hostile.png_single_colour(13500, 13500)},
        [("bigger.png", QUERY)],
        overrides={"max_source_pixels": 200_000_000},
        warnings_mode="production",
    )
    check_all_unprocessable(outcome)


@pytest.mark.parametrize(
    ("width", "height"),
    [(65000, 65000), (8000, 8000)],  # 4.2 GP (over Pillow's guard); 64 MP (over ours only)
)
def test_jpeg_whose_sof_claims_a_huge_frame(tmp_path: Path, width: int, height: int) -> None:
    small = hostile.jpeg_with_sof_size(hostile.small_jpeg(), width, height)
    photo = hostile.jpeg_with_sof_size((FIXTURES / GOOD).read_bytes(), width, height)
    outcome = serve(
        tmp_path,
        {"sof.jpg": small, "sof-photo.jpg": photo},
        [("sof.jpg", QUERY), ("sof-photo.jpg", QUERY), ("sof.jpg", "format=original")],
    )
    check_all_unprocessable(outcome)


def test_jpeg_whose_sof_claims_just_under_the_limit(tmp_path: Path) -> None:
    """7000x7000 (49 MP, allowed) over the data of a 64x48 image: libjpeg fills the missing rows.
    Whatever the answer, the DCT-scaled decode keeps memory bounded and the answer is not a 500."""
    data = hostile.jpeg_with_sof_size(hostile.small_jpeg(), 7000, 7000)
    outcome = serve(tmp_path, {"sof.jpg": data}, [("sof.jpg", QUERY)])
    reply = outcome.hostile[0]
    if reply.status == 200:
        assert assert_image(reply, outcome, "sof.jpg").width == 300
    else:
        assert_unprocessable(reply, outcome, "sof.jpg")
    assert_healthy_after(outcome)


def test_webp_and_avif_headers_claiming_huge_frames(tmp_path: Path) -> None:
    webp = hostile.webp_claiming_size((FIXTURES / "photo.webp").read_bytes(), 16383, 16383)
    avif = hostile.avif_claiming_size((FIXTURES / "photo.avif").read_bytes(), 20000, 20000)
    outcome = serve(tmp_path, {"big.webp": webp, "big.avif": avif}, [("big.webp", QUERY), ("big.avif", QUERY)])
    check_all_unprocessable(outcome)


def test_source_over_max_source_bytes_is_refused_without_being_read(tmp_path: Path) -> None:
    """A 64 MiB file (sparse: cheap to make) starting like a JPEG, over the 50 MiB default: 422
    before it is read, so the peak RSS does not grow by anything like its size."""
    outcome = serve(
        tmp_path,
        {"huge.jpg": (FIXTURES / GOOD).read_bytes()},
        [("huge.jpg", QUERY)],
        prepare=lambda root: os.truncate(root / "huge.jpg", 64 << 20),
    )
    check_all_unprocessable(outcome)
    assert outcome.growth_mb < 32, outcome.context()


# --------------------------------------------------------------------------------------------
# PNG text chunks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "after_idat"),
    [("zTXt", False), ("iTXt", False), ("zTXt", True), ("iTXt", True)],
    ids=["zTXt-before-IDAT", "iTXt-before-IDAT", "zTXt-after-IDAT", "iTXt-after-IDAT"],
)
def test_png_text_chunk_inflating_past_pillows_limit(tmp_path: Path, kind: str, after_idat: bool) -> None:
    size = 4 * PngImagePlugin.MAX_TEXT_CHUNK  # 4 MB of text from ~4 KB of file
    data = hostile.png_text_bomb(kind, size, after_idat=after_idat)
    assert len(data) < 10_000
    outcome = serve(tmp_path, {"text.png": data}, [("text.png", QUERY), ("text.png", "format=png")])
    check_all_unprocessable(outcome)


def test_png_text_chunks_adding_up_past_pillows_total_text_limit(tmp_path: Path) -> None:
    per_chunk = PngImagePlugin.MAX_TEXT_CHUNK - 1024  # each one allowed on its own
    chunks = PngImagePlugin.MAX_TEXT_MEMORY // per_chunk + 2
    data = hostile.png_text_memory_bomb(chunks, per_chunk)
    outcome = serve(tmp_path, {"texts.png": data}, [("texts.png", QUERY)])
    check_all_unprocessable(outcome)


# --------------------------------------------------------------------------------------------
# Damaged EXIF: Pillow warns (UserWarning) while reading the header
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("warnings_mode", ["error", "production"])
@pytest.mark.parametrize(
    ("extension", "variant"),
    [("jpg", variant) for variant in sorted(hostile.CORRUPT_EXIF)]
    + [(extension, "ifd-count-lies") for extension in ("png", "webp", "avif")],
)
def test_damaged_exif_escapes_neither_as_a_500_nor_as_a_warning(
    tmp_path: Path, extension: str, variant: str, warnings_mode: str
) -> None:
    """EXIF is metadata the origin strips anyway: the image may be served (orientation 1) or refused
    as corrupt, but Pillow's warning must not escape: as a 500 under this suite's
    ``filterwarnings = error`` (``error``), nor as a warning logged per request by a server where
    warnings are not errors (``production``; ``transforms/decode.py`` promises neither happens)."""
    data = hostile.image_with_exif(extension, hostile.CORRUPT_EXIF[variant])
    name = f"exif.{extension}"
    outcome = serve(tmp_path, {name: data}, [(name, QUERY)], warnings_mode=warnings_mode)
    reply = outcome.hostile[0]
    assert reply.status in (200, 422), f"{variant}: {reply.describe()}\n{outcome.context()}"
    assert not outcome.warnings, f"{variant}: warnings escaped the app\n{outcome.context()}"
    if reply.status == 200:
        assert_no_metadata(assert_image(reply, outcome, variant), reply.body, variant)
    else:
        assert_unprocessable(reply, outcome, variant)
    assert_healthy_after(outcome)


# --------------------------------------------------------------------------------------------
# Truncation
# --------------------------------------------------------------------------------------------


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = hostile.truncated((FIXTURES / GOOD).read_bytes(), 0.30)
    outcome = serve(tmp_path, {"truncated.jpg": data}, [("truncated.jpg", QUERY), ("truncated.jpg", "format=original")])
    check_all_unprocessable(outcome)


# --------------------------------------------------------------------------------------------
# GIF frames
# --------------------------------------------------------------------------------------------


def test_gif_with_ten_thousand_frames_gives_its_first_or_a_422(tmp_path: Path) -> None:
    """A still output (JPEG, PNG) reads the first frame only: a quick 200, no frame walked. Kept as
    an animation (GIF to GIF) it has more frames than ``max_animation_frames``: a 422, never a
    render of 10,000 frames."""
    data = hostile.gif_many_frames(10_000)
    outcome = serve(
        tmp_path,
        {"frames.gif": data},
        [("frames.gif", "format=optimal"), ("frames.gif", "w=300&format=png"), ("frames.gif", "format=original")],
    )
    for reply, label in zip(outcome.hostile[:2], outcome.labels[:2], strict=True):
        image = assert_image(reply, outcome, label)
        assert getattr(image, "n_frames", 1) == 1, label
    assert_unprocessable(outcome.hostile[2], outcome, outcome.labels[2])
    assert_healthy_after(outcome)


def test_gif_whose_frames_add_up_to_gigapixels(tmp_path: Path) -> None:
    """Logical screen 10000x10000 (100 MP) and 50 full-screen frames: 5 GP of animation."""
    data = hostile.gif_giant_frames(10000, 10000, 50)
    outcome = serve(tmp_path, {"giant.gif": data}, [("giant.gif", QUERY), ("giant.gif", "format=original")])
    check_all_unprocessable(outcome)


def test_gif_whose_first_frame_outgrows_a_small_screen(tmp_path: Path) -> None:
    data = hostile.gif_first_frame_outgrows_screen((10, 10), (20000, 20000))
    outcome = serve(tmp_path, {"outgrow.gif": data}, [("outgrow.gif", QUERY)])
    check_all_unprocessable(outcome)


def test_gif_with_a_giant_second_frame_gives_its_first_or_a_422(tmp_path: Path) -> None:
    """The first frame alone is fine (a resized JPEG); kept as an animation, the 60000x60000 second
    frame is refused when it is reached (a 422), before any of its pixels are decoded."""
    data = hostile.gif_late_giant_frame(64, 48, giant=60000)
    outcome = serve(tmp_path, {"late.gif": data}, [("late.gif", QUERY), ("late.gif", "format=original")])
    image = assert_image(outcome.hostile[0], outcome, outcome.labels[0])
    assert image.size == (300, 225)
    assert_unprocessable(outcome.hostile[1], outcome, outcome.labels[1])
    assert_healthy_after(outcome)


# --------------------------------------------------------------------------------------------
# Formats outside the allowlist, renamed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(hostile.FOREIGN_FORMATS))
def test_foreign_format_named_as_jpeg_and_png_is_422(tmp_path: Path, kind: str) -> None:
    data = hostile.FOREIGN_FORMATS[kind]()
    outcome = serve(
        tmp_path,
        {f"{kind}.jpg": data, f"{kind}.png": data},
        [(f"{kind}.jpg", QUERY), (f"{kind}.png", QUERY), (f"{kind}.jpg", "format=original")],
    )
    check_all_unprocessable(outcome)


def test_gif_header_followed_by_html_is_422(tmp_path: Path) -> None:
    data = hostile.gif_header_then_html()
    outcome = serve(
        tmp_path, {"page.gif": data, "page.png": data}, [("page.gif", QUERY), ("page.png", "format=original")]
    )
    check_all_unprocessable(outcome)
    for reply in outcome.hostile:
        assert b"script" not in reply.body and b"cookie" not in reply.body


def test_gif_javascript_polyglot_is_reencoded_to_pixels_only(tmp_path: Path) -> None:
    data = hostile.gif_js_polyglot()
    assert data.startswith(b"GIF89a/*") and b"alert(" in data
    outcome = serve(
        tmp_path,
        {"poly.gif": data},
        [
            ("poly.gif", QUERY),
            ("poly.gif", "w=300&format=original"),
            ("poly.gif", "w=300&format=png"),
            ("poly.gif", ""),
        ],
    )
    *images, unscaled = outcome.hostile
    # The screen is 10799 px wide ("/*"): kept at that size, the output is over max_output_dimension.
    assert unscaled.status == 400 and json.loads(unscaled.body)["error"] == "output too large", unscaled.describe()
    for reply, label in zip(images, outcome.labels, strict=False):
        assert assert_image(reply, outcome, label).size == (300, 1), label
        assert reply.body != data, label
        for needle in (b"alert", b"script", b"cookie", b"document"):
            assert needle not in reply.body, (label, needle)
    assert_healthy_after(outcome)


# --------------------------------------------------------------------------------------------
# Ghostscript is never run
# --------------------------------------------------------------------------------------------

FAKE_GHOSTSCRIPT = ("gs", "gsc", "gswin64c", "gswin32c")


def test_eps_and_pdf_never_reach_ghostscript(tmp_path: Path) -> None:
    marker = tmp_path / "ghostscript-was-run"
    trap = tmp_path / "fake-bin"
    trap.mkdir()
    for name in FAKE_GHOSTSCRIPT:
        script = trap / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{marker}"\nexit 1\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    path = f"{trap}{os.pathsep}{os.environ.get('PATH', '')}"

    eps, pdf = hostile.eps(), hostile.pdf()

    # The trap is armed: Pillow left to itself (no format allowlist) does run "gs" for this EPS,
    # finds ours on this PATH, and the marker appears.
    (tmp_path / "control.eps").write_bytes(eps)
    control = "from PIL import Image\ntry:\n    Image.open({!r}).load()\nexcept Exception:\n    pass\n"
    subprocess.run(
        [PYTHON, "-c", control.format(str(tmp_path / "control.eps"))],
        env={**os.environ, "PATH": path},
        check=True,
        timeout=60,
    )
    assert marker.exists() and marker.read_text().startswith("gs "), "the fake Ghostscript was not reached"
    marker.unlink()

    files = {"eps.jpg": eps, "eps.png": eps, "eps.gif": eps, "pdf.jpg": pdf, "pdf.png": pdf, "pdf.webp": pdf}
    outcome = serve(
        tmp_path,
        {**files, "doc.eps": eps, "doc.pdf": pdf},
        [(name, QUERY) for name in files] + [("doc.eps", ""), ("doc.pdf", "")],
        env={"PATH": path},
    )
    assert not marker.exists(), f"Ghostscript was run: {marker.read_text()}"
    for reply, label in zip(outcome.hostile[: len(files)], outcome.labels, strict=False):
        assert_unprocessable(reply, outcome, label)
    eps_reply, pdf_reply = outcome.hostile[len(files) :]
    assert eps_reply.status == 404, eps_reply.describe()  # not an image extension, not a passthrough type
    # A .pdf is a passthrough type (SPEC §1): served as it is, or a 404 where passthrough is not
    # served; never rasterised either way.
    assert pdf_reply.status in (200, 404), pdf_reply.describe()
    if pdf_reply.status == 200:
        assert pdf_reply.body == pdf
    assert_healthy_after(outcome)


# --------------------------------------------------------------------------------------------
# Metadata never leaves
# --------------------------------------------------------------------------------------------

METADATA_MARKER = "LEAKED-7f3a9c"


@pytest.fixture(scope="module")
def metadata_jpeg() -> bytes:
    data = hostile.jpeg_with_metadata(METADATA_MARKER)
    source = Image.open(io.BytesIO(data))
    assert {"exif", "xmp", "icc_profile", "comment"} <= source.info.keys()  # the file really carries them
    assert source.getexif().get_ifd(0x8825)  # GPS
    return data


def assert_no_metadata(image: Image.Image, body: bytes, label: str) -> None:
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "Comment", "Description"):
        assert key not in image.info, (label, key, str(image.info.get(key))[:200])
    exif = image.getexif()
    assert len(exif) == 0, (label, dict(exif))
    assert not exif.get_ifd(0x8825), label  # GPS IFD
    for needle in (
        METADATA_MARKER.encode(),
        b"HostileCam",
        b"Exif\x00\x00",
        b"http://ns.adobe.com/xap/1.0/",
        b"x:xmpmeta",
        b"ICC_PROFILE",
        b"acsp",  # every ICC profile's signature
        b"iCCP",
        b"eXIf",
        b"2024:01:02",
    ):
        assert needle not in body, (label, needle)


@pytest.mark.parametrize(
    "query",
    [
        "w=300&format=optimal",  # AVIF, from the Accept header
        "w=300",  # format=original: JPEG
        "",  # no processing asked for at all: still re-encoded, never the source bytes
        "format=original&q=100",
        "w=300&format=png",
        "w=300&format=webp",
        "w=300&format=gif",
        "w=300&format=jpg&progressive=true",
    ],
)
def test_output_carries_no_metadata(tmp_path: Path, metadata_jpeg: bytes, query: str) -> None:
    outcome = serve(tmp_path, {"meta.jpg": metadata_jpeg}, [("meta.jpg", query)])
    reply = outcome.hostile[0]
    image = assert_image(reply, outcome, query)
    assert reply.body != metadata_jpeg
    assert_no_metadata(image, reply.body, query or "(no parameters)")
    assert_healthy_after(outcome)


# --------------------------------------------------------------------------------------------
# Property test: random mutations of the fixtures are a 200 or a 422, never a 500
# --------------------------------------------------------------------------------------------

MUTATION_SOURCES = {
    name: (FIXTURES / name).read_bytes()
    for name in ("photo.jpg", "alpha.png", "gray.png", "animated.gif", "photo.webp")
}
STRUCTURE = {
    "jpg": hostile.jpeg_segments,
    "png": hostile.png_chunks,
    "gif": hostile.gif_blocks,
    "webp": hostile.riff_chunks,
}


class Mutation:
    """A mutated fixture; its repr names the fixture and the steps, not the (large) bytes."""

    __slots__ = ("data", "name", "steps")

    def __init__(self, name: str, data: bytes, steps: tuple[str, ...]) -> None:
        self.name, self.data, self.steps = name, data, steps

    def __repr__(self) -> str:
        return f"Mutation({self.name!r}, <{len(self.data)} bytes>, {self.steps!r})"


def _mutate_once(draw: st.DrawFn, name: str, data: bytes) -> tuple[bytes, str]:
    """One mutation of ``data``: a few bit flips (anywhere, or in the first 512 bytes where the
    headers are), an "interesting" byte in the headers, a structural chunk duplicated or dropped,
    or a truncation."""
    structure = [chunk for chunk in STRUCTURE[name.rsplit(".", 1)[1]](data) if chunk[0] + chunk[1] <= len(data)]
    kinds = ["flip", "flip header", "set byte", "truncate"] + (["duplicate", "drop"] if structure else [])
    kind = draw(st.sampled_from(kinds))
    if kind in ("flip", "flip header"):
        span = len(data) * 8 if kind == "flip" else min(len(data), 512) * 8
        bits = draw(st.lists(st.integers(0, span - 1), min_size=1, max_size=4))
        return hostile.flip_bits(data, bits), f"{kind} {bits}"
    if kind == "set byte":
        position = draw(st.integers(0, min(len(data), 512) - 1))
        value = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]))
        return data[:position] + bytes([value]) + data[position + 1 :], f"byte {position} = {value:#x}"
    if kind == "truncate":
        cut = draw(st.integers(0, max(len(data) - 1, 0)))
        return data[:cut], f"truncate at {cut}"
    start, length = draw(st.sampled_from(structure))
    if kind == "drop":
        return data[:start] + data[start + length :], f"drop {start}+{length}"
    at = draw(st.sampled_from(sorted({start, start + length, *(offset for offset, _ in structure)})))
    return hostile.duplicate_slice(data, start, length, at), f"duplicate {start}+{length} at {at}"


@st.composite
def mutated_sources(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(sorted(MUTATION_SOURCES)))
    data = MUTATION_SOURCES[name]
    steps = []
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        data, step = _mutate_once(draw, name, data)
        steps.append(step)
    if name.endswith(".png") and draw(st.booleans()):
        data = hostile.png_fix_crcs(data)  # past the checksums, into the chunk parsers
        steps.append("fix CRCs")
    return Mutation(name, data, tuple(steps))


@pytest.fixture(scope="module")
def mutation_app() -> Iterator[tuple[TestClient, Path]]:
    with tempfile.TemporaryDirectory(prefix="mutations-") as folder:
        root = Path(folder)
        shutil.copy(FIXTURES / GOOD, root / GOOD)
        settings = Settings(root=root, keys={"main": SECRET}, render_concurrency=2)
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield client, root


_counter = itertools.count()


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Queries that bound both sides: a mutated header may claim any aspect ratio, and an output over
# max_output_dimension would rightly be a 400, which is not what this test is about.
@given(
    case=mutated_sources(),
    query=st.sampled_from(["s=300&format=optimal", "s=300&format=original", "w=200&h=200&format=png"]),
)
def test_mutated_fixtures_are_served_or_refused_never_500(
    mutation_app: tuple[TestClient, Path], case: Mutation, query: str
) -> None:
    client, root = mutation_app
    name, data, steps = case.name, case.data, case.steps
    stem, extension = name.rsplit(".", 1)
    target = f"m{next(_counter)}-{stem}.{extension}"  # a new file each time: no cached answer
    (root / target).write_bytes(data)
    response = client.get(signed(target, query), headers={"accept": ACCEPT})
    context = f"{name} {steps} ?{query}: {response.status_code} {response.content[:300]!r}"
    event(f"{name}: {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code in (200, 422), context
    if response.status_code == 422:
        assert response.headers["cache-control"] == "no-store", context
        assert response.json()["error"] == UNPROCESSABLE, context
    else:
        assert response.headers["content-type"].startswith("image/"), context
        output = Image.open(io.BytesIO(response.content))
        output.load()  # the origin never sends an undecodable image
        assert_no_metadata(output, response.content, context)
    (root / target).unlink()


def test_the_mutation_app_still_serves_good_files(mutation_app: tuple[TestClient, Path]) -> None:
    """After the property test (same module-scoped app), a good file is still a 200."""
    client, _ = mutation_app
    response = client.get(signed(GOOD, "w=310&format=optimal"), headers={"accept": ACCEPT})
    assert response.status_code == 200, response.text
