from __future__ import annotations

import threading

import anyio
import pytest

from origin.errors import OverloadedError
from origin.limiter import RenderLimiter

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def blocker(release: threading.Event, started: threading.Semaphore | None = None) -> str:
    if started is not None:
        started.release()
    release.wait(5)
    return threading.current_thread().name


async def test_runs_in_the_render_pool_not_on_the_event_loop() -> None:
    limiter = RenderLimiter(concurrency=2, queue=0, timeout=5)
    loop_thread = threading.current_thread().name
    name = await limiter.run(threading.current_thread)
    assert name.name.startswith("render") and name.name != loop_thread
    limiter.close()


async def test_queue_full_is_an_immediate_503_with_retry_after() -> None:
    limiter = RenderLimiter(concurrency=1, queue=1, timeout=5)
    release = threading.Event()
    results: list[object] = []

    async def one() -> None:
        try:
            results.append(await limiter.run(blocker, release))
        except OverloadedError as exc:
            results.append(exc)

    async with anyio.create_task_group() as group:
        for _ in range(2):
            group.start_soon(one)
        await anyio.sleep(0.05)
        assert limiter.in_flight == 2
        with pytest.raises(OverloadedError) as info:
            await limiter.run(blocker, release)  # refused while both places are held: it did not wait
        assert info.value.headers() == {"Retry-After": "1"}
        assert info.value.status_code == 503
        release.set()
    assert len([r for r in results if isinstance(r, str)]) == 2
    assert limiter.in_flight == 0 and limiter.rejected == 1
    limiter.close()


async def test_timeout_answers_503_but_the_slot_stays_taken_until_the_thread_ends() -> None:
    limiter = RenderLimiter(concurrency=1, queue=0, timeout=0.1)
    release = threading.Event()
    with pytest.raises(OverloadedError, match="render_timeout"):
        await limiter.run(blocker, release)
    # the abandoned render still runs: nothing more may start beside it
    assert limiter.in_flight == 1
    with pytest.raises(OverloadedError, match="queue full"):
        await limiter.run(blocker, release)
    release.set()
    for _ in range(100):
        if limiter.in_flight == 0:
            break
        await anyio.sleep(0.01)
    assert limiter.in_flight == 0
    assert await limiter.run(lambda: "free again") == "free again"
    limiter.close()


async def test_abandoned_renders_never_exceed_the_bound() -> None:
    limiter = RenderLimiter(concurrency=1, queue=2, timeout=0.05)
    release = threading.Event()
    outcomes = []
    for _ in range(8):
        try:
            await limiter.run(blocker, release)
        except OverloadedError as exc:
            outcomes.append(str(exc))
        assert limiter.in_flight <= 3
    assert outcomes == ["render took longer than render_timeout"] * 8
    # a queued render whose request gave up is dropped; only the one already running holds a slot
    assert limiter.in_flight == 1
    release.set()
    limiter.close()


async def test_a_failure_in_the_render_reaches_the_caller_and_frees_the_slot() -> None:
    limiter = RenderLimiter(concurrency=1, queue=0, timeout=5)

    def fail() -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await limiter.run(fail)
    await anyio.sleep(0.01)
    assert limiter.in_flight == 0
    limiter.close()
