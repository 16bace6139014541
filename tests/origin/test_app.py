"""End-to-end behaviour through the ASGI app: statuses, headers, caching and formats (SPEC §5, §6, §9)."""

from __future__ import annotations

import email.utils
import io
import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

from origin import Rule, Settings, create_app
from origin.settings import with_overrides
from tests.conftest import FIXTURES, SECRET, Sign, decode, make_token


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


def test_signed_image_is_served_with_cdn_headers(client: TestClient, sign: Sign) -> None:
    before = time.time()
    response = client.get(sign("/photo.jpg", exp_in=120, query="w=300"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert decode(response.content).size == (300, 200)
    headers = response.headers
    assert headers["x-auth-result"] == "ok"
    assert headers["x-cache"] == "MISS"
    assert headers["etag"].startswith('"') and not headers["etag"].startswith("W/")
    max_age = int(headers["cache-control"].removeprefix("public, max-age="))
    assert 115 <= max_age <= 120  # never beyond the token's exp
    expires = email.utils.parsedate_to_datetime(headers["expires"]).timestamp()
    assert abs(expires - (before + max_age)) <= 2
    mtime = int(os.stat(FIXTURES / "photo.jpg").st_mtime)
    assert email.utils.parsedate_to_datetime(headers["last-modified"]).timestamp() == mtime
    assert headers["content-disposition"] == 'inline; filename="photo.jpg"'
    assert headers["access-control-allow-origin"] == "*"
    assert {"decode", "transform", "encode", "total"} <= {
        part.split(";")[0].strip() for part in headers["server-timing"].split(",")
    }
    assert "vary" not in headers


def test_max_age_is_capped_by_cache_max_age(settings: Settings, sign: Sign) -> None:
    client = TestClient(create_app(with_overrides(settings, cache_max_age=60)))
    response = client.get(sign("/photo.jpg", exp_in=3600))
    assert response.headers["cache-control"] == "public, max-age=60"


def test_a_token_on_a_public_rule_does_not_shorten_its_max_age(settings: Settings, sign: Sign) -> None:
    public = with_overrides(settings, rules=(Rule(prefix="/"), Rule(prefix="/gallery/", protect=False)))
    response = TestClient(create_app(public)).get(sign("/gallery/one.jpg", exp_in=60, args={"w": 20}))
    assert response.status_code == 200
    assert response.headers["x-auth-result"] == "ok"
    assert response.headers["cache-control"] == f"public, max-age={settings.cache_max_age}"


def test_public_rule_uses_its_own_cache_max_age(settings: Settings) -> None:
    public = with_overrides(
        settings, rules=(Rule(prefix="/"), Rule(prefix="/gallery/", protect=False, cache_max_age=900))
    )
    client = TestClient(create_app(public))
    response = client.get("/gallery/one.jpg?w=50")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=900"
    assert "x-auth-result" not in response.headers
    assert client.get("/photo.jpg").status_code == 403


def test_second_request_is_a_cache_hit_that_reads_no_source(client: TestClient, sign: Sign) -> None:
    url = sign("/photo.jpg", query="w=200")
    first = client.get(url)
    state = client.app.state.origin  # type: ignore[attr-defined]

    def no_reads(*args: object) -> None:
        raise AssertionError("a cache hit must not read the source")

    state.store.read = no_reads  # type: ignore[method-assign]
    # another token for the same render shares the entry: keyed by what decides the bytes
    second = client.get(sign("/photo.jpg", query="w=200", exp_in=999))
    assert second.status_code == 200
    assert second.headers["x-cache"] == "HIT"
    assert "server-timing" not in second.headers
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert state.cache.hits == 1 and state.cache.misses == 1


def test_etag_depends_on_options_and_format_but_not_on_the_token(client: TestClient, sign: Sign) -> None:
    a = client.get(sign("/photo.jpg", query="w=200")).headers["etag"]
    b = client.get(sign("/photo.jpg", args={"w": 200})).headers["etag"]
    c = client.get(sign("/photo.jpg", query="w=201")).headers["etag"]
    d = client.get(sign("/photo.jpg", query="w=200&format=png")).headers["etag"]
    assert a == b
    assert len({a, c, d}) == 3


def test_etag_is_the_same_in_another_process(settings: Settings, sign: Sign) -> None:
    url = sign("/photo.jpg", query="w=120")
    one = TestClient(create_app(settings)).get(url).headers["etag"]
    two = TestClient(create_app(settings)).get(url).headers["etag"]
    assert one == two


def test_if_none_match_answers_304_after_authorisation(client: TestClient, sign: Sign) -> None:
    url = sign("/photo.jpg", query="w=100")
    etag = client.get(url).headers["etag"]
    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert "max-age" in not_modified.headers["cache-control"]
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    forged = "/photo.jpg?w=100&jwt=" + make_token(key=b"wrong" * 8)
    refused = client.get(forged, headers={"If-None-Match": etag})
    assert refused.status_code == 403


def test_304_needs_no_render(settings: Settings, sign: Sign) -> None:
    url = sign("/photo.jpg", query="w=90")
    etag = TestClient(create_app(settings)).get(url).headers["etag"]
    fresh = TestClient(create_app(settings))  # another process: empty cache
    response = fresh.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert fresh.app.state.origin.cache.misses == 0  # type: ignore[attr-defined]


def test_head_answers_the_headers_of_get(client: TestClient, sign: Sign) -> None:
    url = sign("/photo.jpg", query="w=150")
    get = client.get(url)
    head = client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
    for name in ("content-type", "etag", "last-modified", "content-disposition"):
        assert head.headers[name] == get.headers[name]


def test_ignored_params_header(client: TestClient, sign: Sign) -> None:
    response = client.get(sign("/photo.jpg", args={"w": 100}, query="w=400&h=50"))
    assert response.status_code == 200
    assert response.headers["x-ignored-params"] == "w"
    assert decode(response.content).size == (75, 50)  # w=100 (signed) and h=50 → fit inside 100×50


@pytest.mark.parametrize(
    ("query", "media_type", "extension"),
    [
        ("format=png", "image/png", "png"),
        ("format=webp", "image/webp", "webp"),
        ("format=avif", "image/avif", "avif"),
        ("format=gif", "image/gif", "gif"),
        ("format=jpg", "image/jpeg", "jpg"),
    ],
)
def test_explicit_formats(client: TestClient, sign: Sign, query: str, media_type: str, extension: str) -> None:
    response = client.get(sign("/photo.jpg", query=query + "&w=64"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    assert response.headers["content-disposition"] == f'inline; filename="photo.{extension}"'
    assert decode(response.content).format == {"jpg": "JPEG"}.get(extension, extension.upper())
    assert "vary" not in response.headers


@pytest.mark.parametrize(
    ("path", "accept", "media_type"),
    [
        ("/photo.jpg", "image/avif,image/webp,*/*", "image/avif"),
        ("/photo.jpg", "image/webp,*/*", "image/webp"),
        ("/photo.jpg", "image/avif;q=0,image/webp", "image/webp"),
        ("/photo.jpg", "*/*", "image/jpeg"),
        ("/alpha.png", "*/*", "image/png"),
        ("/alpha.png", "", "image/png"),
    ],
)
def test_optimal_format_is_negotiated(client: TestClient, sign: Sign, path: str, accept: str, media_type: str) -> None:
    response = client.get(sign(path, query="format=optimal&w=64"), headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["vary"] == "Accept"


def test_negotiated_variants_are_cached_separately(client: TestClient, sign: Sign) -> None:
    url = sign("/photo.jpg", query="format=optimal&w=64")
    webp = client.get(url, headers={"Accept": "image/webp"})
    jpeg = client.get(url, headers={"Accept": "image/jpeg"})
    assert (webp.headers["content-type"], jpeg.headers["content-type"]) == ("image/webp", "image/jpeg")
    assert jpeg.headers["x-cache"] == "MISS"
    assert webp.headers["etag"] != jpeg.headers["etag"]


def test_webp_fallback(client: TestClient, sign: Sign) -> None:
    url = sign("/photo.jpg", query="format=webp&webp-fallback=png&w=32")
    assert client.get(url, headers={"Accept": "image/webp"}).headers["content-type"] == "image/webp"
    fallback = client.get(url, headers={"Accept": "image/jpeg"})
    assert fallback.headers["content-type"] == "image/png"
    assert fallback.headers["vary"] == "Accept"


def test_download_parameter(client: TestClient, sign: Sign) -> None:
    response = client.get(sign("/photo.jpg", args={"dl": True, "format": "png", "w": 10}))
    assert response.headers["content-disposition"] == 'attachment; filename="photo.png"'


def test_exif_orientation_and_metadata_stripping(client: TestClient, sign: Sign) -> None:
    rotated = decode(client.get(sign("/rotated.jpg")).content)
    assert rotated.size == (400, 600)
    photo = decode(client.get(sign("/photo.jpg", query="w=300")).content)
    assert not photo.getexif()
    assert "exif" not in photo.info and "xmp" not in photo.info and "icc_profile" not in photo.info
    assert "comment" not in photo.info


def test_changed_source_is_never_served_stale(tmp_path: Path, sign: Sign) -> None:
    shutil.copy(FIXTURES / "photo.jpg", tmp_path / "img.jpg")
    client = TestClient(create_app(Settings(root=tmp_path, keys={"main": SECRET})))
    url = sign("/img.jpg", query="w=40")
    first = client.get(url)
    assert client.get(url).headers["x-cache"] == "HIT"
    Image.new("RGB", (1200, 800), (0, 0, 255)).save(tmp_path / "img.jpg", quality=90)
    second = client.get(url)
    assert second.headers["x-cache"] == "MISS"
    assert second.headers["etag"] != first.headers["etag"]
    r, g, b = decode(second.content).convert("RGB").getpixel((20, 13))  # type: ignore[misc]
    assert b > 200 and r < 50
    assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 200


def test_output_larger_than_the_cache_is_served_not_kept(settings: Settings, sign: Sign) -> None:
    client = TestClient(create_app(with_overrides(settings, cache_max_bytes=1000)))
    url = sign("/photo.jpg", query="w=400")
    assert client.get(url).status_code == 200
    assert client.get(url).headers["x-cache"] == "MISS"
    assert client.app.state.origin.cache.current_bytes == 0  # type: ignore[attr-defined]


# ---- limits and errors -------------------------------------------------------------------------


def assert_json_error(response: object, status: int, error: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"] == error
    return body  # type: ignore[no-any-return]


def test_bad_parameters_are_a_400_naming_each(client: TestClient, sign: Sign) -> None:
    body = assert_json_error(client.get(sign("/photo.jpg", query="w=0&zoom=2&text=hi")), 400, "invalid parameters")
    assert body["parameters"] == {
        "w": "must be 1..8192 or 1%..1000%",
        "zoom": "unknown parameter",
        "text": "allowed only in signed args",
    }


def test_bad_signed_args_are_a_400_after_the_token_verified(client: TestClient, sign: Sign) -> None:
    body = assert_json_error(client.get(sign("/photo.jpg", args={"q": 0})), 400, "invalid parameters")
    assert body["parameters"] == {"q": "must be a whole number 1..100"}


def test_output_too_large(settings: Settings, sign: Sign) -> None:
    client = TestClient(create_app(with_overrides(settings, max_output_dimension=1000)))
    assert_json_error(client.get(sign("/photo.jpg", query="w=200%25")), 400, "output too large")


def test_url_too_long(settings: Settings, sign: Sign) -> None:
    client = TestClient(create_app(with_overrides(settings, max_url_length=600)))
    assert client.get(sign("/photo.jpg")).status_code == 200
    assert_json_error(client.get(sign("/photo.jpg", query="w=1&" + "x" * 600)), 414, "url too long")


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_source_bytes", 50_000), ("max_source_pixels", 100_000)],
)
def test_source_limits_are_422(settings: Settings, sign: Sign, field: str, value: int) -> None:
    client = TestClient(create_app(with_overrides(settings, **{field: value})))
    assert_json_error(client.get(sign("/photo.jpg")), 422, "source cannot be processed")
    assert client.get(sign("/gallery/one.jpg")).status_code == 200


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("tiff.jpg", "tiff"),
        ("psd.png", b"8BPS\x00\x01" + b"\x00" * 64),
        ("eps.jpg", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"),
        ("random.webp", os.urandom(2048)),
        ("empty.gif", b""),
        ("truncated.jpg", "truncated"),
        ("html.png", b"<html><script>alert(1)</script></html>"),
    ],
)
def test_files_outside_the_format_allowlist_are_422(tmp_path: Path, sign: Sign, name: str, content: object) -> None:
    if content == "tiff":
        buffer = io.BytesIO()
        Image.new("RGB", (10, 10)).save(buffer, "TIFF")
        content = buffer.getvalue()
    elif content == "truncated":
        content = (FIXTURES / "photo.jpg").read_bytes()[:3000]
    assert isinstance(content, bytes)
    (tmp_path / name).write_bytes(content)
    client = TestClient(create_app(Settings(root=tmp_path, keys={"main": SECRET})))
    assert_json_error(client.get(sign(f"/{name}", query="w=20")), 422, "source cannot be processed")


def test_not_found_after_authorisation(client: TestClient, sign: Sign) -> None:
    assert_json_error(client.get("/missing.jpg"), 403, "forbidden")
    assert_json_error(client.get(sign("/missing.jpg")), 404, "not found")
    assert_json_error(client.get(sign("/gallery/")), 400, "invalid path")
    assert_json_error(client.get(sign("/gallery")), 404, "not found")  # a folder is not a file
    assert_json_error(client.get(sign("/notes.txt")), 404, "not found")


@pytest.mark.parametrize(
    "path", ["/healthz", "/healthz/x.jpg", "/v2/files/a.jpg", "/studio", "/studio/a.png", "/openapi.json", "/metrics"]
)
def test_reserved_names_are_never_served_as_files(tmp_path: Path, sign: Sign, path: str) -> None:
    target = tmp_path / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "gallery" / "one.jpg", target)
    shutil.copy(FIXTURES / "gallery" / "one.jpg", tmp_path / "control.jpg")
    client = TestClient(create_app(Settings(root=tmp_path, keys={"main": SECRET})))
    assert client.get(sign("/control.jpg")).status_code == 200
    response = client.get(sign(path))
    assert response.content != target.read_bytes()
    if path == "/metrics":
        assert response.status_code == 200 and b"origin_requests_total" in response.content
    elif path == "/openapi.json":
        assert response.status_code == 200 and response.json()["openapi"].startswith("3.1")
    elif path != "/healthz":
        assert_json_error(response, 404, "not found")


def test_other_methods_are_405(client: TestClient, sign: Sign) -> None:
    assert_json_error(client.post(sign("/photo.jpg")), 405, "method not allowed")
    assert_json_error(client.delete("/healthz"), 405, "method not allowed")


def test_a_broken_source_is_parsed_once_per_window_not_per_request(
    tmp_path: Path, sign: Sign, monkeypatch: pytest.MonkeyPatch
) -> None:
    from origin import routes as routes_module

    calls = 0
    real = routes_module.render

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(routes_module, "render", counting)
    (tmp_path / "broken.jpg").write_bytes((FIXTURES / "photo.jpg").read_bytes()[:2000])
    client = TestClient(create_app(Settings(root=tmp_path, keys={"main": SECRET})))
    for width in range(10, 30):  # different options, same broken file
        assert client.get(sign("/broken.jpg", query=f"w={width}")).status_code == 422
    assert calls == 1
    shutil.copy(FIXTURES / "photo.jpg", tmp_path / "broken.jpg")  # fixed: a new version is tried at once
    assert client.get(sign("/broken.jpg", query="w=10")).status_code == 200
    assert calls == 2


def test_broken_source_memory_can_be_turned_off(tmp_path: Path, sign: Sign) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    client = TestClient(create_app(Settings(root=tmp_path, keys={"main": SECRET}, broken_source_ttl=0)))
    for _ in range(3):
        assert client.get(sign("/broken.png")).status_code == 422
    assert client.get("/metrics").text.count("origin_render_failures_total 3.0") == 1


def test_two_files_of_the_same_size_and_mtime_never_share_a_render(tmp_path: Path, sign: Sign) -> None:
    for name, colour in (("red.jpg", (255, 0, 0)), ("blue.jpg", (0, 0, 255))):
        Image.new("RGB", (64, 64), colour).save(tmp_path / name, quality=95)
    assert (tmp_path / "red.jpg").stat().st_size == (tmp_path / "blue.jpg").stat().st_size
    for name in ("red.jpg", "blue.jpg"):
        os.utime(tmp_path / name, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    client = TestClient(create_app(Settings(root=tmp_path, keys={"main": SECRET})))
    red = client.get(sign("/red.jpg", query="w=32"))
    blue = client.get(sign("/blue.jpg", query="w=32"))
    assert blue.headers["x-cache"] == "MISS"
    assert red.headers["etag"] != blue.headers["etag"]
    r, g, b = decode(blue.content).convert("RGB").getpixel((16, 16))  # type: ignore[misc]
    assert b > 200 and r < 60
