"""Token checks through the app (SPEC §2, §3, §6): status, ``X-Auth-Result``, JSON errors.

Requests go through ``TestClient(create_app(settings))`` with a fresh app per test, on a root in a
temporary folder. Tokens are minted with raw ``jwt.encode`` or by hand (see ``test_auth.py``).
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image
from starlette.testclient import TestClient

from origin.app import create_app
from tests.origin.test_auth import (
    HS256,
    KEY_A,
    NEXT,
    TOKEN_CASES,
    WRONG,
    TokenCase,
    hand,
    make_settings,
    raw,
)
from tests.tokens import ALGORITHM, AUDIENCE, EXPIRED, MALFORMED, MISSING, SIGNATURE

PHOTO = Path(__file__).resolve().parents[2] / "fixtures" / "images" / "photo.jpg"
SOURCE_SIZE = (640, 427)  # used when the bundled photo is absent

# Files every test can ask for: each path of the token table, plus the ones below.
EXTRA_FILES = (
    "/photo.jpg",
    "/public/pic.jpg",
    "/public/private/pic.jpg",
    "/publicity.jpg",
    "/only-a/pic.jpg",
    "/limited/pic.jpg",
)


def source_jpeg() -> bytes:
    if PHOTO.is_file():
        return PHOTO.read_bytes()
    image = Image.new("RGB", SOURCE_SIZE)
    image.putdata([(x % 256, y % 256, (x * y) % 256) for y in range(SOURCE_SIZE[1]) for x in range(SOURCE_SIZE[0])])
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("auth-http") / "root"
    root.mkdir()
    data = source_jpeg()
    paths = {param.values[0].path for param in TOKEN_CASES} | set(EXTRA_FILES)
    for path in paths:
        file = root / path.lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        if PHOTO.is_file() and path == "/photo.jpg":
            shutil.copyfile(PHOTO, file)
        else:
            file.write_bytes(data)
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def client(image_root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(image_root))) as test_client:
        yield test_client


def url(path: str, token: str | None = None, query: str = "") -> str:
    parts = [query] if query else []
    if token is not None:
        parts.append(f"jwt={token}")
    return quote(path, safe="/") + ("?" + "&".join(parts) if parts else "")


def assert_error(response: Any, status: int, reason: str | None = None) -> None:
    """An error: the status, a JSON body with ``error``, ``Cache-Control: no-store``, and the reason."""
    assert response.status_code == status, response.text
    headers = response.headers
    assert headers["content-type"].startswith("application/json")
    assert "error" in response.json()
    assert headers["cache-control"] == "no-store"
    if reason is not None:
        assert headers["x-auth-result"] == reason


def assert_image(response: Any) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/")
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


# --- the token table of test_auth.py, through the app ---------------------------------------------


@pytest.mark.parametrize("token_case", TOKEN_CASES)
def test_token_over_http(client: TestClient, token_case: TokenCase) -> None:
    token = token_case.mint(int(time.time()))
    response = client.get(url(token_case.path, token))
    if token_case.reason is None:
        assert_image(response)
        assert response.headers["x-auth-result"] == "ok"
    else:
        assert_error(response, 403, token_case.reason)


# --- what only a request can show -----------------------------------------------------------------


def good(n: int, aud: str | None = None, key: bytes = NEXT) -> str:
    payload: dict[str, object] = {"exp": n + 300}
    if aud is not None:
        payload["aud"] = aud
    return raw(payload, key)


Request = Callable[[int], str]

HTTP_CASES = [
    # protected: 403 before 404, whatever the file
    pytest.param(lambda n: url("/photo.jpg"), 403, MISSING, id="protected-no-token"),
    pytest.param(lambda n: url("/photo.jpg", query="w=300"), 403, MISSING, id="protected-no-token-with-params"),
    pytest.param(lambda n: url("/nope.jpg"), 403, MISSING, id="protected-no-token-missing-file"),
    pytest.param(lambda n: url("/no/such/folder/nope.jpg"), 403, MISSING, id="protected-no-token-missing-folder"),
    pytest.param(lambda n: url("/notes.txt"), 403, MISSING, id="protected-no-token-non-image"),
    pytest.param(
        lambda n: url("/nope.jpg", raw({"exp": n + 300}, WRONG)),
        403,
        SIGNATURE,
        id="protected-wrong-secret-missing-file",
    ),
    pytest.param(lambda n: url("/nope.jpg", raw({"exp": n - 60})), 403, EXPIRED, id="protected-expired-missing-file"),
    pytest.param(
        lambda n: url("/nope.jpg", good(n, aud="/photo.jpg")),
        403,
        AUDIENCE,
        id="protected-audience-mismatch-missing-file",
    ),
    pytest.param(lambda n: url("/nope.jpg", good(n)), 404, None, id="protected-valid-token-missing-file"),
    pytest.param(
        lambda n: url("/no/such/folder/nope.jpg", good(n, aud="/no/")),
        404,
        None,
        id="protected-valid-token-missing-folder",
    ),
    pytest.param(lambda n: url("/photo.jpg", good(n)), 200, "ok", id="protected-valid-token"),
    # exactly one jwt parameter
    pytest.param(
        lambda n: url("/photo.jpg", good(n), query=f"jwt={good(n)}"), 403, MALFORMED, id="jwt-twice-both-valid"
    ),
    pytest.param(
        lambda n: url("/photo.jpg", "garbage", query=f"jwt={good(n)}"),
        403,
        MALFORMED,
        id="jwt-twice-valid-then-garbage",
    ),
    pytest.param(
        lambda n: url("/photo.jpg", good(n), query="jwt=garbage"), 403, MALFORMED, id="jwt-twice-garbage-then-valid"
    ),
    pytest.param(
        lambda n: url("/public/pic.jpg", good(n), query=f"jwt={good(n)}"), 403, MALFORMED, id="jwt-twice-on-public-path"
    ),
    pytest.param(lambda n: url("/photo.jpg", good(n) + ";"), 403, MALFORMED, id="jwt-semicolon-appended"),
    pytest.param(
        lambda n: url("/photo.jpg", raw({"exp": n + 300, "pad": "x" * 5000})),
        403,
        MALFORMED,
        id="jwt-over-max-token-bytes",
    ),
    pytest.param(
        lambda n: url("/photo.jpg", quote(good(n), safe="").replace(".", "%2E")),
        200,
        "ok",
        id="jwt-percent-encoded-is-decoded-once",
    ),
    # public rule: the token is optional, a given one is verified like any other
    pytest.param(lambda n: url("/public/pic.jpg"), 200, None, id="public-no-token"),
    pytest.param(lambda n: url("/public/nope.jpg"), 404, None, id="public-no-token-missing-file"),
    pytest.param(lambda n: url("/public/pic.jpg", good(n)), 200, "ok", id="public-valid-token"),
    pytest.param(
        lambda n: url("/public/pic.jpg", raw({"exp": n + 300}, WRONG)), 403, SIGNATURE, id="public-wrong-secret"
    ),
    pytest.param(lambda n: url("/public/pic.jpg", "not.a.token"), 403, MALFORMED, id="public-malformed"),
    pytest.param(lambda n: url("/public/pic.jpg", raw({"exp": n - 60})), 403, EXPIRED, id="public-expired"),
    pytest.param(
        lambda n: url("/public/pic.jpg", good(n, aud="/other/")), 403, AUDIENCE, id="public-audience-mismatch"
    ),
    pytest.param(
        lambda n: url("/public/pic.jpg", hand({"alg": "none"}, {"exp": n + 300}, signature="")),
        403,
        ALGORITHM,
        id="public-alg-none",
    ),
    pytest.param(
        lambda n: url("/public/nope.jpg", raw({"exp": n + 300}, WRONG)),
        403,
        SIGNATURE,
        id="public-wrong-secret-missing-file",
    ),
    # longest prefix (SPEC §2)
    pytest.param(lambda n: url("/public/private/pic.jpg"), 403, MISSING, id="longest-prefix-protected-in-public"),
    pytest.param(
        lambda n: url("/public/private/pic.jpg", good(n)),
        200,
        "ok",
        id="longest-prefix-protected-in-public-valid-token",
    ),
    pytest.param(lambda n: url("/publicity.jpg"), 403, MISSING, id="prefix-is-a-string-not-a-name"),
    pytest.param(lambda n: url("/only-a/pic.jpg", good(n)), 403, SIGNATURE, id="rule-keys-other-key-without-kid"),
    pytest.param(lambda n: url("/only-a/pic.jpg", good(n, key=KEY_A)), 200, "ok", id="rule-keys-its-key"),
    pytest.param(
        lambda n: url("/limited/pic.jpg", raw({"exp": n + 3600})),
        403,
        "lifetime too long",
        id="rule-max-token-lifetime",
    ),
]


@pytest.mark.parametrize(("request_url", "status", "auth_result"), HTTP_CASES)
def test_request(client: TestClient, request_url: Request, status: int, auth_result: str | None) -> None:
    response = client.get(request_url(int(time.time())))
    if status == 200:
        assert_image(response)
        if auth_result is not None:
            assert response.headers["x-auth-result"] == auth_result
    else:
        assert_error(response, status, auth_result)


def test_node_jsonwebtoken_token_for_sirv_is_honoured(client: TestClient) -> None:
    """A token as Node ``jsonwebtoken`` signs it for Sirv (``{"alg":"HS256","typ":"JWT"}``) works unchanged."""
    n = int(time.time())
    token = raw({"args": {"w": 300}, "iat": n, "exp": n + 300, "aud": "/photo.jpg"})
    assert token.split(".")[0] == "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # what jsonwebtoken emits
    response = client.get(url("/photo.jpg", token))
    assert response.headers.get("x-auth-result") == "ok"
    assert assert_image(response).width == 300


def test_hand_built_sirv_token_is_honoured(client: TestClient) -> None:
    n = int(time.time())
    token = hand(HS256, {"args": {"w": 300}, "iat": n, "exp": n + 300, "aud": "/photo.jpg"})
    response = client.get(url("/photo.jpg", token))
    assert response.headers.get("x-auth-result") == "ok"
    assert assert_image(response).width == 300


def test_args_of_a_token_apply_on_a_public_path(client: TestClient) -> None:
    n = int(time.time())
    response = client.get(url("/public/pic.jpg", raw({"exp": n + 300, "args": {"w": 300}})))
    assert response.headers.get("x-auth-result") == "ok"
    assert assert_image(response).width == 300


def test_no_token_and_valid_token_give_the_same_403_for_existing_and_missing_files(client: TestClient) -> None:
    """A request with no valid token learns nothing about which files exist."""
    n = int(time.time())
    for token in (None, raw({"exp": n + 300}, WRONG)):
        existing = client.get(url("/photo.jpg", token))
        missing = client.get(url("/nope.jpg", token))
        assert existing.status_code == missing.status_code == 403
        assert existing.headers["x-auth-result"] == missing.headers["x-auth-result"]
        assert existing.json() == missing.json()
