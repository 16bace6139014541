"""Single flight: concurrent identical misses share one render.

The first request for a key starts the work as a task of its own; every request for that key that
arrives before it ends awaits the same task. A waiter that goes away (client disconnect) does not
cancel the work for the others; a failure reaches every waiter and nothing is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._tasks: dict[Hashable, asyncio.Task[T]] = {}
        self.coalesced = 0

    async def run(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The result of ``work()`` for ``key``, and whether it was shared with an earlier caller."""
        task = self._tasks.get(key)
        shared = task is not None
        if task is None:
            task = asyncio.ensure_future(work())
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        else:
            self.coalesced += 1
        return await asyncio.shield(task), shared

    def _forget(self, key: Hashable, task: asyncio.Task[T]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a failure nobody waited for is not reported as lost

    def __len__(self) -> int:
        return len(self._tasks)
