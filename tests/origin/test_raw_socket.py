"""Path canonicalisation over a real socket (SPEC §1): raw HTTP/1.1 request targets, exactly as sent.

A real uvicorn server runs in a thread for the whole module, on a free 127.0.0.1 port; no HTTP
client sits in between to normalise ``..``, ``//`` or percent-escapes. A file outside the root
holds a marker that must never come back.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from PIL import Image

from origin.app import create_app
from origin.settings import Rule, Settings
from tests.live import RawResponse, exchange, live_server

SECRET = (b"raw-socket-secret-" * 4)[:64]
MARKER = b"OUTSIDE-THE-ROOT-7f3a9c"
PHOTO = Path(__file__).resolve().parents[2] / "fixtures" / "images" / "photo.jpg"


def jpeg_with_marker() -> bytes:
    """A real JPEG (so it would render if it ever escaped) carrying the marker in a comment and a trailer."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG", comment=MARKER)
    return buffer.getvalue() + MARKER


def plain_jpeg() -> bytes:
    if PHOTO.is_file():
        return PHOTO.read_bytes()
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Served:
    port: int
    root: Path
    outside: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("raw-socket")
    root = base / "root"
    (root / "a").mkdir(parents=True)
    outside = base / "outside"
    outside.mkdir()
    secret = jpeg_with_marker()
    (outside / "secret.jpg").write_bytes(secret)
    (outside / "x.jpg").write_bytes(secret)
    (base / "x.jpg").write_bytes(secret)  # what /../x.jpg would reach
    photo = plain_jpeg()
    for name in ("x.jpg", "a/x.jpg", "a/b.jpg", "b.jpg", "a.jpg"):
        (root / name).write_bytes(photo)
    (root / "escape.jpg").symlink_to(outside / "secret.jpg")
    (root / "relative-escape.jpg").symlink_to(Path("..") / "outside" / "secret.jpg")
    (root / "linked-outside").symlink_to(outside, target_is_directory=True)

    settings = Settings(root=root, keys={"main": SECRET}, rules=(Rule(prefix="/"),), render_concurrency=2)
    with live_server(create_app(settings)) as server:
        yield Served(port=server.port, root=root, outside=outside)


def send(port: int, target: bytes) -> RawResponse:
    return exchange(port, target)


def token(aud: str = "/") -> str:
    return jwt.encode({"exp": int(time.time()) + 300, "aud": aud}, SECRET, algorithm="HS256")


def with_token(target: bytes) -> bytes:
    return target + b"?jwt=" + token().encode("ascii")


def assert_nothing_leaked(response: RawResponse) -> None:
    assert MARKER not in response.raw
    assert b"root:" not in response.raw  # /etc/passwd


INVALID_TARGETS = [
    pytest.param(b"/../etc/passwd", id="dot-dot-etc-passwd"),
    pytest.param(b"/../x.jpg", id="dot-dot-sibling-file"),
    pytest.param(b"/../outside/secret.jpg", id="dot-dot-outside-folder"),
    pytest.param(b"/a/../../outside/secret.jpg", id="dot-dot-after-folder"),
    pytest.param(b"/%2e%2e/x.jpg", id="encoded-dot-dot"),
    pytest.param(b"/a/%2E%2E/x.jpg", id="encoded-dot-dot-upper-in-folder"),
    pytest.param(b"/.%2e/outside/secret.jpg", id="half-encoded-dot-dot"),
    pytest.param(b"/a%2Fb.jpg", id="encoded-slash"),
    pytest.param(b"/a%2fb.jpg", id="encoded-slash-lower"),
    pytest.param(b"/%2e%2e%2foutside%2fsecret.jpg", id="encoded-traversal"),
    pytest.param(b"/a%5cb.jpg", id="encoded-backslash"),
    pytest.param(b"/a\\b.jpg", id="backslash"),
    pytest.param(b"/..\\outside\\secret.jpg", id="backslash-traversal"),
    pytest.param(b"/a%00.jpg", id="encoded-nul"),
    pytest.param(b"/x.jpg%00.png", id="encoded-nul-before-extension"),
    pytest.param(b"/a%0d%0aX-Injected:%201.jpg", id="encoded-crlf"),
    pytest.param(b"/a%0Ab.jpg", id="encoded-lf-middle"),
    pytest.param(b"/x.jpg%0A", id="encoded-lf-last"),
    pytest.param(b"/a%0Db.jpg", id="encoded-cr"),
    pytest.param(b"/a%09b.jpg", id="encoded-tab"),
    pytest.param(b"/./x.jpg", id="dot-segment"),
    pytest.param(b"//x.jpg", id="double-slash-first"),
    pytest.param(b"/a//x.jpg", id="double-slash-middle"),
    pytest.param(b"/x.jpg/", id="trailing-slash"),
    pytest.param(b"/%C0%AE%C0%AE/x.jpg", id="overlong-utf8-dots"),
    pytest.param(b"/%FF.jpg", id="invalid-utf8"),
]


@pytest.mark.parametrize("with_valid_token", [pytest.param(False, id="no-token"), pytest.param(True, id="valid-token")])
@pytest.mark.parametrize("target", INVALID_TARGETS)
def test_invalid_path_is_400(served: Served, target: bytes, with_valid_token: bool) -> None:
    response = send(served.port, with_token(target) if with_valid_token else target)
    assert response.status == 400, response.raw
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == "invalid path"  # type: ignore[index]
    assert "x-injected" not in response.headers
    assert_nothing_leaked(response)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"/escape.jpg", id="symlink-to-file-outside"),
        pytest.param(b"/relative-escape.jpg", id="relative-symlink-to-file-outside"),
        pytest.param(b"/linked-outside/secret.jpg", id="symlinked-folder-outside"),
    ],
)
def test_symlink_out_of_root_is_400_even_with_a_valid_token(served: Served, target: bytes) -> None:
    response = send(served.port, with_token(target))
    assert response.status == 400, response.raw
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == "invalid path"  # type: ignore[index]
    assert_nothing_leaked(response)


@pytest.mark.parametrize(
    ("target", "signed", "status", "auth_result"),
    [
        pytest.param(b"/%252e%252e/x.jpg", False, 403, "missing token", id="no-token"),
        pytest.param(b"/%252e%252e/x.jpg", True, 404, None, id="valid-token"),
        pytest.param(b"/%252e%252e/outside/secret.jpg", False, 403, "missing token", id="no-token-to-outside"),
        pytest.param(b"/%252e%252e/outside/secret.jpg", True, 404, None, id="valid-token-to-outside"),
        pytest.param(b"/a/%252E%252E/%252E%252E/outside/x.jpg", True, 404, None, id="valid-token-upper-twice"),
    ],
)
def test_double_encoded_dots_stay_literal(
    served: Served, target: bytes, signed: bool, status: int, auth_result: str | None
) -> None:
    """``%252e%252e`` decodes once to the literal name ``%2e%2e``: no such file, never a file outside."""
    response = send(served.port, with_token(target) if signed else target)
    assert response.status == status, response.raw
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    if auth_result is not None:
        assert response.headers["x-auth-result"] == auth_result
    assert_nothing_leaked(response)


def test_harness_serves_a_canonical_path(served: Served) -> None:
    """The same server answers a clean, signed request with the image (so the 400s above are the paths)."""
    response = send(served.port, with_token(b"/a/x.jpg"))
    assert response.status == 200, response.raw[:500]
    assert response.headers["x-auth-result"] == "ok"
    assert response.headers["content-type"].startswith("image/")
    assert_nothing_leaked(response)


def test_harness_refuses_a_canonical_path_without_token(served: Served) -> None:
    response = send(served.port, b"/a/x.jpg")
    assert response.status == 403
    assert response.headers["x-auth-result"] == "missing token"
