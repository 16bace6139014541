from __future__ import annotations

import anyio
import pytest

from origin.flight import SingleFlight

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_concurrent_callers_share_one_run() -> None:
    flights: SingleFlight[int] = SingleFlight()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await anyio.sleep(0.05)
        return 42

    results: list[tuple[int, bool]] = []

    async def caller() -> None:
        results.append(await flights.run("k", work))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(caller)
    assert calls == 1
    assert sorted(results) == [(42, False)] + [(42, True)] * 19
    assert flights.coalesced == 19 and len(flights) == 0


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    flights: SingleFlight[int] = SingleFlight()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await anyio.sleep(0.02)
        raise RuntimeError("bad source")

    errors: list[str] = []

    async def caller() -> None:
        try:
            await flights.run("k", work)
        except RuntimeError as exc:
            errors.append(str(exc))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(caller)
    assert errors == ["bad source"] * 5 and calls == 1
    with pytest.raises(RuntimeError):
        await flights.run("k", work)  # not cached: a later request tries again
    assert calls == 2


async def test_a_waiter_that_leaves_does_not_cancel_the_work_for_the_others() -> None:
    flights: SingleFlight[str] = SingleFlight()

    async def work() -> str:
        await anyio.sleep(0.05)
        return "done"

    results: list[str] = []

    async def leaver() -> None:
        with anyio.move_on_after(0.01):
            await flights.run("k", work)

    async def stayer() -> None:
        results.append((await flights.run("k", work))[0])

    async with anyio.create_task_group() as group:
        group.start_soon(leaver)
        await anyio.sleep(0.001)
        group.start_soon(stayer)
    assert results == ["done"]


async def test_different_keys_do_not_share() -> None:
    flights: SingleFlight[str] = SingleFlight()

    async def work_for(key: str) -> str:
        await anyio.sleep(0.01)
        return key

    async with anyio.create_task_group() as group:
        for key in ("a", "b"):
            group.start_soon(flights.run, key, lambda key=key: work_for(key))
    assert flights.coalesced == 0
