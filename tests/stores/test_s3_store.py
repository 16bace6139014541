"""``origin.s3_store``: originals from an S3 bucket, through the app.

The bucket is served by moto, an S3 emulator, run as a separate process (``python -m moto.server``)
on a loopback port, so every request crosses a real socket as it would to AWS. The store uses only
the plain S3 API (``HeadObject``, ``GetObject`` with ``If-Match``), which MinIO, Ceph and R2 answer
the same way. Failures the emulator cannot play (access denied, 5xx, no answer) come from a tiny
endpoint in ``s3_servers`` that answers every request the same bad way.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3  # type: ignore[import-untyped]
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.errors import NotFoundError, UnprocessableSourceError, UpstreamError, UpstreamTimeoutError
from origin.s3_store import DEADLINE_TIMEOUTS, S3Store
from origin.settings import ConfigError, Rule, StoreConfig, load_settings
from tests.conftest import FIXTURES, SECRET, Sign, decode
from tests.stores.s3_servers import MotoServer, broken_endpoint, moto_server

PREFIX = "originals/"
PHOTO = (FIXTURES / "photo.jpg").read_bytes()


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials from the environment, as in production; nothing from this machine's own AWS files."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass
class Bucket:
    """A fresh bucket on the emulator, and a client of the test's own to fill it."""

    endpoint_url: str
    name: str
    client: Any = field(repr=False)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)


def make_bucket(endpoint_url: str) -> Bucket:
    client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name="us-east-1")
    bucket = Bucket(endpoint_url, f"images-{uuid.uuid4().hex[:12]}", client)
    client.create_bucket(Bucket=bucket.name)
    bucket.put(PREFIX + "photo.jpg", PHOTO)
    return bucket


@pytest.fixture
def bucket(moto: MotoServer) -> Bucket:
    return make_bucket(moto.url)


def store_config(bucket: Bucket, **changes: Any) -> StoreConfig:
    return StoreConfig(
        name="bucket", kind="s3", endpoint_url=bucket.endpoint_url, bucket=bucket.name, prefix=PREFIX, **changes
    )


def settings_for(bucket: Bucket, root: Path = FIXTURES, **changes: Any) -> Settings:
    config = store_config(bucket, metadata_ttl=changes.pop("metadata_ttl", 30.0))
    return Settings(
        root=root,
        keys={"main": SECRET},
        render_concurrency=2,
        stores={"bucket": config},
        rules=(Rule(prefix="/", store="bucket"), Rule(prefix="/local/")),
        **changes,
    )


class SentRequests:
    """Every HTTP request the app's S3 client sends (retries included), as ``(method, url)``."""

    def __init__(self, app: Starlette) -> None:
        store = app.state.origin.stores["bucket"]
        assert isinstance(store, S3Store)
        self.sent: list[tuple[str, str]] = []
        store.client.meta.events.register("before-send.s3", self._note)

    def _note(self, request: Any, **kwargs: Any) -> None:
        self.sent.append((request.method, request.url))

    def methods(self) -> list[str]:
        return [method for method, _ in self.sent]


def test_a_signed_url_renders_from_the_bucket_and_a_hit_asks_the_bucket_nothing(bucket: Bucket, sign: Sign) -> None:
    app = create_app(settings_for(bucket))
    sent = SentRequests(app)
    with TestClient(app) as client:
        url = sign("/photo.jpg", query="w=300")

        first = client.get(url)
        assert first.status_code == 200, first.text
        assert first.headers["X-Cache"] == "MISS"
        assert first.headers["ETag"]
        assert decode(first.content).width == 300
        assert sent.methods() == ["HEAD", "GET"]
        assert all(f"/{bucket.name}/originals/photo.jpg" in url for _, url in sent.sent)

        second = client.get(url)
        assert second.status_code == 200
        assert second.headers["X-Cache"] == "HIT"
        assert second.headers["ETag"] == first.headers["ETag"]
        assert second.content == first.content
        assert sent.methods() == ["HEAD", "GET"]  # inside metadata_ttl: not a single request more

        revalidated = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert revalidated.status_code == 304
        assert len(sent.sent) == 2


def test_a_replaced_object_gets_a_new_version_once_the_ttl_has_passed(bucket: Bucket, sign: Sign) -> None:
    ttl = 0.5
    app = create_app(settings_for(bucket, metadata_ttl=ttl))
    sent = SentRequests(app)
    with TestClient(app) as client:
        url = sign("/photo.jpg", query="w=300")
        first = client.get(url)
        assert first.status_code == 200

        rotated = (FIXTURES / "rotated.jpg").read_bytes()  # other bytes, another aspect ratio
        bucket.put(PREFIX + "photo.jpg", rotated)
        time.sleep(ttl + 0.2)

        second = client.get(url)
        assert second.status_code == 200
        assert second.headers["X-Cache"] == "MISS"
        assert second.headers["ETag"] != first.headers["ETag"]
        assert decode(second.content).size != decode(first.content).size
        assert sent.methods() == ["HEAD", "GET", "HEAD", "GET"]


def test_read_returns_the_version_it_read_when_the_object_changed_after_stat(bucket: Bucket) -> None:
    store = S3Store(store_config(bucket), max_bytes=10 * 1024 * 1024)
    before = store.stat("/photo.jpg")
    assert before.tag is not None and before.size == len(PHOTO) and before.file is None
    assert before.mtime > time.time() - 3600

    rotated = (FIXTURES / "rotated.jpg").read_bytes()
    bucket.put(PREFIX + "photo.jpg", rotated)
    data, current = store.read(before)  # If-Match fails (412): the object is read again as it is now
    assert data == rotated
    assert current.size == len(rotated) and current.version != before.version
    assert store.stat("/photo.jpg") == current  # and the new version is what the store now knows


def test_an_object_that_grew_past_the_limit_after_stat_is_refused_while_reading(bucket: Bucket) -> None:
    store = S3Store(store_config(bucket), max_bytes=len(PHOTO) + 10)
    info = store.stat("/photo.jpg")
    bucket.put(PREFIX + "photo.jpg", PHOTO * 3)
    with pytest.raises(UnprocessableSourceError):
        store.read(info)


def test_a_missing_key_is_404_after_auth_and_403_before_it(bucket: Bucket, sign: Sign) -> None:
    app = create_app(settings_for(bucket))
    sent = SentRequests(app)
    with TestClient(app) as client:
        unsigned = client.get("/absent.jpg?w=300")
        assert unsigned.status_code == 403
        assert sent.sent == []  # no token, no request to the bucket

        signed = client.get(sign("/absent.jpg", query="w=300"))
        assert signed.status_code == 404
        assert signed.json() == {"error": "not found"}


def test_an_object_over_max_source_bytes_is_refused_from_its_head_alone(bucket: Bucket, sign: Sign) -> None:
    settings = settings_for(bucket, max_source_bytes=len(PHOTO) - 1)
    app = create_app(settings)
    sent = SentRequests(app)
    with TestClient(app) as client:
        response = client.get(sign("/photo.jpg", query="w=300"))
        assert response.status_code == 422
        assert sent.methods() == ["HEAD"]  # never downloaded


def test_a_key_with_spaces_and_utf8_is_found(bucket: Bucket, sign: Sign) -> None:
    name = "/summer 2024/café ☕ über.jpg"
    bucket.put(PREFIX + name[1:], PHOTO)
    with TestClient(create_app(settings_for(bucket))) as client:
        response = client.get(sign(quote(name), query="w=120"))
        assert response.status_code == 200, response.text
        assert decode(response.content).width == 120


def test_a_passthrough_file_from_the_bucket_is_refused(bucket: Bucket, sign: Sign) -> None:
    bucket.put(PREFIX + "clip.mp4", b"\x00\x00\x00\x18ftypmp42")
    with TestClient(create_app(settings_for(bucket))) as client:
        response = client.get(sign("/clip.mp4"))
        assert response.status_code == 422


def test_a_dead_endpoint_is_502_at_once_and_folder_paths_are_still_served(tmp_path: Path, sign: Sign) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "photo.jpg").write_bytes(PHOTO)
    with moto_server() as server:
        bucket = make_bucket(server.url)
        with TestClient(create_app(settings_for(bucket, root=tmp_path))) as client:
            assert client.get(sign("/photo.jpg", query="w=100")).status_code == 200
            server.stop()

            started = time.monotonic()
            response = client.get(sign("/photo.jpg", query="w=200"))  # a new render: the bytes are needed
            elapsed = time.monotonic() - started
            assert response.status_code == 502
            assert response.json()["error"] == "upstream error"
            assert elapsed < 3.0

            started = time.monotonic()
            other = client.get(sign("/other.jpg", query="w=200"))  # not known: its HEAD fails
            assert other.status_code == 502
            assert time.monotonic() - started < 3.0

            local = client.get(sign("/local/photo.jpg", query="w=150"))
            assert local.status_code == 200
            assert decode(local.content).width == 150


def test_an_endpoint_that_never_answers_is_a_504(sign: Sign) -> None:
    with broken_endpoint(None) as url:
        store = S3Store(
            StoreConfig(name="bucket", kind="s3", endpoint_url=url, bucket="images", timeout=0.3), max_bytes=10**6
        )
        started = time.monotonic()
        with pytest.raises(UpstreamTimeoutError):
            store.stat("/photo.jpg")
        assert time.monotonic() - started < 3.0


def test_an_endpoint_that_trickles_a_body_is_a_504_at_the_deadline() -> None:
    timeout = 0.5  # a byte comes every 0.05 s, so no read ever waits this long; the 200 bytes take 10 s
    with broken_endpoint(200, b"x" * 200, trickle=0.05) as url:
        store = S3Store(
            StoreConfig(name="bucket", kind="s3", endpoint_url=url, bucket="images", timeout=timeout),
            max_bytes=10**6,
        )
        info = store.stat("/photo.jpg")
        started = time.monotonic()
        with pytest.raises(UpstreamTimeoutError):
            store.read(info)
        elapsed = time.monotonic() - started
    assert DEADLINE_TIMEOUTS * timeout - 0.1 < elapsed < DEADLINE_TIMEOUTS * timeout + 1.0


SECRET_DETAIL = b"<Error><Code>%s</Code><Message>internal host s3-node-17.corp: disk /dev/sdq failed</Message></Error>"


def test_a_failing_endpoint_is_a_502_that_does_not_echo_its_error(sign: Sign) -> None:
    with broken_endpoint(500, SECRET_DETAIL % b"InternalError") as url:
        settings = Settings(
            root=FIXTURES,
            keys={"main": SECRET},
            stores={"bucket": StoreConfig(name="bucket", kind="s3", endpoint_url=url, bucket="images", timeout=2)},
            rules=(Rule(prefix="/", store="bucket"),),
        )
        app = create_app(settings)
        sent = SentRequests(app)
        with TestClient(app) as client:
            response = client.get(sign("/photo.jpg", query="w=300"))
        assert response.status_code == 502
        assert b"s3-node-17" not in response.content and b"InternalError" not in response.content
        assert sent.methods() == ["HEAD"] * 2  # two attempts in all (one retry), then 502


def test_access_denied_is_a_404_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with broken_endpoint(403, SECRET_DETAIL % b"AccessDenied") as url:
        store = S3Store(StoreConfig(name="bucket", kind="s3", endpoint_url=url, bucket="images"), max_bytes=10**6)
        with caplog.at_level(logging.WARNING, logger="origin.s3"), pytest.raises(NotFoundError) as raised:
            store.stat("/secret.jpg")
    assert raised.value.body() == {"error": "not found"}
    assert any("access denied" in record.getMessage() for record in caplog.records)


def test_other_client_errors_are_502_without_the_upstream_text() -> None:
    with broken_endpoint(400, SECRET_DETAIL % b"InvalidArgument") as url:
        store = S3Store(StoreConfig(name="bucket", kind="s3", endpoint_url=url, bucket="images"), max_bytes=10**6)
        with pytest.raises(UpstreamError) as raised:
            store.stat("/photo.jpg")
    assert type(raised.value) is UpstreamError
    assert "s3-node-17" not in str(raised.value.body())


def test_a_toml_config_names_an_s3_store_and_refuses_one_without_a_bucket(
    bucket: Bucket, sign: Sign, tmp_path: Path
) -> None:
    config = tmp_path / "origin.toml"
    config.write_text(
        f"""
root = "{FIXTURES}"

[keys]
main = "{SECRET.decode()}"

[stores.bucket]
type = "s3"
endpoint_url = "{bucket.endpoint_url}"
bucket = "{bucket.name}"
prefix = "{PREFIX}"
region = "us-east-1"
timeout = 2
metadata_ttl = 10

[[rules]]
prefix = "/"
store = "bucket"
""",
        encoding="utf-8",
    )
    settings = load_settings(config_path=str(config), env={})
    store = settings.stores["bucket"]
    assert (store.kind, store.bucket, store.prefix, store.timeout, store.metadata_ttl) == (
        "s3",
        bucket.name,
        PREFIX,
        2.0,
        10.0,
    )
    with TestClient(create_app(settings)) as client:
        response = client.get(sign("/photo.jpg", query="w=64"))
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.content)).width == 64

    config.write_text(
        config.read_text(encoding="utf-8").replace(f'bucket = "{bucket.name}"\n', ""),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"stores\.bucket\.bucket"):
        load_settings(config_path=str(config), env={})
