"""Originals from an HTTP upstream (``origin.http_store``): through the app against a real nginx, against
upstreams that misbehave, and the guard that keeps the origin off private addresses.

Every upstream here is on 127.0.0.1, so the stores allow private addresses unless a test is about that.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.errors import NotFoundError, UnprocessableSourceError
from origin.http_store import HttpStore, is_public_address
from origin.settings import ConfigError, Rule, StoreConfig, load_settings
from tests.conftest import FIXTURES, SECRET, Sign, decode
from tests.stores.http_servers import Handler, Nginx, Upstream, start_nginx

PHOTO = (FIXTURES / "photo.jpg").read_bytes()  # 1200 x 800
OTHER = (FIXTURES / "icc.jpg").read_bytes()  # 400 x 300
MIB = 1024 * 1024


def store_config(base_url: str, **changes: Any) -> StoreConfig:
    values: dict[str, Any] = {"allow_private_addresses": True, "timeout": 2.0, "metadata_ttl": 60.0, **changes}
    return StoreConfig(name="up", kind="http", base_url=base_url, **values)


def settings_for(base_url: str, *, max_source_bytes: int = 8 * MIB, **changes: Any) -> Settings:
    return Settings(
        root=FIXTURES,
        keys={"main": SECRET},
        render_concurrency=2,
        max_source_bytes=max_source_bytes,
        stores={"up": store_config(base_url, **changes)},
        rules=(Rule(prefix="/", store="up"),),
    )


@contextmanager
def serving(settings: Settings) -> Iterator[TestClient]:
    """A client of a fresh app on ``settings``; its stores' connections are closed afterwards."""
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        for store in app.state.origin.stores.values():
            store.close()


@contextmanager
def http_store(base_url: str, max_bytes: int = 8 * MIB, **changes: Any) -> Iterator[HttpStore]:
    store = HttpStore(store_config(base_url, **changes), max_bytes)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    tmp = tmp_path_factory.mktemp("nginx")
    root = tmp / "originals"
    root.mkdir()
    shutil.copy(FIXTURES / "photo.jpg", root / "photo.jpg")
    server = start_nginx(tmp, root)
    yield server
    server.process.stop()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


def serve(body: bytes, etag: str = '"v1"') -> Any:
    """An answer that behaves: the file, with an ETag, to HEAD and GET alike."""

    def answer(handler: Handler) -> None:
        handler.send(200, body, {"ETag": etag, "Content-Type": "image/jpeg"})

    return answer


# A real nginx serving a folder of originals


def test_renders_from_nginx_and_a_hit_asks_the_upstream_nothing(nginx: Nginx, client: TestClient, sign: Sign) -> None:
    with serving(settings_for(nginx.base_url, metadata_ttl=60.0)) as remote:
        first = remote.get(sign("/photo.jpg", query="w=300"))
        assert first.status_code == 200, first.text
        assert first.headers["X-Cache"] == "MISS"
        assert decode(first.content).size == (300, 200)
        assert first.content == client.get(sign("/photo.jpg", query="w=300")).content  # as from a folder
        assert nginx.requests("/photo.jpg") == ["HEAD 200", "GET 200"]

        for _ in range(3):
            again = remote.get(sign("/photo.jpg", query="w=300"))
            assert again.status_code == 200
            assert again.headers["X-Cache"] == "HIT"
            assert again.headers["ETag"] == first.headers["ETag"]
            assert again.content == first.content
        other_size = remote.get(sign("/photo.jpg", query="w=200"))
        assert other_size.headers["X-Cache"] == "MISS"
        assert nginx.requests("/photo.jpg") == ["HEAD 200", "GET 200", "GET 200"]  # no HEAD within the ttl


def test_a_changed_file_is_picked_up_after_the_ttl(nginx: Nginx, sign: Sign) -> None:
    file = nginx.root / "changing.jpg"
    file.write_bytes(PHOTO)
    with serving(settings_for(nginx.base_url, metadata_ttl=0.5)) as remote:
        first = remote.get(sign("/changing.jpg", query="w=120"))
        assert first.status_code == 200
        assert decode(first.content).size == (120, 80)

        time.sleep(0.6)
        unchanged = remote.get(sign("/changing.jpg", query="w=120"))
        assert unchanged.headers["X-Cache"] == "HIT"
        assert nginx.requests("/changing.jpg") == ["HEAD 200", "GET 200", "HEAD 304"]  # revalidated

        file.write_bytes(OTHER)
        stamp = time.time() + 10  # nginx's ETag is mtime and size: a new mtime, whatever the clock did
        os.utime(file, (stamp, stamp))
        time.sleep(0.6)
        changed = remote.get(sign("/changing.jpg", query="w=120"))
        assert changed.status_code == 200
        assert changed.headers["X-Cache"] == "MISS"
        assert changed.headers["ETag"] != first.headers["ETag"]
        assert decode(changed.content).size == (120, 90)
        assert nginx.requests("/changing.jpg")[3:] == ["HEAD 200", "GET 200"]


def test_a_missing_file_is_404_after_auth(nginx: Nginx, sign: Sign) -> None:
    with serving(settings_for(nginx.base_url)) as remote:
        assert remote.get("/missing.jpg?w=100").status_code == 403
        assert nginx.requests("/missing.jpg") == []  # no token: the upstream is not asked
        assert remote.get(sign("/missing.jpg", query="w=100")).status_code == 404
        assert remote.get(sign("/missing.jpg", query="w=100")).status_code == 404
        assert nginx.requests("/missing.jpg") == ["HEAD 404"]  # remembered for the ttl too


def test_a_store_configured_in_toml(nginx: Nginx, tmp_path: Path, sign: Sign) -> None:
    config = tmp_path / "origin.toml"
    config.write_text(
        f"""
[stores.up]
type = "http"
base_url = "{nginx.base_url}/"
allow_private_addresses = true
timeout = 5
metadata_ttl = 30

[[rules]]
prefix = "/"
store = "up"
""",
        encoding="utf-8",
    )
    settings = load_settings(config_path=str(config), root=str(FIXTURES), env={"ORIGIN_JWT_SECRET": SECRET.decode()})
    with serving(settings) as remote:
        response = remote.get(sign("/photo.jpg", query="w=64"))
        assert response.status_code == 200, response.text
        assert decode(response.content).width == 64


def test_files_that_are_not_images_are_refused(nginx: Nginx, sign: Sign) -> None:
    with serving(settings_for(nginx.base_url)) as remote:
        response = remote.get(sign("/clip.mp4"))
        assert response.status_code == 422
        assert "folder stores only" in response.json()["detail"]


# Upstreams that misbehave


def test_a_slow_upstream_is_504_within_about_the_timeout(upstream: Upstream, sign: Sign) -> None:
    def slow(handler: Handler) -> None:
        upstream.stopping.wait(10)

    upstream.answers["/photo.jpg"] = slow
    with serving(settings_for(upstream.base_url, timeout=0.5)) as remote:
        started = time.monotonic()
        response = remote.get(sign("/photo.jpg", query="w=100"))
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.headers["Cache-Control"] == "no-store"
    assert 0.4 < elapsed < 3.0  # the upstream would take 10 s


def test_a_trickling_body_ends_at_the_deadline(upstream: Upstream, sign: Sign) -> None:
    """Each byte comes within the timeout, but the whole exchange has a deadline (3 x timeout)."""

    def trickle(handler: Handler) -> None:
        if handler.command == "HEAD":
            return handler.send(200, PHOTO, {"ETag": '"t"'})
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(PHOTO)))
        handler.end_headers()
        for byte in PHOTO:
            if upstream.stopping.wait(0.1):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    upstream.answers["/photo.jpg"] = trickle
    with serving(settings_for(upstream.base_url, timeout=0.5)) as remote:
        started = time.monotonic()
        response = remote.get(sign("/photo.jpg", query="w=100"))
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert 1.4 < elapsed < 4.0  # the whole body would take hours


def test_a_declared_size_over_the_limit_is_422_before_any_download(upstream: Upstream, sign: Sign) -> None:
    def large(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(10 * MIB))
        handler.send_header("ETag", '"large"')
        handler.end_headers()

    upstream.answers["/large.jpg"] = large
    with serving(settings_for(upstream.base_url, max_source_bytes=MIB)) as remote:
        assert remote.get(sign("/large.jpg", query="w=100")).status_code == 422
    assert upstream.methods("/large.jpg") == ["HEAD"]


def test_a_body_over_the_limit_is_cut_off_while_streaming(upstream: Upstream, sign: Sign) -> None:
    """The HEAD says nothing of the size; the GET streams 64 MiB without a Content-Length."""

    def endless(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("ETag", '"endless"')
        if handler.command == "HEAD":
            handler.end_headers()
            return
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        chunk = b"\xff" * 65536
        upstream.sent["/endless.jpg"] = 0
        for _ in range(1024):
            try:
                handler.wfile.write(chunk)
            except OSError:
                return
            upstream.sent["/endless.jpg"] += len(chunk)

    upstream.answers["/endless.jpg"] = endless
    with serving(settings_for(upstream.base_url, max_source_bytes=MIB)) as remote:
        tracemalloc.start()
        try:
            response = remote.get(sign("/endless.jpg", query="w=100"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 422
    assert peak < 6 * MIB  # the cap, a chunk, and the app; never the 64 MiB on offer
    time.sleep(0.2)
    assert upstream.sent["/endless.jpg"] < 32 * MIB  # the connection was dropped, not drained


def test_a_content_length_shorter_than_the_body_caps_what_is_read(upstream: Upstream) -> None:
    def padded(handler: Handler) -> None:
        if handler.command == "HEAD":
            return handler.send(200, PHOTO, {"ETag": '"p"'})
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(PHOTO)))
        handler.send_header("ETag", '"p"')
        handler.end_headers()
        handler.close_connection = True
        try:
            handler.wfile.write(PHOTO + b"\0" * (4 * MIB))
        except OSError:
            pass  # the store hung up after the declared length

    upstream.answers["/photo.jpg"] = padded
    with http_store(upstream.base_url) as store:
        info = store.stat("/photo.jpg")
        data, current = store.read(info)
    assert data == PHOTO
    assert current == info


def test_a_body_shorter_than_its_content_length_is_502(upstream: Upstream, sign: Sign) -> None:
    def truncated(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(PHOTO)))
        handler.send_header("ETag", '"short"')
        handler.end_headers()
        if handler.command == "GET":
            handler.wfile.write(PHOTO[:1000])
            handler.close_connection = True

    upstream.answers["/photo.jpg"] = truncated
    with serving(settings_for(upstream.base_url)) as remote:
        assert remote.get(sign("/photo.jpg", query="w=100")).status_code == 502


def test_an_encoded_body_is_502(upstream: Upstream, sign: Sign) -> None:
    """The store asks for ``identity``: a compressed body could inflate past any cap in one chunk."""
    upstream.answers["/photo.jpg"] = lambda handler: handler.send(
        200, PHOTO, {"ETag": '"z"', "Content-Encoding": "gzip"}
    )
    with serving(settings_for(upstream.base_url)) as remote:
        assert remote.get(sign("/photo.jpg", query="w=100")).status_code == 502
    assert upstream.seen[-1].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("elsewhere", ["another port", "another name", "another scheme"])
def test_a_redirect_off_the_upstream_is_502(upstream: Upstream, sign: Sign, elsewhere: str) -> None:
    other = Upstream()
    other.answers["/photo.jpg"] = serve(PHOTO)
    location = {
        "another port": f"{other.base_url}/photo.jpg",
        "another name": f"http://localhost:{upstream.port}/photo.jpg",
        "another scheme": f"https://127.0.0.1:{upstream.port}/photo.jpg",
    }[elsewhere]

    def away(handler: Handler) -> None:
        handler.send(302, b"", {"Location": location})

    upstream.answers["/photo.jpg"] = away
    try:
        with serving(settings_for(upstream.base_url)) as remote:
            response = remote.get(sign("/photo.jpg", query="w=100"))
    finally:
        other.stop()
    assert response.status_code == 502
    assert other.seen == []
    assert upstream.methods("/photo.jpg") == ["HEAD"]


def test_a_redirect_within_the_upstream_is_followed(upstream: Upstream, sign: Sign) -> None:
    def moved(handler: Handler) -> None:
        handler.send(301, b"", {"Location": "/files/photo.jpg"})

    upstream.answers["/photo.jpg"] = moved
    upstream.answers["/files/photo.jpg"] = serve(PHOTO)
    with serving(settings_for(upstream.base_url)) as remote:
        response = remote.get(sign("/photo.jpg", query="w=100"))
    assert response.status_code == 200, response.text
    assert decode(response.content).width == 100
    assert upstream.methods("/photo.jpg") == ["HEAD", "GET"]
    assert upstream.methods("/files/photo.jpg") == ["HEAD", "GET"]


def test_a_redirect_loop_is_502_after_three_hops(upstream: Upstream, sign: Sign) -> None:
    def loop(handler: Handler) -> None:
        handler.send(307, b"", {"Location": "/loop.jpg"})

    upstream.answers["/loop.jpg"] = loop
    with serving(settings_for(upstream.base_url)) as remote:
        assert remote.get(sign("/loop.jpg", query="w=100")).status_code == 502
    assert upstream.methods("/loop.jpg") == ["HEAD"] * 4


@pytest.mark.parametrize("failing", ["HEAD", "GET"])
def test_a_server_error_is_502_without_its_body_and_the_next_request_recovers(
    upstream: Upstream, sign: Sign, failing: str
) -> None:
    failures = [1]

    def flaky(handler: Handler) -> None:
        if handler.command == failing and failures:
            failures.pop()
            return handler.send(500, b"Traceback: secret internal detail", {"X-Debug": "secret"})
        handler.send(200, PHOTO, {"ETag": '"f"'})

    upstream.answers["/photo.jpg"] = flaky
    with serving(settings_for(upstream.base_url)) as remote:
        failed = remote.get(sign("/photo.jpg", query="w=100"))
        assert failed.status_code == 502
        assert failed.json() == {"error": "upstream error", "detail": "upstream answered 500"}
        assert "secret" not in failed.text and "x-debug" not in failed.headers
        recovered = remote.get(sign("/photo.jpg", query="w=100"))
        assert recovered.status_code == 200
        assert decode(recovered.content).width == 100


def test_an_upstream_that_refuses_head_is_asked_with_a_ranged_get(upstream: Upstream, sign: Sign) -> None:
    def no_head(handler: Handler) -> None:
        if handler.command == "HEAD":
            return handler.send(405, b"", {"Allow": "GET"})
        if handler.headers.get("Range") == "bytes=0-0":
            return handler.send(206, PHOTO[:1], {"ETag": '"r"', "Content-Range": f"bytes 0-0/{len(PHOTO)}"})
        handler.send(200, PHOTO, {"ETag": '"r"'})

    upstream.answers["/photo.jpg"] = no_head
    with serving(settings_for(upstream.base_url, metadata_ttl=0.0)) as remote:
        first = remote.get(sign("/photo.jpg", query="w=100"))
        assert first.status_code == 200, first.text
        assert remote.get(sign("/photo.jpg", query="w=100")).headers["X-Cache"] == "HIT"
    asked = [(seen.method, seen.headers.get("range"), seen.headers.get("if-none-match")) for seen in upstream.seen]
    assert asked == [
        ("HEAD", None, None),
        ("GET", "bytes=0-0", None),
        ("GET", None, None),
        ("GET", "bytes=0-0", '"r"'),  # no HEAD again: the ranged GET, conditional
    ]


def test_an_upstream_without_validators_gets_a_version_per_ttl(upstream: Upstream) -> None:
    def bare(handler: Handler) -> None:
        handler.send(200, PHOTO)

    upstream.answers["/photo.jpg"] = bare
    with http_store(upstream.base_url, metadata_ttl=0.3) as store:
        first = store.stat("/photo.jpg")
        assert store.stat("/photo.jpg") == first  # within the ttl: the same, and not asked again
        assert upstream.methods("/photo.jpg") == ["HEAD"]
        data, read = store.read(first)
        assert (data, read) == (PHOTO, first)
        time.sleep(0.35)
        assert store.stat("/photo.jpg").version != first.version


def test_a_read_that_finds_a_newer_version_returns_and_remembers_it(upstream: Upstream) -> None:
    upstream.answers["/photo.jpg"] = serve(PHOTO, '"old"')
    with http_store(upstream.base_url) as store:
        old = store.stat("/photo.jpg")
        upstream.answers["/photo.jpg"] = serve(OTHER, '"new"')
        data, current = store.read(old)
        assert data == OTHER
        assert (current.tag, current.size) == ('"new"', len(OTHER))
        assert store.stat("/photo.jpg") == current  # what the render is cached under


def test_paths_are_percent_encoded_per_segment(upstream: Upstream) -> None:
    upstream.answers["/a%20b/%C3%BC%23%3F%25.jpg"] = serve(PHOTO)
    with http_store(upstream.base_url + "/") as store:
        assert store.stat("/a b/ü#?%.jpg").size == len(PHOTO)
        with pytest.raises(NotFoundError):
            store.stat("/a b/other.jpg")
        with pytest.raises(UnprocessableSourceError):
            store.open_file("/a b/ü#?%.jpg")


# The guard against private addresses


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",
        "192.0.0.8",  # IETF protocol assignments: ipaddress (3.11.7) takes most of 192.0.0.0/24 for global
        "192.0.0.9",
        "192.0.0.255",
        "::ffff:192.0.0.9",
        "2002:c000:9::1",  # 6to4 of 192.0.0.9
        "198.18.0.1",  # benchmarking
        "198.19.255.254",
        "100.64.0.1",  # shared address space
        "100.127.255.254",
    ],
)
def test_addresses_that_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"])
def test_addresses_that_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8080", "http://[::1]/images", "http://169.254.169.254/latest", "https://10.0.0.1"]
)
def test_a_private_base_url_fails_the_start(base_url: str) -> None:
    with pytest.raises(ConfigError, match=r"^stores\.up\.base_url: .* allow_private_addresses"):
        create_app(settings_for(base_url, allow_private_addresses=False))


def test_a_name_resolving_to_loopback_is_refused_at_request_time(upstream: Upstream, sign: Sign) -> None:
    upstream.answers["/photo.jpg"] = serve(PHOTO)
    with serving(settings_for(f"http://localhost:{upstream.port}", allow_private_addresses=False)) as remote:
        response = remote.get(sign("/photo.jpg", query="w=100"))
    assert response.status_code == 502
    assert response.json()["detail"] == "upstream host is not at a public address"
    assert upstream.seen == []


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names that resolve to given addresses (``resolver[name] = [address, ...]``), others as usual."""
    names: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in names:
            return real(host, port, *args, **kwargs)
        found = []
        for address in names[host]:
            ip = ipaddress.ip_address(address)
            family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            sockaddr = (address, port) if ip.version == 4 else (address, port, 0, 0)
            found.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return found

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def test_the_connection_goes_to_the_address_checked_and_keeps_the_name(
    upstream: Upstream, resolver: dict[str, list[str]]
) -> None:
    """``images.upstream.test`` resolves nowhere but through the guard, which hands its own answer on."""
    resolver["images.upstream.test"] = ["127.0.0.1"]
    upstream.answers["/photo.jpg"] = serve(PHOTO)
    with http_store(f"http://images.upstream.test:{upstream.port}") as store:
        assert store.stat("/photo.jpg").size == len(PHOTO)
    assert upstream.seen[0].headers["host"] == f"images.upstream.test:{upstream.port}"


def test_a_name_with_any_private_address_is_refused(upstream: Upstream, resolver: dict[str, list[str]]) -> None:
    resolver["mixed.upstream.test"] = ["93.184.216.34", "127.0.0.1"]
    with http_store(f"http://mixed.upstream.test:{upstream.port}", allow_private_addresses=False) as store:
        with pytest.raises(Exception, match="not at a public address"):
            store.stat("/photo.jpg")
    assert upstream.seen == []
