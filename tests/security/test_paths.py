"""Path attacks against a real server over raw sockets (SPEC §1, §3, §6, §9).

A real uvicorn server runs in a thread for the whole module, on a free 127.0.0.1 port; requests are
written byte for byte on a socket, so no HTTP client normalises ``..``, ``//`` or percent-escapes
on the way. Beside the image root lie files holding a marker (and a symlink reaches ``/etc/passwd``):
no response may ever contain the marker or ``/etc/passwd``'s first line.

Every answer is checked for its exact status, a JSON body with ``error`` and ``Cache-Control:
no-store`` (errors), and ``X-Auth-Result`` where the token was looked at. Requests that the HTTP
parser itself refuses (raw control bytes in the request line, unknown methods, request lines over
its size limit) never reach the app; they are checked separately (see ``PARSER_REJECTS``).

``tests/origin/test_raw_socket.py`` holds the first raw-socket cases; this module is the standing
suite: every family of path attack, with and without a valid token, and the other HTTP methods.
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
from tests.conftest import SECRET
from tests.live import RawResponse, exchange, live_server

MARKER = b"SECURITY-SUITE-OUTSIDE-THE-ROOT-5b1e0c"
ETC_PASSWD_FIRST_LINE = b"root:x:0:0"


def jpeg(color: tuple[int, int, int], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG", comment=comment)
    return buffer.getvalue()


def outside_jpeg() -> bytes:
    """A real JPEG (it would render if it ever escaped) with the marker in a comment and a trailer."""
    return jpeg((200, 30, 30), MARKER) + MARKER


@dataclass(frozen=True)
class Served:
    port: int
    root: Path


def build_layout(base: Path) -> Path:
    """``base/root`` is the image root; ``base/outside`` and ``base/x.jpg`` lie beside it."""
    root = base / "root"
    outside = base / "outside"
    for folder in (root / "a", root / "gallery" / "deep", outside):
        folder.mkdir(parents=True)
    (outside / "secret.jpg").write_bytes(outside_jpeg())
    (outside / "x.jpg").write_bytes(outside_jpeg())
    (outside / "passwd").write_bytes(MARKER + b"\n")
    (base / "x.jpg").write_bytes(outside_jpeg())  # what /../x.jpg would reach
    for name in ("x.jpg", "a/x.jpg", "gallery/one.jpg", "gallery/deep/three.jpg"):
        (root / name).write_bytes(jpeg((30, 120, 200)))

    # inside the root
    (root / "alias.jpg").symlink_to("x.jpg")
    (root / "linked-gallery").symlink_to("gallery", target_is_directory=True)
    # leading out of it
    (root / "escape.jpg").symlink_to(outside / "secret.jpg")
    (root / "relative-escape.jpg").symlink_to(Path("..") / "outside" / "secret.jpg")
    (root / "a" / "deep-escape.jpg").symlink_to(Path("..") / ".." / "outside" / "secret.jpg")
    (root / "hop.jpg").symlink_to("escape.jpg")  # inside, then out
    (root / "dangling-escape.jpg").symlink_to(outside / "missing.jpg")
    (root / "linked-outside").symlink_to(outside, target_is_directory=True)
    (root / "linked-outside-relative").symlink_to(Path("..") / "outside", target_is_directory=True)
    (root / "passwd.jpg").symlink_to("/etc/passwd")
    (root / "passwd").symlink_to(outside / "passwd")
    # loops
    (root / "loop-a.jpg").symlink_to("loop-b.jpg")
    (root / "loop-b.jpg").symlink_to("loop-a.jpg")
    (root / "self.jpg").symlink_to("self.jpg")
    (root / "loopdir").symlink_to("loopdir", target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = build_layout(tmp_path_factory.mktemp("security-paths"))
    settings = Settings(root=root, keys={"main": SECRET}, rules=(Rule(prefix="/"),), render_concurrency=2)
    with live_server(create_app(settings), log_level="error") as server:
        yield Served(port=server.port, root=root)


# --- raw HTTP/1.1 -----------------------------------------------------------------------------------


def token() -> bytes:
    return jwt.encode({"exp": int(time.time()) + 300, "aud": "/"}, SECRET, algorithm="HS256").encode("ascii")


def signed(target: bytes) -> bytes:
    return target + b"?jwt=" + token()


def assert_nothing_leaked(response: RawResponse) -> None:
    assert MARKER not in response.raw
    assert ETC_PASSWD_FIRST_LINE not in response.raw


def assert_error(response: RawResponse, status: int, error: str | None = None, auth_result: str | None = None) -> None:
    """An error answer: the status, a JSON body with ``error``, ``no-store``, the ``X-Auth-Result``
    (absent when ``auth_result`` is None), and nothing from outside the root."""
    assert_nothing_leaked(response)
    assert response.status == status, response.raw[:600]
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    if error is not None:
        assert body["error"] == error, body
    assert response.headers.get("x-auth-result") == auth_result, response.headers


def assert_image(response: RawResponse) -> None:
    assert_nothing_leaked(response)
    assert response.status == 200, response.raw[:600]
    assert response.headers["content-type"].startswith("image/")
    assert response.headers["x-auth-result"] == "ok"
    Image.open(io.BytesIO(response.body)).load()


WITH_AND_WITHOUT_TOKEN = pytest.mark.parametrize(
    "with_token", [pytest.param(False, id="no-token"), pytest.param(True, id="valid-token")]
)

# --- not canonical: 400 invalid path, before the token is looked at -------------------------------

NOT_CANONICAL = [
    # dot segments, raw
    pytest.param(b"/../x.jpg", id="dot-dot-sibling-file"),
    pytest.param(b"/../outside/secret.jpg", id="dot-dot-outside-folder"),
    pytest.param(b"/a/../../outside/secret.jpg", id="dot-dot-twice-from-folder"),
    pytest.param(b"/a/../x.jpg", id="dot-dot-staying-inside"),
    pytest.param(b"/gallery/..", id="dot-dot-last"),
    pytest.param(b"/..", id="dot-dot-only"),
    pytest.param(b"/./x.jpg", id="dot-first"),
    pytest.param(b"/a/./x.jpg", id="dot-middle"),
    pytest.param(b"/.", id="dot-only"),
    # dot segments, percent-encoded once (any case)
    pytest.param(b"/%2e%2e/x.jpg", id="encoded-dot-dot"),
    pytest.param(b"/%2e%2e/outside/secret.jpg", id="encoded-dot-dot-outside"),
    pytest.param(b"/a/%2e%2e/%2e%2e/outside/secret.jpg", id="encoded-dot-dot-twice"),
    pytest.param(b"/%2E%2E/outside/secret.jpg", id="encoded-dot-dot-upper"),
    pytest.param(b"/%2e%2E/outside/secret.jpg", id="encoded-dot-dot-mixed-case"),
    pytest.param(b"/.%2e/outside/secret.jpg", id="half-encoded-dot-dot"),
    pytest.param(b"/%2E./outside/secret.jpg", id="other-half-encoded-dot-dot-upper"),
    pytest.param(b"/%2e/x.jpg", id="encoded-dot"),
    pytest.param(b"/a/%2E/x.jpg", id="encoded-dot-upper"),
    # encoded slashes and backslashes, raw backslashes
    pytest.param(b"/a%2fx.jpg", id="encoded-slash-lower"),
    pytest.param(b"/a%2Fx.jpg", id="encoded-slash-upper"),
    pytest.param(b"/..%2foutside%2fsecret.jpg", id="encoded-slash-traversal"),
    pytest.param(b"/%2e%2e%2Foutside%2Fsecret.jpg", id="fully-encoded-traversal"),
    pytest.param(b"/%2fetc%2fpasswd", id="encoded-slash-absolute"),
    pytest.param(b"/a%5cx.jpg", id="encoded-backslash-lower"),
    pytest.param(b"/a%5Cx.jpg", id="encoded-backslash-upper"),
    pytest.param(b"/..%5coutside%5csecret.jpg", id="encoded-backslash-traversal"),
    pytest.param(b"/a\\x.jpg", id="raw-backslash"),
    pytest.param(b"/..\\outside\\secret.jpg", id="raw-backslash-traversal"),
    pytest.param(b"/\\..\\x.jpg", id="raw-backslash-first"),
    # NUL and other control characters, percent-encoded (raw ones: PARSER_REJECTS)
    pytest.param(b"/x.jpg%00", id="encoded-nul-last"),
    pytest.param(b"/x.jpg%00.png", id="encoded-nul-before-extension"),
    pytest.param(b"/%00/x.jpg", id="encoded-nul-segment"),
    pytest.param(b"/a%01.jpg", id="encoded-soh"),
    pytest.param(b"/a%09.jpg", id="encoded-tab"),
    pytest.param(b"/a%0a.jpg", id="encoded-lf"),
    pytest.param(b"/a%0D.jpg", id="encoded-cr"),
    pytest.param(b"/a%0d%0aX-Injected:%201.jpg", id="encoded-crlf-header-injection"),
    pytest.param(b"/a%1b%5b31m.jpg", id="encoded-escape-sequence"),
    pytest.param(b"/a%1F.jpg", id="encoded-unit-separator"),
    pytest.param(b"/a%7f.jpg", id="encoded-del"),
    pytest.param(b"/a%C2%85.jpg", id="encoded-c1-next-line"),
    pytest.param(b"/a%C2%9B.jpg", id="encoded-c1-csi"),
    # overlong UTF-8 and other invalid UTF-8
    pytest.param(b"/%c0%ae%c0%ae/outside/secret.jpg", id="overlong-utf8-dots"),
    pytest.param(b"/%C0%AE%C0%AE/x.jpg", id="overlong-utf8-dots-upper"),
    pytest.param(b"/..%c0%afoutside%c0%afsecret.jpg", id="overlong-utf8-slash"),
    pytest.param(b"/..%c1%9coutside%c1%9csecret.jpg", id="overlong-utf8-backslash"),
    pytest.param(b"/%e0%80%ae%e0%80%ae/x.jpg", id="overlong-utf8-dots-three-bytes"),
    pytest.param(b"/%f0%80%80%ae%f0%80%80%ae/x.jpg", id="overlong-utf8-dots-four-bytes"),
    pytest.param(b"/%c0%80.jpg", id="overlong-utf8-nul"),
    pytest.param(b"/%ff.jpg", id="invalid-utf8-ff"),
    pytest.param(b"/%c3.jpg", id="invalid-utf8-truncated"),
    pytest.param(b"/%ed%a0%80.jpg", id="invalid-utf8-surrogate"),
    pytest.param(b"/%f8%88%80%80%80.jpg", id="invalid-utf8-five-bytes"),
    pytest.param(b"/%fe%ff/x.jpg", id="invalid-utf8-bom-bytes"),
    # empty segments: absolute-path tricks, folders asked for with a slash
    pytest.param(b"//etc/passwd", id="double-slash-etc-passwd"),
    pytest.param(b"///etc/passwd", id="triple-slash-etc-passwd"),
    pytest.param(b"//x.jpg", id="double-slash-first"),
    pytest.param(b"//127.0.0.1/x.jpg", id="network-path-reference"),
    pytest.param(b"/a//x.jpg", id="double-slash-middle"),
    pytest.param(b"/x.jpg/", id="trailing-slash-on-file"),
    pytest.param(b"/gallery/", id="trailing-slash-on-folder"),
    pytest.param(b"/gallery/deep/", id="trailing-slash-on-subfolder"),
    pytest.param(b"/", id="root"),
    # absolute-form request targets: the path part is checked the same way
    pytest.param(b"http://127.0.0.1/../outside/secret.jpg", id="absolute-form-dot-dot"),
    pytest.param(b"http://127.0.0.1//etc/passwd", id="absolute-form-double-slash"),
    pytest.param(b"http://127.0.0.1/%2e%2e/x.jpg", id="absolute-form-encoded-dot-dot"),
    # a segment longer than a file name can be (255 bytes): refused as a path
    pytest.param(b"/" + b"a" * 296 + b".jpg", id="segment-of-300-bytes"),
    pytest.param(b"/a/" + b"%C3%A9" * 128 + b".jpg", id="segment-of-260-bytes-after-decoding"),
]


@WITH_AND_WITHOUT_TOKEN
@pytest.mark.parametrize("target", NOT_CANONICAL)
def test_not_canonical_is_400_before_the_token(served: Served, target: bytes, with_token: bool) -> None:
    response = exchange(served.port, signed(target) if with_token else target)
    assert_error(response, 400, "invalid path")
    assert "x-injected" not in response.headers


# --- canonical, but naming nothing: 403 without a token, 404 with one ------------------------------

NOTHING_THERE = [
    # decoded exactly once: what is left is a literal name
    pytest.param(b"/%252e%252e/x.jpg", id="double-encoded-dot-dot"),
    pytest.param(b"/%252e%252e/outside/secret.jpg", id="double-encoded-dot-dot-outside"),
    pytest.param(b"/a/%252E%252E/%252E%252E/outside/x.jpg", id="double-encoded-dot-dot-upper-twice"),
    pytest.param(b"/%252e%252e%252foutside%252fsecret.jpg", id="double-encoded-traversal"),
    pytest.param(b"/%25c0%25ae%25c0%25ae/outside/secret.jpg", id="double-encoded-overlong-dots"),
    pytest.param(b"/..%255coutside%255csecret.jpg", id="double-encoded-backslash"),
    # no Unicode normalisation: lookalike dots and slashes stay literal characters
    pytest.param(b"/%EF%BC%8E%EF%BC%8E/outside/secret.jpg", id="fullwidth-dots"),
    pytest.param(b"/%EF%BC%8E%EF%BC%8E/x.jpg", id="fullwidth-dots-to-sibling"),
    pytest.param(b"/a/%EF%BC%8E%EF%BC%8E/%EF%BC%8E%EF%BC%8E/outside/secret.jpg", id="fullwidth-dots-twice"),
    pytest.param(b"/..%EF%BC%8Foutside%EF%BC%8Fsecret.jpg", id="fullwidth-solidus"),
    pytest.param(b"/..%EF%BC%BCoutside%EF%BC%BCsecret.jpg", id="fullwidth-reverse-solidus"),
    pytest.param(b"/%E2%80%A5/x.jpg", id="two-dot-leader"),
    pytest.param(b"/%E2%88%95etc%E2%88%95passwd", id="division-slash"),
    pytest.param(b"/.../x.jpg", id="three-dots-is-a-name"),
    # a folder is not a file (README: "A folder is a 404")
    pytest.param(b"/gallery", id="folder"),
    pytest.param(b"/gallery/deep", id="subfolder"),
    pytest.param(b"/linked-gallery", id="symlinked-folder-inside"),
    # absolute-looking names are relative to the root
    pytest.param(b"/etc/passwd", id="etc-passwd-under-the-root"),
    pytest.param(b"/etc/passwd.jpg", id="etc-passwd-jpg-under-the-root"),
    pytest.param(b"/proc/self/environ", id="proc-self-environ-under-the-root"),
    # symlink loops resolve to nothing (inside the root)
    pytest.param(b"/loop-a.jpg", id="symlink-loop"),
    pytest.param(b"/self.jpg", id="symlink-to-itself"),
    pytest.param(b"/loopdir/x.jpg", id="symlinked-folder-loop"),
    # the longest name a file can have is still just a name
    pytest.param(b"/" + b"a" * 251 + b".jpg", id="segment-of-255-bytes"),
    pytest.param(b"/nope.jpg", id="missing-file"),
]


@WITH_AND_WITHOUT_TOKEN
@pytest.mark.parametrize("target", NOTHING_THERE)
def test_nothing_there_is_403_then_404(served: Served, target: bytes, with_token: bool) -> None:
    if with_token:
        assert_error(exchange(served.port, signed(target)), 404, "not found")
    else:
        assert_error(exchange(served.port, target), 403, auth_result="missing token")


# --- symlinks out of the root: 403 without a token, 400 with one ------------------------------------

SYMLINKS_OUT = [
    pytest.param(b"/escape.jpg", id="file-symlink-absolute"),
    pytest.param(b"/relative-escape.jpg", id="file-symlink-relative"),
    pytest.param(b"/a/deep-escape.jpg", id="file-symlink-from-subfolder"),
    pytest.param(b"/hop.jpg", id="symlink-chain-ending-outside"),
    pytest.param(b"/dangling-escape.jpg", id="dangling-symlink-outside"),
    pytest.param(b"/passwd.jpg", id="symlink-to-etc-passwd"),
    pytest.param(b"/linked-outside/secret.jpg", id="folder-symlink-absolute"),
    pytest.param(b"/linked-outside-relative/secret.jpg", id="folder-symlink-relative"),
    pytest.param(b"/linked-outside/x.jpg", id="folder-symlink-other-file"),
    pytest.param(b"/linked-outside/missing.jpg", id="folder-symlink-missing-file"),
    pytest.param(b"/linked-outside", id="folder-symlink-itself"),
    pytest.param(b"/passwd", id="file-symlink-without-image-extension"),
]


@pytest.mark.parametrize("target", SYMLINKS_OUT)
def test_symlink_out_of_the_root_without_token_is_403(served: Served, target: bytes) -> None:
    """Without a valid token nothing is resolved: the 403 says nothing about what the name is."""
    assert_error(exchange(served.port, target), 403, auth_result="missing token")


@pytest.mark.parametrize("target", SYMLINKS_OUT)
def test_symlink_out_of_the_root_with_token_is_400(served: Served, target: bytes) -> None:
    """SPEC §1: a path that resolves (symlinks included) outside the root is ``400 invalid path``."""
    assert_error(exchange(served.port, signed(target)), 400, "invalid path")


# --- the harness serves what it should --------------------------------------------------------------

INSIDE = [
    pytest.param(b"/x.jpg", id="file"),
    pytest.param(b"/a/x.jpg", id="file-in-folder"),
    pytest.param(b"/gallery/deep/three.jpg", id="file-in-subfolder"),
    pytest.param(b"/alias.jpg", id="file-symlink-inside"),
    pytest.param(b"/linked-gallery/one.jpg", id="folder-symlink-inside"),
    pytest.param(b"http://127.0.0.1/x.jpg", id="absolute-form"),
]


@pytest.mark.parametrize("target", INSIDE)
def test_inside_the_root_is_served_with_a_token(served: Served, target: bytes) -> None:
    assert_image(exchange(served.port, signed(target)))


@pytest.mark.parametrize("target", INSIDE)
def test_inside_the_root_is_403_without_a_token(served: Served, target: bytes) -> None:
    assert_error(exchange(served.port, target), 403, auth_result="missing token")


def test_a_fragment_is_not_part_of_the_path(served: Served) -> None:
    """``#`` ends the path: what follows is never resolved (and a token after it is no token)."""
    target = b"/x.jpg#/../../outside/secret.jpg?jwt=" + token()
    assert_error(exchange(served.port, target), 403, auth_result="missing token")


# --- length --------------------------------------------------------------------------------------------

OVER_MAX_URL_LENGTH = [
    pytest.param(b"/" + b"a/" * 5120 + b"x.jpg", id="path-of-10kb-short-segments"),
    pytest.param(b"/" + b"%2e%2e/" * 1500 + b"x.jpg", id="path-of-10kb-encoded-dot-dots"),
    pytest.param(b"/" + b"../" * 3500 + b"etc/passwd", id="path-of-10kb-dot-dots"),
    pytest.param(b"/x.jpg?w=1&" + b"x" * 10240, id="query-of-10kb"),
    pytest.param(b"/" + b"a" * 60000 + b".jpg", id="path-of-60kb"),
]


@pytest.mark.parametrize("target", OVER_MAX_URL_LENGTH)
def test_over_max_url_length_is_414_first(served: Served, target: bytes) -> None:
    """Over ``max_url_length`` (8192 bytes) the answer is 414, before the path or token is read."""
    assert_error(exchange(served.port, target), 414)


# --- the HTTP parser refuses before the app ---------------------------------------------------------

PARSER_REJECTS = [
    pytest.param(b"GET", b"/a\x00.jpg", id="raw-nul"),
    pytest.param(b"GET", b"/a\x01.jpg", id="raw-soh"),
    pytest.param(b"GET", b"/a\x1b.jpg", id="raw-escape"),
    pytest.param(b"GET", b"/a\x7f.jpg", id="raw-del"),
    pytest.param(b"GET", b"/a\tb.jpg", id="raw-tab"),
    pytest.param(b"GET", b"/\xff.jpg", id="raw-invalid-utf8"),
    pytest.param(b"GET", b"/\xc0\xae\xc0\xae/outside/secret.jpg", id="raw-overlong-utf8-dots"),
    pytest.param(b"GET", b"/\xef\xbc\x8e\xef\xbc\x8e/outside/secret.jpg", id="raw-fullwidth-dots"),
    pytest.param(b"GET", b"../outside/secret.jpg", id="relative-target"),
    pytest.param(b"GET", b"file:///etc/passwd", id="file-scheme"),
    pytest.param(b"GET", b"/" + b"a" * (1 << 20) + b".jpg", id="path-of-1mb"),
    pytest.param(b"BREW", b"/x.jpg", id="unknown-method"),
    pytest.param(b"CONNECT", b"127.0.0.1:22", id="connect"),
]


@pytest.mark.parametrize(("method", "target"), PARSER_REJECTS)
def test_requests_the_http_parser_refuses(served: Served, method: bytes, target: bytes) -> None:
    """uvicorn's parser answers these itself (a plain-text 400; the app never sees them): no file,
    no token check, nothing from outside the root. The body is uvicorn's, not the origin's JSON."""
    for request_target in (target, signed(target)):
        response = exchange(served.port, request_target, method=method)
        assert_nothing_leaked(response)
        assert response.status == 400, response.raw[:600]
        assert "x-auth-result" not in response.headers
        assert not response.headers.get("content-type", "").startswith("image/")


# --- methods ------------------------------------------------------------------------------------------

OTHER_METHODS = [b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE"]
METHOD_TARGETS = [
    pytest.param(b"/x.jpg", False, id="file-no-token"),
    pytest.param(b"/x.jpg", True, id="file-valid-token"),
    pytest.param(b"/escape.jpg", True, id="symlink-out-valid-token"),
    pytest.param(b"/nope.jpg", True, id="missing-file-valid-token"),
    pytest.param(b"/healthz", False, id="healthz"),
]


@pytest.mark.parametrize("method", [pytest.param(method, id=method.decode()) for method in OTHER_METHODS])
@pytest.mark.parametrize(("target", "with_token"), METHOD_TARGETS)
def test_other_methods_are_405(served: Served, method: bytes, target: bytes, with_token: bool) -> None:
    body = b'{"filename": "/x.jpg"}' if method in (b"POST", b"PUT", b"PATCH") else b""
    probe = b"X-Trace-Probe: probe-5b1e0c"
    response = exchange(served.port, signed(target) if with_token else target, method, (probe,), body)
    assert_error(response, 405)
    assert {"GET", "HEAD"} <= {name.strip() for name in response.headers["allow"].split(",")}
    assert b"probe-5b1e0c" not in response.raw  # TRACE never echoes the request


@pytest.mark.parametrize("method", [pytest.param(method, id=method.decode()) for method in OTHER_METHODS])
def test_other_methods_on_a_traversal_are_400(served: Served, method: bytes) -> None:
    """The path is checked before anything else, the method included."""
    response = exchange(served.port, signed(b"/../outside/secret.jpg"), method)
    assert_error(response, 400, "invalid path")


def test_options_asterisk_is_not_a_path(served: Served) -> None:
    """``OPTIONS *`` names no path: ``400 invalid path`` (the path check runs before routing)."""
    assert_error(exchange(served.port, b"*", b"OPTIONS"), 400, "invalid path")


HEAD_CASES = [
    pytest.param(b"/x.jpg", False, 403, "missing token", id="file-no-token"),
    pytest.param(b"/x.jpg", True, 200, "ok", id="file-valid-token"),
    pytest.param(b"/../outside/secret.jpg", True, 400, None, id="dot-dot-valid-token"),
    pytest.param(b"/%2e%2e/outside/secret.jpg", False, 400, None, id="encoded-dot-dot-no-token"),
    pytest.param(b"/escape.jpg", True, 400, None, id="symlink-out-valid-token"),
    pytest.param(b"/escape.jpg", False, 403, "missing token", id="symlink-out-no-token"),
    pytest.param(b"/gallery", True, 404, None, id="folder-valid-token"),
    pytest.param(b"/" + b"a/" * 5120 + b"x.jpg", False, 414, None, id="path-of-10kb"),
]


@pytest.mark.parametrize(("target", "with_token", "status", "auth_result"), HEAD_CASES)
def test_head_answers_the_headers_of_get(
    served: Served, target: bytes, with_token: bool, status: int, auth_result: str | None
) -> None:
    """SPEC §1/§6: HEAD is served like GET (not a 405), with the same status and headers, no body."""
    request_target = signed(target) if with_token else target
    head = exchange(served.port, request_target, b"HEAD")
    get = exchange(served.port, request_target)
    assert_nothing_leaked(head)
    assert head.status == get.status == status, head.raw[:600]
    assert head.body == b""
    assert head.headers.get("x-auth-result") == auth_result
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["cache-control"] == get.headers["cache-control"]
    if status == 200:
        assert head.headers["content-type"].startswith("image/")
        assert head.headers["etag"] == get.headers["etag"]
    else:
        assert head.headers["content-type"].startswith("application/json")
        assert head.headers["cache-control"] == "no-store"
