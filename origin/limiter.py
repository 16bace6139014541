"""Bounded rendering: at most ``render_concurrency`` renders in worker threads, at most
``render_queue`` waiting, each given ``render_timeout`` seconds. Past either bound: 503."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from origin.errors import OverloadedError

T = TypeVar("T")


class RenderLimiter:
    def __init__(self, concurrency: int, queue: int, timeout: float) -> None:
        self._slots = anyio.CapacityLimiter(concurrency)
        self._capacity = concurrency + queue
        self._timeout = timeout
        self._pending = 0  # running + waiting; only touched on the event loop

    @property
    def running(self) -> int:
        return int(self._slots.borrowed_tokens)

    @property
    def waiting(self) -> int:
        return self._pending - self.running

    async def run(self, func: Callable[..., T], *args: object) -> T:
        """Run ``func(*args)`` in a worker thread within the bounds, or raise ``OverloadedError``."""
        if self._pending >= self._capacity:
            raise OverloadedError("render queue full", retry_after=1)
        self._pending += 1
        try:
            with anyio.fail_after(self._timeout):
                return await anyio.to_thread.run_sync(func, *args, limiter=self._slots, abandon_on_cancel=True)
        except TimeoutError as exc:
            raise OverloadedError("render took longer than render_timeout", retry_after=2) from exc
        finally:
            self._pending -= 1
