"""Load and reliability against a real server (SPEC §6 render bounds, §8 metrics, §9 limits).

Each test starts its own uvicorn server in a background thread on a free 127.0.0.1 port, with the
settings it needs and an empty cache, and talks to it over real sockets (``httpx2`` or raw
``socket``). The server runs in this process so that its event loop, render pool, cache and open
file descriptors can be inspected directly.

No assertion is about time (the machine is shared and noisy): only statuses, headers, counts and
bounds. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import httpx2
import pytest
from PIL import Image

from origin import Settings, create_app, sign_url
from origin.cache import ENTRY_OVERHEAD
from origin.state import AppState
from tests.live import live_server

SECRET = (b"reliability-load-secret-" * 3)[:48]
BIG = "/big.jpg"  # 3000×2000 noisy JPEG: a full-size render takes a noticeable while
SMALL = "/small.jpg"  # 200×150 noisy JPEG: renders are cheap
MiB = 1024 * 1024


# --------------------------------------------------------------------------------------------------
# inputs and a real server


def noisy_jpeg(width: int, height: int) -> bytes:
    """Photographic-ish content (a gradient under strong noise) that compresses badly, as photos do."""
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 60).convert("RGB")
    image = Image.blend(gradient, noise, 0.5)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("load-root")
    (folder / BIG.lstrip("/")).write_bytes(noisy_jpeg(3000, 2000))
    (folder / SMALL.lstrip("/")).write_bytes(noisy_jpeg(200, 150))
    return folder


@dataclass
class Running:
    port: int
    state: AppState
    loop: asyncio.AbstractEventLoop

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signed(self, path: str, query: str) -> str:
        return sign_url(path, key=SECRET, expires_in=600, query=query)

    def task_count(self) -> int:
        """Tasks alive on the server's event loop, not counting the probe that counts them."""

        async def count() -> int:
            me = asyncio.current_task()
            return sum(1 for task in asyncio.all_tasks() if task is not me)

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(timeout=10)


@contextmanager
def serve(settings: Settings) -> Iterator[Running]:
    app = create_app(settings)
    with live_server(app) as server:
        yield Running(port=server.port, state=app.state.origin, loop=server.loop)


def make_settings(root: Path, **overrides: object) -> Settings:
    return Settings(root=root, keys={"k": SECRET}, **overrides)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# metrics


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → {"name{labels}": value} for every sample line."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def scrape(client: httpx2.AsyncClient) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return parse_metrics(response.text)


def delta(after: dict[str, float], before: dict[str, float], name: str) -> int:
    return round(after.get(name, 0.0) - before.get(name, 0.0))


def requests_with_status(after: dict[str, float], before: dict[str, float], status: int) -> int:
    return delta(after, before, f'origin_requests_total{{status="{status}"}}')


def other_statuses(after: dict[str, float], before: dict[str, float], allowed: set[int]) -> dict[str, int]:
    """Request counts by status outside ``allowed`` that grew between two scrapes."""
    grown = {}
    for name in after:
        if name.startswith("origin_requests_total{"):
            status = int(name.split('"')[1])
            if status not in allowed and delta(after, before, name):
                grown[name] = delta(after, before, name)
    return grown


def wait_for(condition: Callable[[], bool], *, seconds: float, step: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass (bounded in count too)."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / step) + 1):
        if condition():
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(step)
    return condition()


# --------------------------------------------------------------------------------------------------
# (1) 200 concurrent identical misses: one render


def test_200_concurrent_identical_misses_render_once(root: Path) -> None:
    with serve(make_settings(root, render_concurrency=2)) as server:
        url = server.signed(BIG, "w=2400")

        async def main() -> tuple[list[httpx2.Response], dict[str, float], dict[str, float]]:
            limits = httpx2.Limits(max_connections=250, max_keepalive_connections=250)
            async with httpx2.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
                before = await scrape(client)
                responses = await asyncio.gather(*(client.get(url) for _ in range(200)))
                after = await scrape(client)
            return responses, before, after

        responses, before, after = asyncio.run(main())

    assert [r.status_code for r in responses] == [200] * 200
    bodies = {r.content for r in responses}
    assert len(bodies) == 1, f"{len(bodies)} different bodies for one URL"
    assert Image.open(io.BytesIO(bodies.pop())).size == (2400, 1600)
    assert len({r.headers["etag"] for r in responses}) == 1

    renders = delta(after, before, "origin_renders_total")
    coalesced = delta(after, before, "origin_coalesced_requests_total")
    hits = delta(after, before, "origin_cache_hits_total")
    misses = delta(after, before, "origin_cache_misses_total")
    assert renders == 1
    assert coalesced + hits == 199, f"coalesced={coalesced} hits={hits}"
    assert misses == 1 + coalesced
    assert sum(r.headers["x-cache"] == "HIT" for r in responses) == hits
    assert sum(r.headers["x-cache"] == "MISS" for r in responses) == misses
    assert delta(after, before, "origin_render_failures_total") == 0
    assert delta(after, before, "origin_queue_rejections_total") == 0
    # the 200 image requests and the first scrape (a scrape is counted once it has been answered)
    assert requests_with_status(after, before, 200) == 201
    assert other_statuses(after, before, {200}) == {}


# --------------------------------------------------------------------------------------------------
# (2) a flood of distinct misses on a tiny pool: 200 or 503, never worse; hits keep flowing


@dataclass
class Hit:
    status: int
    x_cache: str | None
    renders_before: int
    renders_after: int


def test_flood_of_distinct_misses_sheds_load_while_hits_keep_flowing(root: Path) -> None:
    concurrency, queue = 1, 4
    with serve(make_settings(root, render_concurrency=concurrency, render_queue=queue)) as server:
        limiter = server.state.limiter
        cached = server.signed(BIG, "w=320")
        flood = [server.signed(BIG, f"w={2000 + i}") for i in range(100)]

        async def main() -> tuple[list[httpx2.Response | BaseException], list[Hit], dict[str, float], dict[str, float]]:
            limits = httpx2.Limits(max_connections=150, max_keepalive_connections=150)
            async with (
                httpx2.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as flooder,
                httpx2.AsyncClient(base_url=server.base_url, timeout=60) as reader,
            ):
                first = await reader.get(cached)
                assert (first.status_code, first.headers["x-cache"]) == (200, "MISS")
                again = await reader.get(cached)
                assert (again.status_code, again.headers["x-cache"]) == (200, "HIT")
                before = await scrape(reader)

                flooding = asyncio.gather(*(flooder.get(u) for u in flood), return_exceptions=True)
                hits: list[Hit] = []
                deadline = time.monotonic() + 30
                while not flooding.done() and len(hits) < 2000 and time.monotonic() < deadline:
                    busy_before = limiter.in_flight
                    response = await reader.get(cached)
                    x_cache = response.headers.get("x-cache")
                    hits.append(Hit(response.status_code, x_cache, busy_before, limiter.in_flight))
                results = await flooding
                drained = await scrape(reader)
                for _ in range(600):  # bounded wait (600 × 50 ms) for the gauge, as served, to reach 0
                    if drained.get("origin_renders_in_flight") == 0 and limiter.in_flight == 0:
                        break
                    await asyncio.sleep(0.05)
                    drained = await scrape(reader)
            return results, hits, before, drained

        results, hits, before, after = asyncio.run(main())

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], f"connection errors during the flood: {errors[:3]!r}"
    responses = [r for r in results if isinstance(r, httpx2.Response)]
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503}, f"statuses {sorted(set(statuses))}"
    ok = [r for r in responses if r.status_code == 200]
    shed = [r for r in responses if r.status_code == 503]
    assert ok, "no render was admitted"
    assert shed, "the bounded queue never said no to 100 simultaneous distinct misses"
    for response in shed:
        assert response.headers.get("retry-after", "").isdigit(), response.headers
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["cache-control"] == "no-store"
        assert "error" in json.loads(response.content)
    for response in ok:
        assert response.headers["x-cache"] == "MISS"
        width = int(dict(p.split("=") for p in response.url.query.decode().split("&"))["w"])
        assert Image.open(io.BytesIO(response.content)).size[0] == width

    # every flood request is accounted for: a render for each 200, a refusal for each 503
    renders = delta(after, before, "origin_renders_total")
    refused = delta(after, before, "origin_queue_rejections_total") + delta(
        after, before, "origin_render_timeouts_total"
    )
    assert (renders, refused) == (len(ok), len(shed))
    assert delta(after, before, "origin_queue_rejections_total") > 0, "every 503 was a timeout: the queue is unbounded"
    # no render raised for any other reason (origin_render_failures_total also counts the refusals)
    assert delta(after, before, "origin_render_failures_total") <= refused
    assert other_statuses(after, before, {200, 503}) == {}

    # hits during the flood: every one a 200 HIT, some of them while renders were admitted
    assert hits, "no hit was fired during the flood"
    assert [(h.status, h.x_cache) for h in hits] == [(200, "HIT")] * len(hits)
    assert any(h.renders_before > 0 and h.renders_after > 0 for h in hits), "no hit overlapped the renders"
    admitted = max(max(h.renders_before, h.renders_after) for h in hits)
    assert admitted <= concurrency + queue, f"{admitted} renders admitted at once"

    assert after.get("origin_renders_in_flight") == 0
    assert limiter.in_flight == 0


# --------------------------------------------------------------------------------------------------
# (3) clients that leave mid-render leave nothing behind


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass(frozen=True)
class Threads:
    render: int
    anyio: int
    other: frozenset[str]

    @property
    def total(self) -> int:
        return self.render + self.anyio + len(self.other)


def threads(render_prefix: str) -> Threads:
    """Threads by kind; ``render`` counts only the pool of the server under test (other apps built
    earlier in the same process keep their own idle pools)."""
    alive = threading.enumerate()
    return Threads(
        render=sum(t.name.startswith(render_prefix + "_") for t in alive),
        anyio=sum(t.name == "AnyIO worker thread" for t in alive),
        other=frozenset(f"{t.name}#{t.ident}" for t in alive if not t.name.startswith(("render", "AnyIO worker"))),
    )


def get_and_leave(port: int, target: str, *, reset: bool) -> None:
    """Send one GET and close at once: a FIN after the request, or an RST (``SO_LINGER`` 0)."""
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        if reset:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_clients_leaving_mid_render_leak_nothing(root: Path) -> None:
    render_concurrency = 2
    distinct = 20
    with serve(make_settings(root, render_concurrency=render_concurrency, render_queue=64)) as server:
        state = server.state
        urls = [server.signed(BIG, f"w={2100 + i}") for i in range(distinct)]
        anyio_limit = asyncio.run_coroutine_threadsafe(_anyio_tokens(), server.loop).result(timeout=10)

        with httpx2.Client(base_url=server.base_url, timeout=30) as client:  # warm every path once
            assert client.get(server.signed(SMALL, "w=50")).status_code == 200
            before = parse_metrics(client.get("/metrics").text)
        assert wait_for(lambda: state.limiter.in_flight == 0 and len(state.flights) == 0, seconds=10)
        wait_for(lambda: server.task_count() <= 2, seconds=2)  # best effort: uvicorn's serve and lifespan tasks
        base_fds, base_threads, base_tasks = open_fds(), threads(state.limiter.thread_prefix), server.task_count()

        # 50 clients: 40 send a GET and close (FIN), the last 10 reset (RST); every distinct URL
        # has at least one FIN client, so each is certain to reach the app
        for i in range(50):
            get_and_leave(server.port, urls[i % distinct], reset=i >= 40)

        peak_tasks = [base_tasks]

        def drained() -> bool:
            peak_tasks.append(server.task_count())  # the probe sees the abandoned requests' tasks
            return state.limiter.in_flight == 0 and len(state.flights) == 0

        assert wait_for(drained, seconds=60), (
            f"renders did not drain: in flight {state.limiter.in_flight}, flights {len(state.flights)}"
        )
        settled = wait_for(lambda: server.task_count() <= base_tasks + 1 and open_fds() <= base_fds + 2, seconds=15)
        fds, now_threads, tasks = open_fds(), threads(state.limiter.thread_prefix), server.task_count()

        with httpx2.Client(base_url=server.base_url, timeout=30) as client:
            kept = client.get(urls[0])  # rendered for a client that left: kept, not wasted
            fresh = client.get(server.signed(SMALL, "w=60"))
            after = parse_metrics(client.get("/metrics").text)

    assert max(peak_tasks) > base_tasks, "no request task was ever seen: the leak check would be blind"
    assert settled, f"did not settle: tasks {tasks} (baseline {base_tasks}), fds {fds} (baseline {base_fds})"
    assert tasks <= base_tasks + 1, f"asyncio tasks {tasks}, baseline {base_tasks}"
    assert fds <= base_fds + 2, f"open fds {fds}, baseline {base_fds}"
    assert now_threads.other <= base_threads.other, now_threads.other - base_threads.other  # no new thread
    assert now_threads.render <= render_concurrency
    # the anyio pool (stat, /metrics) keeps idle threads for 10 s, bounded by its limiter
    assert now_threads.anyio <= anyio_limit
    assert now_threads.total <= len(base_threads.other) + render_concurrency + anyio_limit

    assert (kept.status_code, kept.headers["x-cache"]) == (200, "HIT")
    assert (fresh.status_code, fresh.headers["x-cache"]) == (200, "MISS")
    # each distinct URL rendered exactly once (renders after the baseline scrape: 20, then the fresh one)
    assert delta(after, before, "origin_renders_total") == distinct + 1
    assert delta(after, before, "origin_render_failures_total") == 0
    assert delta(after, before, "origin_queue_rejections_total") == 0
    assert after["origin_renders_in_flight"] == 0
    # every FIN client's request was answered (status 200, recorded); RST ones may never arrive
    image_200s = requests_with_status(after, before, 200) - 1 - 2  # minus the scrape, kept, fresh
    assert 40 <= image_200s <= 50, image_200s
    assert other_statuses(after, before, {200}) == {}


async def _anyio_tokens() -> int:
    return int(anyio.to_thread.current_default_thread_limiter().total_tokens)


# --------------------------------------------------------------------------------------------------
# (4) 2,000 distinct renders through a 1 MiB cache: the cache stays within its bytes


def test_cache_stays_within_its_byte_budget_over_2000_distinct_renders(root: Path) -> None:
    budget = 1 * MiB
    total = 2000
    with serve(make_settings(root, render_concurrency=2, cache_max_bytes=budget)) as server:
        cache = server.state.cache
        # w=1..2000 of a 200×150 source; noup keeps every output at most the source's size
        urls = [server.signed(SMALL, f"w={w}&scale.option=noup") for w in range(1, total + 1)]

        async def main() -> tuple[list[int], int, list[float], list[int], dict[str, float], dict[str, float]]:
            pending = list(reversed(urls))
            statuses: list[int] = []
            served_bytes = 0
            gauge: list[float] = []
            entries: list[int] = []
            limits = httpx2.Limits(max_connections=16, max_keepalive_connections=16)
            async with httpx2.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
                before = await scrape(client)

                async def fetch() -> None:
                    nonlocal served_bytes
                    while pending:
                        response = await client.get(pending.pop())
                        statuses.append(response.status_code)
                        served_bytes += len(response.content)
                        if len(statuses) % 50 == 0:  # read the gauge as served, every 50 answers
                            gauge.append((await scrape(client))["origin_cache_bytes"])
                            entries.append(len(cache))

                await asyncio.gather(*(fetch() for _ in range(8)))
                after = await scrape(client)
                gauge.append(after["origin_cache_bytes"])
                entries.append(len(cache))
            return statuses, served_bytes, gauge, entries, before, after

        statuses, served_bytes, gauge, entries, before, after = asyncio.run(main())
        final_bytes, final_entries = cache.current_bytes, len(cache)

    assert statuses == [200] * total
    assert served_bytes > 4 * budget, "the renders were too small to test the budget"
    assert len(gauge) >= total // 50
    assert max(gauge) <= budget, f"origin_cache_bytes reached {max(gauge):.0f} > {budget}"
    assert final_bytes <= budget
    assert after["origin_cache_bytes"] == final_bytes
    # every entry is charged at least ENTRY_OVERHEAD, so the count is bounded by the budget too
    assert max(entries) <= budget // ENTRY_OVERHEAD
    assert 0 < final_entries < total
    renders = delta(after, before, "origin_renders_total")
    hits = delta(after, before, "origin_cache_hits_total")
    assert renders + hits == total
    assert delta(after, before, "origin_cache_misses_total") == renders
    assert renders > final_entries, "nothing was evicted"
