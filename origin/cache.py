"""The rendered-output cache: an LRU bounded in bytes, safe to share between threads.

Keys are what decides the bytes (source version, canonical options, negotiated encoding), never a
token or a raw URL, so every token that asks for the same render shares one entry.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from cachetools import LRUCache, TTLCache
from PIL import Image

from transforms import Rendered, TransformError

ENTRY_OVERHEAD = 1024  # bytes charged per entry for its key, its Rendered object and the LRU's bookkeeping


def _size(rendered: Rendered) -> int:
    """What an entry costs the budget: its body plus a fixed overhead, so that many tiny renders
    cannot hold far more memory than ``cache_max_bytes`` says."""
    return len(rendered.body) + ENTRY_OVERHEAD


class RenderCache:
    def __init__(self, max_bytes: int) -> None:
        self._lru: LRUCache[Hashable, Rendered] = LRUCache(maxsize=max_bytes, getsizeof=_size)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Rendered | None:
        with self._lock:
            rendered = self._lru.get(key)
            if rendered is None:
                self.misses += 1
            else:
                self.hits += 1
            return rendered

    def put(self, key: Hashable, rendered: Rendered) -> bool:
        """Keep ``rendered``; False when it is larger than the whole cache (served, not kept)."""
        if _size(rendered) > self._lru.maxsize:
            return False
        with self._lock:
            self._lru[key] = rendered
        return True

    @property
    def current_bytes(self) -> int:
        with self._lock:
            return int(self._lru.currsize)

    def __len__(self) -> int:
        with self._lock:
            return len(self._lru)


class FailureCache:
    """Sources that could not be decoded, remembered for ``ttl`` seconds by the exact files' versions,
    so a burst of requests for a broken file parses it once, not once per request. A changed file has
    a new version and is tried again at once."""

    def __init__(self, ttl: float, max_entries: int = 4096) -> None:
        self._ttl: TTLCache[Hashable, TransformError] = TTLCache(maxsize=max_entries, ttl=ttl)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> TransformError | None:
        with self._lock:
            return self._ttl.get(key)

    def put(self, key: Hashable, error: TransformError) -> None:
        with self._lock:
            self._ttl[key] = error


MARK_MAX_SIDE = 2048  # a watermark is decoded at most this large (longest side): it is never drawn larger


def _mark_size(mark: Image.Image) -> int:
    return mark.width * mark.height * 4 + ENTRY_OVERHEAD


class MarkCache:
    """Decoded watermarks by (path, version), an LRU bounded in bytes of pixels: a mark is decoded
    once, not on every miss. A changed file has a new version; the old entry ages out unused."""

    def __init__(self, max_bytes: int) -> None:
        self._lru: LRUCache[Hashable, Image.Image] = LRUCache(maxsize=max_bytes, getsizeof=_mark_size)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Image.Image | None:
        with self._lock:
            return self._lru.get(key)

    def put(self, key: Hashable, mark: Image.Image) -> None:
        if _mark_size(mark) > self._lru.maxsize:
            return
        with self._lock:
            self._lru[key] = mark
