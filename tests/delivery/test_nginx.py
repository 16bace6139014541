"""A real nginx, configured with the shipped caching rules (deploy/nginx-cache.conf), in front of a
real origin process: what a CDN does with the origin's Cache-Control, ETag and Vary (SPEC §6).

Nothing here is skipped: without nginx the tests fail and say how to install it (.ci/run does).
The origin runs with ``ORIGIN_JWT_LEEWAY=0``, so that a token is refused the second it expires, and
``ORIGIN_CACHE_MAX_AGE=2``, which applies to the rule ``/short/`` (it sets no max-age of its own) so
that expiry needs no long wait. The rule ``/`` keeps 30 days: there, the only bound on a signed
URL's lifetime is its token.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from origin import sign_url
from tests.delivery.servers import (
    DEPLOY,
    NGINX_MISSING,
    Drained,
    Response,
    find_nginx,
    free_port,
    read_metrics,
    request,
    start_nginx,
    start_origin,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "images"
SECRET = b"delivery-test-secret-0123456789-abcdefghij"
SHORT_MAX_AGE = 2

CONFIG = """
[[rules]]
prefix = "/"
cache_max_age = 2592000

[[rules]]
prefix = "/short/"
"""


@dataclass
class Cdn:
    root: Path
    origin: Drained
    nginx: Drained
    origin_port: int
    nginx_port: int
    scrapes: int = field(default=0)

    def get(self, target: str, accept: str | None = None) -> Response:
        """Through nginx."""
        return request(self.nginx_port, target, {"Accept": accept} if accept else None)

    def head(self, target: str) -> Response:
        """Through nginx, as HEAD."""
        return request(self.nginx_port, target, method="HEAD")

    def metrics(self) -> dict[str, float]:
        """The origin's own counters, read from the origin directly (never through nginx).

        ``requests`` is ``origin_requests_total`` summed over status codes, less the scrapes of
        /metrics made before this one (each scrape is counted once it has been answered), so it
        counts exactly the requests nginx sent to the origin.
        """
        samples = read_metrics(self.origin_port)
        self.scrapes += 1
        statuses = {labels: value for (name, labels), value in samples.items() if name == "origin_requests_total"}
        return {
            "requests": sum(statuses.values()) - (self.scrapes - 1),
            "304": statuses.get('status="304"', 0.0),
            "403": statuses.get('status="403"', 0.0),
            "renders": samples.get(("origin_renders_total", ""), 0.0),
        }

    def diagnostics(self) -> str:
        log = self.nginx_log()
        return f"--- origin output ---\n{self.origin.output(20)}\n--- nginx error.log ---\n{log}"

    def nginx_log(self) -> str:
        path = self.root.parent / "nginx" / "error.log"
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]) if path.exists() else ""


@pytest.fixture(scope="module")
def cdn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cdn]:
    nginx = find_nginx()
    if nginx is None:
        pytest.fail(NGINX_MISSING, pytrace=False)
    base = tmp_path_factory.mktemp("delivery")
    root = base / "root"
    (root / "short").mkdir(parents=True)
    for folder in (root, root / "short"):
        for name in ("photo.jpg", "alpha.png"):
            shutil.copyfile(FIXTURES / name, folder / name)
    config = base / "origin.toml"
    config.write_text(CONFIG, encoding="utf-8")
    (base / "nginx").mkdir()

    env = {name: value for name, value in os.environ.items() if not name.startswith(("ORIGIN_", "PROMETHEUS_"))}
    env.update(
        ORIGIN_JWT_SECRET=SECRET.decode(),
        ORIGIN_JWT_LEEWAY="0",
        ORIGIN_CACHE_MAX_AGE=str(SHORT_MAX_AGE),
        ORIGIN_RENDER_CONCURRENCY="2",
    )
    origin_port, nginx_port = free_port(), free_port()
    origin = start_origin(root, config, origin_port, env=env)
    try:
        server = start_nginx(nginx, base / "nginx", nginx_port=nginx_port, origin_port=origin_port)
    except BaseException:
        origin.stop()
        raise
    try:
        yield Cdn(root=root, origin=origin, nginx=server, origin_port=origin_port, nginx_port=nginx_port)
    finally:
        server.stop()
        origin.stop()


def signed(path: str, query: str, *, expires_in: int = 300, now: int | None = None) -> str:
    return sign_url(path, key=SECRET, expires_in=expires_in, query=query, now=now)


def max_age(response: Response) -> int:
    directives = [part.strip() for part in response.headers["cache-control"].split(",")]
    assert "public" in directives, response.headers
    return int(next(d for d in directives if d.startswith("max-age="))[len("max-age=") :])


def cache_status(response: Response) -> str:
    return response.headers.get("x-cache-status", "(none)")


def decode(body: bytes) -> Image.Image:
    with Image.open(io.BytesIO(body)) as image:
        image.load()
        return image.convert("RGB")


def test_the_second_request_is_a_hit_that_never_reaches_the_origin(cdn: Cdn) -> None:
    url = signed("/photo.jpg", "w=301")
    before = cdn.metrics()
    first = cdn.get(url)
    assert first.status == 200, (first, cdn.diagnostics())
    assert cache_status(first) == "MISS"
    assert first.headers["content-type"] == "image/jpeg"
    assert 290 <= max_age(first) <= 300  # the token's 300 s, not the rule's 30 days
    after_first = cdn.metrics()
    assert after_first["requests"] == before["requests"] + 1

    second = cdn.get(url)
    assert second.status == 200 and cache_status(second) == "HIT", second.headers
    assert second.body == first.body and second.headers["etag"] == first.headers["etag"]
    assert cdn.metrics()["requests"] == after_first["requests"], "a HIT reached the origin"


def test_a_cached_signed_url_dies_with_its_token(cdn: Cdn) -> None:
    # Start just after a whole second, so that the whole-second max-age the origin derives from
    # `exp` is not shortened by up to a second of rounding before the test has even begun.
    time.sleep(1.02 - time.time() % 1)
    issued = int(time.time())
    expires_at = issued + 4
    url = signed("/photo.jpg", "w=302", expires_in=4, now=issued)

    first = cdn.get(url)
    asked_first = time.time()
    assert first.status == 200 and cache_status(first) == "MISS", (first.headers, cdn.diagnostics())
    assert 1 <= max_age(first) <= expires_at - math.floor(asked_first) <= 4
    second = cdn.get(url)
    assert time.time() < asked_first + max_age(first) - 0.2, "this machine was too slow to ask twice in time"
    assert second.status == 200 and cache_status(second) == "HIT", second.headers
    before = cdn.metrics()

    time.sleep(max(0.0, expires_at + 0.5 - time.time()))
    third = cdn.get(url)
    # nginx did not answer from its copy: it asked the origin again, which refused the dead token.
    assert third.status == 403, (third, cdn.diagnostics())
    assert third.headers.get("x-auth-result") == "expired key"
    assert cache_status(third) == "EXPIRED"
    assert third.body != first.body
    after = cdn.metrics()
    assert after["requests"] == before["requests"] + 1
    assert after["403"] == before["403"] + 1
    # ...and the refusal itself is not kept either (Cache-Control: no-store).
    fourth = cdn.get(url)
    assert fourth.status == 403 and cache_status(fourth) == "EXPIRED"


def test_format_optimal_keeps_one_variant_per_accept(cdn: Cdn) -> None:
    url = signed("/photo.jpg", "format=optimal&w=303")
    expected = {"image/avif": "image/avif", "image/webp": "image/webp", "image/jpeg": "image/jpeg"}
    before = cdn.metrics()
    firsts = {}
    for accept, media_type in expected.items():
        response = cdn.get(url, accept)
        assert response.status == 200, (response, cdn.diagnostics())
        assert cache_status(response) == "MISS", (accept, response.headers)
        assert response.headers["content-type"] == media_type
        assert response.headers["vary"] == "Accept"
        firsts[accept] = response
    assert len({r.headers["etag"] for r in firsts.values()}) == 3
    middle = cdn.metrics()
    assert middle["requests"] == before["requests"] + 3

    # All three variants are kept side by side: none replaced another.
    for accept, media_type in expected.items():
        response = cdn.get(url, accept)
        assert cache_status(response) == "HIT", (accept, response.headers)
        assert response.headers["content-type"] == media_type
        assert response.body == firsts[accept].body
        assert decode(response.body).size == (303, 202)
    assert cdn.metrics()["requests"] == middle["requests"], "a variant HIT reached the origin"


def test_expired_entries_revalidate_new_bytes_or_a_304(cdn: Cdn) -> None:
    changed_url = signed("/short/photo.jpg", "w=304")
    unchanged_url = signed("/short/alpha.png", "w=305")
    old = {}
    for url in (changed_url, unchanged_url):
        first = cdn.get(url)
        assert first.status == 200 and cache_status(first) == "MISS", (first.headers, cdn.diagnostics())
        assert max_age(first) == SHORT_MAX_AGE
        second = cdn.get(url)
        assert cache_status(second) == "HIT" and second.body == first.body
        old[url] = first
    stored_at = time.time()

    # Replace the photo by a different image (its negative, another size on disk), atomically.
    source = cdn.root / "short" / "photo.jpg"
    with Image.open(source) as image:
        negative = ImageOps.invert(image.convert("RGB"))
    staging = source.with_suffix(".tmp")
    negative.save(staging, "JPEG", quality=90)
    os.replace(staging, source)

    # nginx counts freshness in whole seconds: an entry stored during second S with max-age=2 is
    # fresh until S+3.
    time.sleep(max(0.0, math.floor(stored_at) + SHORT_MAX_AGE + 1.3 - time.time()))
    before = cdn.metrics()

    changed = cdn.get(changed_url)
    assert changed.status == 200, (changed, cdn.diagnostics())
    assert cache_status(changed) in ("EXPIRED", "MISS"), changed.headers  # refreshed with a 200
    assert changed.headers["etag"] != old[changed_url].headers["etag"]
    assert changed.body != old[changed_url].body
    new_pixels, old_pixels = decode(changed.body), decode(old[changed_url].body)
    assert new_pixels.size == old_pixels.size == (304, 203)
    difference = ImageStat.Stat(ImageChops.difference(new_pixels, old_pixels)).mean
    assert min(difference) > 40, f"the new bytes do not show the new image: mean difference {difference}"
    again = cdn.get(changed_url)
    assert cache_status(again) == "HIT" and again.headers["etag"] == changed.headers["etag"]
    assert again.body == changed.body

    unchanged = cdn.get(unchanged_url)
    assert unchanged.status == 200
    assert cache_status(unchanged) == "REVALIDATED", unchanged.headers  # the origin said 304
    assert unchanged.headers["etag"] == old[unchanged_url].headers["etag"]
    assert unchanged.body == old[unchanged_url].body
    after = cdn.metrics()
    assert after["304"] == before["304"] + 1
    assert after["requests"] == before["requests"] + 2
    assert after["renders"] == before["renders"] + 1, "only the changed photo is rendered again"
    # The 304's Cache-Control renewed the entry.
    assert cache_status(cdn.get(unchanged_url)) == "HIT"


def test_a_burst_for_one_new_url_reaches_the_origin_once(cdn: Cdn) -> None:
    url = signed("/photo.jpg", "w=306&format=webp")
    clients = 20
    barrier = threading.Barrier(clients)
    responses: list[Response] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def fetch() -> None:
        try:
            barrier.wait(10)
            response = cdn.get(url)
        except BaseException as exc:  # reported below, in the test's thread
            with lock:
                errors.append(exc)
            return
        with lock:
            responses.append(response)

    before = cdn.metrics()
    threads = [threading.Thread(target=fetch) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len(responses) == clients
    assert {r.status for r in responses} == {200}, cdn.diagnostics()
    assert len({r.body for r in responses}) == 1 and len({r.headers["etag"] for r in responses}) == 1
    statuses = sorted(cache_status(r) for r in responses)
    assert statuses == ["HIT"] * (clients - 1) + ["MISS"], statuses
    after = cdn.metrics()
    assert after["renders"] == before["renders"] + 1
    assert after["requests"] == before["requests"] + 1, "the waiting requests reached the origin"


def test_the_shipped_nginx_conf_is_valid_and_uses_the_tested_snippet(tmp_path: Path) -> None:
    nginx = find_nginx()
    if nginx is None:
        pytest.fail(NGINX_MISSING, pytrace=False)
    snippet = (DEPLOY / "nginx-cache.conf").read_text(encoding="utf-8")
    shipped = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    code = [line.split("#", 1)[0] for line in (snippet + shipped).splitlines()]
    # The origin decides lifetimes; nothing may override them or let its Vary/Cache-Control go.
    for forbidden in ("proxy_cache_valid", "proxy_ignore_headers"):
        assert not any(forbidden in line for line in code), forbidden
    # Caching rules live in the snippet only, so the tested config is the shipped one.
    shipped_code = [line.split("#", 1)[0] for line in shipped.splitlines()]
    assert not any("proxy_cache " in line or "proxy_pass" in line for line in shipped_code)

    # Run `nginx -t` on the shipped file with its paths moved into tmp_path.
    moves = {
        "include /etc/nginx/snippets/image-origin-cache.conf;": f"include {DEPLOY / 'nginx-cache.conf'};",
        "/var/cache/nginx/images": str(tmp_path / "cache"),
        "/var/log/nginx/": f"{tmp_path}/",
        "/run/nginx.pid": str(tmp_path / "nginx.pid"),
        "user www-data;": "user root;" if os.geteuid() == 0 else "",
    }
    text = shipped
    for old, new in moves.items():
        assert old in text, f"deploy/nginx.conf no longer has {old!r}: update this test"
        text = text.replace(old, new)
    if not Path("/etc/nginx/mime.types").exists():
        (tmp_path / "mime.types").write_text("types {}\n", encoding="utf-8")
        text = text.replace("/etc/nginx/mime.types", str(tmp_path / "mime.types"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    check = subprocess.run(
        [nginx, "-t", "-p", f"{tmp_path}/", "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_head_through_the_cdn_does_not_use_up_a_one_time_link(cdn: Cdn) -> None:
    """nginx asks the origin with HEAD (not GET, its default for filling the cache), so a link
    previewer's HEAD leaves a one-time link to its one download, which no cache keeps."""
    url = sign_url("/photo.jpg", key=SECRET, expires_in=300, query="w=304", once=True)
    for _ in range(2):
        looked = cdn.head(url)
        assert looked.status == 200 and looked.body == b"", looked.headers
    downloaded = cdn.get(url)
    assert downloaded.status == 200 and downloaded.headers["cache-control"] == "private, no-store"
    assert decode(downloaded.body).width == 304
    again = cdn.get(url)
    assert again.status == 403 and again.headers["x-auth-result"] == "already used"
