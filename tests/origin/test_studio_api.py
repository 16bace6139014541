"""The studio: login, sessions, CSRF, the page and its JSON API (browse, options, sign)."""

from __future__ import annotations

import dataclasses
import hmac
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from origin import Rule, Settings, create_app, studio
from origin import catalogue as catalogue_module
from origin.sessions import SessionStore
from origin.settings import with_overrides
from tests.conftest import FIXTURES, SECRET, decode

ADMIN = "admin-token-0123456789-abcdefghijklmnop"
SECRETS = (SECRET, ADMIN.encode())


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return create_app(with_overrides(settings, admin_token=ADMIN))


@pytest.fixture
def sc(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


def check(response: httpx.Response) -> httpx.Response:
    """What every studio answer must be: uncached, not shared cross-origin, free of secrets."""
    assert response.headers["Cache-Control"] == "no-store", response.request.url
    assert "access-control-allow-origin" not in response.headers
    for secret in SECRETS:
        assert secret not in response.content
    return response


def log_in(client: TestClient) -> str:
    """Log in; the CSRF token embedded in the page."""
    response = check(client.post("/studio/login", data={"token": ADMIN}, follow_redirects=False))
    assert response.status_code == 303 and response.headers["location"] == "/studio"
    page = check(client.get("/studio")).text
    marker = 'name="csrf-token" content="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def sign(client: TestClient, csrf: str | None, body: Any) -> httpx.Response:
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    return check(client.post("/studio/api/sign", json=body, headers=headers))


def with_sessions(app: Starlette, sessions: SessionStore) -> None:
    app.state.origin = dataclasses.replace(app.state.origin, sessions=sessions)


# ---- off unless configured ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/studio"), ("POST", "/studio/login"), ("POST", "/studio/logout"), ("GET", "/studio/static/studio.css"),
     ("GET", "/studio/api/browse"), ("GET", "/studio/api/options"), ("POST", "/studio/api/sign")],
)  # fmt: skip
def test_without_an_admin_token_the_studio_does_not_exist(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, data={"token": ADMIN})
    assert response.status_code == 404 and response.json() == {"error": "not found"}
    check(response)


# ---- login, the page, the cookie ----------------------------------------------------------------


def test_without_a_session_the_page_is_the_login_form(sc: TestClient) -> None:
    response = check(sc.get("/studio"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert 'name="token"' in response.text and "{{error}}" not in response.text
    assert "csrf-token" not in response.text
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_login_sets_a_strict_http_only_cookie_and_the_page_carries_the_csrf_token(sc: TestClient) -> None:
    response = check(sc.post("/studio/login", data={"token": ADMIN}))
    assert response.status_code == 303 and response.headers["location"] == "/studio"
    cookie = response.headers["set-cookie"]
    name_value, *attributes = cookie.split("; ")
    assert name_value.startswith("origin_studio=") and len(name_value) > len("origin_studio=") + 40
    assert attributes == ["HttpOnly", "SameSite=Strict", "Path=/studio"]  # no Secure over http
    page = check(sc.get("/studio"))
    assert page.status_code == 200 and "{{csrf_token}}" not in page.text
    assert 'name="csrf-token" content="' in page.text


def test_the_cookie_is_secure_over_https(app: Starlette) -> None:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    response = check(client.post("/studio/login", data={"token": ADMIN}))
    assert response.headers["set-cookie"].endswith("; Secure")


def test_a_wrong_token_shows_the_form_again_with_a_401(sc: TestClient) -> None:
    for data in ({"token": "guess"}, {}, {"token": ""}, {"token": [ADMIN, ADMIN]}):
        response = check(sc.post("/studio/login", data=data))
        assert response.status_code == 401 and "set-cookie" not in response.headers
        assert 'name="token"' in response.text and "{{error}}" not in response.text
    assert "Wrong admin token." in sc.post("/studio/login", data={"token": "guess"}).text
    assert check(sc.get("/studio/api/options")).status_code == 401


def test_login_is_rate_limited_with_the_rest_endpoint(app: Starlette) -> None:
    client = TestClient(app, client=("203.0.113.9", 1), follow_redirects=False)
    for _ in range(3):
        assert check(client.post("/studio/login", data={"token": "guess"})).status_code == 401
    for _ in range(2):
        wrong = {"Authorization": "Bearer guess"}
        assert client.post("/v2/files/jwt", json={}, headers=wrong).status_code == 401
    response = check(client.post("/studio/login", data={"token": ADMIN}))
    assert response.status_code == 429 and 1 <= int(response.headers["Retry-After"]) <= 60
    assert "Too many wrong attempts" in response.text and "set-cookie" not in response.headers
    other = TestClient(app, client=("198.51.100.9", 1), follow_redirects=False)
    assert check(other.post("/studio/login", data={"token": ADMIN})).status_code == 303


def test_login_compares_the_token_in_constant_time(sc: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append(a)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    sc.post("/studio/login", data={"token": "guess"})
    csrf = log_in(sc)
    sign(sc, csrf + "x", {"path": "/photo.jpg", "lifetime": 60})
    assert calls == [b"guess", ADMIN.encode(), (csrf + "x").encode()]


def test_a_body_over_16_kib_is_a_413(sc: TestClient) -> None:
    response = check(sc.post("/studio/login", data={"token": "x" * 20_000}))
    assert response.status_code == 413
    csrf = log_in(sc)
    response = sign(sc, csrf, {"path": "/photo.jpg", "lifetime": 60, "secureParams": {"text": "x" * 17_000}})
    assert response.status_code == 413 and response.json()["error"] == "body too large"


def test_logging_in_again_replaces_the_session(sc: TestClient) -> None:
    log_in(sc)
    old = sc.cookies["origin_studio"]
    log_in(sc)
    assert sc.cookies["origin_studio"] != old
    stale = TestClient(sc.app, cookies={"origin_studio": old})
    assert check(stale.get("/studio/api/options")).status_code == 401


def test_logout_needs_the_csrf_token_then_ends_the_session(sc: TestClient) -> None:
    csrf = log_in(sc)
    response = check(sc.post("/studio/logout"))
    assert response.status_code == 403 and response.json() == {"error": "csrf"}
    assert check(sc.post("/studio/logout", headers={"X-CSRF-Token": "wrong"})).status_code == 403
    assert check(sc.get("/studio/api/options")).status_code == 200
    cookie = sc.cookies["origin_studio"]
    response = check(sc.post("/studio/logout", headers={"X-CSRF-Token": csrf}))
    assert response.status_code == 303 and response.headers["location"] == "/studio"
    assert response.headers["set-cookie"].startswith(
        "origin_studio=; HttpOnly; SameSite=Strict; Path=/studio; Max-Age=0"
    )
    stale = TestClient(sc.app, cookies={"origin_studio": cookie})
    assert check(stale.get("/studio/api/options")).status_code == 401
    page = check(stale.get("/studio"))
    assert "Your session has ended" in page.text and "Max-Age=0" in page.headers["set-cookie"]


def test_sessions_end_after_an_idle_hour(app: Starlette, sc: TestClient) -> None:
    clock = Clock()
    with_sessions(app, SessionStore(clock=clock))
    log_in(sc)
    clock.now += 3599
    assert check(sc.get("/studio/api/options")).status_code == 200  # and the idle time starts again
    clock.now += 3599
    assert check(sc.get("/studio/api/options")).status_code == 200
    clock.now += 3601
    response = check(sc.get("/studio/api/options"))
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


def test_sessions_end_after_eight_hours_however_busy(app: Starlette, sc: TestClient) -> None:
    clock = Clock()
    with_sessions(app, SessionStore(clock=clock))
    log_in(sc)
    for _ in range(15):
        clock.now += 30 * 60
        assert check(sc.get("/studio/api/options")).status_code == 200
    clock.now += 30 * 60
    assert check(sc.get("/studio/api/options")).status_code == 401


def test_sessions_are_bounded() -> None:
    sessions = SessionStore(max_sessions=2)
    first, second, third = sessions.create(), sessions.create(), sessions.create()
    assert len(sessions) == 2 and sessions.get(first.id) is None
    assert sessions.get(second.id) == second and sessions.get(third.id) == third
    assert sessions.get("") is None and sessions.get("made-up") is None


def test_the_page_works_before_the_front_end_is_installed(
    sc: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(studio, "STATIC_DIR", tmp_path)
    login_page = check(sc.get("/studio"))
    assert login_page.status_code == 200 and 'action="/studio/login"' in login_page.text
    csrf = log_in(sc)
    assert csrf and "{{" not in check(sc.get("/studio")).text


def test_the_templates_placeholders_are_filled(sc: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "index.html").write_text("<p>{{csrf_token}}</p><p>{{csrf_token}}</p>")
    (tmp_path / "login.html").write_text("<p>{{error}}</p>")
    monkeypatch.setattr(studio, "STATIC_DIR", tmp_path)
    assert check(sc.get("/studio")).text == "<p></p>"
    assert check(sc.post("/studio/login", data={"token": "x"})).text == "<p>Wrong admin token.</p>"
    sc.post("/studio/login", data={"token": ADMIN})
    page = check(sc.get("/studio")).text
    token = page[3 : page.index("<", 3)]
    assert len(token) >= 40 and page == f"<p>{token}</p><p>{token}</p>"


# ---- static files -------------------------------------------------------------------------------


def test_static_files_need_no_session_and_have_their_types(
    sc: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("studio.js", "studio.css", "icon.svg", "data.bin", ".hidden.js"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    monkeypatch.setattr(studio, "STATIC_DIR", tmp_path)
    for name, media_type in (("studio.js", "text/javascript"), ("studio.css", "text/css"),
                             ("icon.svg", "image/svg+xml"), ("data.bin", "application/octet-stream")):  # fmt: skip
        response = check(sc.get(f"/studio/static/{name}"))
        assert response.status_code == 200 and response.headers["content-type"].startswith(media_type)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    for name in (".hidden.js", "missing.js", "sub", "a%20b.js", "sub/x.js"):
        assert check(sc.get(f"/studio/static/{name}")).status_code == 404, name
    for name in ("%2e%2e/app.py", "%2E%2E", "a%2Fb.js"):
        assert sc.get(f"/studio/static/{name}").status_code == 400, name


# ---- browse -------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "b-folder" / "deeper").mkdir(parents=True)
    (root / "a-folder").mkdir()
    (root / ".git").mkdir()
    (root / "studio").mkdir()
    for name in ("z.jpg", "a.png", ".secret.jpg", "notes.txt", "healthz", "b-folder/inner.webp"):
        shutil.copy(FIXTURES / "gallery" / "one.jpg", root / name)
    shutil.copy(FIXTURES / "watermark.png", root / "a-folder" / "mark.png")
    shutil.copy(FIXTURES / "gallery" / "one.jpg", root / "studio" / "x.jpg")
    shutil.copy(FIXTURES / "gallery" / "one.jpg", root / ".git" / "x.jpg")
    (root / "escape.jpg").symlink_to(FIXTURES / "photo.jpg")
    (root / "escape-dir").symlink_to(FIXTURES)
    (root / "inside.jpg").symlink_to(root / "z.jpg")
    return root


@pytest.fixture
def tc(tree: Path) -> Iterator[TestClient]:
    settings = Settings(root=tree, keys={"main": SECRET}, admin_token=ADMIN, render_concurrency=2)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        log_in(client)
        yield client


def test_browse_lists_what_the_origin_would_serve(tc: TestClient) -> None:
    response = check(tc.get("/studio/api/browse"))
    assert response.status_code == 200
    body = response.json()
    assert body["path"] == "/" and body["parent"] is None and body["truncated"] is False
    assert body["folders"] == ["/a-folder/", "/b-folder/"]
    assert [image["path"] for image in body["images"]] == ["/a.png", "/inside.jpg", "/z.jpg"]
    assert body["watermarks"] == ["/a-folder/mark.png", "/a.png", "/b-folder/inner.webp", "/inside.jpg", "/z.jpg"]
    inner = check(tc.get("/studio/api/browse", params={"path": "/b-folder/"})).json()
    assert inner["parent"] == "/" and inner["folders"] == ["/b-folder/deeper/"]
    assert [image["path"] for image in inner["images"]] == ["/b-folder/inner.webp"]
    deeper = check(tc.get("/studio/api/browse", params={"path": "/b-folder/deeper/"})).json()
    assert deeper == {**deeper, "parent": "/b-folder/", "folders": [], "images": []}


def test_thumbnails_are_signed_160_px_jpegs_for_ten_minutes(tc: TestClient) -> None:
    image = check(tc.get("/studio/api/browse")).json()["images"][0]
    response = tc.get(image["thumbnail"])
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert max(decode(response.content).size) == 160
    assert 0 < int(response.headers["Cache-Control"].rsplit("=", 1)[1]) <= 600


def test_thumbnails_respect_a_shorter_rule_lifetime(tree: Path) -> None:
    rules = (Rule(prefix="/", max_token_lifetime=120),)
    settings = Settings(root=tree, keys={"main": SECRET}, admin_token=ADMIN, rules=rules)
    client = TestClient(create_app(settings), follow_redirects=False)
    log_in(client)
    image = check(client.get("/studio/api/browse")).json()["images"][0]
    assert client.get(image["thumbnail"]).status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [("b-folder/", 400), ("/b-folder", 400), ("/../", 400), ("/b-folder//", 400), ("/.git/", 400),
     ("/studio/", 400), ("/missing/", 404), ("/z.jpg/", 404), ("/escape-dir/", 400)],
)  # fmt: skip
def test_browse_refuses_what_is_not_a_folder_of_the_root(tc: TestClient, path: str, status: int) -> None:
    response = check(tc.get("/studio/api/browse", params={"path": path}))
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"] in ("invalid parameters", "invalid path")


def test_browse_takes_one_path(tc: TestClient) -> None:
    response = check(tc.get("/studio/api/browse?path=/&path=/b-folder/"))
    assert response.status_code == 400 and response.json()["parameters"] == {"path": "repeated parameter"}


def test_browse_is_bounded(tc: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogue_module, "MAX_ENTRIES", 3)
    monkeypatch.setattr(catalogue_module, "MAX_IMAGES", 2)
    body = check(tc.get("/studio/api/browse")).json()
    assert body["truncated"] is True
    assert body["folders"] == ["/a-folder/", "/b-folder/"] and [i["path"] for i in body["images"]] == ["/a.png"]
    assert len(body["watermarks"]) == 2


def test_the_api_needs_a_session(sc: TestClient) -> None:
    for response in (sc.get("/studio/api/browse"), sc.get("/studio/api/options"), sc.post("/studio/api/sign", json={})):
        check(response)
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    forged = TestClient(sc.app, cookies={"origin_studio": "made-up"})
    assert check(forged.get("/studio/api/options")).status_code == 401


# ---- options ------------------------------------------------------------------------------------


def test_options_name_key_ids_never_secrets(app: Starlette, settings: Settings) -> None:
    keys = {"main": SECRET, "next": b"next-secret-0123456789-abcdefghijklmnop"}
    rules = (Rule(prefix="/"), Rule(prefix="/gallery/", keys=("next",), max_token_lifetime=3600))
    client = TestClient(create_app(with_overrides(settings, keys=keys, rules=rules, admin_token=ADMIN)))
    log_in(client)
    response = check(client.get("/studio/api/options"))
    assert keys["next"] not in response.content
    body = response.json()
    assert body["keys"] == ["main", "next"]
    assert body["fonts"] == ["sans", "serif", "mono"]
    assert "south" in body["gravities"] and "center" in body["gravities"]
    assert body["formats"] == ["original", "optimal", "jpg", "png", "webp", "avif", "gif"]
    assert body["max_lifetime"] == 30 * 24 * 3600
    assert body["rules"][1] == {"prefix": "/gallery/", "protect": True, "keys": ["next"], "max_lifetime": 3600}
    assert {"name": "text", "group": "text"}.items() <= body["parameters"][
        [p["name"] for p in body["parameters"]].index("text")
    ].items()


# ---- sign ---------------------------------------------------------------------------------------


def test_sign_needs_the_sessions_csrf_token(sc: TestClient) -> None:
    csrf = log_in(sc)
    body = {"path": "/photo.jpg", "lifetime": 300}
    for token in (None, "", "wrong", csrf + "x", csrf.upper()):
        response = sign(sc, token, body)
        assert response.status_code == 403 and response.json() == {"error": "csrf"}
    other = TestClient(sc.app, follow_redirects=False)
    other_csrf = log_in(other)
    assert sign(sc, other_csrf, body).status_code == 403  # another session's token
    assert sign(sc, csrf, body).status_code == 200


def test_sign_returns_the_url_and_its_decoded_token(sc: TestClient) -> None:
    csrf = log_in(sc)
    body = {"path": "/photo.jpg", "lifetime": 3600, "secureParams": {"text": "© Studio", "w": 300},
            "insecureParams": {"q": 60}}  # fmt: skip
    response = sign(sc, csrf, body)
    assert response.status_code == 200
    result = response.json()
    assert set(result) == {"url", "token", "header", "payload"}
    assert result["url"] == f"http://testserver/photo.jpg?q=60&jwt={result['token']}"
    assert result["header"] == {"alg": "HS256", "typ": "JWT", "kid": "main"}
    payload = result["payload"]
    assert payload["args"] == {"text": "© Studio", "w": 300} and payload["aud"] == "/photo.jpg"
    assert payload["exp"] - payload["iat"] == 3600
    image = sc.get(result["url"])
    assert image.status_code == 200 and decode(image.content).width == 300


def test_sign_checks_like_the_rest_endpoint_in_its_own_words(sc: TestClient) -> None:
    csrf = log_in(sc)
    response = sign(sc, csrf, {"path": "/missing.jpg", "lifetime": 0, "insecureParams": {"text": "x"}})
    assert response.status_code == 400
    assert response.json()["parameters"] == {
        "lifetime": "must be a whole number of seconds 1..2592000",
        "path": "no image at /missing.jpg",
        "text": "allowed only in signed args",
    }
    response = sign(sc, csrf, {"filename": "/photo.jpg", "expiresIn": 60})
    assert set(response.json()["parameters"]) == {"filename", "expiresIn", "path", "lifetime"}
    response = check(sc.post("/studio/api/sign", content=b"[]", headers={"X-CSRF-Token": csrf}))
    assert response.status_code == 400 and response.json()["error"] == "invalid body"


def test_no_answer_of_the_studio_or_the_rest_endpoint_holds_a_secret(sc: TestClient) -> None:
    """``check`` looks in every body above; here every endpoint once more, in one session."""
    csrf = log_in(sc)
    responses = [
        sc.get("/studio"),
        sc.get("/studio/api/browse"),
        sc.get("/studio/api/browse", params={"path": "/gallery/"}),
        sc.get("/studio/api/options"),
        sign(sc, csrf, {"path": "/photo.jpg", "lifetime": 60, "secureParams": {"watermark": "/watermark.png"}}),
        sign(sc, csrf, {"path": "/nope", "lifetime": "x"}),
        sc.post(
            "/v2/files/jwt",
            json={"filename": "/photo.jpg", "expiresIn": 60},
            headers={"Authorization": f"Bearer {ADMIN}"},
        ),
        sc.post(
            "/v2/files/jwt", json={"filename": "/photo.jpg", "expiresIn": 60}, headers={"Authorization": "Bearer x"}
        ),
        sc.post("/studio/login", data={"token": "wrong"}),
        sc.post("/studio/logout", headers={"X-CSRF-Token": csrf}),
    ]
    for response in responses:
        check(response)
        assert response.status_code < 500


def test_an_unreadable_folder_is_skipped_never_a_500(tmp_path: Path) -> None:
    import os
    import shutil

    from origin.catalogue import list_folder, list_images
    from origin.store import FolderStore
    from tests.conftest import FIXTURES

    shutil.copy(FIXTURES / "photo.jpg", tmp_path / "a.jpg")
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(FIXTURES / "photo.jpg", locked / "b.jpg")
    store = FolderStore(tmp_path, 10**8)
    real_scandir = os.scandir

    def refusing(path: object) -> object:
        if str(path).startswith(str(locked)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    import origin.catalogue as catalogue

    original = catalogue.os.scandir
    catalogue.os.scandir = refusing  # type: ignore[assignment]
    try:
        assert list_images(store) == ["/a.jpg"]
        assert list_folder(store, "/").images == ["/a.jpg"]
        import pytest

        from origin.errors import NotFoundError

        with pytest.raises(NotFoundError):
            list_folder(store, "/locked/")
    finally:
        catalogue.os.scandir = original  # type: ignore[assignment]
