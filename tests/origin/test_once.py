"""One-time links (SPEC §3, ``origin/once.py``): a token with ``"use": "once"`` and a ``jti`` serves one
download, images and passthrough files alike; a ``Range`` request may resume it within the grace
window; a request that fails does not use it up; and twenty requests racing for it, on one process
or on two sharing a marker folder, get exactly one 200."""

from __future__ import annotations

import http.client
import random
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.errors import AuthError, OverloadedError
from origin.once import KEEP_AFTER_EXPIRY, Claim, FolderLinks, MemoryLinks, UsedLinks, link_key
from origin.settings import with_overrides
from tests.conftest import FIXTURES, SECRET, make_token
from tests.live import live_server
from tests.tokens import ALREADY_USED, INVALID_PAYLOAD

CLIP = random.Random(7).randbytes(200 * 1024)
OTHER_SECRET = b"another-test-secret-abcdefghijklmnopqrstuvwxyz"
RACERS = 20


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir()
    shutil.copy(FIXTURES / "photo.jpg", root / "photo.jpg")
    (root / "clip.mp4").write_bytes(CLIP)
    return root


@pytest.fixture
def settings(root: Path) -> Settings:
    return Settings(root=root, keys={"main": SECRET}, render_concurrency=1)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def once(path: str, jti: str, *, query: str = "", key: bytes = SECRET, **claims: Any) -> str:
    token = make_token(use="once", jti=jti, key=key, **claims)
    return f"{path}?{query + '&' if query else ''}jwt={token}"


def assert_used(response: httpx2.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["x-auth-result"] == ALREADY_USED
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"error": "forbidden", "reason": ALREADY_USED}


# ------------------------------------------------------------------------------------ over HTTP


@pytest.mark.parametrize("path", ["/photo.jpg", "/clip.mp4"])
def test_a_one_time_link_serves_once(client: TestClient, path: str) -> None:
    url = once(path, "download-1")
    first = client.get(url)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "private, no-store"
    assert "expires" not in first.headers
    assert first.headers["x-auth-result"] == "ok"
    if path == "/clip.mp4":
        assert first.content == CLIP
    else:
        assert first.headers["content-type"] == "image/jpeg" and len(first.content) > 1000
    assert_used(client.get(url))
    assert_used(client.get(url))


@pytest.mark.parametrize("path", ["/photo.jpg", "/clip.mp4"])
def test_head_is_not_a_download_and_uses_nothing_up(client: TestClient, path: str) -> None:
    url = once(path, "looked-at-first")
    for _ in range(2):
        head = client.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["cache-control"] == "private, no-store"
    assert client.get(url).status_code == 200
    refused = client.head(url)  # once used, HEAD is refused like any other request (without a body)
    assert refused.status_code == 403 and refused.headers["x-auth-result"] == ALREADY_USED
    assert_used(client.get(url))


def test_an_ordinary_token_is_reusable_and_cacheable(client: TestClient) -> None:
    url = f"/clip.mp4?jwt={make_token(jti='not-a-one-time-link')}"
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"].startswith("public, max-age=")


def test_a_range_request_within_the_grace_window_resumes(client: TestClient) -> None:
    url = once("/clip.mp4", "resume")
    assert client.get(url).status_code == 200
    for range_, data in (("bytes=1000-1999", CLIP[1000:2000]), ("bytes=-50", CLIP[-50:])):
        response = client.get(url, headers={"Range": range_})
        assert response.status_code == 206
        assert response.content == data
        assert response.headers["cache-control"] == "private, no-store"
        assert "expires" not in response.headers
    assert_used(client.get(url))  # a whole second download is not a resume


def test_an_image_has_no_resumes(client: TestClient) -> None:
    """An image answers Range with the whole rendered image, so Range buys nothing after its one use."""
    url = once("/photo.jpg", "picture", query="w=100")
    assert client.get(url).status_code == 200
    assert_used(client.get(url, headers={"Range": "bytes=100-"}))


def test_a_resume_is_for_the_file_first_served_only(client: TestClient, root: Path) -> None:
    """A token for a folder serves one download of one file: a Range request for another file in the
    folder within the grace window is refused."""
    (root / "other.mp4").write_bytes(CLIP[::-1])
    token = make_token(use="once", jti="folder-link", aud="/")
    assert client.get(f"/clip.mp4?jwt={token}").status_code == 200
    assert_used(client.get(f"/other.mp4?jwt={token}", headers={"Range": "bytes=0-"}))
    assert client.get(f"/clip.mp4?jwt={token}", headers={"Range": "bytes=10-"}).status_code == 206


def test_no_resume_rides_on_a_first_use_that_then_fails() -> None:
    """While the first request is still pending, Range requests are refused; when it then fails and
    gives the link back, nothing has been served, so the link is whole again (no repeated downloads
    through a first request that keeps failing)."""
    links = MemoryLinks(grace=60, max_entries=10, leeway=5)
    now = time.time()
    pending = links.admit("main", "slow", "/clip.mp4", now + 300, ranged=False, now=now)
    with pytest.raises(AuthError):
        links.admit("main", "slow", "/clip.mp4", now + 300, ranged=True, now=now + 0.1)
    links.release(pending)
    assert links.admit("main", "slow", "/clip.mp4", now + 300, ranged=False, now=now + 0.2).first


def test_a_range_request_may_also_be_the_first_use(client: TestClient) -> None:
    url = once("/clip.mp4", "player")  # a player's first request is "bytes=0-"
    first = client.get(url, headers={"Range": "bytes=0-"})
    assert first.status_code == 206 and first.content == CLIP
    assert client.get(url, headers={"Range": "bytes=500-"}).content == CLIP[500:]
    assert_used(client.get(url))


def test_after_the_grace_window_a_range_request_is_refused(settings: Settings) -> None:
    client = TestClient(create_app(with_overrides(settings, once_grace=0.2)))
    url = once("/clip.mp4", "late")
    assert client.get(url).status_code == 200
    time.sleep(0.4)
    assert_used(client.get(url, headers={"Range": "bytes=1000-1999"}))


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/clip.mp4", "w=300", 400),
        ("/clip.mp4", "dl=maybe", 400),
        ("/photo.jpg", "w=0", 400),
        ("/photo.jpg", "bogus=1", 400),
        ("/missing.mp4", "", 404),
        ("/missing.jpg", "", 404),
    ],
)
def test_a_failed_first_request_does_not_use_the_link(client: TestClient, path: str, query: str, status: int) -> None:
    token = make_token(use="once", jti="try-again")
    assert client.get(f"{path}?{query}&jwt={token}").status_code == status
    good = client.get(f"/clip.mp4?jwt={token}")
    assert good.status_code == 200
    assert good.content == CLIP
    assert_used(client.get(f"/clip.mp4?jwt={token}"))


@pytest.mark.parametrize(
    ("range_", "status"),
    [
        (f"bytes={len(CLIP)}-", 416),  # past the end: nothing of the file was sent
        ("bytes=500-100", 400),  # malformed
    ],
)
def test_a_refused_range_does_not_use_the_link(client: TestClient, range_: str, status: int) -> None:
    url = once("/clip.mp4", "bad-range")
    refused = client.get(url, headers={"Range": range_})
    assert refused.status_code == status
    assert CLIP[:100] not in refused.content
    good = client.get(url)
    assert good.status_code == 200, "a refused Range request used the one-time link up"
    assert good.content == CLIP


@pytest.mark.parametrize(
    "claims",
    [
        {"use": "twice", "jti": "a"},
        {"use": "once"},
        {"use": "once", "jti": ""},
        {"use": "once", "jti": "x" * 129},
        {"use": "once", "jti": 5},
        {"use": "once", "jti": None},
        {"use": True, "jti": "a"},
        {"use": ["once"], "jti": "a"},
    ],
)
def test_a_malformed_one_time_claim_is_an_invalid_payload(client: TestClient, claims: dict[str, Any]) -> None:
    response = client.get(f"/clip.mp4?jwt={make_token(**claims)}")
    assert response.status_code == 403
    assert response.headers["x-auth-result"] == INVALID_PAYLOAD
    assert CLIP[:100] not in response.content


def test_a_jti_of_128_characters_is_accepted(client: TestClient) -> None:
    url = once("/clip.mp4", "j" * 128)
    assert client.get(url).status_code == 200
    assert_used(client.get(url))


def test_two_links_are_independent(client: TestClient) -> None:
    first, second = once("/clip.mp4", "one"), once("/clip.mp4", "two")
    assert client.get(first).status_code == 200
    assert_used(client.get(first))
    assert client.get(second).status_code == 200
    assert_used(client.get(second))


def test_the_same_jti_under_two_keys_is_two_links(settings: Settings) -> None:
    client = TestClient(create_app(with_overrides(settings, keys={"main": SECRET, "next": OTHER_SECRET})))
    main = once("/clip.mp4", "shared-id", key=SECRET)
    following = once("/clip.mp4", "shared-id", key=OTHER_SECRET)
    assert client.get(main).status_code == 200
    assert client.get(following).status_code == 200
    assert_used(client.get(main))
    assert_used(client.get(following))


def test_the_same_jti_for_another_file_is_the_same_link(client: TestClient) -> None:
    assert client.get(once("/clip.mp4", "one-id")).status_code == 200
    assert_used(client.get(once("/photo.jpg", "one-id")))


def test_full_memory_refuses_new_links_and_keeps_the_used_ones(settings: Settings) -> None:
    client = TestClient(create_app(with_overrides(settings, once_max_entries=2)))
    used = [once("/clip.mp4", f"link-{n}") for n in range(2)]
    for url in used:
        assert client.get(url).status_code == 200
    refused = client.get(once("/clip.mp4", "link-2"))
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "60"
    assert refused.headers["cache-control"] == "no-store"
    for url in used:  # nothing was evicted to make room: a used link never works again
        assert_used(client.get(url))
    ordinary = client.get(f"/clip.mp4?jwt={make_token()}")
    assert ordinary.status_code == 200  # tokens that are not one-time links are unaffected


# ------------------------------------------------------------------------------------ the race


@dataclass(frozen=True)
class Outcome:
    status: int
    reason: str | None
    body: bytes


def race(targets: list[tuple[int, str]]) -> list[Outcome]:
    """One GET per ``(port, target)``, all on open connections released at the same instant."""
    barrier = threading.Barrier(len(targets))

    def fetch(port: int, target: str) -> Outcome:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.connect()
            barrier.wait(timeout=30)
            connection.request("GET", target)
            response = connection.getresponse()
            return Outcome(response.status, response.getheader("X-Auth-Result"), response.read())
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        return list(pool.map(lambda target: fetch(*target), targets))


def assert_one_winner(outcomes: list[Outcome], data: bytes | None) -> None:
    winners = [outcome for outcome in outcomes if outcome.status == 200]
    assert len(winners) == 1, sorted(outcome.status for outcome in outcomes)
    if data is not None:
        assert winners[0].body == data
    losers = [outcome for outcome in outcomes if outcome.status != 200]
    assert [(outcome.status, outcome.reason) for outcome in losers] == [(403, ALREADY_USED)] * (RACERS - 1)


@pytest.mark.parametrize("path", ["/clip.mp4", "/photo.jpg"])
def test_racing_requests_for_a_link_get_one_200(settings: Settings, path: str) -> None:
    target = once(path, "race")
    with live_server(create_app(settings)) as server:
        outcomes = race([(server.port, target)] * RACERS)
    assert_one_winner(outcomes, CLIP if path == "/clip.mp4" else None)


def test_racing_requests_to_two_processes_sharing_a_folder_get_one_200(settings: Settings, tmp_path: Path) -> None:
    shared = with_overrides(settings, once_folder=tmp_path / "links")
    target = once("/clip.mp4", "race-across-processes")
    with live_server(create_app(shared)) as one, live_server(create_app(shared)) as other:
        ports = [one.port, other.port]
        outcomes = race([(ports[n % 2], target) for n in range(RACERS)])
        assert_one_winner(outcomes, CLIP)
        for port in ports:  # neither process will serve it again
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", target)
            response = connection.getresponse()
            assert (response.status, response.getheader("X-Auth-Result")) == (403, ALREADY_USED)
            response.read()
            connection.close()
    assert [marker.name for marker in (tmp_path / "links").iterdir()] == [link_key("main", "race-across-processes")]


def test_two_apps_without_a_shared_folder_do_not_share_links(settings: Settings) -> None:
    """The reason the folder exists: each process's memory knows only its own downloads."""
    url = once("/clip.mp4", "per-process")
    assert TestClient(create_app(settings)).get(url).status_code == 200
    assert TestClient(create_app(settings)).get(url).status_code == 200


def test_a_shared_folder_carries_a_use_and_a_release_between_apps(settings: Settings, tmp_path: Path) -> None:
    shared = with_overrides(settings, once_folder=tmp_path / "links")
    one, other = TestClient(create_app(shared)), TestClient(create_app(shared))
    token = make_token(use="once", jti="hand-over")
    assert one.get(f"/missing.mp4?jwt={token}").status_code == 404  # claimed, then given back
    assert other.get(f"/clip.mp4?jwt={token}").status_code == 200
    assert_used(one.get(f"/clip.mp4?jwt={token}"))
    resumed = one.get(f"/clip.mp4?jwt={token}", headers={"Range": "bytes=10-19"})  # grace, across processes
    assert resumed.status_code == 206 and resumed.content == CLIP[10:20]


# ------------------------------------------------------------------------------- the stores themselves

MARGIN = KEEP_AFTER_EXPIRY  # an entry outlives its token by this much (plus the leeway)


def stores(tmp_path: Path) -> list[UsedLinks]:
    return [MemoryLinks(grace=60, max_entries=10, leeway=5), FolderLinks(tmp_path / "links", grace=60, leeway=5)]


@pytest.mark.parametrize("kind", ["memory", "folder"])
def test_a_claim_is_refused_again_resumed_only_once_delivered_and_only_for_its_path(tmp_path: Path, kind: str) -> None:
    links = stores(tmp_path)[0 if kind == "memory" else 1]
    now = time.time()
    claim = links.admit("main", "a", "/clip.mp4", now + 300, ranged=False, now=now)
    assert claim.first and link_key("main", "a") in claim.key
    with pytest.raises(AuthError) as refused:
        links.admit("main", "a", "/clip.mp4", now + 300, ranged=False, now=now + 1)
    assert refused.value.reason == ALREADY_USED
    with pytest.raises(AuthError):  # pending: no resume rides on a claim that may still be given back
        links.admit("main", "a", "/clip.mp4", now + 300, ranged=True, now=now + 1)
    links.delivered(claim, now + 2)
    assert not links.admit("main", "a", "/clip.mp4", now + 300, ranged=True, now=now + 62).first  # within grace
    links.check("main", "a", "/clip.mp4", ranged=True, now=now + 62)
    for path, ranged, at in [("/other.mp4", True, 3), ("/clip.mp4", False, 3), ("/clip.mp4", True, 63)]:
        with pytest.raises(AuthError):  # another file, not a Range, or past the grace window
            links.admit("main", "a", path, now + 300, ranged=ranged, now=now + at)
        with pytest.raises(AuthError):
            links.check("main", "a", path, ranged=ranged, now=now + at)
    links.release(claim)  # delivered: giving it back changes nothing
    with pytest.raises(AuthError):
        links.admit("main", "a", "/clip.mp4", now + 300, ranged=False, now=now + 4)


@pytest.mark.parametrize("kind", ["memory", "folder"])
def test_a_pending_claim_given_back_is_a_fresh_link(tmp_path: Path, kind: str) -> None:
    links = stores(tmp_path)[0 if kind == "memory" else 1]
    now = time.time()
    claim = links.admit("main", "b", "/clip.mp4", now + 300, ranged=False, now=now)
    resumed = Claim(claim.key, first=False)
    links.release(resumed)  # only a first claim can be given back
    with pytest.raises(AuthError):
        links.admit("main", "b", "/clip.mp4", now + 300, ranged=False, now=now)
    links.release(claim)
    links.check("main", "b", "/clip.mp4", ranged=False, now=now)
    again = links.admit("main", "b", "/clip.mp4", now + 300, ranged=False, now=now + 1)
    assert again.first
    links.delivered(again, now + 1)
    links.release(again)  # once delivered, never given back
    with pytest.raises(AuthError):
        links.admit("main", "b", "/clip.mp4", now + 300, ranged=False, now=now + 2)


def test_the_folder_is_shared_by_processes(tmp_path: Path) -> None:
    links = FolderLinks(tmp_path / "links", grace=60, leeway=5)
    other_process = FolderLinks(tmp_path / "links", grace=60, leeway=5)
    now = time.time()
    claim = links.admit("main", "a", "/clip.mp4", now + 300, ranged=False, now=now)
    with pytest.raises(AuthError):
        other_process.admit("main", "a", "/clip.mp4", now + 300, ranged=False, now=now + 1)
    links.delivered(claim, now + 1)
    assert not other_process.admit("main", "a", "/clip.mp4", now + 300, ranged=True, now=now + 2).first
    assert (tmp_path / "links").stat().st_mode & 0o777 == 0o700


def test_a_memory_entry_outlives_its_token_then_goes() -> None:
    links = MemoryLinks(grace=0, max_entries=1, leeway=0)
    now = time.time()
    assert links.admit("main", "short", "/a.mp4", now - MARGIN + 0.3, ranged=False, now=now).first
    with pytest.raises(OverloadedError):  # the one place is taken while the entry lives
        links.admit("main", "another", "/a.mp4", now + 300, ranged=False, now=now)
    time.sleep(0.4)
    later = time.time()
    assert links.admit("main", "another", "/a.mp4", later + 300, ranged=False, now=later).first


def test_expired_claims_take_no_memory() -> None:
    links = MemoryLinks(grace=60, max_entries=1, leeway=5)
    now = time.time()
    for n in range(10_000):  # long past exp + leeway: refused by verification anyway, never kept
        assert links.admit("main", f"old-{n}", "/a.mp4", now - MARGIN - 6, ranged=False, now=now).first
    assert len(links._entries) == 0
    assert links.admit("main", "live", "/a.mp4", now + 300, ranged=False, now=now).first  # the one place is free
    with pytest.raises(OverloadedError) as full:
        links.admit("main", "live-too", "/a.mp4", now + 300, ranged=False, now=now)
    assert full.value.status_code == 503 and full.value.retry_after == 60


def test_memory_links_at_capacity_refuse_rather_than_evict() -> None:
    links = MemoryLinks(grace=60, max_entries=3, leeway=5)
    now = time.time()
    for jti in ("a", "b", "c"):
        assert links.admit("main", jti, "/a.mp4", now + 300, ranged=False, now=now).first
    for _ in range(3):
        with pytest.raises(OverloadedError):
            links.admit("main", "d", "/a.mp4", now + 300, ranged=False, now=now)
    for jti in ("a", "b", "c"):  # every used link is still known
        with pytest.raises(AuthError):
            links.admit("main", jti, "/a.mp4", now + 300, ranged=False, now=now)


def test_folder_sweep_removes_expired_markers_and_keeps_live_ones(tmp_path: Path) -> None:
    folder = tmp_path / "links"
    links = FolderLinks(folder, grace=60, leeway=5)
    now = time.time()
    for jti in ("old-1", "old-2"):
        links.admit("main", jti, "/a.mp4", now - MARGIN - 100, ranged=False, now=now - 200)
    links.admit("main", "live", "/a.mp4", now + 300, ranged=False, now=now)
    links.admit("main", "just-expired", "/a.mp4", now - MARGIN - 6, ranged=False, now=now - 60)
    (folder / "being-written").touch()  # a claim between its O_EXCL create and its write
    assert len(list(folder.iterdir())) == 5
    links.sweep(now)
    assert {marker.name for marker in folder.iterdir()} == {link_key("main", "live"), "being-written"}
    with pytest.raises(AuthError):
        links.admit("main", "live", "/a.mp4", now + 300, ranged=False, now=now)


def test_folder_markers_of_expired_links_do_not_pile_up(tmp_path: Path) -> None:
    folder = tmp_path / "links"
    links = FolderLinks(folder, grace=60, leeway=5)
    now = time.time()
    links.admit("main", "live", "/a.mp4", now + 300, ranged=False, now=now)
    for n in range(FolderLinks.SWEEP_EVERY * 2):
        links.admit("main", f"old-{n}", "/a.mp4", now - MARGIN - 100, ranged=False, now=now)
    assert len(list(folder.iterdir())) <= FolderLinks.SWEEP_EVERY
    with pytest.raises(AuthError):
        links.admit("main", "live", "/a.mp4", now + 300, ranged=False, now=now)
