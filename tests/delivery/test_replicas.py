"""Two replicas behind one nginx, for real: two ``origin serve`` processes with the same keys and
settings and one real ``redis-server`` (``redis_url``), and a real nginx configured with the shipped
``deploy/nginx-replicas.conf`` (its two addresses replaced by free ports) around the shipped
``deploy/nginx-cache.conf``.

Distinct URLs spread over both replicas; a render made on one is served by the other from Redis, so
the renders of both together are the number of distinct renders asked for; nginx caches as it does
in front of one origin; a one-time link is used once whichever replica serves it; and a replica that
is down is skipped by nginx. Nothing here is skipped: without nginx or redis-server the tests fail
and say how to install them.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from origin import sign_url
from tests.delivery.servers import (
    DEPLOY,
    HOST,
    NGINX_MISSING,
    Drained,
    Response,
    find_nginx,
    free_port,
    read_metrics,
    request,
    run_nginx,
    start_origin,
)
from tests.stores.test_redis import RedisServer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "images"
SECRET = b"replicas-test-secret-0123456789-abcdefghij"
SHIPPED_ADDRESSES = ("127.0.0.1:8001", "127.0.0.1:8002")

CONFIG = """
[[rules]]
prefix = "/"
cache_max_age = 2592000
"""

# Like nginx_test.conf.template, with the upstream taken from deploy/nginx-replicas.conf.
NGINX_CONF = """
@USER@
daemon off;
master_process on;
worker_processes 1;
pid @TMP@/nginx.pid;
error_log @TMP@/error.log info;

events {
    worker_connections 256;
}

http {
    default_type application/octet-stream;
    access_log @TMP@/access.log;
    client_body_temp_path @TMP@/client_body;
    proxy_temp_path @TMP@/proxy_temp;
    fastcgi_temp_path @TMP@/fastcgi_temp;
    uwsgi_temp_path @TMP@/uwsgi_temp;
    scgi_temp_path @TMP@/scgi_temp;
    large_client_header_buffers 4 16k;

    proxy_cache_path @TMP@/cache levels=1:2 keys_zone=images:10m max_size=100m inactive=1h use_temp_path=off;

    include @TMP@/nginx-replicas.conf;

    server {
        listen 127.0.0.1:@NGINX_PORT@;

        location / {
            include @DEPLOY@/nginx-cache.conf;
        }
    }
}
"""


@dataclass
class Replicas:
    base: Path
    root: Path
    config: Path
    env: dict[str, str]
    ports: list[int]
    origins: list[Drained]
    nginx: Drained
    nginx_port: int
    redis: RedisServer
    scrapes: dict[int, int] = field(default_factory=dict)  # /metrics reads so far, by port

    def get(self, target: str) -> Response:
        """Through nginx."""
        return request(self.nginx_port, target)

    def direct(self, index: int, target: str) -> Response:
        """From one replica, bypassing nginx."""
        return request(self.ports[index], target)

    def counts(self) -> list[dict[str, float]]:
        """Each replica's own counters, read from it directly. ``images`` is its 200 answers less the
        earlier reads of /metrics (each is counted once it has been answered)."""
        counts = []
        for port in self.ports:
            samples = read_metrics(port)
            scrapes = self.scrapes.get(port, 0)
            self.scrapes[port] = scrapes + 1
            counts.append(
                {
                    "renders": samples.get(("origin_renders_total", ""), 0.0),
                    "shared hits": samples.get(("origin_shared_cache_hits_total", ""), 0.0),
                    "images": sum(
                        value
                        for (name, labels), value in samples.items()
                        if name == "origin_requests_total" and labels == 'status="200"'
                    )
                    - scrapes,
                }
            )
        return counts

    def renders(self) -> float:
        return sum(count["renders"] for count in self.counts())

    def published(self, count: int, timeout: float = 10.0) -> None:
        """Wait until Redis holds ``count`` renders (each replica publishes after answering)."""
        deadline = time.monotonic() + timeout
        with self.redis.client() as client:
            while len(client.keys("origin:render:*")) < count:
                assert time.monotonic() < deadline, f"{len(client.keys('origin:render:*'))} of {count} published"
                time.sleep(0.02)

    def stop(self, index: int) -> None:
        self.origins[index].stop()

    def start(self, index: int) -> None:
        self.origins[index] = start_origin(self.root, self.config, self.ports[index], env=self.env)
        self.scrapes.pop(self.ports[index], None)  # a new process counts from zero

    def diagnostics(self) -> str:
        log = self.base / "nginx" / "error.log"
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
        origins = "\n".join(f"--- replica {n} ---\n{origin.output(15)}" for n, origin in enumerate(self.origins))
        return f"{origins}\n--- nginx error.log ---\n{tail}"


def render_replicas_conf(tmp: Path, ports: list[int]) -> None:
    """``deploy/nginx-replicas.conf`` as shipped, pointed at this test's replicas."""
    text = (DEPLOY / "nginx-replicas.conf").read_text(encoding="utf-8")
    for shipped, port in zip(SHIPPED_ADDRESSES, ports, strict=True):
        assert text.count(f"server {shipped} ") == 1, f"{shipped} is not a server of the shipped upstream"
        text = text.replace(f"server {shipped} ", f"server {HOST}:{port} ")
    (tmp / "nginx-replicas.conf").write_text(text, encoding="utf-8")


def start_nginx(nginx: str, tmp: Path, *, nginx_port: int, ports: list[int]) -> Drained:
    render_replicas_conf(tmp, ports)
    values = {
        "TMP": str(tmp),
        "DEPLOY": str(DEPLOY),
        "NGINX_PORT": str(nginx_port),
        # As root, nginx's workers would switch to `nobody`, who cannot enter a private temp dir.
        "USER": "user root;" if os.geteuid() == 0 else "",
    }
    text = NGINX_CONF
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    conf = tmp / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return run_nginx(nginx, tmp, conf, nginx_port)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    nginx = find_nginx()
    if nginx is None:
        pytest.fail(NGINX_MISSING, pytrace=False)
    base = tmp_path_factory.mktemp("replicas")
    root = base / "root"
    root.mkdir()
    shutil.copyfile(FIXTURES / "photo.jpg", root / "photo.jpg")
    config = base / "origin.toml"
    config.write_text(CONFIG, encoding="utf-8")
    (base / "nginx").mkdir()

    redis = RedisServer()
    redis.start()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ORIGIN_", "PROMETHEUS_"))}
    env.update(ORIGIN_JWT_SECRET=SECRET.decode(), ORIGIN_REDIS_URL=redis.url, ORIGIN_RENDER_CONCURRENCY="1")
    ports, nginx_port = [free_port(), free_port()], free_port()
    origins: list[Drained] = []
    server = None
    try:
        for port in ports:
            origins.append(start_origin(root, config, port, env=env))
        server = start_nginx(nginx, base / "nginx", nginx_port=nginx_port, ports=ports)
        yield Replicas(base, root, config, env, ports, origins, server, nginx_port, redis)
    finally:
        if server is not None:
            server.stop()
        for origin in origins:
            origin.stop()
        redis.close()


def signed(query: str, *, expires_in: int = 300, once: bool = False) -> str:
    """A signed URL of the photo; another ``expires_in`` is another token (another URL) for the same render."""
    return sign_url("/photo.jpg", key=SECRET, expires_in=expires_in, query=query, once=once)


def test_distinct_urls_spread_over_both_replicas_and_each_renders_once(replicas: Replicas) -> None:
    widths = range(400, 408)
    before = replicas.counts()
    first = {width: replicas.get(signed(f"w={width}")) for width in widths}
    for response in first.values():
        assert response.status == 200, (response, replicas.diagnostics())
        assert response.headers["x-cache-status"] == "MISS"
        assert response.headers["x-cache-shared"] == "MISS"
    after = replicas.counts()
    served = [after[n]["images"] - before[n]["images"] for n in (0, 1)]
    assert all(count > 0 for count in served), f"nginx sent every request to one replica: {served}"
    assert sum(a["renders"] - b["renders"] for a, b in zip(after, before, strict=True)) == len(widths)
    replicas.published(len(widths))

    # Other tokens for the same renders: new URLs for nginx, no new render for the replicas.
    for width in widths:
        response = replicas.get(signed(f"w={width}", expires_in=299))
        assert response.status == 200 and response.headers["x-cache-status"] == "MISS"
        assert response.body == first[width].body and response.headers["etag"] == first[width].headers["etag"]
        assert response.headers["x-cache"] == "HIT" or response.headers["x-cache-shared"] == "HIT"
    # Each URL from each replica: the one that did not render it has it from Redis.
    for width in widths:
        for index in (0, 1):
            response = replicas.direct(index, signed(f"w={width}", expires_in=298))
            assert response.status == 200 and response.body == first[width].body
            assert response.headers["etag"] == first[width].headers["etag"]
    final = replicas.counts()
    assert sum(a["renders"] - b["renders"] for a, b in zip(final, before, strict=True)) == len(widths)
    assert sum(a["shared hits"] - b["shared hits"] for a, b in zip(final, before, strict=True)) == len(widths)


def test_nginx_caches_in_front_of_replicas_as_in_front_of_one(replicas: Replicas) -> None:
    url = signed("w=420")
    first = replicas.get(url)
    assert first.status == 200 and first.headers["x-cache-status"] == "MISS", replicas.diagnostics()
    before = replicas.counts()
    for _ in range(4):
        again = replicas.get(url)
        assert again.status == 200 and again.headers["x-cache-status"] == "HIT"
        assert again.body == first.body
    assert replicas.counts() == before, "a HIT reached a replica"


def test_a_one_time_link_is_used_once_across_replicas(replicas: Replicas) -> None:
    url = signed("w=430", once=True)
    first = replicas.direct(0, url)
    assert first.status == 200 and first.headers["cache-control"] == "private, no-store"
    for response in (replicas.direct(1, url), replicas.get(url), replicas.get(url), replicas.direct(0, url)):
        assert (response.status, response.headers.get("x-auth-result")) == (403, "already used")


def test_a_replica_that_is_down_is_skipped(replicas: Replicas) -> None:
    replicas.stop(1)
    try:
        before = read_metrics(replicas.ports[0]).get(("origin_renders_total", ""), 0.0)
        for width in range(440, 446):
            response = replicas.get(signed(f"w={width}"))
            assert response.status == 200, (response, replicas.diagnostics())
        assert read_metrics(replicas.ports[0]).get(("origin_renders_total", ""), 0.0) == before + 6
    finally:
        replicas.start(1)
    response = replicas.direct(1, signed("w=440", expires_in=299))  # back, and served from Redis
    assert response.status == 200 and response.headers["x-cache-shared"] == "HIT"
