"""The shared render cache: a second level in Redis behind each process's memory cache, so that a
render made by one replica is served by every other one without rendering again.

Entries are keyed like the memory cache (source versions and paths, canonical options, encoding),
hashed into ``origin:render:v1:<package version>:<ETag version>:<sha256>``, so that deployments of
different versions sharing one Redis never serve each other's renders. They hold a small versioned
header (media type, extension, width, height) before the encoded bytes. Each is kept ``redis_ttl``
seconds; renders larger than ``redis_max_entry_bytes`` are not published.

What comes back from Redis is not trusted: an entry is used only when it is whole, no larger than
``redis_max_entry_bytes`` allows, and labelled with a media type and extension the encoder produces.
Anything else is a miss.

Redis is an optimisation, never a dependency: every call has the ``redis_timeout`` deadline, and a
call that fails or passes it opens a ``Breaker``: Redis is then skipped for a few seconds (the
origin serves from memory and renders), tried again, and skipped again while it keeps failing. An
outage is one warning in the log, not one per request, and ``origin_shared_cache_errors_total``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import struct
import threading
import time
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING

from origin.headers import ETAG_VERSION
from origin.metrics import Metrics
from transforms import Rendered
from transforms.encode import LABELS

if TYPE_CHECKING:
    import redis.asyncio

log = logging.getLogger("origin.redis")

MAGIC = b"ORv1"
# magic, media type length, extension length, width, height, body length; then the two texts, then the body
_HEADER = struct.Struct(">4sBBIIQ")
PAUSE = 5.0  # seconds Redis is left alone after a failure
MAX_PUBLISHING = 64  # publishes in flight at once; renders beyond are not published


def key_prefix(version: str) -> str:
    """The prefix of every render's Redis key for package ``version``: it changes with the version
    and with the cache-key format (``ETAG_VERSION``), so other versions' renders are never read."""
    return f"origin:render:v1:{version}:{ETAG_VERSION}:"


def _package_version() -> str:
    try:
        return metadata.version("image-origin")
    except metadata.PackageNotFoundError:
        return "0"


KEY_PREFIX = key_prefix(_package_version())


def redis_key(key: tuple[str, ...], prefix: str = KEY_PREFIX) -> str:
    """The Redis key of a cache key: the same in every process of one version, and of a bounded length."""
    canonical = json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))
    return prefix + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def encode_entry(rendered: Rendered) -> bytes:
    media_type = rendered.media_type.encode("ascii")
    extension = rendered.extension.encode("ascii")
    header = _HEADER.pack(MAGIC, len(media_type), len(extension), rendered.width, rendered.height, len(rendered.body))
    return header + media_type + extension + rendered.body


def decode_entry(value: bytes, max_body_bytes: int) -> Rendered | None:
    """The render in ``value``, or None for anything that is not a whole entry of this version, has a
    body over ``max_body_bytes``, or is labelled with a media type and extension the encoder does not produce."""
    if len(value) < _HEADER.size:
        return None
    magic, type_length, extension_length, width, height, body_length = _HEADER.unpack_from(value)
    start = _HEADER.size + type_length + extension_length
    if magic != MAGIC or body_length > max_body_bytes or len(value) != start + body_length:
        return None
    try:
        media_type = value[_HEADER.size : _HEADER.size + type_length].decode("ascii")
        extension = value[_HEADER.size + type_length : start].decode("ascii")
    except UnicodeDecodeError:
        return None
    if (media_type, extension) not in LABELS:
        return None
    return Rendered(
        body=value[start:],
        media_type=media_type,
        extension=extension,
        width=width,
        height=height,
        decode_seconds=0.0,
        transform_seconds=0.0,
        encode_seconds=0.0,
    )


class Breaker:
    """Skips a failing Redis for ``pause`` seconds after each failure, then lets calls try again.

    Logs one warning when an outage starts and one when Redis answers again, whatever the number of
    requests in between. Safe to use from several threads.
    """

    def __init__(self, name: str, pause: float = PAUSE, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.pause = pause
        self._clock = clock
        self._open_until = 0.0
        self._down = False
        self._lock = threading.Lock()

    def allows(self) -> bool:
        """Whether a call may go to Redis now."""
        return self._clock() >= self._open_until

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self._open_until = self._clock() + self.pause
            starting, self._down = not self._down, True
        if starting:
            log.warning(
                "%s: Redis failed (%s); skipping it for %g s at a time until it answers",
                self.name,
                describe(error),
                self.pause,
            )

    def succeeded(self) -> None:
        if not self._down:
            return
        with self._lock:
            ending, self._down = self._down, False
        if ending:
            log.warning("%s: Redis answers again", self.name)


def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def redis_failures() -> tuple[type[BaseException], ...]:
    """What a Redis call may raise when Redis is down, slow or confused: never a reason for a 500."""
    from redis.exceptions import RedisError

    return (RedisError, OSError, TimeoutError, EOFError)


class SharedCache:
    """The Redis level of the render cache. ``start`` (in the app's lifespan, on the serving event
    loop) connects; until then, and after ``close``, every call is a miss and publishes nothing."""

    def __init__(
        self,
        url: str,
        *,
        ttl: int,
        max_entry_bytes: int,
        timeout: float,
        metrics: Metrics,
        pause: float = PAUSE,
        max_publishing: int = MAX_PUBLISHING,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.max_entry_bytes = max_entry_bytes
        self.timeout = timeout
        self.metrics = metrics
        self.max_publishing = max_publishing
        self.breaker = Breaker("shared render cache", pause)
        self._failures = redis_failures()
        self._redis: redis.asyncio.Redis | None = None
        self._publishing: set[asyncio.Task[bool]] = set()

    async def start(self) -> None:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = redis.asyncio.Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),  # a failure opens the breaker; retrying would only wait longer
        )

    async def close(self) -> None:
        """Let the publishes in flight finish (each is bounded by the timeout), then disconnect."""
        if self._publishing:
            await asyncio.wait(set(self._publishing), timeout=self.timeout * 2)
        for task in set(self._publishing):  # only when Redis hangs past the timeout: not published
            task.cancel()
        client, self._redis = self._redis, None
        if client is not None:
            await client.aclose()

    async def get(self, key: tuple[str, ...]) -> Rendered | None:
        """The render under ``key`` in Redis; None when it is not there or Redis is unavailable."""
        client = self._redis
        if client is None or not self.breaker.allows():
            return None
        try:
            async with asyncio.timeout(self.timeout):
                value = await client.get(redis_key(key))
        except self._failures as exc:
            self._failed(exc)
            return None
        self.breaker.succeeded()
        rendered = decode_entry(value, self.max_entry_bytes) if isinstance(value, bytes) else None
        if rendered is None:
            self.metrics.shared_misses.inc()
        else:
            self.metrics.shared_hits.inc()
        return rendered

    async def put(self, key: tuple[str, ...], rendered: Rendered) -> bool:
        """Keep ``rendered`` for ``ttl`` seconds; False when it was not stored (too large, Redis unavailable)."""
        client = self._redis
        if client is None or len(rendered.body) > self.max_entry_bytes or not self.breaker.allows():
            return False
        value = encode_entry(rendered)
        try:
            async with asyncio.timeout(self.timeout):
                await client.set(redis_key(key), value, ex=self.ttl)
        except self._failures as exc:
            self._failed(exc)
            return False
        self.breaker.succeeded()
        return True

    def publish(self, key: tuple[str, ...], rendered: Rendered) -> None:
        """``put`` in the background: the response does not wait for Redis. Beyond ``max_publishing``
        in flight the render is not published (counted), so a slow Redis cannot pile up tasks."""
        if self._redis is None or len(rendered.body) > self.max_entry_bytes or not self.breaker.allows():
            return
        if len(self._publishing) >= self.max_publishing:
            self.metrics.shared_dropped.inc()
            return
        task = asyncio.get_running_loop().create_task(self.put(key, rendered))
        self._publishing.add(task)  # referenced until done, so it is not collected half-way
        task.add_done_callback(self._publishing.discard)

    @property
    def publishing(self) -> int:
        """Publishes in flight."""
        return len(self._publishing)

    def _failed(self, error: BaseException) -> None:
        self.metrics.shared_errors.inc()
        self.breaker.failed(error)
