"""Redis shared by replicas (``origin/shared_cache.py``, ``RedisLinks`` in ``origin/once.py``), against a
real ``redis-server`` on a free loopback port: the render cache's entries and keys, a render of one app
served by another without rendering, Redis stopped or frozen under traffic (requests carry on from
memory, one warning, a metric, no request slower than the timeout) and coming back, and one-time links
claimed once across apps, expiring with their token, and refused with a 503 while Redis is down.

Nothing here is skipped: without ``redis-server`` the tests fail and say how to install it.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import logging
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.applications import Starlette
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.errors import AuthError, OverloadedError
from origin.headers import ETAG_VERSION
from origin.metrics import Metrics
from origin.once import KEEP_AFTER_EXPIRY, RedisLinks, link_key
from origin.settings import with_overrides
from origin.shared_cache import KEY_PREFIX, Breaker, SharedCache, decode_entry, encode_entry, key_prefix, redis_key
from tests.conftest import FIXTURES, SECRET, make_token
from tests.live import live_server
from tests.stores.s3_servers import free_port
from tests.tokens import ALREADY_USED
from transforms import Rendered

HOST = "127.0.0.1"
REDIS_MISSING = (
    "redis-server is not installed, and these tests need a real one. CI installs it "
    "(.ci/run: apt-get install -y redis-server); by hand: apt-get install -y redis-server"
)
RACERS = 20
TIMEOUT = 0.2  # redis_timeout of the apps here
PAUSE = 1.0  # the breakers' pause, shortened from 5 s so that recovery needs no long wait


class RedisServer:
    """``redis-server`` on a fixed loopback port, without persistence; it can be stopped, frozen
    (SIGSTOP: connections are accepted and never answered) and started again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        executable = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(executable).exists():
            pytest.fail(REDIS_MISSING)
        argv = [executable, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n{self.output()}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer on port {self.port}:\n{self.output()}")
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-4000:]

    def close(self) -> None:
        self.stop()
        self.log.close()


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
def db(shared_redis: RedisServer) -> Iterator[redis.Redis]:
    """The module's Redis, emptied for each test, and a client to look into it."""
    with shared_redis.client() as client:
        client.flushall()
        yield client


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, to stop and freeze."""
    with running_redis() as server:
        yield server


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    shutil.copy(FIXTURES / "photo.jpg", root / "photo.jpg")
    (root / "clip.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + bytes(4000))
    return root


def settings_for(root: Path, url: str, **overrides: Any) -> Settings:
    return Settings(
        root=root, keys={"main": SECRET}, render_concurrency=1, redis_url=url, redis_timeout=TIMEOUT, **overrides
    )


def shortened(app: Starlette) -> Starlette:
    """``app`` with its breakers pausing ``PAUSE`` seconds instead of 5."""
    state = app.state.origin
    state.shared.breaker.pause = PAUSE
    state.links.breaker.pause = PAUSE
    return app


def sample(app: Starlette, name: str) -> float:
    return app.state.origin.metrics.registry.get_sample_value(name) or 0.0


def renders(app: Starlette) -> float:
    return sample(app, "origin_renders_total")


def url(width: int, **claims: Any) -> str:
    return f"/photo.jpg?w={width}&jwt={make_token(**claims)}"


def published(app: Starlette, client: redis.Redis, count: int, timeout: float = 5.0) -> None:
    """Wait until ``app`` has no publish in flight and Redis holds ``count`` renders."""
    deadline = time.monotonic() + timeout
    while app.state.origin.shared.publishing or len(client.keys(KEY_PREFIX + "*")) < count:
        assert time.monotonic() < deadline, f"{len(client.keys(KEY_PREFIX + '*'))} of {count} renders published"
        time.sleep(0.01)


def rendered(body: bytes = b"\xff\xd8 bytes of a jpeg \xff\xd9") -> Rendered:
    return Rendered(
        body=body,
        media_type="image/jpeg",
        extension="jpg",
        width=300,
        height=200,
        decode_seconds=0.01,
        transform_seconds=0.02,
        encode_seconds=0.03,
    )


def run_with_cache(server: RedisServer, work: Callable[[SharedCache], Any], **options: Any) -> Any:
    """``await work(cache)`` on a fresh loop, with a started ``SharedCache``, closed afterwards."""

    async def main() -> Any:
        cache = SharedCache(
            server.url,
            **{"ttl": 600, "max_entry_bytes": 1 << 20, "timeout": TIMEOUT, "metrics": Metrics(), **options},
        )
        await cache.start()
        try:
            return await work(cache)
        finally:
            await cache.close()

    return asyncio.run(main())


# ------------------------------------------------------------------------------------ SharedCache


KEY = ("/photo.jpg", "18c2a3b4-4f2a", "w=300", "jpeg")


def test_a_render_goes_in_and_comes_out_whole(shared_redis: RedisServer, db: redis.Redis) -> None:
    async def work(cache: SharedCache) -> tuple[bool, Rendered | None, Rendered | None]:
        stored = await cache.put(KEY, rendered())
        return stored, await cache.get(KEY), await cache.get((*KEY[:-1], "webp"))

    stored, found, other = run_with_cache(shared_redis, work)
    assert stored
    assert found is not None and other is None
    original = rendered()
    assert (found.body, found.media_type, found.extension, found.width, found.height) == (
        original.body,
        original.media_type,
        original.extension,
        original.width,
        original.height,
    )
    assert (found.decode_seconds, found.transform_seconds, found.encode_seconds) == (0, 0, 0)  # nothing rendered


def test_an_entry_is_kept_for_redis_ttl(shared_redis: RedisServer, db: redis.Redis) -> None:
    async def work(cache: SharedCache) -> bool:
        return await cache.put(KEY, rendered())

    assert run_with_cache(shared_redis, work, ttl=120)
    assert 118 <= db.ttl(redis_key(KEY)) <= 120


def test_a_render_over_redis_max_entry_bytes_is_not_stored(shared_redis: RedisServer, db: redis.Redis) -> None:
    async def work(cache: SharedCache) -> tuple[bool, bool, int]:
        small = await cache.put(KEY, rendered(b"x" * 100))
        large = await cache.put((*KEY[:-1], "png"), rendered(b"x" * 101))
        cache.publish((*KEY[:-1], "gif"), rendered(b"x" * 101))
        return small, large, cache.publishing

    assert run_with_cache(shared_redis, work, max_entry_bytes=100) == (True, False, 0)
    assert db.keys("*") == [redis_key(KEY).encode()]


def test_the_redis_key_is_a_prefixed_hash_of_the_whole_cache_key(shared_redis: RedisServer, db: redis.Redis) -> None:
    key = redis_key(KEY)
    assert key == KEY_PREFIX + hashlib.sha256(json.dumps(list(KEY), separators=(",", ":")).encode()).hexdigest()
    assert KEY_PREFIX == f"origin:render:v1:{metadata.version('image-origin')}:{ETAG_VERSION}:"
    assert key.startswith(KEY_PREFIX) and len(key) == len(KEY_PREFIX) + 64
    assert redis_key(tuple(KEY)) == key  # the same in every process
    assert redis_key(("/a", "bc")) != redis_key(("/ab", "c"))  # fields do not run into each other
    assert redis_key((*KEY, "/mark.png", "1-2")) != key

    async def work(cache: SharedCache) -> bool:
        return await cache.put(KEY, rendered())

    run_with_cache(shared_redis, work)
    assert db.keys("*") == [key.encode()]


@pytest.mark.parametrize(
    "damage",
    [
        lambda value: b"",
        lambda value: value[:10],
        lambda value: value[:-1],  # one byte of the body missing
        lambda value: value + b"!",
        lambda value: b"ORv2" + value[4:],  # another version of the format
        lambda value: b"junk that is long enough to look like a header ..........",
    ],
)
def test_an_entry_that_is_not_whole_is_a_miss(
    shared_redis: RedisServer, db: redis.Redis, damage: Callable[[bytes], bytes]
) -> None:
    value = encode_entry(rendered())
    assert decode_entry(value, 1 << 20) == replace(
        rendered(), decode_seconds=0.0, transform_seconds=0.0, encode_seconds=0.0
    )
    assert decode_entry(damage(value), 1 << 20) is None
    db.set(redis_key(KEY), damage(value))

    async def work(cache: SharedCache) -> Rendered | None:
        return await cache.get(KEY)

    assert run_with_cache(shared_redis, work) is None


def forged(media_type: str, extension: str) -> bytes:
    """A whole entry of this version, as anyone who can write to Redis could store it."""
    return encode_entry(replace(rendered(b"<script>alert(1)</script>"), media_type=media_type, extension=extension))


@pytest.mark.parametrize(
    "value",
    [
        forged("text/html", "html"),
        forged("text/html", "jpg"),
        forged("image/jpeg", "html"),
        forged("image/svg+xml", "svg"),
        forged("image/jpeg\r\nSet-Cookie: session=stolen", "jpg"),
        forged("image/jpeg", "jpg\r\nX-Injected: 1"),
        forged("image/png", "jpg"),  # each known on its own, not together
    ],
    ids=["html", "html-as-jpg", "jpeg-as-html", "svg", "crlf-in-type", "crlf-in-extension", "png-as-jpg"],
)
def test_an_entry_the_encoder_could_not_have_made_is_a_miss(
    shared_redis: RedisServer, db: redis.Redis, value: bytes
) -> None:
    assert decode_entry(forged("image/jpeg", "jpg"), 1 << 20) is not None
    assert decode_entry(value, 1 << 20) is None
    metrics = Metrics()
    db.set(redis_key(KEY), value)

    async def work(cache: SharedCache) -> Rendered | None:
        return await cache.get(KEY)

    assert run_with_cache(shared_redis, work, metrics=metrics) is None
    assert metrics.registry.get_sample_value("origin_shared_cache_misses_total") == 1


def test_an_entry_over_redis_max_entry_bytes_is_a_miss(shared_redis: RedisServer, db: redis.Redis) -> None:
    assert decode_entry(encode_entry(rendered(b"x" * 100)), 100) is not None
    assert decode_entry(encode_entry(rendered(b"x" * 101)), 100) is None
    db.set(redis_key(KEY), encode_entry(rendered(b"x" * 101)))

    async def work(cache: SharedCache) -> Rendered | None:
        return await cache.get(KEY)

    assert run_with_cache(shared_redis, work, max_entry_bytes=100) is None


def test_the_redis_key_changes_with_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    assert redis_key(KEY) == redis_key(KEY, key_prefix(metadata.version("image-origin")))
    assert redis_key(KEY, key_prefix("1.0.0")) != redis_key(KEY, key_prefix("1.0.1"))
    before = key_prefix("1.0.0")
    monkeypatch.setattr("origin.shared_cache.ETAG_VERSION", ETAG_VERSION + "-next")  # the cache-key format
    assert key_prefix("1.0.0") != before


def test_publishes_in_flight_are_bounded(shared_redis: RedisServer, db: redis.Redis) -> None:
    metrics = Metrics()

    async def work(cache: SharedCache) -> int:
        for n in range(5):  # all in one go: none has finished when the next is asked for
            cache.publish((*KEY[:-1], f"variant-{n}"), rendered())
        return cache.publishing

    assert run_with_cache(shared_redis, work, max_publishing=2, metrics=metrics) == 2
    assert len(db.keys("*")) == 2  # close() waited for them
    assert metrics.registry.get_sample_value("origin_shared_cache_publishes_dropped_total") == 3


def test_the_breaker_skips_redis_for_its_pause_and_warns_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    breaker = Breaker("test", pause=5.0, clock=lambda: now[0])
    assert breaker.allows()
    with caplog.at_level(logging.WARNING, logger="origin.redis"):
        breaker.failed(ConnectionRefusedError(111, "Connection refused"))
        assert not breaker.allows()
        now[0] += 4.9
        assert not breaker.allows()
        now[0] += 0.1
        assert breaker.allows()  # tried again
        breaker.failed(TimeoutError())  # and still failing: skipped again, not logged again
        assert not breaker.allows()
        now[0] += 5
        breaker.succeeded()
        breaker.succeeded()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "test: Redis failed (ConnectionRefusedError: [Errno 111] Connection refused); "
        "skipping it for 5 s at a time until it answers",
        "test: Redis answers again",
    ]


# ------------------------------------------------------------------------------------ through the app


def test_a_render_of_one_app_is_served_by_another_from_redis(
    shared_redis: RedisServer, db: redis.Redis, root: Path
) -> None:
    settings = settings_for(root, shared_redis.url)
    one, other = create_app(settings), create_app(settings)
    with TestClient(one) as first, TestClient(other) as second:
        made = first.get(url(240))
        assert made.status_code == 200
        assert (made.headers["x-cache"], made.headers["x-cache-shared"]) == ("MISS", "MISS")
        assert "decode;dur=" in made.headers["server-timing"]
        published(one, db, 1)

        # Another token for the same render: the bytes, not the URL, decide the entry.
        served = second.get(url(240, jti="another-token"))
        assert served.status_code == 200
        assert (served.headers["x-cache"], served.headers["x-cache-shared"]) == ("MISS", "HIT")
        assert "server-timing" not in served.headers  # nothing was decoded, transformed or encoded
        assert served.content == made.content
        for name in ("etag", "content-type", "last-modified", "content-disposition"):
            assert served.headers[name] == made.headers[name]
        assert renders(other) == 0
        assert sample(other, "origin_shared_cache_hits_total") == 1

        again = second.get(url(240))  # now in the second app's memory
        assert again.headers["x-cache"] == "HIT" and "x-cache-shared" not in again.headers
        assert sample(other, "origin_shared_cache_hits_total") == 1

        different = second.get(url(241))
        assert (different.headers["x-cache"], different.headers["x-cache-shared"]) == ("MISS", "MISS")
        assert renders(other) == 1 and sample(other, "origin_shared_cache_misses_total") == 1


def test_without_redis_url_there_is_no_shared_cache(root: Path) -> None:
    app = create_app(Settings(root=root, keys={"main": SECRET}))
    assert app.state.origin.shared is None
    with TestClient(app) as client:
        response = client.get(url(100))
    assert response.status_code == 200 and "x-cache-shared" not in response.headers


def test_a_burst_for_one_render_asks_redis_once(shared_redis: RedisServer, db: redis.Redis, root: Path) -> None:
    settings = settings_for(root, shared_redis.url)
    one, other = create_app(settings), create_app(settings)
    with TestClient(one) as first:
        assert first.get(url(300)).status_code == 200
        published(one, db, 1)
    target = url(300)
    with live_server(other) as server:
        barrier = threading.Barrier(10)

        def fetch(_: int) -> tuple[int, str | None]:
            connection = http.client.HTTPConnection(HOST, server.port, timeout=10)
            try:
                connection.connect()
                barrier.wait(timeout=10)
                connection.request("GET", target)
                response = connection.getresponse()
                response.read()
                return response.status, response.getheader("X-Cache-Shared")
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=10) as pool:
            outcomes = list(pool.map(fetch, range(10)))
    assert all(status == 200 for status, _ in outcomes), outcomes
    assert sample(other, "origin_shared_cache_hits_total") == 1  # one GET for the whole burst
    assert sample(other, "origin_shared_cache_misses_total") == 0
    assert renders(other) == 0
    shared = [header for _, header in outcomes if header is not None]
    assert shared and set(shared) == {"HIT"}  # the rest came from memory, after the first had put it there


def timed_get(client: TestClient, target: str) -> tuple[Any, float]:
    started = time.perf_counter()
    response = client.get(target)
    return response, time.perf_counter() - started


def test_redis_stopped_under_traffic_costs_nothing_but_sharing(
    own_redis: RedisServer, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(root, own_redis.url)
    app, later = shortened(create_app(settings)), create_app(settings)
    with own_redis.client() as db, TestClient(app) as client, caplog.at_level(logging.WARNING, logger="origin.redis"):
        assert client.get(url(200)).headers["x-cache-shared"] == "MISS"
        published(app, db, 1)

        own_redis.stop()
        outcomes = []
        for width in (200, 201, 202, 200, 203, 201):  # memory hits and new renders
            response, seconds = timed_get(client, url(width))
            assert response.status_code == 200, response.text
            assert seconds < 1.0, f"w={width} took {seconds:.2f} s with Redis stopped"
            outcomes.append(response.headers["x-cache"])
        assert outcomes == ["HIT", "MISS", "MISS", "HIT", "MISS", "HIT"]
        assert sample(app, "origin_shared_cache_errors_total") >= 1
        assert renders(app) == 4
        outage = [record.getMessage() for record in caplog.records if record.name == "origin.redis"]
        assert len(outage) == 1 and "shared render cache: Redis failed" in outage[0], outage

        own_redis.start()  # empty: it kept nothing
        time.sleep(PAUSE + 0.1)
        assert client.get(url(204)).headers["x-cache-shared"] == "MISS"  # asked again, and published
        published(app, db, 1)
        log = [record.getMessage() for record in caplog.records if record.name == "origin.redis"]
        assert log[1:] == ["shared render cache: Redis answers again"]
        with TestClient(later) as other:
            resumed = other.get(url(204))
        assert (resumed.headers["x-cache"], resumed.headers["x-cache-shared"]) == ("MISS", "HIT")
        assert renders(later) == 0


def test_a_frozen_redis_slows_no_request_beyond_the_timeout(own_redis: RedisServer, root: Path) -> None:
    app = shortened(create_app(settings_for(root, own_redis.url)))
    with own_redis.client() as db, TestClient(app) as client:
        assert client.get(url(300)).status_code == 200
        published(app, db, 1)
        own_redis.freeze()  # connections are accepted and never answered
        try:
            for width in (301, 302, 300, 303):
                response, seconds = timed_get(client, url(width))
                assert response.status_code == 200
                assert seconds < 1.0, f"w={width} took {seconds:.2f} s with Redis frozen"
            assert sample(app, "origin_shared_cache_errors_total") >= 1
            assert app.state.origin.shared.publishing == 0  # no publish was left hanging
        finally:
            own_redis.thaw()


# ------------------------------------------------------------------------------------ RedisLinks


def once(path: str, jti: str, **claims: Any) -> str:
    return f"{path}?jwt={make_token(use='once', jti=jti, **claims)}"


def test_redis_links_claim_refuse_resume_and_release(shared_redis: RedisServer, db: redis.Redis) -> None:
    links = RedisLinks(shared_redis.url, grace=60, leeway=5, timeout=TIMEOUT)
    try:
        now = time.time()
        claim = links.admit("main", "a", "/clip.mp4", now + 100, ranged=False, now=now)
        assert claim.first and claim.key == "origin:once:v1:" + link_key("main", "a")
        keep = 100 + 5 + KEEP_AFTER_EXPIRY  # until exp, plus the leeway and a margin for clocks
        assert keep - 1 <= db.ttl(claim.key) <= keep
        with pytest.raises(AuthError, match=ALREADY_USED):
            links.admit("main", "a", "/clip.mp4", now + 100, ranged=False, now=now + 1)
        with pytest.raises(AuthError, match=ALREADY_USED):  # pending: no resume yet
            links.admit("main", "a", "/clip.mp4", now + 100, ranged=True, now=now + 1)
        links.delivered(claim, now + 1)
        assert keep - 2 <= db.ttl(claim.key) <= keep  # the expiry is kept
        with pytest.raises(AuthError, match=ALREADY_USED):
            links.check("main", "a", "/clip.mp4", ranged=False, now=now + 1)
        resumed = links.admit("main", "a", "/clip.mp4", now + 100, ranged=True, now=now + 60)
        assert not resumed.first
        links.check("main", "a", "/clip.mp4", ranged=True, now=now + 60)
        with pytest.raises(AuthError, match=ALREADY_USED):
            links.admit("main", "a", "/other.mp4", now + 100, ranged=True, now=now + 2)  # another file
        with pytest.raises(AuthError, match=ALREADY_USED):
            links.admit("main", "a", "/clip.mp4", now + 100, ranged=True, now=now + 62)  # past the grace window
        links.release(claim)  # delivered: never given back
        assert db.exists(claim.key)

        pending = links.admit("main", "b", "/clip.mp4", now + 100, ranged=False, now=now)
        links.release(pending)
        assert not db.exists(pending.key)
        links.check("main", "b", "/clip.mp4", ranged=False, now=now + 2)
        assert links.admit("main", "b", "/clip.mp4", now + 100, ranged=False, now=now + 2).first
        assert links.admit("next", "a", "/clip.mp4", now + 100, ranged=False, now=now + 2).first  # another key
    finally:
        links.close()


def test_a_used_link_expires_a_while_after_its_token(shared_redis: RedisServer, db: redis.Redis) -> None:
    links = RedisLinks(shared_redis.url, grace=0, leeway=0, timeout=TIMEOUT)
    try:
        now = time.time()
        claim = links.admit("main", "short", "/a.mp4", now + 1 - KEEP_AFTER_EXPIRY, ranged=False, now=now)
        assert 1 <= db.ttl(claim.key) <= 2
        deadline = time.monotonic() + 5
        while db.exists(claim.key):
            assert time.monotonic() < deadline, "the claim outlived its token by more than the margin"
            time.sleep(0.05)
    finally:
        links.close()


def race(targets: list[tuple[int, str]]) -> list[tuple[int, str | None]]:
    """One GET per ``(port, target)``, all on open connections released at the same instant."""
    barrier = threading.Barrier(len(targets))

    def fetch(port: int, target: str) -> tuple[int, str | None]:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            connection.connect()
            barrier.wait(timeout=30)
            connection.request("GET", target)
            response = connection.getresponse()
            response.read()
            return response.status, response.getheader("X-Auth-Result")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        return list(pool.map(lambda target: fetch(*target), targets))


@pytest.mark.parametrize("path", ["/clip.mp4", "/photo.jpg"])
def test_one_of_twenty_racing_first_uses_across_two_apps_wins(
    shared_redis: RedisServer, db: redis.Redis, root: Path, path: str
) -> None:
    settings = settings_for(root, shared_redis.url)
    target = once(path, f"race-{path}")
    with live_server(create_app(settings)) as one, live_server(create_app(settings)) as other:
        ports = [one.port, other.port]
        outcomes = race([(ports[n % 2], target) for n in range(RACERS)])
        assert sorted(outcomes, key=str) == [(200, "ok")] + [(403, ALREADY_USED)] * (RACERS - 1)
        for port in ports:
            assert race([(port, target)]) == [(403, ALREADY_USED)]
    assert db.keys("origin:once:*") == [("origin:once:v1:" + link_key("main", f"race-{path}")).encode()]


def test_a_failed_first_use_on_one_app_leaves_the_link_to_another(
    shared_redis: RedisServer, db: redis.Redis, root: Path
) -> None:
    settings = settings_for(root, shared_redis.url)
    token = make_token(use="once", jti="hand-over")
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as other:
        assert one.get(f"/missing.jpg?jwt={token}").status_code == 404  # claimed, then given back
        assert other.get(f"/photo.jpg?jwt={token}").status_code == 200
        refused = one.get(f"/photo.jpg?jwt={token}")
        assert (refused.status_code, refused.headers["x-auth-result"]) == (403, ALREADY_USED)


def test_redis_down_refuses_one_time_links_and_serves_the_rest(root: Path) -> None:
    down = RedisServer()  # a port nothing listens on, until started below
    app = shortened(create_app(settings_for(root, down.url)))
    try:
        with TestClient(app) as client:
            for method in ("GET", "HEAD"):
                response = client.request(method, once("/photo.jpg", "while-down"))
                assert response.status_code == 503
                assert response.headers["retry-after"] == "5"
                assert response.headers["cache-control"] == "no-store"
            assert client.get(once("/clip.mp4", "while-down")).status_code == 503
            assert sample(app, "origin_once_links_errors_total") >= 1

            ordinary = client.get(url(150))
            assert ordinary.status_code == 200 and ordinary.headers["x-cache-shared"] == "MISS"
            assert client.get(f"/clip.mp4?jwt={make_token()}").status_code == 200

            down.start()
            time.sleep(PAUSE + 0.1)
            assert client.get(once("/photo.jpg", "while-down")).status_code == 200  # no attempt had used it
            used = client.get(once("/photo.jpg", "while-down"))
            assert (used.status_code, used.headers["x-auth-result"]) == (403, ALREADY_USED)
    finally:
        down.close()


def test_redis_links_fail_closed_while_redis_is_frozen(own_redis: RedisServer) -> None:
    links = RedisLinks(own_redis.url, grace=60, leeway=5, timeout=TIMEOUT, pause=PAUSE)
    try:
        now = time.time()
        claim = links.admit("main", "frozen", "/a.mp4", now + 100, ranged=False, now=now)
        links.delivered(claim, now)
        own_redis.freeze()
        started = time.perf_counter()
        with pytest.raises(OverloadedError):
            links.admit("main", "frozen", "/a.mp4", now + 100, ranged=True, now=now + 1)  # would be a resume
        with pytest.raises(OverloadedError):
            links.admit("main", "other", "/a.mp4", now + 100, ranged=False, now=now + 1)  # the breaker is open
        assert time.perf_counter() - started < TIMEOUT + 0.5
        links.release(claim)  # cannot reach Redis: the link stays used, and nothing is raised
        own_redis.thaw()
        time.sleep(PAUSE + 0.1)
        with pytest.raises(AuthError, match=ALREADY_USED):
            links.admit("main", "frozen", "/a.mp4", now + 100, ranged=False, now=now + 2)
    finally:
        links.close()


def test_one_time_links_may_have_a_redis_of_their_own(shared_redis: RedisServer, root: Path) -> None:
    """``once_redis_url`` puts used links in another database than the renders (which anyone asking
    for new sizes can fill)."""
    links_url = shared_redis.url.rsplit("/", 1)[0] + "/1"
    settings = with_overrides(settings_for(root, shared_redis.url), once_redis_url=links_url)
    with TestClient(create_app(settings)) as client:
        assert client.get(once("/photo.jpg", "own-db")).status_code == 200
        assert client.get(once("/photo.jpg", "own-db")).status_code == 403
    key = "origin:once:v1:" + link_key("main", "own-db")
    with redis.Redis.from_url(links_url) as links_db, redis.Redis.from_url(shared_redis.url) as renders_db:
        assert links_db.exists(key) and not renders_db.exists(key)
