"""``POST /v2/files/jwt``: Sirv's REST shape, checked like the image route, and what it mints works."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2 as httpx
import jwt
import pytest
from PIL import ImageChops, ImageStat
from starlette.testclient import TestClient

from origin import Rule, Settings, create_app
from origin.settings import ConfigError, load_settings, with_overrides
from tests.conftest import FIXTURES, SECRET, decode

ADMIN = "admin-token-0123456789-abcdefghijklmnop"
NEXT = b"next-secret-0123456789-abcdefghijklmnop"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    return with_overrides(settings, admin_token=ADMIN)


@pytest.fixture
def ac(admin_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(admin_settings)) as client:
        yield client


def mint(client: TestClient, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    response = client.post("/v2/files/jwt", json=body, headers=AUTH if headers is None else headers)
    assert response.headers["Cache-Control"] == "no-store"
    assert "access-control-allow-origin" not in response.headers
    assert SECRET not in response.content and NEXT not in response.content and ADMIN.encode() not in response.content
    return response


def minted_url(client: TestClient, **body: Any) -> str:
    response = mint(client, {"filename": "/photo.jpg", "expiresIn": 300, **body})
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["url"]
    url: str = response.json()["url"]
    return url


def token_of(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    token = dict(parse_qsl(urlsplit(url).query))["jwt"]
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid parameters"
    found: dict[str, str] = response.json()["parameters"]
    return found


# ---- the minted URL -----------------------------------------------------------------------------


def test_a_minted_url_serves_the_image_with_its_signed_overlay(ac: TestClient) -> None:
    plain_url = minted_url(ac, secureParams={"w": 300})
    texted_url = minted_url(ac, secureParams={"text": "© Studio", "w": 300, "text.size": 60})
    assert texted_url.startswith("http://testserver/photo.jpg?jwt=")
    plain, texted = (ac.get(url) for url in (plain_url, texted_url))
    assert plain.status_code == texted.status_code == 200
    assert texted.headers["X-Auth-Result"] == "ok"
    plain_image, texted_image = decode(plain.content), decode(texted.content)
    assert plain_image.width == texted_image.width == 300
    difference = ImageChops.difference(plain_image.convert("RGB"), texted_image.convert("RGB"))
    assert sum(ImageStat.Stat(difference).mean) / 3 > 2  # the text's pixels are there


def test_secure_params_become_args_and_insecure_params_the_query(ac: TestClient) -> None:
    url = minted_url(ac, secureParams={"w": 200, "format": "png"}, insecureParams={"q": 70, "flip": True})
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query)
    assert pairs[:2] == [("q", "70"), ("flip", "true")] and pairs[2][0] == "jwt" and len(pairs) == 3
    header, payload = token_of(url)
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "main"}
    assert payload["args"] == {"w": 200, "format": "png"}
    assert payload["aud"] == "/photo.jpg"
    assert payload["exp"] - payload["iat"] == 300 and abs(payload["iat"] - time.time()) < 5
    jwt.decode(parts.query.rsplit("jwt=", 1)[1], SECRET, algorithms=["HS256"], audience="/photo.jpg")
    response = ac.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert decode(response.content).width == 200


def test_insecure_params_are_merged_as_a_request_would(ac: TestClient) -> None:
    url = minted_url(ac, secureParams={"w": 120}, insecureParams={"w": 500})
    response = ac.get(url)
    assert response.headers["X-Ignored-Params"] == "w" and decode(response.content).width == 120


def test_an_unsigned_text_is_refused_on_a_protected_path(ac: TestClient) -> None:
    response = mint(ac, {"filename": "/photo.jpg", "expiresIn": 300, "insecureParams": {"text": "© Studio"}})
    assert problems(response) == {"text": "allowed only in signed args"}


def test_unsigned_overlays_are_fine_where_the_image_route_takes_them(admin_settings: Settings) -> None:
    rules = (Rule(prefix="/"), Rule(prefix="/gallery/", protect=False))
    client = TestClient(create_app(with_overrides(admin_settings, rules=rules)))
    response = mint(client, {"filename": "/gallery/one.jpg", "expiresIn": 60, "insecureParams": {"text": "hi"}})
    assert response.status_code == 200
    assert client.get(response.json()["url"]).status_code == 200


def test_a_rules_unsigned_allowlist_applies(admin_settings: Settings) -> None:
    rules = (Rule(prefix="/", unsigned_allowed=frozenset({"w"})),)
    client = TestClient(create_app(with_overrides(admin_settings, rules=rules)))
    body = {"filename": "/photo.jpg", "expiresIn": 60, "insecureParams": {"w": 10, "q": 50}}
    assert problems(mint(client, body)) == {"q": "not allowed unsigned on this path"}


def test_an_audience_may_cover_a_folder(ac: TestClient) -> None:
    url = minted_url(ac, filename="/gallery/one.jpg", aud="/gallery/")
    assert token_of(url)[1]["aud"] == "/gallery/"
    assert ac.get(url).status_code == 200
    token = dict(parse_qsl(urlsplit(url).query))["jwt"]
    assert ac.get(f"/gallery/two.png?jwt={token}").status_code == 200
    assert ac.get(f"/photo.jpg?jwt={token}").headers["X-Auth-Result"] == "audience mismatch"


def test_a_key_may_be_chosen_among_those_the_rule_allows(admin_settings: Settings) -> None:
    keys = {"main": SECRET, "next": NEXT}
    rules = (Rule(prefix="/"), Rule(prefix="/gallery/", keys=("next",)))
    client = TestClient(create_app(with_overrides(admin_settings, keys=keys, rules=rules)))
    url = minted_url(client, kid="next")
    assert token_of(url)[0]["kid"] == "next" and client.get(url).status_code == 200
    url = minted_url(client, filename="/gallery/one.jpg")  # the rule's own key by default
    assert token_of(url)[0]["kid"] == "next" and client.get(url).status_code == 200
    body = {"filename": "/gallery/one.jpg", "expiresIn": 60, "kid": "main"}
    assert problems(mint(client, body)) == {"kid": "must be one of next (keys allowed for /gallery/)"}


def test_a_watermark_must_exist_and_one_that_does_is_drawn(ac: TestClient) -> None:
    body = {"filename": "/photo.jpg", "expiresIn": 60, "secureParams": {"watermark": "/missing.png"}}
    assert problems(mint(ac, body)) == {"watermark": "no image at /missing.png"}
    url = minted_url(ac, secureParams={"watermark": "/watermark.png", "w": 200})
    assert ac.get(url).status_code == 200


def test_a_protected_watermark_gets_a_key_that_may_sign_for_it(admin_settings: Settings) -> None:
    keys = {"main": SECRET, "next": NEXT}
    rules = (Rule(prefix="/"), Rule(prefix="/gallery/", keys=("next",)))
    client = TestClient(create_app(with_overrides(admin_settings, keys=keys, rules=rules)))
    url = minted_url(client, secureParams={"watermark": "/gallery/two.png"})
    assert token_of(url)[0]["kid"] == "next" and client.get(url).status_code == 200
    body = {"filename": "/photo.jpg", "expiresIn": 60, "kid": "main", "secureParams": {"watermark": "/gallery/two.png"}}
    assert problems(mint(client, body)) == {"watermark": "is protected by a key this token was not signed with"}


def test_the_lifetime_is_bounded_by_the_rule(admin_settings: Settings) -> None:
    rules = (Rule(prefix="/"), Rule(prefix="/gallery/", max_token_lifetime=3600))
    client = TestClient(create_app(with_overrides(admin_settings, rules=rules)))
    url = minted_url(client, filename="/gallery/one.jpg", expiresIn=3600)
    assert client.get(url).status_code == 200
    body = {"filename": "/gallery/one.jpg", "expiresIn": 3601}
    assert problems(mint(client, body)) == {"expiresIn": "must be a whole number of seconds 1..3600"}
    assert minted_url(client, expiresIn=30 * 24 * 3600)  # 30 days where the rule sets nothing
    assert minted_url(client, expiresIn=300.0)


@pytest.mark.parametrize("lifetime", [0, -1, "300", True, 1.5, None, 30 * 24 * 3600 + 1])
def test_a_bad_lifetime_is_named(ac: TestClient, lifetime: Any) -> None:
    body = {"filename": "/photo.jpg", "expiresIn": lifetime}
    assert list(problems(mint(ac, body))) == ["expiresIn"]


@pytest.mark.parametrize(
    ("filename", "why"),
    [
        ("photo.jpg", "must be a canonical path"),
        ("/gallery/../photo.jpg", "must be a canonical path"),
        ("/gallery/", "must be a canonical path"),
        ("/a\\b.jpg", "must be a canonical path"),
        ("/studio/photo.jpg", "is a reserved path"),
        ("/notes.txt", "must name an image"),
        ("/missing.jpg", "no image at /missing.jpg"),
        ("/gallery.jpg", "no image at /gallery.jpg"),
        (None, "required"),
        (7, "required"),
    ],
)
def test_a_bad_filename_is_named(ac: TestClient, filename: Any, why: str) -> None:
    found = problems(mint(ac, {"filename": filename, "expiresIn": 60}))
    assert list(found) == ["filename"] and found["filename"].startswith(why)


def test_a_folder_or_a_symlink_out_of_the_root_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "dir.jpg").mkdir()
    (tmp_path / "out.jpg").symlink_to(FIXTURES / "photo.jpg")
    client = TestClient(create_app(Settings(root=tmp_path, keys={"main": SECRET}, admin_token=ADMIN)))
    for name in ("/dir.jpg", "/out.jpg"):
        assert problems(mint(client, {"filename": name, "expiresIn": 60})) == {"filename": f"no image at {name}"}


def test_every_problem_is_reported_at_once(ac: TestClient) -> None:
    body = {
        "filename": "/missing.jpg",
        "expiresIn": 0,
        "kid": "other",
        "aud": "/gallery/",
        "secureParams": {"w": 0, "blur": 101},
        "insecureParams": {"nope": 1},
        "extra": True,
    }
    assert problems(mint(ac, body)) == {
        "extra": "unknown field",
        "expiresIn": "must be a whole number of seconds 1..2592000",
        "aud": "must be a prefix of filename",
        "filename": "no image at /missing.jpg",
        "kid": "must be one of main (keys allowed for /)",
        "nope": "unknown parameter",
        "w": "must be 1..8192 or 1%..1000%",
        "blur": "must be a number 0..100",
    }


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"secureParams": {"w": [1]}}, "secureParams"),
        ({"secureParams": {"w": None}}, "secureParams"),
        ({"secureParams": [1]}, "secureParams"),
        ({"insecureParams": "w=1"}, "insecureParams"),
        ({"insecureParams": {"jwt": "x"}}, "insecureParams"),
        ({"insecureParams": {f"p{i}": 1 for i in range(100)}}, "insecureParams"),
        ({"aud": "gallery/"}, "aud"),
        ({"aud": ["/photo.jpg"]}, "aud"),
        ({"aud": "/photo.jpg/"}, "aud"),
        ({"kid": 1}, "kid"),
        ({"kid": "nope"}, "kid"),
    ],
)
def test_bad_fields_are_named(ac: TestClient, body: dict[str, Any], named: str) -> None:
    assert list(problems(mint(ac, {"filename": "/photo.jpg", "expiresIn": 60, **body}))) == [named]


def test_a_token_or_url_the_image_route_would_refuse_is_not_minted(admin_settings: Settings) -> None:
    client = TestClient(create_app(with_overrides(admin_settings, max_token_bytes=300)))
    body = {"filename": "/photo.jpg", "expiresIn": 60, "secureParams": {"text": "x" * 300}}
    assert list(problems(mint(client, body))) == ["secureParams"]
    client = TestClient(create_app(with_overrides(admin_settings, max_url_length=400)))
    body = {"filename": "/photo.jpg", "expiresIn": 60, "insecureParams": {"q": 50, "format": "optimal"}}
    assert mint(client, body).status_code == 200
    body = {"filename": "/photo.jpg", "expiresIn": 60, "secureParams": {"text": "x" * 200}}
    assert list(problems(mint(client, body))) == ["url"]


def test_file_names_are_percent_encoded_in_the_url(tmp_path: Path) -> None:
    (tmp_path / "a b%é.jpg").write_bytes((FIXTURES / "gallery" / "one.jpg").read_bytes())
    client = TestClient(create_app(Settings(root=tmp_path, keys={"main": SECRET}, admin_token=ADMIN)))
    url = minted_url(client, filename="/a b%é.jpg", insecureParams={"w": 20})
    assert url.startswith("http://testserver/a%20b%25%C3%A9.jpg?w=20&jwt=")
    assert client.get(url).status_code == 200


# ---- the base URL -------------------------------------------------------------------------------


def test_the_base_url_is_the_requests_own_unless_configured(admin_settings: Settings) -> None:
    client = TestClient(create_app(admin_settings), base_url="https://img.example.com:8443")
    assert minted_url(client).startswith("https://img.example.com:8443/photo.jpg?jwt=")
    public = with_overrides(admin_settings, public_base_url="https://cdn.example.com/images")
    client = TestClient(create_app(public))
    assert minted_url(client).startswith("https://cdn.example.com/images/photo.jpg?jwt=")


def test_public_base_url_is_read_and_checked(tmp_path: Path) -> None:
    env = {"ORIGIN_JWT_SECRET": "k" * 32, "ORIGIN_PUBLIC_BASE_URL": "https://cdn.example.com/"}
    assert load_settings(root=str(FIXTURES), env=env).public_base_url == "https://cdn.example.com"
    config = tmp_path / "origin.toml"
    config.write_text(f'root = "{FIXTURES}"\npublic_base_url = "http://cdn.example.com"\n')
    assert load_settings(config_path=str(config), env=env | {"ORIGIN_PUBLIC_BASE_URL": ""}).public_base_url == (
        "http://cdn.example.com"
    )
    for bad in (
        "ftp://cdn.example.com",
        "cdn.example.com",
        "https://",
        "https://a/?q=1",
        "https://a/#x",
        "http://[::1",
    ):
        with pytest.raises(ConfigError, match="public_base_url"):
            load_settings(root=str(FIXTURES), env=env | {"ORIGIN_PUBLIC_BASE_URL": bad})
    with pytest.raises(ConfigError, match="public_base_url"):
        Settings(root=FIXTURES, keys={"main": SECRET}, public_base_url="https://a b")


# ---- who may mint -------------------------------------------------------------------------------


def test_without_an_admin_token_the_endpoint_does_not_exist(client: TestClient) -> None:
    response = client.post("/v2/files/jwt", json={"filename": "/photo.jpg", "expiresIn": 60}, headers=AUTH)
    assert response.status_code == 404 and response.json() == {"error": "not found"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN}, {"Authorization": f"Basic {ADMIN}"},
     {"Authorization": "Bearer "}, {"Authorization": f"Bearer {ADMIN}x"}],
)  # fmt: skip
def test_a_missing_or_wrong_admin_token_is_a_401(ac: TestClient, headers: dict[str, str]) -> None:
    response = mint(ac, {"filename": "/photo.jpg", "expiresIn": 60}, headers=headers)
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_scheme_is_case_insensitive(ac: TestClient) -> None:
    response = mint(ac, {"filename": "/photo.jpg", "expiresIn": 60}, headers={"Authorization": f"bearer {ADMIN}"})
    assert response.status_code == 200


def test_the_admin_token_is_compared_in_constant_time(ac: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    mint(ac, {"filename": "/photo.jpg", "expiresIn": 60}, headers={"Authorization": "Bearer guess"})
    mint(ac, {"filename": "/photo.jpg", "expiresIn": 60})
    assert calls == [(b"guess", ADMIN.encode()), (ADMIN.encode(), ADMIN.encode())]


def test_wrong_tokens_are_rate_limited_per_client(admin_settings: Settings) -> None:
    app = create_app(admin_settings)
    attacker = TestClient(app, client=("203.0.113.7", 4000))
    body = {"filename": "/photo.jpg", "expiresIn": 60}
    for _ in range(5):
        assert mint(attacker, body, headers={"Authorization": "Bearer guess"}).status_code == 401
    blocked = mint(attacker, body, headers={"Authorization": "Bearer guess"})
    assert blocked.status_code == 429 and blocked.json()["error"] == "too many attempts"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert mint(attacker, body).status_code == 429  # even the right token, from that client
    assert mint(TestClient(app, client=("198.51.100.2", 4000)), body).status_code == 200


def test_a_right_token_does_not_count_as_a_failure(ac: TestClient) -> None:
    for _ in range(10):
        assert mint(ac, {"filename": "/photo.jpg", "expiresIn": 60}).status_code == 200


# ---- the body -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"', b"null", b'{"a": NaN}', b"[" * 10_000])
def test_a_body_that_is_not_a_json_object_is_a_400(ac: TestClient, raw: bytes) -> None:
    response = ac.post("/v2/files/jwt", content=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == "invalid body"
    assert response.headers["Cache-Control"] == "no-store"


def test_lone_surrogates_in_the_body_are_a_400(ac: TestClient) -> None:
    raw = b'{"filename": "/\\ud800.jpg", "expiresIn": 60}'
    response = ac.post("/v2/files/jwt", content=raw, headers=AUTH)
    assert response.status_code == 400 and response.json()["error"] == "invalid body"


def test_a_body_over_16_kib_is_a_413(ac: TestClient) -> None:
    body = json.dumps({"filename": "/photo.jpg", "expiresIn": 60, "secureParams": {"text": "x" * 17_000}})
    response = ac.post("/v2/files/jwt", content=body.encode(), headers=AUTH)
    assert response.status_code == 413 and response.json()["error"] == "body too large"
    assert response.headers["Cache-Control"] == "no-store"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b" " * 1024
        yield b"{}"

    response = ac.post("/v2/files/jwt", content=chunks(), headers=AUTH)
    assert response.status_code == 413


def test_the_admin_token_is_checked_before_the_body_is_read(ac: TestClient) -> None:
    response = ac.post("/v2/files/jwt", content=b"x" * 20_000, headers={"Authorization": "Bearer guess"})
    assert response.status_code == 401


def test_other_methods_are_not_minting(ac: TestClient) -> None:
    assert ac.get("/v2/files/jwt", headers=AUTH).status_code == 404
    assert ac.put("/v2/files/jwt", headers=AUTH).status_code == 405


def test_an_audience_never_reaches_another_protected_rule(admin_settings: Settings) -> None:
    rules = (Rule(prefix="/", protect=False), Rule(prefix="/gallery/", max_token_lifetime=3600))
    client = TestClient(create_app(with_overrides(admin_settings, rules=rules)))
    for aud in ("/", "/g", "/photo"):
        body = {"filename": "/photo.jpg", "expiresIn": 3000, "aud": aud}
        assert "aud" in problems(mint(client, body)), aud
    # within one rule, a folder audience is fine; the file itself always is
    assert mint(client, {"filename": "/gallery/one.jpg", "expiresIn": 60, "aud": "/gallery/"}).status_code == 200
    assert mint(client, {"filename": "/photo.jpg", "expiresIn": 60, "aud": "/photo.jpg"}).status_code == 200
