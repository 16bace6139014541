"""Passthrough files (SPEC §1, ``origin/files.py``): video, audio, PDF and archives behind the same
protection rules as images, served byte for byte with ranges, validators and caching headers, and
never processed: an imaging parameter on such a file is a 400."""

from __future__ import annotations

import email.utils
import gzip
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from starlette.testclient import TestClient

from origin import Rule, Settings, create_app
from origin.settings import DEFAULT_PASSTHROUGH_TYPES, with_overrides
from tests.conftest import SECRET, Sign, make_token
from tests.tokens import MISSING

CLIP = random.Random(1).randbytes(300 * 1024)  # stands for an MP4: never parsed, so any bytes will do
MOVIE = random.Random(2).randbytes(40_000)
SONG = random.Random(3).randbytes(20_000)
DOCUMENT = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ARCHIVE = gzip.compress(b"a tar of nothing in particular\n" * 200, mtime=0)
PAGE = b"<!doctype html><script>alert(document.cookie)</script>"
LOGO = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
NOTES = b"plain words, not a page\n"
SIZE = len(CLIP)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    (root / "public").mkdir(parents=True)
    for name, data in {
        "clip.mp4": CLIP,
        "movie.webm": MOVIE,
        "song.mp3": SONG,
        "doc.pdf": DOCUMENT,
        "archive.tar.gz": ARCHIVE,
        "page.html": PAGE,
        "logo.svg": LOGO,
        "notes.txt": NOTES,
        "public/clip.mp4": CLIP,
    }.items():
        (root / name).write_bytes(data)
    return root


@pytest.fixture
def settings(root: Path) -> Settings:
    return Settings(root=root, keys={"main": SECRET}, render_concurrency=1)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def problems(response: httpx2.Response) -> dict[str, str]:
    """The parameters a 400 names (after checking it is one)."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid parameters"
    named: dict[str, str] = body["parameters"]
    return named


# ------------------------------------------------------------------------------------ whole files


@pytest.mark.parametrize(
    ("path", "data", "media_type"),
    [
        ("/clip.mp4", CLIP, "video/mp4"),
        ("/movie.webm", MOVIE, "video/webm"),
        ("/song.mp3", SONG, "audio/mpeg"),
        ("/doc.pdf", DOCUMENT, "application/pdf"),
        ("/archive.tar.gz", ARCHIVE, "application/gzip"),
    ],
)
def test_a_file_is_served_as_it_is(client: TestClient, sign: Sign, path: str, data: bytes, media_type: str) -> None:
    response = client.get(sign(path))
    assert response.status_code == 200, response.text
    assert response.content == data
    headers = response.headers
    assert headers["content-type"] == media_type
    assert headers["content-length"] == str(len(data))
    assert "content-encoding" not in headers  # a .gz is the archive itself, never a compressed transfer
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["accept-ranges"] == "bytes"
    assert headers["x-auth-result"] == "ok"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["content-disposition"] == f'inline; filename="{path[1:]}"'
    assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
    assert "x-cache" not in headers and "server-timing" not in headers  # nothing was rendered


@pytest.mark.parametrize("path", ["/page.html", "/logo.svg"])
def test_pages_and_scripts_are_not_passthrough_files(client: TestClient, sign: Sign, path: str) -> None:
    response = client.get(sign(path))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == "not found"
    assert b"script" not in response.content


def test_an_operator_may_add_text_files(settings: Settings, sign: Sign) -> None:
    assert TestClient(create_app(settings)).get(sign("/notes.txt")).status_code == 404  # not a default type
    with_text = with_overrides(settings, passthrough_types=DEFAULT_PASSTHROUGH_TYPES | {"txt"})
    response = TestClient(create_app(with_text)).get(sign("/notes.txt"))
    assert response.status_code == 200
    assert response.content == NOTES
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_page_added_as_a_passthrough_type_is_never_served_as_a_page(settings: Settings, sign: Sign) -> None:
    odd = with_overrides(settings, passthrough_types=DEFAULT_PASSTHROUGH_TYPES | {"html", "svg"})
    client = TestClient(create_app(odd))
    for path, data in (("/page.html", PAGE), ("/logo.svg", LOGO)):
        response = client.get(sign(path))
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_image_extension_always_goes_through_the_image_pipeline(settings: Settings, root: Path, sign: Sign) -> None:
    (root / "fake.jpg").write_bytes(CLIP[:5000])
    with_jpg = with_overrides(settings, passthrough_types=DEFAULT_PASSTHROUGH_TYPES | {"jpg"})
    response = TestClient(create_app(with_jpg)).get(sign("/fake.jpg"))
    assert response.status_code == 422  # decoded (and refused), not handed out as it is
    assert response.content != CLIP[:5000]


def test_max_source_bytes_does_not_apply_to_files(settings: Settings, sign: Sign) -> None:
    small = with_overrides(settings, max_source_bytes=1000)
    response = TestClient(create_app(small)).get(sign("/clip.mp4"))
    assert response.status_code == 200
    assert response.content == CLIP
    assert response.headers["content-length"] == str(SIZE)


# ------------------------------------------------------------------------------------------ ranges


@pytest.mark.parametrize(
    ("range_", "start", "end"),
    [
        ("bytes=100-199", 100, 200),
        ("bytes=0-0", 0, 1),
        ("bytes=-100", SIZE - 100, SIZE),
        ("bytes=100-", 100, SIZE),
        (f"bytes={SIZE - 10}-{SIZE + 5000}", SIZE - 10, SIZE),  # an end past the file is cut to it
    ],
)
def test_a_single_range_is_a_206_of_exactly_those_bytes(
    client: TestClient, sign: Sign, range_: str, start: int, end: int
) -> None:
    response = client.get(sign("/clip.mp4"), headers={"Range": range_})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}"
    assert response.headers["content-length"] == str(end - start)
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == CLIP[start:end]


def test_several_ranges_are_a_multipart_of_exactly_those_bytes(client: TestClient, sign: Sign) -> None:
    response = client.get(sign("/clip.mp4"), headers={"Range": "bytes=0-9, 1000-1099, -16"})
    assert response.status_code == 206
    media_type, _, boundary = response.headers["content-type"].partition("; boundary=")
    assert media_type == "multipart/byteranges" and boundary
    assert response.headers["content-length"] == str(len(response.content))
    body = response.content
    assert body.startswith(b"--" + boundary.encode()) and body.endswith(b"--" + boundary.encode() + b"--")
    parts = body.split(b"--" + boundary.encode())[1:-1]
    wanted = [(0, 10), (1000, 1100), (SIZE - 16, SIZE)]
    assert len(parts) == len(wanted)
    for part, (start, end) in zip(parts, wanted, strict=True):
        head, _, data = part.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n") if line)
        assert fields == {"Content-Type": "video/mp4", "Content-Range": f"bytes {start}-{end - 1}/{SIZE}"}
        assert data == CLIP[start:end] + b"\r\n"


@pytest.mark.parametrize("range_", [f"bytes={SIZE}-", f"bytes={SIZE + 100}-{SIZE + 200}"])
def test_a_range_past_the_end_is_a_416(client: TestClient, sign: Sign, range_: str) -> None:
    response = client.get(sign("/clip.mp4"), headers={"Range": range_})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SIZE}"
    assert response.headers["cache-control"] == "no-store"
    assert CLIP[:100] not in response.content


def test_if_range_with_the_current_validator_gives_the_range(client: TestClient, sign: Sign) -> None:
    full = client.get(sign("/clip.mp4"))
    for validator in (full.headers["etag"], full.headers["last-modified"]):
        response = client.get(sign("/clip.mp4"), headers={"Range": "bytes=10-19", "If-Range": validator})
        assert response.status_code == 206, validator
        assert response.content == CLIP[10:20]


def test_if_range_with_an_old_validator_gives_the_whole_file(client: TestClient, sign: Sign) -> None:
    older = email.utils.formatdate(time.time() - 86400, usegmt=True)
    for validator in ('"an-old-etag"', older, "W/" + client.get(sign("/clip.mp4")).headers["etag"]):
        response = client.get(sign("/clip.mp4"), headers={"Range": "bytes=10-19", "If-Range": validator})
        assert response.status_code == 200, validator
        assert response.content == CLIP
        assert "content-range" not in response.headers


# ------------------------------------------------------------------------------ validators, caching


def test_the_etag_is_the_same_in_every_process_and_changes_with_the_file(
    settings: Settings, root: Path, sign: Sign
) -> None:
    first = TestClient(create_app(settings)).get(sign("/clip.mp4")).headers["etag"]
    second = TestClient(create_app(settings)).get(sign("/clip.mp4")).headers["etag"]
    assert first == second
    assert not first.startswith("W/")
    assert TestClient(create_app(settings)).get(sign("/public/clip.mp4")).headers["etag"] != first  # same bytes

    stat = os.stat(root / "clip.mp4")
    (root / "clip.mp4").write_bytes(CLIP[::-1])
    os.utime(root / "clip.mp4", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    client = TestClient(create_app(settings))
    changed = client.get(sign("/clip.mp4"), headers={"If-None-Match": first})
    assert changed.status_code == 200
    assert changed.content == CLIP[::-1]
    assert changed.headers["etag"] != first
    # An If-Range naming the old version gets the whole new file, never a range of it spliced onto the old.
    resumed = client.get(sign("/clip.mp4"), headers={"Range": "bytes=0-99", "If-Range": first})
    assert resumed.status_code == 200
    assert resumed.content == CLIP[::-1]


def test_if_none_match_is_a_304_without_a_body(client: TestClient, sign: Sign) -> None:
    etag = client.get(sign("/clip.mp4")).headers["etag"]
    for condition in (etag, f'"other", {etag}', "W/" + etag, "*"):
        response = client.get(sign("/clip.mp4"), headers={"If-None-Match": condition})
        assert response.status_code == 304, condition
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"].startswith("public, max-age=")
    assert client.get(sign("/clip.mp4"), headers={"If-None-Match": '"other"'}).status_code == 200


def test_last_modified_is_the_files_mtime(client: TestClient, root: Path, sign: Sign) -> None:
    os.utime(root / "clip.mp4", (1_700_000_000, 1_700_000_000))
    response = client.get(sign("/clip.mp4"))
    assert response.headers["last-modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_head_answers_the_headers_of_get(client: TestClient, sign: Sign) -> None:
    url = sign("/clip.mp4")
    got, head = client.get(url), client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    for name in (
        "content-type",
        "content-length",
        "etag",
        "last-modified",
        "accept-ranges",
        "content-disposition",
        "x-content-type-options",
        "x-auth-result",
        "access-control-allow-origin",
    ):
        assert head.headers[name] == got.headers[name], name
    assert head.headers["cache-control"].startswith("public, max-age=")
    ranged = client.head(url, headers={"Range": "bytes=5-9"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 5-9/{SIZE}"
    assert ranged.content == b""


def test_max_age_never_outlives_the_token(client: TestClient, sign: Sign) -> None:
    before = time.time()
    response = client.get(sign("/clip.mp4", exp_in=120))
    cache_control = response.headers["cache-control"]
    assert cache_control.startswith("public, max-age=")
    max_age = int(cache_control.removeprefix("public, max-age="))
    assert 115 <= max_age <= 120
    expires = email.utils.parsedate_to_datetime(response.headers["expires"]).timestamp()
    assert abs(expires - (before + max_age)) <= 2


def test_a_public_rule_serves_without_a_token_with_its_own_max_age(settings: Settings) -> None:
    public = with_overrides(
        settings, rules=(Rule(prefix="/"), Rule(prefix="/public/", protect=False, cache_max_age=900))
    )
    client = TestClient(create_app(public))
    response = client.get("/public/clip.mp4")
    assert response.status_code == 200
    assert response.content == CLIP
    assert response.headers["cache-control"] == "public, max-age=900"
    assert "x-auth-result" not in response.headers
    ranged = client.get("/public/clip.mp4", headers={"Range": "bytes=-5"})
    assert ranged.status_code == 206 and ranged.content == CLIP[-5:]
    assert client.get("/clip.mp4").status_code == 403  # the rest of the root stays protected


# ------------------------------------------------------------------------------------- protection


@pytest.mark.parametrize("path", ["/clip.mp4", "/missing.mp4", "/nowhere/missing.pdf"])
def test_without_a_token_a_protected_file_is_a_403_whether_or_not_it_exists(client: TestClient, path: str) -> None:
    for response in (client.get(path), client.head(path), client.get(path, headers={"Range": "bytes=0-9"})):
        assert response.status_code == 403
        assert response.headers["x-auth-result"] == MISSING
        assert response.headers["cache-control"] == "no-store"
        assert CLIP[:10] not in response.content


def test_with_a_token_a_missing_file_is_a_404(client: TestClient, sign: Sign) -> None:
    response = client.get(sign("/missing.mp4"))
    assert response.status_code == 404
    assert response.json()["error"] == "not found"


def test_a_token_for_another_path_does_not_open_a_file(client: TestClient) -> None:
    token = make_token(aud="/public/")
    response = client.get(f"/clip.mp4?jwt={token}")
    assert response.status_code == 403
    assert response.headers["x-auth-result"] == "audience mismatch"


def test_a_symlink_out_of_the_root_is_not_followed(settings: Settings, root: Path, tmp_path: Path, sign: Sign) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = b"bytes that live outside the image root " * 100
    (outside / "secret.mp4").write_bytes(secret)
    (root / "link.mp4").symlink_to(outside / "secret.mp4")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    client = TestClient(create_app(settings))
    for path in ("/link.mp4", "/linked/secret.mp4"):
        for headers in ({}, {"Range": "bytes=0-9"}):
            response = client.get(sign(path), headers=headers)
            assert response.status_code in (400, 404), (path, response.status_code)
            assert secret[:10] not in response.content
            if response.status_code == 400:
                assert response.json()["error"] == "invalid path"


def test_a_symlink_inside_the_root_is_served(settings: Settings, root: Path, sign: Sign) -> None:
    (root / "alias.mp4").symlink_to(root / "clip.mp4")
    response = TestClient(create_app(settings)).get(sign("/alias.mp4"))
    assert response.status_code == 200
    assert response.content == CLIP


# ---------------------------------------------------------------------------------- dl and params


@pytest.mark.parametrize(
    ("query", "args", "kind"),
    [
        ("", None, "inline"),
        ("dl=true", None, "attachment"),
        ("dl=1", None, "attachment"),
        ("dl=false", None, "inline"),
        ("", {"dl": True}, "attachment"),
        ("", {"dl": "true"}, "attachment"),
        ("", {"dl": False}, "inline"),
        ("dl=true", {"dl": False}, "inline"),  # the token wins
        ("dl=false", {"dl": True}, "attachment"),
    ],
)
def test_dl_asks_for_a_download(
    client: TestClient, sign: Sign, query: str, args: dict[str, object] | None, kind: str
) -> None:
    claims = {} if args is None else {"args": args}
    response = client.get(sign("/clip.mp4", query=query, **claims))
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == f'{kind}; filename="clip.mp4"'
    assert response.content == CLIP


@pytest.mark.parametrize(
    ("query", "args", "named"),
    [
        ("w=300", None, {"w"}),
        ("", {"w": 300}, {"w"}),
        ("format=webp", None, {"format"}),
        ("text=hello", None, {"text"}),
        ("", {"text": "hello"}, {"text"}),
        ("", {"watermark": "/logo.png"}, {"watermark"}),
        ("profile=brand", None, {"profile"}),
        ("bogus=1", None, {"bogus"}),
        ("", {"bogus": 1}, {"bogus"}),
        ("dl=maybe", None, {"dl"}),
        ("", {"dl": "maybe"}, {"dl"}),
        ("dl=true&dl=true", None, {"dl"}),
        ("w=300&h=200&dl=true", None, {"w", "h"}),
    ],
)
def test_a_parameter_other_than_dl_is_a_400_naming_it(
    client: TestClient, sign: Sign, query: str, args: dict[str, object] | None, named: set[str]
) -> None:
    claims = {} if args is None else {"args": args}
    response = client.get(sign("/clip.mp4", query=query, **claims), headers={"Range": "bytes=0-9"})
    assert set(problems(response)) == named
    assert response.headers["cache-control"] == "no-store"
    assert CLIP[:10] not in response.content


def test_an_unknown_parameter_is_reported_as_unknown(client: TestClient, sign: Sign) -> None:
    response = client.get(sign("/clip.mp4", query="bogus=1&dl=maybe"))
    named = problems(response)
    assert named["bogus"] == "unknown parameter"
    assert set(named) == {"bogus", "dl"}


def test_a_rule_without_dl_unsigned_refuses_it_from_the_query(settings: Settings, sign: Sign) -> None:
    strict = with_overrides(settings, rules=(Rule(prefix="/", unsigned_allowed=frozenset({"w", "h"})),))
    client = TestClient(create_app(strict))
    assert set(problems(client.get(sign("/clip.mp4", query="dl=true")))) == {"dl"}
    signed = client.get(sign("/clip.mp4", args={"dl": True}))
    assert signed.status_code == 200
    assert signed.headers["content-disposition"] == 'attachment; filename="clip.mp4"'
    allowed = with_overrides(settings, rules=(Rule(prefix="/", unsigned_allowed=frozenset({"dl"})),))
    response = TestClient(create_app(allowed)).get(sign("/clip.mp4", query="dl=true"))
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="clip.mp4"'


def test_a_rule_with_a_strict_profile_cannot_serve_files(settings: Settings, tmp_path: Path, sign: Sign) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "brand.json").write_text(json.dumps({"q": 70}))
    branded = with_overrides(
        settings, profiles_dir=profiles, rules=(Rule(prefix="/"), Rule(prefix="/public/", profile="brand"))
    )
    client = TestClient(create_app(branded))
    assert "profile (strict)" in problems(client.get(sign("/public/clip.mp4")))
    assert client.get(sign("/clip.mp4")).status_code == 200  # other rules are not affected
