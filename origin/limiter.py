"""Bounded rendering: at most ``render_concurrency`` renders at once in a dedicated thread pool,
at most ``render_queue`` more waiting; past that, an immediate 503.

A request gives up after ``render_timeout`` seconds (503), but a Pillow operation cannot be
interrupted: the render keeps its slot until its thread really finishes (the pipeline checks its
deadline between steps, so that is soon), so abandoned renders can never pile up beyond the bound.
Cache hits, 304s and authorisation failures never come here, so they never wait behind renders.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from origin.errors import OverloadedError
from origin.metrics import Metrics

T = TypeVar("T")
_LIMITERS = itertools.count(1)


class RenderLimiter:
    def __init__(self, concurrency: int, queue: int, timeout: float, metrics: Metrics | None = None) -> None:
        self.thread_prefix = f"render-{next(_LIMITERS)}"  # tells this pool's threads from another app's
        self._pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix=self.thread_prefix)
        self._capacity = concurrency + queue
        self.timeout = timeout
        self._lock = threading.Lock()
        self._admitted = 0  # renders submitted and not yet finished, abandoned ones included
        self.rejected = 0
        self._metrics = metrics

    @property
    def in_flight(self) -> int:
        return self._admitted

    def deadline(self) -> float:
        """The ``time.monotonic()`` instant a render admitted now must finish by."""
        return time.monotonic() + self.timeout

    async def run(self, func: Callable[..., T], *args: object) -> T:
        """Run ``func(*args)`` on the render pool within the bounds, or raise ``OverloadedError``."""
        with self._lock:
            if self._admitted >= self._capacity:
                self.rejected += 1
                if self._metrics is not None:
                    self._metrics.queue_rejections.inc()
                raise OverloadedError("render queue full", retry_after=1)
            self._admitted += 1
        if self._metrics is not None:
            self._metrics.renders_in_flight.inc()
        future = self._pool.submit(func, *args)
        future.add_done_callback(self._finished)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), self.timeout)
        except TimeoutError as exc:
            if self._metrics is not None:
                self._metrics.render_timeouts.inc()
            future.cancel()  # only succeeds while it is still queued; a running render ends at its deadline
            raise OverloadedError("render took longer than render_timeout", retry_after=2) from exc

    def _finished(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:  # called in the render thread, or here when a queued render is cancelled
            self._admitted -= 1
        if self._metrics is not None:
            self._metrics.renders_in_flight.dec()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
