"""The origin against thumbor and against Pillow's own floor, on this machine, in one run.

Run by hand (not a test, and not part of the test suite)::

    .venv/bin/python bench/compare.py                 # the full run: 2 x 15 s per cell, ~20 minutes
    .venv/bin/python bench/compare.py --seconds 3     # a smoke run

What it does (bench/README.md says more):

1. Waits (bounded) for a quiet machine, then makes its inputs in ``bench/.work/inputs``: a
   photographic 3000×2000 JPEG (~1.2 MB, quality 90), a 1200×800 JPEG, a 1000×1000 PNG with alpha and
   a small watermark PNG.
2. Installs thumbor (and py-spy) from PyPI into ``bench/.work/thumbor-venv`` the first time.
3. Measures the floor: a single-threaded Pillow loop doing each case's work with the best settings
   (JPEG draft decoding, one Lanczos resize, the same encoder settings), in ms per image.
4. Starts, all at once on free 127.0.0.1 ports: ``origin serve`` with 1 and with 2 workers; thumbor
   (``bench/compare_thumbor.conf``: file loader, PIL engine, no result storage, unsafe URLs) with
   ``--processes 1`` and ``--processes 2``; and the same two thumbors with the file result storage.
5. Loads each with wrk (8 connections, 2 threads, loopback), every case twice in alternating order,
   and prints medians and ratios, output sizes and PSNR, the floor, and each target as MET / NOT MET.
6. Peak RSS of the origin during 10,000 distinct URLs (``bench/load.py``'s memory run, imported).
7. Where a target is missed (or with ``--profile``): py-spy on the origin under load, top frames.
"""

# ruff: noqa: E501  (the report's lines are long; kept whole to read like the output)
from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageStat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import load  # noqa: E402  (bench/load.py: its wrk parsing, /metrics scrape and memory run)
from render import photographic_jpeg  # noqa: E402  (the memory run's small source, as in bench/load.py)

from origin.signing import sign_url  # noqa: E402

WORK = HERE / ".work"
INPUTS = WORK / "inputs"
RESULTS = WORK / "results"
THUMBOR_VENV = WORK / "thumbor-venv"
THUMBOR_CONF = HERE / "compare_thumbor.conf"
THUMBOR_REQUIREMENTS = ["thumbor==7.8.0", "py-spy>=0.4"]
MiB = 1024 * 1024
MEMORY_CACHE_BYTES = 64 * MiB  # cache_max_bytes of the memory run (as bench/load.py)
MEMORY_ALLOWANCE = 150_000_000  # target: peak RSS <= cache_max_bytes + 150 MB
FONT = REPO / "origin" / "fonts" / "DejaVuSans.ttf"
MARK_FONT = REPO / "origin" / "fonts" / "DejaVuSans-Bold.ttf"
IMBALANCED = 0.8  # a multi-process server whose busiest process did more than this share of the work
HIT_W, HIT_Q = 300, 80  # the repeated URL of (f)/(g) and the quality sample; never in a cold list

# ------------------------------------------------------------------------------------------------
# inputs


def photographic(width: int, height: int, *, grain: float = 3.6, texture: float = 0.22, seed: int = 7) -> Image.Image:
    """A landscape-like picture: sky with clouds, textured hills, blobs of trees and rocks, buildings
    with sharp edges and windows, lens softness, foliage texture and sensor grain. Not a photograph,
    but it has a photograph's mix of smooth areas, edges and fine detail, so JPEG decodes and encodes
    it at a photograph's cost (3000×2000 at quality 90 is ~1.2 MB)."""
    rng = random.Random(seed)

    def field_(div: int, sigma: float) -> Image.Image:  # smooth noise: upscaled coarse noise
        small = Image.effect_noise((max(2, width // div), max(2, height // div)), sigma)
        return small.resize((width, height), Image.Resampling.BICUBIC)

    horizon = int(height * 0.45)
    ramp = Image.linear_gradient("L").resize((width, height))
    image = Image.merge(
        "RGB",
        [ramp.point(lambda v: 70 + v * 0.5), ramp.point(lambda v: 120 + v * 0.4), ramp.point(lambda v: 200 + v * 0.15)],
    )
    clouds = ImageChops.add(field_(90, 80), field_(25, 50), 1.0, -128).point(lambda v: max(0, min(255, (v - 135) * 3)))
    white = Image.new("RGB", (width, height), (238, 238, 242))
    image = Image.composite(white, image, clouds.filter(ImageFilter.GaussianBlur(width / 300)))
    draw = ImageDraw.Draw(image)
    for layer, colour in enumerate([(96, 112, 128), (70, 104, 60), (92, 120, 52), (120, 104, 60)]):
        base = horizon + layer * height * 0.12
        phase, amp = rng.random() * 6, height * (0.08 - layer * 0.012)
        ridge = [
            (x, base - amp * (math.sin(x / width * 5 + phase) + 0.4 * math.sin(x / width * 17 + 2 * phase)))
            for x in range(0, width + 40, 40)
        ]
        draw.polygon(ridge + [(width, height), (0, height)], fill=colour)
    for _ in range(220):
        x, y = rng.randrange(width), rng.randrange(horizon, height)
        r = max(2, int(rng.randrange(max(1, width // 250), max(2, width // 60)) * (0.5 + y / height)))
        shade = rng.choice([(34, 60, 30), (50, 80, 36), (28, 44, 26), (140, 130, 110), (90, 70, 50)])
        draw.ellipse((x - r, y - 2 * r, x + r, y + r // 2), fill=shade)
    for _ in range(14):
        bw, bh = rng.randrange(width // 40, width // 14), rng.randrange(height // 20, height // 7)
        x, y = rng.randrange(width - bw), rng.randrange(horizon, int(height * 0.8))
        wall = tuple(rng.randrange(150, 235) for _ in range(3))
        draw.rectangle((x, y - bh, x + bw, y), fill=wall, outline=(40, 40, 40))
        for wy in range(y - bh + bh // 8, y - bh // 8, max(4, bh // 6)):
            for wx in range(x + bw // 10, x + bw - bw // 10, max(4, bw // 5)):
                draw.rectangle((wx, wy, wx + max(2, bw // 12), wy + max(2, bh // 14)), fill=(50, 60, 80))
    image = image.filter(ImageFilter.GaussianBlur(width / 2500))
    grass = Image.merge("RGB", [field_(3, 70)] * 3)
    below = ramp.point(lambda v: 0 if v < 110 else min(255, (v - 110) * 3))
    image = Image.composite(Image.blend(image, grass, texture), image, below)
    grain_layer = Image.merge("RGB", [Image.effect_noise((width, height), grain) for _ in range(3)])
    return ImageChops.add(image, grain_layer, 1.0, -128)


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def alpha_png(size: int = 1000) -> bytes:
    """A photographic square whose alpha fades out towards the corners (a cut-out product shot)."""
    image = photographic(size, size, seed=11).convert("RGBA")
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((size * 0.08, size * 0.08, size * 0.92, size * 0.92), fill=255)
    image.putalpha(mask.filter(ImageFilter.GaussianBlur(size / 25)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def watermark_png() -> bytes:
    """200×60: white text on a translucent dark plate."""
    mark = Image.new("RGBA", (200, 60), (0, 0, 0, 110))
    draw = ImageDraw.Draw(mark)
    draw.text((100, 30), "© bench", font=ImageFont.truetype(str(MARK_FONT), 32), fill=(255, 255, 255, 230), anchor="mm")
    buffer = io.BytesIO()
    mark.save(buffer, "PNG")
    return buffer.getvalue()


def make_inputs(root: Path) -> dict[str, bytes]:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    files = {
        "photo.jpg": jpeg_bytes(photographic(3000, 2000)),
        "medium.jpg": jpeg_bytes(photographic(1200, 800, seed=9)),
        "alpha.png": alpha_png(),
        "mark.png": watermark_png(),
        "small.jpg": load.noisier(photographic_jpeg(800, 533)),  # bench/load.py's memory-run source
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


# ------------------------------------------------------------------------------------------------
# the cases


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    source: str  # path under the root
    source_size: tuple[int, int]
    widths: range
    qualities: range
    fmt: str  # jpg, webp, avif
    ours_args: dict[str, object] | None = None  # signed args
    thumbor_filters: str = ""  # after quality(q)
    thumbor: bool = True  # thumbor can do it
    counted: bool = True  # counts for the targets
    mode: str = "cold"  # cold, hits, revalidate

    def ours_query(self, w: int, q: int) -> str:
        fmt = "" if self.fmt == "jpg" else f"&format={self.fmt}"
        return f"w={w}&q={q}{fmt}"

    def thumbor_path(self, w: int, q: int) -> str:
        fmt = "" if self.fmt == "jpg" else f":format({self.fmt})"
        return f"/unsafe/{w}x0/filters:quality({q}){fmt}{self.thumbor_filters}{self.source}"


WATERMARK_ARGS = {  # thumbor's watermark(mark.png,-10,-10,50) on the 600 px output: bottom right, 10 px in,
    "watermark": "/mark.png",  # mark at its own 200 px width (400 source px x 0.5), half opacity
    "watermark.position": "southeast",
    "watermark.position.x": 20,
    "watermark.position.y": 20,
    "watermark.scale.width": 400,
    "watermark.opacity": 50,
}
TEXT = "© Example Studio 2026"
TEXT_ARGS = {"text": TEXT, "text.size": 40, "text.position": "south"}

# w stays within one JPEG DCT scale (3000 px source: w <= 375 decodes at 1/8; 1200 px: w <= 600 at
# 1/2), so every URL of a case is the same amount of work; q spreads the URLs: every one distinct.
PHOTO, MEDIUM = (3000, 2000), (1200, 800)
COLD = range(30, 100)
CASES = [
    Case("a", "3000x2000 JPEG -> ~300 px JPEG, cold", "/photo.jpg", PHOTO, range(225, 376), COLD, "jpg"),
    Case("b", "3000x2000 JPEG -> ~300 px WebP, cold", "/photo.jpg", PHOTO, range(225, 376), COLD, "webp"),
    Case("c", "3000x2000 JPEG -> ~300 px AVIF, cold", "/photo.jpg", PHOTO, range(225, 376), COLD, "avif"),
    Case(
        "d",
        "1200x800 JPEG -> ~550 px JPEG + watermark, cold",
        "/medium.jpg",
        MEDIUM,
        range(500, 601),
        COLD,
        "jpg",
        ours_args=WATERMARK_ARGS,
        thumbor_filters=":watermark(mark.png,-10,-10,50)",
    ),
    Case(
        "e",
        "1200x800 JPEG -> ~550 px JPEG + text overlay, cold",
        "/medium.jpg",
        MEDIUM,
        range(500, 601),
        COLD,
        "jpg",
        ours_args=TEXT_ARGS,
        thumbor=False,
    ),
    Case(
        "f",
        "repeat one URL (300 px JPEG): cache hits",
        "/photo.jpg",
        PHOTO,
        range(300, 301),
        range(80, 81),
        "jpg",
        mode="hits",
    ),
    Case(
        "g",
        "304 revalidation (If-None-Match)",
        "/photo.jpg",
        PHOTO,
        range(300, 301),
        range(80, 81),
        "jpg",
        mode="revalidate",
    ),
    Case(
        "h",
        "1000x1000 PNG with alpha -> ~450 px WebP, cold (extra)",
        "/alpha.png",
        (1000, 1000),
        range(400, 501),
        COLD,
        "webp",
        counted=False,
    ),
]


def cold_pairs(case: Case, seed: int) -> list[tuple[int, int]]:
    pairs = [(w, q) for w in case.widths for q in case.qualities if (w, q) != (HIT_W, HIT_Q)]
    random.Random(seed).shuffle(pairs)
    return pairs


# ------------------------------------------------------------------------------------------------
# the floor: one thread of Pillow doing a case's work, best settings


def out_size(case: Case, w: int) -> tuple[int, int]:
    return w, max(1, round(w * case.source_size[1] / case.source_size[0]))


class Floor:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        mark = Image.open(io.BytesIO(files["mark.png"])).convert("RGBA")
        alpha = mark.getchannel("A").point(lambda a: a // 2)  # opacity 50, prepared once (as a cache would)
        self.mark, self.mark_alpha = mark.convert("RGB"), alpha
        self.fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self.text_length_per_px = ImageFont.truetype(str(FONT), 100).getlength(TEXT) / 100

    def font(self, width: int) -> ImageFont.FreeTypeFont:
        """DejaVu Sans at the size that makes the text 40 % of the width (text.size=40), cached."""
        size = max(8, round(width * 0.4 / self.text_length_per_px))
        if size not in self.fonts:
            self.fonts[size] = ImageFont.truetype(str(FONT), size)
        return self.fonts[size]

    def render(self, case: Case, w: int, q: int) -> bytes:
        size = out_size(case, w)
        image: Image.Image = Image.open(io.BytesIO(self.files[case.source[1:]]))
        if image.format == "JPEG":
            image.draft("RGB", size)  # the smallest DCT scale still >= size
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if case.ours_args is WATERMARK_ARGS:
            x, y = size[0] - self.mark.width - 10, size[1] - self.mark.height - 10
            image.paste(self.mark, (x, y), self.mark_alpha)
        elif case.ours_args is TEXT_ARGS:
            font = self.font(size[0])
            ImageDraw.Draw(image).text(
                (size[0] / 2, size[1] - size[1] * 0.02), TEXT, font=font, fill="white", anchor="md"
            )
        buffer = io.BytesIO()
        if case.fmt == "jpg":
            image.save(buffer, "JPEG", quality=q)
        elif case.fmt == "webp":
            image.save(buffer, "WEBP", quality=q, method=4)
        else:
            image.save(buffer, "AVIF", quality=q, speed=7)
        return buffer.getvalue()

    def measure(self, case: Case, budget: float) -> tuple[float, int]:
        """Median ms per image over the case's (w, q) sequence, for about ``budget`` seconds."""
        pairs = cold_pairs(case, seed=1)
        times: list[float] = []
        started = time.perf_counter()
        for w, q in pairs:
            begin = time.perf_counter()
            self.render(case, w, q)
            times.append((time.perf_counter() - begin) * 1000)
            if time.perf_counter() - started > budget and len(times) >= 15:
                break
        return statistics.median(times[3:] if len(times) > 10 else times), len(times)


# ------------------------------------------------------------------------------------------------
# quality: PSNR of each server's output against a careful reference resize


def psnr(image: Image.Image, reference: Image.Image) -> float:
    diff = ImageChops.difference(image.convert("RGB"), reference.convert("RGB"))
    mse = sum(rms * rms for rms in ImageStat.Stat(diff).rms) / 3
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


def reference(data: bytes, size: tuple[int, int]) -> Image.Image:
    """Every source pixel decoded (no draft), one Lanczos resize without reducing_gap."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


# ------------------------------------------------------------------------------------------------
# servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def origin_command() -> list[str]:
    """The ``origin`` script next to the interpreter running this (.venv/bin/origin), else python -m origin."""
    script = Path(sys.executable).parent / "origin"
    if script.is_file():
        return [str(script)]
    found = shutil.which("origin")
    return [found] if found else [sys.executable, "-m", "origin"]


def tree(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 64:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo.extend(int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split())
        except OSError:
            continue
    return found


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields_[11]) + int(fields_[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def machine_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values[:8]) - idle, sum(values[:8])


@dataclass
class Server:
    name: str  # "ours 1w", "thumbor 2p", "thumbor+rs 1p"
    kind: str  # "ours" or "thumbor"
    processes: int
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    result_storage: bool = False
    workers: int = 0  # for bench/load.py's Origin interface

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return tree(self.process.pid)

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (bench/load.py's memory run asks for them)."""
        if self.processes == 1:
            return [self.process.pid]
        if self.kind == "ours":
            return [pid for pid in self.pids() if b"spawn_main" in _cmdline(pid)]
        return [pid for pid in self.pids() if pid != self.process.pid]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def wait_ready(server: Server, path: str, expected_processes: int) -> None:
    deadline = time.monotonic() + 90
    while True:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited:\n{server.log.read_text()[-3000:]}")
        try:
            if http_get(server.base_url + path, timeout=5)[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{server.name} did not answer {path} in 90 s:\n{server.log.read_text()[-3000:]}")
        time.sleep(0.2)
    for _ in range(100):
        if len(server.pids()) >= expected_processes:
            return
        time.sleep(0.1)


def stop(server: Server) -> None:
    pids = server.pids()
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT if server.kind == "ours" else signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
    for pid in pids[1:]:  # thumbor's forked children, uvicorn's workers: only the ones this server started
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@contextmanager
def ours(root: Path, workers: int, secret: str, logs: Path, **settings: str) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "ORIGIN_JWT_SECRET": secret, "TMPDIR": str(logs)}  # TMPDIR: the metrics folder
    env.update({f"ORIGIN_{name.upper()}": value for name, value in settings.items()})
    command = [*origin_command(), "serve", "--root", str(root), "--port", str(port), "--workers", str(workers)]
    log = logs / f"origin-{workers}w-{port}.log"
    with log.open("wb") as sink:  # stdout (one access-log line per request) is discarded, as in bench/load.py
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    server = Server(f"ours {workers}w", "ours", workers, port, process, log, workers=workers)
    try:
        wait_ready(server, "/healthz", workers + (1 if workers > 1 else 0))
        yield server
    finally:
        stop(server)


@contextmanager
def thumbor(root: Path, processes: int, logs: Path, result_storage: Path | None) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "BENCH_THUMBOR_ROOT": str(root), "BENCH_THUMBOR_RESULT_STORAGE": ""}
    if result_storage is not None:
        shutil.rmtree(result_storage, ignore_errors=True)
        result_storage.mkdir(parents=True)
        env["BENCH_THUMBOR_RESULT_STORAGE"] = str(result_storage)
    command = [str(THUMBOR_VENV / "bin" / "thumbor"), "--ip", "127.0.0.1", "--port", str(port)]
    command += ["--conf", str(THUMBOR_CONF), "--log-level", "warning", "--processes", str(processes)]
    name = f"thumbor{'+rs' if result_storage else ''} {processes}p"
    log = logs / f"{name.replace(' ', '-').replace('+', '')}-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    server = Server(name, "thumbor", processes, port, process, log, result_storage=result_storage is not None)
    try:
        wait_ready(server, "/healthcheck", processes + (1 if processes > 1 else 0))
        yield server
    finally:
        stop(server)


# ------------------------------------------------------------------------------------------------
# load: wrk with a Lua script that walks a list of URLs


URL_LIST_LUA = """
-- each thread walks its own share of the list: thread id, id + threads, id + 2 threads, ...
-- starting at line offset + 1 (a repeated run continues where the first one stopped)
local urls = {}
local counter = 0
local step = 1
local offset = 0
local thread_ids = 0
function setup(thread)
  thread:set("id", thread_ids)
  thread_ids = thread_ids + 1
end
function init(args)
  step = tonumber(args[2])
  offset = tonumber(args[3] or "0")
  for line in io.lines(args[1]) do urls[#urls + 1] = line end
end
function request()
  local i = (offset + counter * step + id) % #urls + 1
  counter = counter + 1
  return wrk.format("GET", urls[i])
end
"""


@dataclass
class Measured:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    server_cpu_ms: float  # CPU time of the server's processes per request
    busy: float  # machine: busy share of all CPUs during the run
    server_share: float  # the server's share of all CPUs
    wrk_share: float  # wrk's share of all CPUs
    other_share: float  # what neither used: other work on the machine (the measurement's noise)
    one_process_share: float | None = None  # several processes: the busiest one's share of the server's CPU
    renders_per_request: float | None = None


class Wrk:
    def __init__(self, connections: int, work: Path) -> None:
        self.connections = connections
        self.threads = max(1, min(connections, os.cpu_count() or 1))
        self.script = work / "urls.lua"
        self.script.write_text(URL_LIST_LUA)
        version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
        self.description = f"{version[0] if version else 'wrk'}, {self.threads} threads, {connections} connections"

    def run(
        self,
        server: Server,
        seconds: float,
        *,
        url_file: Path | None = None,
        target: str = "/",
        headers: dict[str, str] | None = None,
        offset: int = 0,
    ) -> Measured:
        command = ["wrk", "-t", str(self.threads), "-c", str(self.connections), "-d", f"{max(1, round(seconds))}s"]
        command += ["--latency", "--timeout", "30s"]
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        if url_file is not None:
            command += [
                "-s",
                str(self.script),
                server.base_url + "/",
                "--",
                str(url_file),
                str(self.threads),
                str(offset),
            ]
        else:
            command += [server.base_url + target]
        pids = server.pids()
        workers = server.worker_pids() if server.processes > 1 else []
        per_worker_before = [cpu_ticks([pid]) for pid in workers]
        cpu_before, (busy_before, total_before) = cpu_ticks(pids), machine_ticks()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 90).stdout
        cpu_after, (busy_after, total_after) = cpu_ticks(pids), machine_ticks()
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        per_worker = [cpu_ticks([pid]) - before for pid, before in zip(workers, per_worker_before)]
        wrk_seconds = (children_after.ru_utime - children_before.ru_utime) + (
            children_after.ru_stime - children_before.ru_stime
        )
        run = load.parse_wrk(out, server.name)
        requests, elapsed = run.requests, run.seconds
        ticks = os.sysconf("SC_CLK_TCK")
        server_ms = (cpu_after - cpu_before) / ticks * 1000
        span = max(1, total_after - total_before)
        busy = (busy_after - busy_before) / span
        server_share = (cpu_after - cpu_before) / span
        wrk_share = wrk_seconds * ticks / span
        return Measured(
            rps=requests / elapsed if elapsed else 0.0,
            p50_ms=run.p50_ms,
            p99_ms=run.p99_ms,
            errors=run.errors,
            requests=requests,
            server_cpu_ms=server_ms / requests if requests else 0.0,
            busy=busy,
            server_share=server_share,
            wrk_share=wrk_share,
            other_share=max(0.0, busy - server_share - wrk_share),
            one_process_share=max(per_worker) / sum(per_worker) if per_worker and sum(per_worker) else None,
        )


def origin_renders(server: Server) -> float:
    return load.scrape(server).get("origin_renders_total", 0.0)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# helpers


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: apt-get install -y wrk", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk (Debian)")


def ensure_thumbor() -> str:
    python = THUMBOR_VENV / "bin" / "python"
    wanted = THUMBOR_REQUIREMENTS[0].split("==")[1]
    check = [str(python), "-c", "import thumbor; print(thumbor.__version__)"]
    if python.exists():
        version = subprocess.run(check, capture_output=True, text=True).stdout.strip()
        if version == wanted and (THUMBOR_VENV / "bin" / "py-spy").exists():
            return version
    interpreter = shutil.which("python3.11") or shutil.which("python3") or sys.executable
    print(f"installing {', '.join(THUMBOR_REQUIREMENTS)} into {THUMBOR_VENV} (pip, PyPI)", flush=True)
    if not python.exists():
        subprocess.run([interpreter, "-m", "venv", str(THUMBOR_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *THUMBOR_REQUIREMENTS], check=True)
    return subprocess.run(check, capture_output=True, text=True, check=True).stdout.strip()


def wait_for_quiet(limit: float, threshold: float) -> tuple[float, float]:
    """Wait (at most ``limit`` seconds) until the 1-minute load average is under ``threshold``."""
    first = os.getloadavg()[0]
    started = time.monotonic()
    while os.getloadavg()[0] >= threshold and time.monotonic() - started < limit:
        print(f"  load average {os.getloadavg()[0]:.2f} >= {threshold:.2f}: waiting ...", flush=True)
        time.sleep(15)
    return first, os.getloadavg()[0]


def pillow_line(python: str) -> str:
    code = "import PIL.features as f, PIL; print(PIL.__version__, 'libjpeg-turbo', f.version('jpg'), 'libwebp', f.version('webp'), 'libavif', f.version('avif'))"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


class Tee:
    """Prints and keeps every line, to save the report under bench/.work/results."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def fmt_ratio(num: float | None, den: float | None) -> str:
    return f"{num / den:.2f}" if num is not None and den else "n/a"


# ------------------------------------------------------------------------------------------------
# profiling


IDLE_LEAVES = ("Condition.wait (threading.py)", "_worker (concurrent/futures/thread.py)")
CATEGORIES = (  # the first that a sample's stack matches names it
    ("JPEG decode (Pillow ImageFile.load)", "ImageFile.load (PIL/"),
    ("resize (Pillow Image.resize)", "Image.resize (PIL/"),
    ("encode (transforms.encode)", "encode (transforms/encode.py)"),
    ("read the source (FolderStore.read)", "FolderStore.read (origin/store.py)"),
    ("rest of the render thread", "_remembering_failures (origin/routes.py)"),
    ("access log and metrics (AccessLogMiddleware._record)", "AccessLogMiddleware._record"),
    ("image endpoint: auth, params, stat, headers", "image (origin/routes.py)"),
    ("HTTP and ASGI stack (uvicorn, starlette, middleware)", "RequestResponseCycle.run_asgi"),
    ("HTTP parsing (uvicorn httptools protocol)", "HttpToolsProtocol."),
)


def profile(server: Server, wrk: Wrk, url_files: list[Path], seconds: float, out: Path) -> list[str]:
    """py-spy on the origin while wrk sends it distinct URLs: once sampling every busy thread, once
    only the thread that holds the GIL (the serial part). Summed by category, and the top frames."""
    py_spy = THUMBOR_VENV / "bin" / "py-spy"
    lines: list[str] = []
    for url_file, (view, flags) in zip(url_files, (("busy threads", []), ("GIL holder", ["--gil"]))):
        raw = out.parent / f"{out.name}-{'gil' if flags else 'threads'}.txt"
        command = [str(py_spy), "record", "--pid", str(server.process.pid), "--format", "raw", "--output", str(raw)]
        command += ["--duration", str(max(2, round(seconds))), "--rate", "250", "--nonblocking", *flags]
        if server.processes > 1:
            command.append("--subprocesses")
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        result = wrk.run(server, seconds + 1, url_file=url_file)
        _, err = spy.communicate(timeout=seconds + 60)
        if not raw.exists():
            return [f"py-spy failed: {err.decode(errors='replace')[-500:]}"]
        own: Counter[str] = Counter()
        categories: Counter[str] = Counter()
        total = idle = 0
        for line in raw.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            frames = [_short(frame) for frame in stack.split(";")] if stack else []
            if not frames:
                continue
            count = int(count_text)
            if frames[-1] in IDLE_LEAVES:  # a pool thread waiting for work
                idle += count
                continue
            total += count
            own[frames[-1]] += count
            joined = ";".join(frames)
            name = next((label for label, mark in CATEGORIES if mark in joined), None)
            if name is None:
                name = (
                    "event loop (uvloop: I/O, callbacks, waiting)" if frames[-1].startswith("Runner.run") else "other"
                )
            categories[name] += count
        lines.append(
            f"py-spy, {view}: {total} samples at 250 Hz in {seconds:.0f} s ({idle} idle pool-thread samples left out),"
            f" {result.rps:.1f} req/s under the profiler; raw stacks: {raw.relative_to(REPO)}"
        )
        lines.append("  by category:")
        lines += [f"    {count / total:6.1%}  {name}" for name, count in categories.most_common()]
        lines.append("  innermost frames:")
        lines += [f"    {count / total:6.1%}  {name}" for name, count in own.most_common(12)]
    return lines


def _short(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py)``; native frames kept as they are."""
    match = re.match(r"(.*?) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    name, where = match.groups()
    where = where.split("site-packages/")[-1] if "site-packages/" in where else where.replace(str(REPO) + "/", "")
    return f"{name} ({where})"


# ------------------------------------------------------------------------------------------------
# the run


@dataclass
class Plan:
    """Per case and server kind: the warm-up URL file and one URL file per round."""

    warm: dict[tuple[str, str], Path] = field(default_factory=dict)
    rounds: dict[tuple[str, str, int], Path] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def write_url_lists(cases: list[Case], rounds: int, key: bytes, folder: Path) -> Plan:
    plan = Plan()
    folder.mkdir(parents=True, exist_ok=True)
    for case in cases:
        if case.mode != "cold":
            continue
        pairs = cold_pairs(case, seed=ord(case.key))
        warm_n = min(400, len(pairs) // 10)
        per_round = (len(pairs) - warm_n) // rounds
        plan.sizes[case.key] = per_round
        kinds = ["ours", "thumbor"] if case.thumbor else ["ours"]
        for kind in kinds:

            def url(w: int, q: int, kind: str = kind) -> str:
                if kind == "thumbor":
                    return case.thumbor_path(w, q)
                query = case.ours_query(w, q)
                return sign_url(case.source, key=key, query=query, args=case.ours_args, expires_in=6 * 3600)

            chunks = {"warm": pairs[:warm_n]}
            for r in range(rounds):
                chunks[str(r)] = pairs[warm_n + r * per_round : warm_n + (r + 1) * per_round]
            for name, chunk in chunks.items():
                path = folder / f"{case.key}-{kind}-{name}.txt"
                path.write_text("".join(url(w, q) + "\n" for w, q in chunk))
                if name == "warm":
                    plan.warm[(case.key, kind)] = path
                else:
                    plan.rounds[(case.key, kind, int(name))] = path
    return plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15, help="load time of each measurement (15)")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each case and server, medians (2)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections (8)")
    parser.add_argument("--rss-urls", type=int, default=10_000, help="distinct URLs of the memory run (10000)")
    parser.add_argument(
        "--wait-load", type=float, default=300, help="wait at most this long for a quiet machine (300 s)"
    )
    parser.add_argument("--load-threshold", type=float, default=0.5, help="'quiet': 1-minute load average below this")
    parser.add_argument("--cases", default="abcdefgh", help="which cases to run (abcdefgh)")
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="py-spy on the origin under case (a) load: when a target is missed (auto), always, never",
    )
    options = parser.parse_args()
    out = Tee()
    started_at = time.time()
    cores = os.cpu_count() or 1

    ensure_wrk()
    thumbor_version = ensure_thumbor()
    RESULTS.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="compare-", dir=WORK))
    wrk = Wrk(options.connections, logs)

    load_before, load_after_wait = wait_for_quiet(options.wait_load, options.load_threshold)
    files = make_inputs(INPUTS)
    cases = [case for case in CASES if case.key in options.cases]

    out("origin vs thumbor vs the Pillow floor")
    out(f"  machine: {cores} CPUs, load average {load_before:.2f} at start, {load_after_wait:.2f} when the run began")
    out(
        f"  origin: {' '.join(origin_command())}, Python {sys.version.split()[0]}, Pillow {pillow_line(sys.executable)}"
    )
    out(
        f"  thumbor {thumbor_version} in {THUMBOR_VENV.relative_to(REPO)}, Pillow {pillow_line(str(THUMBOR_VENV / 'bin' / 'python'))}"
    )
    out(
        f"  load: {wrk.description}, loopback, on the same CPUs; {options.rounds} x {options.seconds:.0f} s per cell, medians"
    )
    sizes = ", ".join(f"{name} {len(data) / 1e6:.2f} MB" for name, data in files.items())
    out(f"  inputs in {INPUTS.relative_to(REPO)}: {sizes}")
    with Image.open(io.BytesIO(files["photo.jpg"])) as photo:
        out(
            f"  photo.jpg {photo.size[0]}x{photo.size[1]} quality 90; medium.jpg 1200x800; alpha.png 1000x1000 RGBA; mark.png 200x60"
        )
    out()

    # -------- the floor, before any server runs
    floor = Floor(files)
    floor_ms: dict[str, float] = {}
    out("floor: one thread of Pillow per image (draft decode, one Lanczos resize, same encoder settings)")
    for case in cases:
        if case.mode != "cold":
            continue
        ms, count = floor.measure(case, budget=min(3.0, max(1.0, options.seconds / 5)))
        floor_ms[case.key] = ms
        out(
            f"  ({case.key}) {case.title}: median {ms:6.2f} ms/image over {count} images = {1000 / ms:6.1f}/s per core, {cores} cores {cores * 1000 / ms:6.1f}/s"
        )
    out()

    secret = secrets.token_urlsafe(32)
    key = secret.encode()
    plan = write_url_lists(cases, options.rounds, key, logs / "urls")

    measured: dict[tuple[str, str], list[Measured]] = {}
    quality_rows: list[tuple[str, str, int, float]] = []
    notes: list[str] = []
    with ExitStack() as stack:
        o1 = stack.enter_context(ours(INPUTS, 1, secret, logs))
        o2 = stack.enter_context(ours(INPUTS, 2, secret, logs))
        t1 = stack.enter_context(thumbor(INPUTS, 1, logs, None))
        t2 = stack.enter_context(thumbor(INPUTS, 2, logs, None))
        r1 = stack.enter_context(thumbor(INPUTS, 1, logs, logs / "thumbor-results-1p"))
        r2 = stack.enter_context(thumbor(INPUTS, 2, logs, logs / "thumbor-results-2p"))
        hit_url = sign_url("/photo.jpg", key=key, query=f"w={HIT_W}&q={HIT_Q}", expires_in=6 * 3600)
        thumbor_hit = f"/unsafe/{HIT_W}x0/filters:quality({HIT_Q})/photo.jpg"

        # -------- output sizes and quality, case (a)/(b)/(c) at w=300 q=80
        ref = reference(files["photo.jpg"], (HIT_W, 200))
        for fmt in ("jpg", "webp", "avif"):
            case = next(c for c in CASES if c.mode == "cold" and c.fmt == fmt and c.source == "/photo.jpg")
            url = sign_url("/photo.jpg", key=key, query=case.ours_query(HIT_W, HIT_Q), expires_in=3600)
            for label, base, target in (
                ("ours", o1.base_url, url),
                ("thumbor", t1.base_url, case.thumbor_path(HIT_W, HIT_Q)),
            ):
                status, headers, body = http_get(base + target)
                if status != 200:
                    notes.append(f"quality sample {label} {fmt}: HTTP {status}")
                    continue
                image = Image.open(io.BytesIO(body))
                quality_rows.append(
                    (
                        f"({case.key}) {fmt}",
                        f"{label} ({image.format}, {image.size[0]}x{image.size[1]})",
                        len(body),
                        psnr(image, ref),
                    )
                )
            body = floor.render(case, HIT_W, HIT_Q)
            quality_rows.append(
                (f"({case.key}) {fmt}", "Pillow floor (draft)", len(body), psnr(Image.open(io.BytesIO(body)), ref))
            )
        # the repeat URL: into every origin worker's cache and thumbor's result storage (warm-ups below)
        for server in (o1, o2):
            status, headers, _ = http_get(server.base_url + hit_url)
            ours_etag = headers.get("etag")
        status, headers, _ = http_get(r1.base_url + thumbor_hit)
        thumbor_etag = headers.get("etag")
        thumbor_304 = None
        if thumbor_etag:
            http_get(r2.base_url + thumbor_hit)
            thumbor_304 = http_get(r1.base_url + thumbor_hit, {"If-None-Match": thumbor_etag})[0]
        ours_304 = http_get(o1.base_url + hit_url, {"If-None-Match": ours_etag or ""})[0]
        out(f"  ETags: ours {ours_etag} -> {ours_304} on If-None-Match; thumbor {thumbor_etag} -> {thumbor_304}")

        def servers_for(case: Case) -> list[Server]:
            if case.mode == "cold":
                return [o1, t1, o2, t2] if case.thumbor else [o1, o2]
            if case.mode == "revalidate" and thumbor_304 != 304:
                return [o1, o2]
            return [o1, r1, o2, r2]

        def one_run(case: Case, server: Server, seconds: float, round_: int | None, offset: int = 0) -> Measured:
            if case.mode == "cold":
                file = (
                    plan.warm[(case.key, server.kind)]
                    if round_ is None
                    else plan.rounds[(case.key, server.kind, round_)]
                )
                before = origin_renders(server) if server.kind == "ours" else 0.0
                result = wrk.run(server, seconds, url_file=file, offset=offset)
                if server.kind == "ours":
                    result.renders_per_request = (origin_renders(server) - before) / max(1, result.requests)
                return result
            target = hit_url if server.kind == "ours" else thumbor_hit
            headers = None
            if case.mode == "revalidate":
                headers = {"If-None-Match": (ours_etag if server.kind == "ours" else thumbor_etag) or ""}
            return wrk.run(server, seconds, target=target, headers=headers)

        def measured_run(case: Case, server: Server, round_: int) -> Measured:
            """One measurement. With several processes sharing one listening socket, the kernel may hand
            (nearly) all of wrk's keep-alive connections to one process, which then does all the work on
            one core: such a run measures the accept race, not the server, so it is repeated once (cold
            cases continue further down their URL list, so every URL stays new)."""
            result = one_run(case, server, options.seconds, round_)
            if result.one_process_share is not None and result.one_process_share > IMBALANCED:
                out(
                    f"  ({case.key}) {server.name:<14} {result.rps:8.1f} req/s, but one process did "
                    f"{result.one_process_share:.0%} of the work (connections landed on it): repeated"
                )
                notes.append(
                    f"({case.key}) {server.name} round {round_ + 1}: repeated, one process had the connections"
                )
                result = one_run(case, server, options.seconds, round_, offset=result.requests + 64)
            return result

        # -------- warm-up: every server, every case, 1 s (imports, thread pools, fonts, the hit URL)
        out("warm-up: 1 s per case and server")
        for case in cases:
            for server in servers_for(case):
                one_run(case, server, 1, None)
        out()

        # -------- the measured rounds
        for round_ in range(options.rounds):
            out(f"round {round_ + 1} (load average {os.getloadavg()[0]:.2f})")
            for case in cases:
                order = servers_for(case)
                if round_ % 2:
                    order = order[::-1]
                for server in order:
                    result = measured_run(case, server, round_)
                    measured.setdefault((case.key, server.name), []).append(result)
                    renders = (
                        f", {result.renders_per_request:.2f} renders/req"
                        if result.renders_per_request is not None
                        else ""
                    )
                    if result.one_process_share is not None:
                        renders += f", busiest process {result.one_process_share:.0%}"
                    out(
                        f"  ({case.key}) {server.name:<14} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms"
                        f"  errors {result.errors}  server CPU {result.server_cpu_ms:6.2f} ms/req  CPUs busy {result.busy:4.0%}: server {result.server_share:4.0%} wrk {result.wrk_share:4.0%} other {result.other_share:4.0%}{renders}"
                    )
            out()

    # -------- memory: 10,000 distinct URLs, cache_max_bytes = 64 MiB (bench/load.py's memory run)
    memory: dict[int, load.RssRun] = {}
    if options.rss_urls > 0:
        out(
            f"memory: {options.rss_urls} distinct URLs of /small.jpg (800x533), cache_max_bytes 64 MiB, bench/load.py's memory run (asyncio, {options.connections} connections)"
        )
        token = sign_url("/small.jpg", key=key, expires_in=6 * 3600).split("jwt=", 1)[1]
        for workers in (1, 2):
            with ours(INPUTS, workers, secret, logs, cache_max_bytes=str(MEMORY_CACHE_BYTES)) as server:
                run = load.memory_run(server, token, options.rss_urls, options.connections)  # type: ignore[arg-type]
            memory[workers] = run
            out(
                f"  {workers}w: {run.requests} requests in {run.seconds:.1f} s, errors {run.errors}, RSS idle {run.idle_mib:.0f} MiB, peak {run.peak_mib:.0f} MiB (workers {run.workers_peak_mib:.0f} MiB), cache {run.cache_mib:.1f} MiB at the end"
            )
        out()

    # -------- the table
    def med(case: str, name: str, metric: Callable[[Measured], float]) -> float | None:
        runs = measured.get((case, name))
        return statistics.median(metric(r) for r in runs) if runs else None

    def cell(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else fmt.format(value)

    out("results: medians of the rounds; ratio = ours / thumbor with the same number of processes")
    out(f"  floor x{cores} = {cores} cores x one Pillow thread; ours/floor = ours 2w / (floor x{cores})")
    header = f"{'case':<5}{'metric':<16}{'ours 1w':>10}{'thumbor 1p':>12}{'ratio':>7}{'ours 2w':>10}{'thumbor 2p':>12}{'ratio':>7}{'floor x' + str(cores):>10}{'ours/floor':>11}"
    out(header)
    out("-" * len(header))
    for case in cases:
        names = column_names(case)
        rows: list[tuple[str, Callable[[Measured], float], str]] = [
            ("requests/s", lambda m: m.rps, "{:.1f}"),
            ("p50 ms", lambda m: m.p50_ms, "{:.2f}"),
            ("p99 ms", lambda m: m.p99_ms, "{:.2f}"),
            ("server CPU ms/req", lambda m: m.server_cpu_ms, "{:.2f}"),
            ("errors", lambda m: float(m.errors), "{:.0f}"),
        ]
        if case.mode == "cold":
            rows.append(
                (
                    "renders/req",
                    lambda m: m.renders_per_request if m.renders_per_request is not None else float("nan"),
                    "{:.2f}",
                )
            )
        for index, (label, metric, fmt) in enumerate(rows):
            values = [med(case.key, name, metric) if name else None for name in names]
            if label == "renders/req":
                values[1] = values[3] = None
            ratio1 = fmt_ratio(values[0], values[1]) if label == "requests/s" else ""
            ratio2 = fmt_ratio(values[2], values[3]) if label == "requests/s" else ""
            floor_cell, floor_ratio = "", ""
            if label == "requests/s" and case.key in floor_ms:
                floor_rps = cores * 1000 / floor_ms[case.key]
                floor_cell, floor_ratio = f"{floor_rps:.1f}", fmt_ratio(values[2], floor_rps)
            elif label == "server CPU ms/req" and case.key in floor_ms:
                floor_cell = f"{floor_ms[case.key]:.2f}"
            title = f"({case.key})" if index == 0 else ""
            out(
                f"{title:<5}{label:<16}{cell(values[0], fmt):>10}{cell(values[1], fmt):>12}{ratio1:>7}"
                f"{cell(values[2], fmt):>10}{cell(values[3], fmt):>12}{ratio2:>7}{floor_cell:>10}{floor_ratio:>11}"
            )
        out(f"     {case.title}; thumbor: {thumbor_label(case, thumbor_304)}")
    out()
    if quality_rows:
        out("output size and quality at w=300 q=80 (PSNR against a full-decode Lanczos resize made with Pillow)")
        for case_label, who, size, value in quality_rows:
            out(f"  {case_label:<9}{who:<36}{size:>8} bytes  PSNR {value:6.2f} dB")
        out()

    # -------- targets
    out("targets")
    verdicts: list[bool] = []

    def verdict(ok: bool | None, text: str) -> None:
        if ok is None:
            out(f"  n/a       {text}")
            return
        verdicts.append(ok)
        out(f"  {'MET    ' if ok else 'NOT MET'}   {text}")

    for case in cases:
        if case.mode != "cold" or not case.counted:
            continue
        o1r, t1r = med(case.key, "ours 1w", lambda m: m.rps), med(case.key, "thumbor 1p", lambda m: m.rps)
        o2r, t2r = med(case.key, "ours 2w", lambda m: m.rps), med(case.key, "thumbor 2p", lambda m: m.rps)
        if case.thumbor and o1r and t1r:
            verdict(
                o1r / t1r >= 1.6,
                f"({case.key}) cold, 1 process each: ours {o1r:.1f} / thumbor {t1r:.1f} req/s = {o1r / t1r:.2f}x (>= 1.6x)",
            )
        if case.thumbor and o2r and t2r:
            verdict(
                o2r / t2r >= 1.15,
                f"({case.key}) cold, 2 processes each: ours {o2r:.1f} / thumbor {t2r:.1f} req/s = {o2r / t2r:.2f}x (>= 1.15x)",
            )
        if o2r and case.key in floor_ms:
            floor_rps = cores * 1000 / floor_ms[case.key]
            verdict(
                o2r >= 0.85 * floor_rps,
                f"({case.key}) cold, 2 workers: ours {o2r:.1f} req/s = {o2r / floor_rps:.0%} of {cores} x floor {floor_rps:.1f}/s (>= 85%)",
            )
    for workers in (1, 2):
        o = med("f", f"ours {workers}w", lambda m: m.rps)
        t = med("f", f"thumbor+rs {workers}p", lambda m: m.rps)
        p99 = med("f", f"ours {workers}w", lambda m: m.p99_ms)
        if o and t:
            verdict(
                o / t >= 3,
                f"(f) hits, {workers} process(es): ours {o:.0f} / thumbor result storage {t:.0f} req/s = {o / t:.2f}x (>= 3x)",
            )
        if p99 is not None:
            verdict(
                p99 < 10,
                f"(f) hits, {workers} process(es): ours p99 {p99:.2f} ms at {options.connections} connections (< 10 ms)",
            )
    if 1 in memory:
        limit = MEMORY_CACHE_BYTES + MEMORY_ALLOWANCE
        peak = memory[1].peak_mib * MiB
        verdict(
            peak <= limit,
            f"memory, 1 worker: peak RSS {memory[1].peak_mib:.0f} MiB <= cache_max_bytes 64 MiB + 150 MB = {limit / MiB:.0f} MiB",
        )
    if 2 in memory:
        limit2 = 2 * MEMORY_CACHE_BYTES + MEMORY_ALLOWANCE
        out(
            f"  (info)    memory, 2 workers (a cache each): peak RSS {memory[2].peak_mib:.0f} MiB, against 2 x 64 MiB + 150 MB = {limit2 / MiB:.0f} MiB"
        )
    for note in notes:
        out(f"  note: {note}")
    out(f"  load average at the end {os.getloadavg()[0]:.2f}; run took {(time.time() - started_at) / 60:.1f} min")

    missed = not all(verdicts)
    if options.profile == "always" or (options.profile == "auto" and missed):
        out()
        why = "a target was missed" if missed else "--profile always"
        out(f"{why}: profiling the origin (1 worker, fresh) under case (a) load, every URL distinct")
        with ours(INPUTS, 1, secret, logs) as server:
            pairs = cold_pairs(CASES[0], seed=99)
            files_ = []
            for index, chunk in enumerate((pairs[:200], pairs[200:4000], pairs[4000:8000])):
                files_.append(logs / "urls" / f"profile-{index}.txt")
                urls = (
                    sign_url("/photo.jpg", key=key, query=CASES[0].ours_query(w, q), expires_in=3600) for w, q in chunk
                )
                files_[-1].write_text("".join(url + "\n" for url in urls))
            wrk.run(server, 1, url_file=files_[0])  # warm-up
            for line in profile(server, wrk, files_[1:], min(options.seconds, 10), RESULTS / "pyspy-1w"):
                out("  " + line)

    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = RESULTS / f"compare-{stamp}.txt"
    report.write_text("\n".join(out.lines) + "\n")
    raw = {f"{case}|{name}": [r.__dict__ for r in runs] for (case, name), runs in measured.items()}
    (RESULTS / f"compare-{stamp}.json").write_text(json.dumps({"floor_ms": floor_ms, "runs": raw}, indent=1))
    print(f"\nsaved {report.relative_to(REPO)}")
    shutil.rmtree(logs, ignore_errors=True)
    return 0


def column_names(case: Case) -> list[str]:
    """Column order of the table: ours 1w, thumbor 1p, ours 2w, thumbor 2p (or the result-storage ones)."""
    if case.mode == "cold":
        t = ["thumbor 1p", "thumbor 2p"] if case.thumbor else ["", ""]
    else:
        t = ["thumbor+rs 1p", "thumbor+rs 2p"]
    return ["ours 1w", t[0], "ours 2w", t[1]]


def thumbor_label(case: Case, thumbor_304: int | None) -> str:
    if case.mode == "cold":
        return "no result storage" if case.thumbor else "n/a (no text overlay in thumbor)"
    if case.mode == "revalidate" and thumbor_304 != 304:
        return f"n/a (If-None-Match answered {thumbor_304})"
    extra = " (renders nothing: reads the stored result, hashes it, 304)" if case.mode == "revalidate" else ""
    return "file result storage" + extra


if __name__ == "__main__":
    raise SystemExit(main())
