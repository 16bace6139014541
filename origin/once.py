"""One-time links (SPEC §3): a token with ``"use": "once"`` and a ``jti`` serves one download.

The first request claims the link; the claim is *pending* until its response starts. A response
that starts with a success makes it *delivered*; a request that fails before anything is sent (a
4xx or 5xx of ours, a refused ``Range``) gives a pending claim back, so a refused or overloaded
attempt does not burn the link. Later requests are ``403 already used``, except, for a file (not an
image), a ``Range`` request for the same path within ``once_grace`` seconds of the delivery: a browser
resuming an interrupted download, or a player seeking. No resume is ever let in on a claim that is
still pending, so no claim that served anything can be given back.

Three stores, each keeping an entry until a minute past its token's expiry (after which the token is
refused anyway): in memory (one process); a folder of marker files shared by the worker processes of
one host (``origin serve --workers N``, or ``once_folder``), where ``O_CREAT | O_EXCL`` makes the claim
atomic; and Redis, shared by replicas on any number of hosts, where ``SET NX`` does. The stores block
(a file, a socket): the routes call them in worker threads, so each is safe to use from several threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cachetools import TLRUCache

from origin.errors import AuthError, OverloadedError
from origin.shared_cache import PAUSE, Breaker, redis_failures

if TYPE_CHECKING:
    import redis

ALREADY_USED = "already used"
KEEP_AFTER_EXPIRY = 60.0  # seconds an entry outlives its token (plus the leeway): clocks of requests and stores differ


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``admit`` granted: ``first`` when this request claimed the link (and must then either
    report it ``delivered`` or ``release`` it)."""

    key: str
    first: bool
    tag: str = ""  # the path's tag, where the store needs it to settle the claim (Redis)


class UsedLinks(Protocol):
    """The used one-time links. A first claim is *pending* until its response starts: only then may
    ``Range`` requests for the same file follow within the grace window, and only a pending claim can
    be given back (so no resume ever rides on a claim that is then released)."""

    def admit(self, key_id: str, jti: str, path: str, expires_at: float, ranged: bool, now: float) -> Claim:
        """Claim the link, or allow a ranged request for the same file within the grace window after
        the first response started; else ``AuthError`` (``already used``)."""
        ...

    def delivered(self, claim: Claim, now: float) -> None:
        """The first response started (a success): the grace window opens now."""
        ...

    def release(self, claim: Claim) -> None:
        """Give a pending first claim back (the request failed before anything was sent)."""
        ...

    def check(self, key_id: str, jti: str, path: str, ranged: bool, now: float) -> None:
        """``AuthError`` where ``admit`` would refuse, claiming nothing (for ``HEAD``: not a download)."""
        ...


def link_key(key_id: str, jti: str) -> str:
    """The entry's name: a ``jti`` is unique per signing key, and any text is a safe file name once hashed."""
    return hashlib.sha256(f"{key_id}\0{jti}".encode()).hexdigest()


def path_tag(path: str) -> str:
    """What an entry keeps of the path its link first served: resumes are for that file only."""
    return hashlib.sha256(path.encode()).hexdigest()[:32]


def _keep_until(expires_at: float, leeway: float, grace: float) -> float:
    return expires_at + leeway + max(grace, KEEP_AFTER_EXPIRY)


def _resumes(ranged: bool, path: str, tag: str, delivered_at: float | None, grace: float, now: float) -> bool:
    return ranged and delivered_at is not None and tag == path_tag(path) and now - delivered_at <= grace


@dataclass(slots=True)
class _Entry:
    tag: str
    expires_at: float
    delivered_at: float | None = None


class MemoryLinks:
    """Used links of this process, each kept a while past its token's ``exp`` (plus the leeway)."""

    def __init__(self, grace: float, max_entries: int, leeway: float) -> None:
        self.grace = grace
        self.leeway = leeway
        self.max_entries = max_entries
        self._entries: TLRUCache[str, _Entry] = TLRUCache(
            maxsize=max_entries, ttu=lambda key, entry, now: entry.expires_at, timer=time.time
        )
        self._lock = threading.Lock()

    def admit(self, key_id: str, jti: str, path: str, expires_at: float, ranged: bool, now: float) -> Claim:
        key = link_key(key_id, jti)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if _resumes(ranged, path, entry.tag, entry.delivered_at, self.grace, now):
                    return Claim(key, first=False)
                raise AuthError(ALREADY_USED)
            self._entries.expire()
            if len(self._entries) >= self.max_entries:
                # Evicting a live entry would make its link usable again: refuse new claims instead.
                raise OverloadedError("too many one-time links in use", retry_after=60)
            self._entries[key] = _Entry(path_tag(path), _keep_until(expires_at, self.leeway, self.grace))
        return Claim(key, first=True)

    def delivered(self, claim: Claim, now: float) -> None:
        with self._lock:
            entry = self._entries.get(claim.key)
            if claim.first and entry is not None and entry.delivered_at is None:
                entry.delivered_at = now

    def release(self, claim: Claim) -> None:
        with self._lock:
            entry = self._entries.get(claim.key)
            if claim.first and entry is not None and entry.delivered_at is None:
                del self._entries[claim.key]

    def check(self, key_id: str, jti: str, path: str, ranged: bool, now: float) -> None:
        with self._lock:
            entry = self._entries.get(link_key(key_id, jti))
        if entry is not None and not _resumes(ranged, path, entry.tag, entry.delivered_at, self.grace, now):
            raise AuthError(ALREADY_USED)


class FolderLinks:
    """Used links shared by the processes of one host: one marker file per claimed link, created
    atomically (``O_EXCL``), holding the path's tag and the time it may be swept; its mtime is 0 while
    the claim is pending and the time of the first response once delivered."""

    SWEEP_EVERY = 256  # claims between sweeps

    def __init__(self, folder: Path, grace: float, leeway: float) -> None:
        self.folder = folder
        self.grace = grace
        self.leeway = leeway
        self._claims = 0
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def admit(self, key_id: str, jti: str, path: str, expires_at: float, ranged: bool, now: float) -> Claim:
        key = link_key(key_id, jti)
        self._claims += 1
        if self._claims % self.SWEEP_EVERY == 0:
            self.sweep(now)
        marker = self.folder / key
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            self._refuse_unless_resume(marker, path, ranged, now)
            return Claim(key, first=False)
        try:
            os.write(fd, f"{int(_keep_until(expires_at, self.leeway, self.grace)) + 1} {path_tag(path)}".encode())
        finally:
            os.close(fd)
        os.utime(marker, (0, 0))  # pending
        return Claim(key, first=True)

    def delivered(self, claim: Claim, now: float) -> None:
        marker = self.folder / claim.key
        with contextlib.suppress(FileNotFoundError):
            if claim.first and marker.stat().st_mtime == 0:
                os.utime(marker, (now, now))

    def release(self, claim: Claim) -> None:
        marker = self.folder / claim.key
        with contextlib.suppress(FileNotFoundError):
            if claim.first and marker.stat().st_mtime == 0:
                marker.unlink()

    def check(self, key_id: str, jti: str, path: str, ranged: bool, now: float) -> None:
        marker = self.folder / link_key(key_id, jti)
        if marker.exists():
            self._refuse_unless_resume(marker, path, ranged, now)

    def sweep(self, now: float) -> None:
        for marker in self.folder.iterdir():
            try:
                expiry = marker.read_text().split(" ")[0]
            except OSError:
                continue
            if expiry.isdigit() and int(expiry) < now:
                marker.unlink(missing_ok=True)

    def _refuse_unless_resume(self, marker: Path, path: str, ranged: bool, now: float) -> None:
        try:
            delivered = marker.stat().st_mtime
            tag = marker.read_text().partition(" ")[2]
        except OSError:  # released or swept in between: still never a fresh claim here
            raise AuthError(ALREADY_USED) from None
        if not _resumes(ranged, path, tag, delivered or None, self.grace, now):
            raise AuthError(ALREADY_USED)


class RedisLinks:
    """Used links shared by replicas on any number of hosts: one Redis key per claimed link, made with
    ``SET NX`` (atomic across replicas), holding ``P <path tag>`` while pending and ``D <path tag>
    <time>`` once delivered (changed only by a compare-and-swap script), expiring a minute after the
    token.

    Fails closed: while Redis cannot be asked (down, slower than ``timeout``, or skipped by the breaker
    for a few seconds after such a failure), one-time links answer 503 with ``Retry-After``, never a
    download that might be the second. Ordinary tokens do not come here and keep working.
    """

    KEY_PREFIX = "origin:once:v1:"
    RETRY_AFTER = 5  # seconds, about the breaker's pause

    def __init__(
        self,
        url: str,
        grace: float,
        leeway: float,
        timeout: float,
        *,
        on_error: Callable[[], None] | None = None,
        pause: float = PAUSE,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.grace = grace
        self.leeway = leeway
        self.breaker = Breaker("one-time links", pause)
        self._on_error = on_error
        self._failures = redis_failures()
        self._redis: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )

    def admit(self, key_id: str, jti: str, path: str, expires_at: float, ranged: bool, now: float) -> Claim:
        key = self.KEY_PREFIX + link_key(key_id, jti)
        seconds = max(1, math.ceil(_keep_until(expires_at, self.leeway, self.grace) - now))
        with self._asking():
            if self._redis.set(key, _pending(path), nx=True, ex=seconds):
                return Claim(key, first=True, tag=path_tag(path))
            value = self._redis.get(key)
        tag, delivered_at = _parse(value)
        if _resumes(ranged, path, tag, delivered_at, self.grace, now):
            return Claim(key, first=False)
        raise AuthError(ALREADY_USED)  # also when it went between the two calls: never a fresh claim here

    def delivered(self, claim: Claim, now: float) -> None:
        """Open the grace window. If Redis cannot be asked, no resume is allowed (closed, not open)."""
        if not claim.first:
            return
        with contextlib.suppress(OverloadedError), self._asking():
            self._redis.eval(_SWAP, 1, claim.key, f"P {claim.tag}", f"D {claim.tag} {now!r}")

    def release(self, claim: Claim) -> None:
        """Give a pending first claim back. If Redis cannot be asked the link stays used (closed, not open)."""
        if not claim.first:
            return
        with contextlib.suppress(OverloadedError), self._asking():
            self._redis.eval(_SWAP, 1, claim.key, f"P {claim.tag}", "")

    def check(self, key_id: str, jti: str, path: str, ranged: bool, now: float) -> None:
        with self._asking():
            value = self._redis.get(self.KEY_PREFIX + link_key(key_id, jti))
        if value is not None and not _resumes(ranged, path, *_parse(value), self.grace, now):
            raise AuthError(ALREADY_USED)

    def close(self) -> None:
        self._redis.close()

    @contextlib.contextmanager
    def _asking(self) -> Iterator[None]:
        """Redis calls, or a 503 when they cannot be made."""
        if not self.breaker.allows():
            raise OverloadedError("one-time links cannot be checked now", retry_after=self.RETRY_AFTER)
        try:
            yield
        except self._failures as exc:
            if self._on_error is not None:
                self._on_error()
            self.breaker.failed(exc)
            raise OverloadedError("one-time links cannot be checked now", retry_after=self.RETRY_AFTER) from exc
        self.breaker.succeeded()


# Replace the value of KEYS[1] by ARGV[2] (delete it when ARGV[2] is empty) only while it is still
# ARGV[1], keeping its expiry: a pending claim becomes delivered, or is given back; nothing else is.
_SWAP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
"""


def _pending(path: str) -> str:
    return f"P {path_tag(path)}"


def _parse(value: object) -> tuple[str, float | None]:
    """The tag and delivery time of a stored claim; anything unreadable allows no resume."""
    try:
        text = value.decode("ascii") if isinstance(value, bytes) else ""
        state, tag, *rest = text.split(" ")
        return tag, float(rest[0]) if state == "D" and rest else None
    except (UnicodeDecodeError, ValueError):
        return "", None
