"""One-time links (SPEC §3): a token with ``"use": "once"`` and a ``jti`` serves one download.

The first successful request claims the link. Later requests are ``403 already used``, except a
``Range`` request within ``once_grace`` seconds of the claim: a browser resuming an interrupted
download, or a player seeking, asks for the rest with ``Range``. A request that fails before
anything is sent (a 4xx or 5xx of ours) gives the claim back, so a refused or overloaded attempt does
not burn the link.

Three stores, each keeping an entry only until its token expires (after which the token is refused
anyway): in memory (one process); a folder of marker files shared by the worker processes of one
host (``origin serve --workers N``), where ``O_CREAT | O_EXCL`` makes the claim atomic; and Redis,
shared by replicas on any number of hosts, where ``SET NX`` does. The stores block (a file, a
socket): the routes call them in worker threads, so each is safe to use from several threads.
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


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``admit`` granted: ``first`` when this request claimed the link."""

    key: str
    first: bool


class UsedLinks(Protocol):
    def admit(self, key_id: str, jti: str, expires_at: float, ranged: bool, now: float) -> Claim:
        """Claim the link, or allow a ranged request within the grace window; else ``AuthError``."""
        ...

    def release(self, claim: Claim) -> None:
        """Give a first claim back (the request failed before anything was sent)."""
        ...

    def check(self, key_id: str, jti: str, ranged: bool, now: float) -> None:
        """``AuthError`` where ``admit`` would refuse, claiming nothing (for ``HEAD``: not a download)."""
        ...


def link_key(key_id: str, jti: str) -> str:
    """The entry's name: a ``jti`` is unique per signing key, and any text is a safe file name once hashed."""
    return hashlib.sha256(f"{key_id}\0{jti}".encode()).hexdigest()


@dataclass(slots=True)
class _Entry:
    claimed_at: float
    expires_at: float


class MemoryLinks:
    """Used links of this process, each kept until its token's ``exp`` (plus the leeway)."""

    def __init__(self, grace: float, max_entries: int, leeway: float) -> None:
        self.grace = grace
        self.leeway = leeway
        self.max_entries = max_entries
        self._entries: TLRUCache[str, _Entry] = TLRUCache(
            maxsize=max_entries, ttu=lambda key, entry, now: entry.expires_at, timer=time.time
        )
        self._lock = threading.Lock()

    def admit(self, key_id: str, jti: str, expires_at: float, ranged: bool, now: float) -> Claim:
        key = link_key(key_id, jti)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if ranged and now - entry.claimed_at <= self.grace:
                    return Claim(key, first=False)
                raise AuthError(ALREADY_USED)
            self._entries.expire()
            if len(self._entries) >= self.max_entries:
                # Evicting a live entry would make its link usable again: refuse new claims instead.
                raise OverloadedError("too many one-time links in use", retry_after=60)
            self._entries[key] = _Entry(claimed_at=now, expires_at=expires_at + self.leeway)
        return Claim(key, first=True)

    def release(self, claim: Claim) -> None:
        if claim.first:
            with self._lock:
                self._entries.pop(claim.key, None)

    def check(self, key_id: str, jti: str, ranged: bool, now: float) -> None:
        with self._lock:
            entry = self._entries.get(link_key(key_id, jti))
        if entry is not None and not (ranged and now - entry.claimed_at <= self.grace):
            raise AuthError(ALREADY_USED)


class FolderLinks:
    """Used links shared by the processes of one host: one marker file per claimed link, created
    atomically; its mtime is the claim, its content the expiry. Expired markers are swept now and then."""

    SWEEP_EVERY = 256  # claims between sweeps

    def __init__(self, folder: Path, grace: float, leeway: float) -> None:
        self.folder = folder
        self.grace = grace
        self.leeway = leeway
        self._claims = 0
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def admit(self, key_id: str, jti: str, expires_at: float, ranged: bool, now: float) -> Claim:
        key = link_key(key_id, jti)
        self._claims += 1
        if self._claims % self.SWEEP_EVERY == 0:
            self.sweep(now)
        marker = self.folder / key
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            try:
                claimed_at = marker.stat().st_mtime
            except FileNotFoundError:  # released or swept in between: still never a fresh claim here
                raise AuthError(ALREADY_USED) from None
            if ranged and now - claimed_at <= self.grace:
                return Claim(key, first=False)
            raise AuthError(ALREADY_USED) from None
        try:
            os.write(fd, str(int(expires_at + self.leeway) + 1).encode())
        finally:
            os.close(fd)
        os.utime(marker, (now, now))
        return Claim(key, first=True)

    def release(self, claim: Claim) -> None:
        if claim.first:
            (self.folder / claim.key).unlink(missing_ok=True)

    def check(self, key_id: str, jti: str, ranged: bool, now: float) -> None:
        try:
            claimed_at = (self.folder / link_key(key_id, jti)).stat().st_mtime
        except FileNotFoundError:
            return
        if not (ranged and now - claimed_at <= self.grace):
            raise AuthError(ALREADY_USED)

    def sweep(self, now: float) -> None:
        for marker in self.folder.iterdir():
            try:
                expiry = marker.read_text()
            except OSError:
                continue
            if expiry.isdigit() and int(expiry) < now:
                marker.unlink(missing_ok=True)


class RedisLinks:
    """Used links shared by replicas on any number of hosts: one Redis key per claimed link, made with
    ``SET NX`` (atomic across replicas), holding the time of the claim and expiring with the token
    (plus the leeway).

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

    def admit(self, key_id: str, jti: str, expires_at: float, ranged: bool, now: float) -> Claim:
        key = self.KEY_PREFIX + link_key(key_id, jti)
        seconds = max(1, math.ceil(expires_at + self.leeway - now))
        with self._asking():
            if self._redis.set(key, repr(now), nx=True, ex=seconds):
                return Claim(key, first=True)
            claimed_at = self._redis.get(key)
        if ranged and now - _claimed_at(claimed_at) <= self.grace:
            return Claim(key, first=False)
        raise AuthError(ALREADY_USED)  # also when it went between the two calls: never a fresh claim here

    def release(self, claim: Claim) -> None:
        """Give a first claim back. If Redis cannot be asked the link stays used (closed, not open)."""
        if not claim.first:
            return
        with contextlib.suppress(OverloadedError), self._asking():
            self._redis.delete(claim.key)

    def check(self, key_id: str, jti: str, ranged: bool, now: float) -> None:
        with self._asking():
            claimed_at = self._redis.get(self.KEY_PREFIX + link_key(key_id, jti))
        if claimed_at is not None and not (ranged and now - _claimed_at(claimed_at) <= self.grace):
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


def _claimed_at(value: object) -> float:
    """The time a claim was made; anything unreadable counts as long ago (so no grace applies)."""
    try:
        return float(value.decode("ascii")) if isinstance(value, bytes) else -math.inf
    except (UnicodeDecodeError, ValueError):
        return -math.inf
