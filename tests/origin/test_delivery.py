"""Concurrency through the app: one render per burst of identical misses, bounded renders, 503s."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest

from origin import Settings, create_app
from origin import routes as routes_module
from origin.settings import with_overrides
from tests.conftest import Sign

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class CountingRender:
    """Wraps the real ``render``: counts calls, records the thread, optionally waits first."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.finished = 0
        self.threads: set[str] = set()
        self.delay = delay
        self._real = routes_module.render

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        try:
            return self._real(*args, **kwargs)
        finally:
            self.finished += 1


@pytest.fixture
async def make_client() -> AsyncIterator[Any]:
    clients: list[httpx2.AsyncClient] = []

    def make(settings: Settings) -> httpx2.AsyncClient:
        app = create_app(settings)
        client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://origin")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def burst(client: httpx2.AsyncClient, urls: list[str]) -> list[httpx2.Response]:
    responses: list[httpx2.Response] = []

    async def one(url: str) -> None:
        responses.append(await client.get(url))

    async with anyio.create_task_group() as group:
        for url in urls:
            group.start_soon(one, url)
    return responses


async def test_a_burst_of_identical_misses_renders_once(
    settings: Settings, sign: Sign, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingRender(delay=0.2)
    monkeypatch.setattr(routes_module, "render", counting)
    client = make_client(settings)
    url = sign("/photo.jpg", query="w=123")
    responses = await burst(client, [url] * 30)
    assert [r.status_code for r in responses] == [200] * 30
    assert counting.calls == 1
    assert len({r.content for r in responses}) == 1
    assert len({r.headers["etag"] for r in responses}) == 1
    assert sum("server-timing" in r.headers for r in responses) == 1
    # rendering happened on the render pool, never on the event loop's thread
    assert counting.threads and all(name.startswith("render") for name in counting.threads)


async def test_different_tokens_for_the_same_render_share_it(
    settings: Settings, sign: Sign, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingRender(delay=0.1)
    monkeypatch.setattr(routes_module, "render", counting)
    client = make_client(settings)
    urls = [sign("/photo.jpg", query="w=77", exp_in=300 + i) for i in range(10)]
    assert {r.status_code for r in await burst(client, urls)} == {200}
    assert counting.calls == 1


async def test_a_flood_of_distinct_renders_gets_503s_never_500s(
    settings: Settings, sign: Sign, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_module, "render", CountingRender(delay=0.3))
    client = make_client(with_overrides(settings, render_concurrency=1, render_queue=2))
    urls = [sign("/photo.jpg", query=f"w={100 + i}") for i in range(10)]
    hit_url = sign("/gallery/one.jpg", query="w=10")
    monkeypatch.setattr(routes_module, "render", CountingRender())
    assert (await client.get(hit_url)).status_code == 200  # cached before the flood
    slow = CountingRender(delay=0.3)
    monkeypatch.setattr(routes_module, "render", slow)

    async def hit_during_flood() -> httpx2.Response:
        await anyio.sleep(0.05)
        response = await client.get(hit_url)
        # answered while the flood's renders were still running: it did not wait for a render slot
        assert slow.calls > slow.finished, "the hit was answered only after the renders"
        return response

    responses = await burst(client, urls)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 3 and statuses.count(503) == 7, statuses
    for response in responses:
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            assert response.headers["cache-control"] == "no-store"
            assert response.json()["error"] == "busy, retry later"
    async with anyio.create_task_group() as group:
        group.start_soon(burst, client, [sign("/photo.jpg", query=f"w={300 + i}") for i in range(3)])
        hit = await hit_during_flood()
    assert hit.status_code == 200 and hit.headers["x-cache"] == "HIT"


async def test_a_render_past_the_timeout_is_a_503(
    settings: Settings, sign: Sign, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = CountingRender(delay=2.0)
    monkeypatch.setattr(routes_module, "render", slow)
    client = make_client(with_overrides(settings, render_timeout=0.1))
    response = await client.get(sign("/photo.jpg", query="w=55"))
    assert (slow.calls, slow.finished) == (1, 0)  # answered while the render still ran
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"error": "busy, retry later", "detail": "render took longer than render_timeout"}
