"""The task group every background task runs in: failures collected and raised at the exit, one
task's failure never cancelling the others, and nothing left running once the block has exited."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import pytest

from claude_tunnels.actors.background import Background


class Boom(Exception):
    pass


async def _fail() -> None:
    raise Boom("the work failed")


async def _a_moment() -> None:
    """Cleanup or work that really awaits something (a round trip to a worker thread), never a timer."""
    await asyncio.to_thread(lambda: None)


async def test_a_failure_surfaces_at_the_exit_and_the_other_tasks_go_on() -> None:
    finished, failed = asyncio.Event(), asyncio.Event()

    async def failing_work() -> None:
        try:
            await _fail()
        finally:
            failed.set()

    async def steady() -> str:
        await failed.wait()  # still running when its neighbour fails
        finished.set()
        return "done"

    with pytest.raises(ExceptionGroup) as raised:
        async with Background("test") as group:
            failing = group.start(failing_work(), name="failing")
            other = group.start(steady(), name="steady")
            await asyncio.wait([failing, other])
            assert finished.is_set() and other.result() == "done"  # not cancelled by its neighbour's failure
            assert group.failed == 1  # kept, not raised yet: the block goes on
    [error] = raised.value.exceptions
    assert isinstance(error, Boom)
    assert "background task 'failing' of the test task group" in "".join(error.__notes__)


async def test_the_exit_cancels_and_awaits_the_running_work_and_leaves_nothing_running() -> None:
    before = asyncio.all_tasks()
    ended: list[str] = []
    waiting: list[asyncio.Event] = [asyncio.Event() for _ in range(3)]

    async def forever(n: int) -> None:
        try:
            waiting[n].set()
            await asyncio.Event().wait()
        finally:
            await _a_moment()  # cleanup that takes a moment is awaited too
            ended.append(f"t{n}")

    async with Background("test") as group:
        tasks = [group.start(forever(n), name=f"t{n}") for n in range(3)]
        await asyncio.gather(*(event.wait() for event in waiting))
        assert group.running == set(tasks)
    assert sorted(ended) == ["t0", "t1", "t2"]
    assert all(task.cancelled() for task in tasks)
    assert group.running == set()
    assert asyncio.all_tasks() == before


async def test_drained_work_is_let_finish_and_new_work_is_refused_once_closing() -> None:
    recorded: list[str] = []

    waiting = asyncio.Event()

    async def record(fact: str) -> None:
        await _a_moment()
        recorded.append(fact)

    async def cancelled_then_records(group: Background) -> None:
        try:
            waiting.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            # A task being cancelled records how it ended: drained work is still accepted.
            group.start(record("ended"), name="record end", drain=True)
            raise

    group = Background("test")
    async with group:
        group.start(record("progress"), name="record progress", drain=True)
        group.start(cancelled_then_records(group), name="agent")
        await waiting.wait()
    assert sorted(recorded) == ["ended", "progress"]

    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        refused = group.start(record("late"), name="late", drain=True)
        gc.collect()
    assert refused.cancelled()
    assert not [w for w in warned if "never awaited" in str(w.message)]  # the refused coroutine was closed
    await _a_moment()
    assert sorted(recorded) == ["ended", "progress"]
    assert group.closed and group.running == set()


async def test_work_started_from_an_actor_thread_is_tracked_and_its_failure_surfaces() -> None:
    with pytest.raises(ExceptionGroup) as raised:
        async with Background("test") as group:
            results = []

            async def seven() -> int:
                return 7

            def actor() -> None:  # what an actor's thread does through ActorContext.start
                results.append(group.start_threadsafe(seven(), name="fine"))
                results.append(group.start_threadsafe(_fail(), name="failing"))

            thread = threading.Thread(target=actor)
            thread.start()
            await asyncio.to_thread(thread.join)
            fine, failing = results
            assert await asyncio.wrap_future(fine) == 7
            with pytest.raises(Boom):
                await asyncio.wrap_future(failing)
    assert [type(error) for error in raised.value.exceptions] == [Boom]


async def test_the_block_s_own_error_comes_first_and_an_interrupt_goes_on_as_it_is() -> None:
    with pytest.raises(Boom):  # the block let a task's own failure through: raised once, as it is
        async with Background("test") as group:
            await group.start(_fail(), name="failing")
    with pytest.raises(ExceptionGroup) as raised:
        async with Background("test") as group:
            await asyncio.wait([group.start(_fail(), name="failing")])
            raise ValueError("the block's own")
    assert [type(error) for error in raised.value.exceptions] == [ValueError, Boom]

    with pytest.raises(KeyboardInterrupt) as interrupted:
        async with Background("test") as group:
            await asyncio.wait([group.start(_fail(), name="failing")])
            raise KeyboardInterrupt
    assert "1 failure(s) in the background of the test task group: Boom" in "".join(interrupted.value.__notes__)


async def test_a_task_that_ignores_its_cancellation_is_reported_and_cancelled_again() -> None:
    waiting = asyncio.Event()

    async def stubborn() -> None:
        try:
            waiting.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.Event().wait()  # ignores the first cancel

    with pytest.raises(ExceptionGroup) as raised:
        async with Background("test", stop_timeout_s=0.05) as group:
            task = group.start(stubborn(), name="stubborn")
            await waiting.wait()
    [error] = raised.value.exceptions
    assert isinstance(error, TimeoutError) and "'stubborn'" in str(error)
    assert task.cancelled() and group.running == set()


async def test_an_owner_raising_its_task_s_failure_again_is_reported_once() -> None:
    with pytest.raises(ExceptionGroup) as raised:
        async with Background("test") as group:
            task = group.start(_fail(), name="polling")
            await asyncio.wait([task])
            error = task.exception()
            assert error is not None
            group.collect(error)  # a channel's stop() raises its polling's failure again
            group.collect(RuntimeError("could not stop"))
    assert [type(error) for error in raised.value.exceptions] == [Boom, RuntimeError]
