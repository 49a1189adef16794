"""`limits.BodyBudget`: bytes of bodies read and parsed at once, shares handed out in arrival order,
each wait bounded. Driven on an event loop with explicit steps (no timing but the waits' own)."""

from __future__ import annotations

import asyncio

import pytest

from ktpledger.api.limits import BodyBudget, Busy


async def hold(budget: BodyBudget, size: int, release: asyncio.Event, log: list[str], name: str) -> None:
    async with budget.share(size):
        log.append(name)
        await release.wait()


def test_shares_within_the_capacity_are_taken_at_once() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100, wait=1.0)
        release, log = asyncio.Event(), []
        tasks = [asyncio.create_task(hold(budget, 40, release, log, n)) for n in ("a", "b")]
        await asyncio.sleep(0)
        assert log == ["a", "b"] and budget.used == 80
        release.set()
        await asyncio.gather(*tasks)
        assert budget.used == 0

    asyncio.run(scenario())


def test_a_share_past_the_capacity_waits_its_turn_then_goes() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100, wait=5.0)
        first, second, log = asyncio.Event(), asyncio.Event(), []
        a = asyncio.create_task(hold(budget, 70, first, log, "a"))
        await asyncio.sleep(0)
        b = asyncio.create_task(hold(budget, 70, second, log, "b"))
        await asyncio.sleep(0.01)
        assert log == ["a"] and budget.used == 70  # b waits: 70 + 70 > 100
        first.set()
        await a
        await asyncio.sleep(0)
        assert log == ["a", "b"] and budget.used == 70
        second.set()
        await b
        assert budget.used == 0

    asyncio.run(scenario())


def test_small_shares_queue_behind_a_waiting_large_one() -> None:
    """Arrival order: a small body that would fit does not pass a large one already waiting, or
    a stream of small bodies could keep a large one out for ever."""

    async def scenario() -> None:
        budget = BodyBudget(100, wait=5.0)
        gates = {name: asyncio.Event() for name in "abc"}
        log: list[str] = []
        a = asyncio.create_task(hold(budget, 60, gates["a"], log, "a"))
        await asyncio.sleep(0)
        b = asyncio.create_task(hold(budget, 90, gates["b"], log, "b"))  # waits for a
        await asyncio.sleep(0)
        c = asyncio.create_task(hold(budget, 10, gates["c"], log, "c"))  # would fit, waits behind b
        await asyncio.sleep(0.01)
        assert log == ["a"]
        gates["a"].set()
        await a
        await asyncio.sleep(0.01)
        assert log == ["a", "b", "c"]  # b (90) goes first; c (10) fits beside it and goes too
        assert budget.used == 100
        gates["b"].set()
        gates["c"].set()
        await asyncio.gather(b, c)
        assert budget.used == 0

    asyncio.run(scenario())


def test_a_share_that_waits_too_long_is_busy_and_leaves_the_queue() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100, wait=0.05)
        release, log = asyncio.Event(), []
        a = asyncio.create_task(hold(budget, 100, release, log, "a"))
        await asyncio.sleep(0)
        with pytest.raises(Busy):
            async with budget.share(50):
                pytest.fail("granted a share past the capacity")
        assert budget.used == 100 and not budget._queue
        release.set()
        await a
        async with budget.share(100):  # the budget is whole again
            assert budget.used == 100
        assert budget.used == 0

    asyncio.run(scenario())


def test_a_waiter_that_times_out_lets_those_behind_it_go() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100, wait=0.05)
        release, log = asyncio.Event(), []
        a = asyncio.create_task(hold(budget, 60, release, log, "a"))
        await asyncio.sleep(0)
        big = asyncio.create_task(hold(budget, 90, asyncio.Event(), log, "big"))  # will time out
        await asyncio.sleep(0)
        budget.wait = 5.0
        small = asyncio.create_task(hold(budget, 30, release, log, "small"))  # behind big
        await asyncio.sleep(0.01)
        assert log == ["a"]
        with pytest.raises(Busy):
            await big
        await asyncio.sleep(0)
        assert log == ["a", "small"] and budget.used == 90
        release.set()
        await asyncio.gather(a, small)
        assert budget.used == 0

    asyncio.run(scenario())


def test_a_cancelled_waiter_gives_nothing_back_it_did_not_take() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100, wait=5.0)
        release, log = asyncio.Event(), []
        a = asyncio.create_task(hold(budget, 100, release, log, "a"))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(hold(budget, 10, asyncio.Event(), log, "never"))
        await asyncio.sleep(0.01)
        waiting.cancel()  # the client went away while waiting
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert budget.used == 100 and not budget._queue
        release.set()
        await a
        assert budget.used == 0

    asyncio.run(scenario())


def test_a_share_larger_than_the_budget_takes_the_whole_budget() -> None:
    async def scenario() -> None:
        budget = BodyBudget(100, wait=1.0)
        async with budget.share(10**9):
            assert budget.used == 100
        assert budget.used == 0

    asyncio.run(scenario())
