"""Faults around a real server (SPEC §6 caching and errors, §9 limits): sources that change while
they are read, renders past their timeout, a cache past its budget, a broken source in a burst.

Each test starts its own uvicorn server in a background thread on a free 127.0.0.1 port (the
helpers of ``test_load.py``), with an image root of its own in a temporary folder, and talks to it
over real sockets. The server runs in this process, so its cache and render function can be
inspected or wrapped directly.

No assertion is about time: only statuses, headers, pixels, counts and bounds. Every loop is
bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from PIL import Image

import origin.routes
import transforms
from tests.imaging import mean_diff
from tests.reliability.test_load import (
    Running,
    delta,
    make_settings,
    noisy_jpeg,
    parse_metrics,
    serve,
    wait_for,
)

SOURCE = "/source.jpg"
QUERY = "w=160&format=png"  # a lossless output, so the pixels say which source was read
OUTPUT_SIZE = (160, 120)
MATCH = 10.0  # mean channel difference (0..255) under which a render shows a given source
MISMATCH = 40.0  # and over which it does not (the two sources differ by far more than this)
CLIENTS = 8


# --------------------------------------------------------------------------------------------------
# two sources that no render can confuse


def picture(kind: str, size: tuple[int, int] = (960, 720)) -> Image.Image:
    """``"old"``: warm horizontal bands; ``"new"``: cool vertical bands. Mild noise makes the JPEG
    big enough to be written in many chunks, and small enough not to blur the comparison."""
    width, height = size
    image = Image.new("RGB", size)
    if kind == "old":
        for i, colour in enumerate([(230, 40, 30), (250, 200, 20), (120, 20, 10), (240, 120, 60)]):
            image.paste(colour, (0, i * height // 4, width, (i + 1) * height // 4))
    else:
        for i, colour in enumerate([(20, 60, 220), (30, 200, 160), (10, 20, 90), (90, 160, 250)]):
            image.paste(colour, (i * width // 4, 0, (i + 1) * width // 4, height))
    noise = Image.effect_noise(size, 40).convert("RGB")
    return Image.blend(image, noise, 0.08)


def jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@dataclass(frozen=True)
class Versions:
    old: bytes
    new: bytes
    expected: dict[str, Image.Image]  # what QUERY renders from each, made with Pillow alone

    def classify(self, body: bytes) -> str:
        """``"old"`` or ``"new"`` for a render of one of them; else a description of the mismatch."""
        image = Image.open(io.BytesIO(body))
        image.load()
        if image.size != OUTPUT_SIZE:
            return f"neither: size {image.size}"
        diffs = {name: mean_diff(image, expected) for name, expected in self.expected.items()}
        close = [name for name, diff in diffs.items() if diff <= MATCH]
        far = [name for name, diff in diffs.items() if diff >= MISMATCH]
        if len(close) == 1 and len(far) == 1:
            return close[0]
        return f"neither: mean differences {diffs}"


@pytest.fixture(scope="module")
def versions() -> Versions:
    old, new = jpeg(picture("old"), 95), jpeg(picture("new"), 92)
    assert len(old) != len(new) and len(old) > 64 * 1024 and len(new) > 64 * 1024
    expected = {}
    for name, data in (("old", old), ("new", new)):
        with Image.open(io.BytesIO(data)) as image:
            expected[name] = image.convert("RGB").resize(OUTPUT_SIZE, Image.Resampling.LANCZOS)
    assert mean_diff(expected["old"], expected["new"]) > 2 * MISMATCH
    return Versions(old=old, new=new, expected=expected)


@dataclass
class Seen:
    status: int
    etag: str | None
    x_cache: str | None
    outcome: str  # "old", "new", "neither: …", or the error of a 4xx
    body: bytes


def look(response: httpx2.Response, versions: Versions) -> Seen:
    status = response.status_code
    if status == 200:
        outcome = versions.classify(response.content)
    elif 400 <= status < 500:
        assert response.headers.get("content-type", "").startswith("application/json"), response.headers
        outcome = json.loads(response.content)["error"]
    else:
        outcome = f"status {status}"
    return Seen(status, response.headers.get("etag"), response.headers.get("x-cache"), outcome, response.content)


def fetch_while(
    server: Running, url: str, versions: Versions, busy: threading.Event, *, per_client: int = 400
) -> list[Seen]:
    """``CLIENTS`` concurrent clients fetching ``url`` until ``busy`` clears (each at least twice,
    at most ``per_client`` times, for at most 120 s)."""

    async def main() -> list[Seen]:
        seen: list[Seen] = []
        deadline = time.monotonic() + 120
        limits = httpx2.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx2.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:

            async def one_client() -> None:
                for i in range(per_client):
                    if i >= 2 and (not busy.is_set() or time.monotonic() > deadline):
                        return
                    seen.append(look(await client.get(url), versions))

            await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
        return seen

    return asyncio.run(main())


def check_only_old_new_or_4xx(seen: list[Seen]) -> None:
    statuses = Counter(s.status for s in seen)
    assert all(s.status == 200 or 400 <= s.status < 500 for s in seen), f"statuses {dict(statuses)}"
    wrong = [s.outcome for s in seen if s.status == 200 and s.outcome not in ("old", "new")]
    assert wrong == [], f"{len(wrong)} of {len(seen)} images were neither the old nor the new source: {wrong[:3]}"
    # one ETag, one picture: no entry or validator ever stands for two different renders
    by_etag: dict[str | None, set[str]] = {}
    for s in seen:
        if s.status == 200:
            by_etag.setdefault(s.etag, set()).add(s.outcome)
    assert all(len(outcomes) == 1 for outcomes in by_etag.values()), by_etag


def settle(server: Running) -> None:
    assert wait_for(lambda: server.state.limiter.in_flight == 0 and len(server.state.flights) == 0, seconds=60)


# --------------------------------------------------------------------------------------------------
# (1) a source replaced atomically while 8 clients fetch it: old or new, never a mixture, never 500


def test_a_source_replaced_atomically_serves_the_old_or_the_new_image(tmp_path: Path, versions: Versions) -> None:
    root = tmp_path / "root"
    root.mkdir()
    target = root / SOURCE.lstrip("/")
    target.write_bytes(versions.old)
    replacements = 80
    busy = threading.Event()
    busy.set()
    written: list[str] = []

    def replace_repeatedly() -> None:
        try:
            for i in range(replacements):
                name, data = ("new", versions.new) if i % 2 == 0 else ("old", versions.old)
                temporary = root / f".incoming-{i}.jpg"
                temporary.write_bytes(data)
                os.replace(temporary, target)
                written.append(name)
                time.sleep(0.01)
        finally:
            busy.clear()

    with serve(make_settings(root, render_concurrency=2)) as server:
        url = server.signed(SOURCE, QUERY)
        writer = threading.Thread(target=replace_repeatedly, name="replacer", daemon=True)
        writer.start()
        seen = fetch_while(server, url, versions, busy)
        writer.join(timeout=60)
        assert not writer.is_alive()
        settle(server)
        final = [look(client_get(server, url), versions) for _ in range(2)]

    assert len(written) == replacements
    check_only_old_new_or_4xx(seen)
    outcomes = Counter(s.outcome for s in seen)
    assert outcomes["old"] and outcomes["new"], f"the clients never saw both versions: {dict(outcomes)}"
    # the last replacement wrote "old": it is what the file holds now, and what is served
    assert [(s.status, s.outcome) for s in final] == [(200, written[-1])] * 2
    assert final[1].x_cache == "HIT" and final[0].etag == final[1].etag


def client_get(server: Running, url: str) -> httpx2.Response:
    with httpx2.Client(base_url=server.base_url, timeout=60) as client:
        return client.get(url)


# --------------------------------------------------------------------------------------------------
# (2) a source rewritten slowly in place: old, new or 4xx; the half-written file is never cached


def rewrite_slowly(target: Path, data: bytes, chunks: int = 24, pause: float = 0.004) -> None:
    """Truncate ``target`` in place (same inode) and write ``data`` in ``chunks`` pieces with pauses."""
    fd = os.open(target, os.O_WRONLY | os.O_TRUNC)
    try:
        step = -(-len(data) // chunks)
        for start in range(0, len(data), step):
            os.write(fd, data[start : start + step])
            time.sleep(pause)
    finally:
        os.close(fd)


def test_a_source_rewritten_slowly_in_place_never_serves_or_caches_a_half_written_file(
    tmp_path: Path, versions: Versions
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    target = root / SOURCE.lstrip("/")
    target.write_bytes(versions.old)
    rewrites = 12  # new, old, new, … : an even count ends on "old"
    busy = threading.Event()
    busy.set()
    written: list[str] = []

    def rewrite_repeatedly() -> None:
        try:
            for i in range(rewrites):
                name, data = ("new", versions.new) if i % 2 == 0 else ("old", versions.old)
                rewrite_slowly(target, data)
                written.append(name)
                time.sleep(0.02)
        finally:
            busy.clear()

    with serve(make_settings(root, render_concurrency=2)) as server:
        url = server.signed(SOURCE, QUERY)
        inode = target.stat().st_ino
        writer = threading.Thread(target=rewrite_repeatedly, name="rewriter", daemon=True)
        writer.start()
        seen = fetch_while(server, url, versions, busy)
        writer.join(timeout=60)
        assert not writer.is_alive()
        assert target.stat().st_ino == inode and target.read_bytes() == versions.old  # rewritten in place

        # the file is complete again: the next request shows it, whatever was cached meanwhile
        settle(server)
        final = [look(client_get(server, url), versions) for _ in range(2)]
        # and a brand-new client asking for the final file in another output agrees with it
        other = client_get(server, server.signed(SOURCE, "w=80&format=png"))

    assert len(written) == rewrites
    check_only_old_new_or_4xx(seen)
    errors = Counter(s.outcome for s in seen if s.status != 200)
    assert set(errors) <= {"source cannot be processed"}, errors  # 422: changed while read, or truncated
    outcomes = Counter(s.outcome for s in seen)
    assert outcomes["old"] or outcomes["new"], f"nothing was ever served: {dict(outcomes)}"
    assert [(s.status, s.outcome) for s in final] == [(200, "old")] * 2, [(s.status, s.outcome) for s in final]
    assert final[0].etag == final[1].etag and final[1].x_cache == "HIT"
    assert final[0].etag not in {s.etag for s in seen if s.status == 200 and s.outcome != "old"}
    assert other.status_code == 200
    with Image.open(io.BytesIO(other.content)) as small:
        reference = versions.expected["old"].resize((80, 60), Image.Resampling.LANCZOS)
        assert mean_diff(small, reference) <= MATCH


# --------------------------------------------------------------------------------------------------
# (3) a render past render_timeout: 503 with Retry-After, and the server keeps serving


@pytest.fixture(scope="module")
def big_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faults-root")
    (folder / "big.jpg").write_bytes(noisy_jpeg(3000, 2000))
    (folder / "small.jpg").write_bytes(noisy_jpeg(200, 150))
    return folder


def check_overloaded(response: httpx2.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.content[:200])
    assert response.headers.get("retry-after", "").isdigit(), response.headers
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert "error" in json.loads(response.content)


def served_eventually(client: httpx2.Client, url: str, attempts: int = 5) -> httpx2.Response:
    """A fresh small render under a 0.2 s timeout on a busy machine may itself be a 503: a few
    attempts, each a 200 or a 503, and the last answer returned."""
    response = client.get(url)
    for _ in range(attempts - 1):
        if response.status_code != 503:
            break
        time.sleep(0.2)
        response = client.get(url)
    return response


def test_a_huge_render_past_render_timeout_is_a_503_and_the_server_keeps_serving(big_root: Path) -> None:
    with serve(make_settings(big_root, render_concurrency=2, render_timeout=0.2)) as server:
        cached = server.signed("/small.jpg", "w=120")
        huge = server.signed("/big.jpg", "w=8000&format=avif")
        with httpx2.Client(base_url=server.base_url, timeout=60) as client:
            warm = served_eventually(client, cached)
            assert warm.status_code == 200
            before = parse_metrics(client.get("/metrics").text)
            slow = client.get(huge)
            during = client.get(cached)  # a hit needs no render slot
            again = client.get(huge)  # a timeout is not remembered as a broken source
            settle(server)
            fresh = served_eventually(client, server.signed("/small.jpg", "w=90"))
            after = parse_metrics(client.get("/metrics").text)

    check_overloaded(slow)
    check_overloaded(again)
    assert (during.status_code, during.headers["x-cache"]) == (200, "HIT")
    assert during.content == warm.content
    assert fresh.status_code == 200, fresh.content[:200]
    assert Image.open(io.BytesIO(fresh.content)).size == (90, 68)
    assert delta(after, before, "origin_render_timeouts_total") >= 2
    assert after["origin_renders_in_flight"] == 0


def test_a_render_forced_to_sleep_past_render_timeout_is_a_503(big_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_render = transforms.render
    slept = threading.Event()

    def sleepy_render(data: bytes, options: Any, *args: Any, **kwargs: Any) -> Any:
        if options.resize.width is not None and options.resize.width.value == 77:
            slept.set()
            time.sleep(1.5)
        return real_render(data, options, *args, **kwargs)

    monkeypatch.setattr(origin.routes, "render", sleepy_render)
    with serve(make_settings(big_root, render_concurrency=1, render_timeout=0.2)) as server:
        with httpx2.Client(base_url=server.base_url, timeout=60) as client:
            slow = client.get(server.signed("/small.jpg", "w=77"))
            settle(server)  # the abandoned render gives its only slot back
            normal = served_eventually(client, server.signed("/small.jpg", "w=78"))
            retried = client.get(server.signed("/small.jpg", "w=77"))
            settle(server)

    assert slept.is_set()
    check_overloaded(slow)
    check_overloaded(retried)  # nothing half-done was kept for the slow URL
    assert normal.status_code == 200 and Image.open(io.BytesIO(normal.content)).size == (78, 59)


# --------------------------------------------------------------------------------------------------
# (4) the cache past its budget: within its bytes, least recently used evicted, still serving


def test_the_cache_past_its_budget_evicts_the_least_recently_used_and_keeps_serving(big_root: Path) -> None:
    budget = 160 * 1024
    with serve(make_settings(big_root, render_concurrency=2, cache_max_bytes=budget)) as server:
        cache = server.state.cache
        first = server.signed("/small.jpg", "w=199")
        hot = server.signed("/small.jpg", "w=198")
        fill = [server.signed("/small.jpg", f"w={w}") for w in range(140, 196)]
        oversize = server.signed("/big.jpg", "w=1500")  # far larger than the whole cache

        with httpx2.Client(base_url=server.base_url, timeout=60) as client:
            before = parse_metrics(client.get("/metrics").text)
            statuses: list[int] = []
            hot_caches: list[str] = []
            gauge: list[float] = []
            entry_sizes: list[int] = []
            for url in (first, hot):
                response = client.get(url)
                statuses.append(response.status_code)
                entry_sizes.append(len(response.content))
            first_again = client.get(first).headers["x-cache"]
            for i, url in enumerate(fill):
                response = client.get(url)
                statuses.append(response.status_code)
                entry_sizes.append(len(response.content))
                hot_caches.append(client.get(hot).headers["x-cache"])  # touched after every render
                if i % 8 == 0:
                    gauge.append(parse_metrics(client.get("/metrics").text)["origin_cache_bytes"])
            entries_before_oversize, bytes_before_oversize = len(cache), cache.current_bytes
            big = [client.get(oversize) for _ in range(2)]
            hot_after_big = client.get(hot).headers["x-cache"]
            first_last = client.get(first)
            after = parse_metrics(client.get("/metrics").text)
            gauge.append(after["origin_cache_bytes"])

    assert statuses == [200] * len(statuses)
    assert sum(entry_sizes) > 3 * budget, "the renders were too small to fill the cache"
    assert first_again == "HIT"
    assert max(gauge) <= budget, f"origin_cache_bytes reached {max(gauge):.0f} > {budget}"
    assert cache.current_bytes <= budget
    assert 0 < entries_before_oversize < len(fill)
    # least recently used: the entry touched after every render stayed; the untouched first one went
    assert hot_caches == ["HIT"] * len(fill)
    assert (first_last.status_code, first_last.headers["x-cache"]) == (200, "MISS")
    # an output larger than the whole cache is served, not kept, and does not flush the cache
    assert [(r.status_code, r.headers["x-cache"]) for r in big] == [(200, "MISS")] * 2
    assert all(len(r.content) > budget for r in big)
    assert hot_after_big == "HIT"
    assert bytes_before_oversize <= budget
    renders = delta(after, before, "origin_renders_total")
    assert renders == delta(after, before, "origin_cache_misses_total")
    assert delta(after, before, "origin_render_failures_total") == 0


# --------------------------------------------------------------------------------------------------
# (5) a burst for a broken file: 422 JSON for all, parsed at most once per broken_source_ttl window


class CountingRender:
    """``origin.routes.render`` wrapped: how many times a source was handed to the decoder."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
        return self.real(*args, **kwargs)


@pytest.fixture
def broken_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    whole = noisy_jpeg(600, 400)
    (root / "broken.jpg").write_bytes(whole[: len(whole) // 2])  # a valid header, half the scans
    return root


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingRender]:
    counter = CountingRender(transforms.render)
    monkeypatch.setattr(origin.routes, "render", counter)
    yield counter


def check_unprocessable(response: httpx2.Response) -> None:
    assert response.status_code == 422, (response.status_code, response.content[:200])
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert json.loads(response.content)["error"] == "source cannot be processed"


def burst(server: Running, urls: list[str]) -> list[httpx2.Response]:
    async def main() -> list[httpx2.Response]:
        limits = httpx2.Limits(max_connections=len(urls), max_keepalive_connections=len(urls))
        async with httpx2.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
            return list(await asyncio.gather(*(client.get(url) for url in urls)))

    return asyncio.run(main())


def test_a_sequential_burst_for_a_broken_file_is_422_and_parses_it_once(
    broken_root: Path, counting: CountingRender
) -> None:
    with serve(make_settings(broken_root, render_concurrency=2, broken_source_ttl=600)) as server:
        with httpx2.Client(base_url=server.base_url, timeout=60) as client:
            before = parse_metrics(client.get("/metrics").text)
            responses = [client.get(server.signed("/broken.jpg", f"w={100 + i}")) for i in range(50)]
            after = parse_metrics(client.get("/metrics").text)
            # a changed file has a new version: tried again at once, and served once it is good
            fixed = broken_root / ".fixed.jpg"
            fixed.write_bytes(noisy_jpeg(600, 400))
            os.replace(fixed, broken_root / "broken.jpg")
            repaired = client.get(server.signed("/broken.jpg", "w=100"))

    for response in responses:
        check_unprocessable(response)
    assert delta(after, before, "origin_render_failures_total") == 1
    assert delta(after, before, "origin_renders_total") == 0
    assert repaired.status_code == 200 and Image.open(io.BytesIO(repaired.content)).size == (100, 67)
    assert counting.calls == 2, f"{counting.calls} parses: one for the broken file, one for the repaired one"


def test_a_concurrent_burst_for_a_broken_file_is_422_and_parses_it_at_most_once_per_render_slot(
    broken_root: Path, counting: CountingRender
) -> None:
    """50 different widths at once: every one is a miss of its own, so nothing but the failure memory
    stands between the burst and 50 parses of the same broken bytes."""
    with serve(make_settings(broken_root, render_concurrency=2, broken_source_ttl=600)) as server:
        urls = [server.signed("/broken.jpg", f"w={100 + i}") for i in range(50)]
        with httpx2.Client(base_url=server.base_url, timeout=60) as client:
            before = parse_metrics(client.get("/metrics").text)
        responses = burst(server, urls)
        settle(server)
        parses_in_burst = counting.calls
        with httpx2.Client(base_url=server.base_url, timeout=60) as client:
            later = [client.get(server.signed("/broken.jpg", f"w={300 + i}")) for i in range(10)]
            after = parse_metrics(client.get("/metrics").text)

    for response in [*responses, *later]:
        check_unprocessable(response)
    failures = delta(after, before, "origin_render_failures_total")
    assert delta(after, before, "origin_queue_rejections_total") == 0
    assert counting.calls == failures, (counting.calls, failures)
    assert counting.calls == parses_in_burst, "requests after the burst parsed the broken file again"
    # Renders already running side by side when the first one finds the file broken cannot be
    # stopped; every render that starts after that finds the failure noted. So: at most one parse per
    # render slot, whatever the number of requests.
    assert 1 <= parses_in_burst <= 2, (
        f"the broken file was parsed {parses_in_burst} times for one burst of 50 requests "
        f"with render_concurrency=2, within one broken_source_ttl window"
    )
