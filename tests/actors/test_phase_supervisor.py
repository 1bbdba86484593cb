"""PhaseSupervisor: one approved plan run phase by phase, as a table of runs.

The plan has five tasks in three phases:

    phase 1   api-service          shared-lib/core
    phase 2   shared-lib/docs      web-app/backend        (docs after api-service, backend after core)
    phase 3                        web-app/frontend       (after backend)

Each row is a run: the events delivered to the supervisor one after the other, each with what
the supervisor did in answer, one line per event (and a line when it asked the task runner to
stop the running tasks). Routing and planning cost $0.011; each task that ends costs $0.02.
"""

from __future__ import annotations

import pytest

from claude_tunnels.actors.phase_supervisor import PhaseSupervisor, Resume
from claude_tunnels.config.settings import LimitSettings, Settings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.execution import (
    PhaseCompleted,
    PhaseStarted,
    RequestCancelled,
    RequestCompleted,
    RequestResumed,
    WorkspaceTaskCancelled,
    WorkspaceTaskDispatched,
    WorkspaceTaskInterrupted,
    WorkspaceTaskSkipped,
)
from tests.actors.harness import ALICE, BOSS, World, running
from tests.actors.story import REQUEST, Story, plan_of

API, CORE, DOCS, BACKEND, FRONTEND = "api-service", "shared-lib/core", "shared-lib/docs", "web-app/backend", "web-app/frontend"
PLAN = plan_of((API, []), (CORE, []), (DOCS, [API]), (BACKEND, [CORE]), (FRONTEND, [BACKEND]))
PROJECTS = ["api-service", "shared-lib", "web-app"]

Step = tuple[str, str]
"""A `Story` method and its argument: `("failed", CORE)` delivers the failure of core's task."""
Run = list[tuple[Step, list[str]]]


def line(event: AnyEvent) -> str:
    """One event as a line of a run."""
    match event:
        case PhaseStarted():
            return f"phase {event.phase}: {', '.join(event.workspaces) or '-'}"
        case WorkspaceTaskDispatched():
            again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            return f"dispatch {event.workspace}" + (" (remote)" if event.target == "remote" else "") + again
        case WorkspaceTaskInterrupted():
            return f"interrupted {event.workspace}: {event.reason}"
        case RequestResumed():
            return f"resumed: {event.finished} finished; rerun {', '.join(event.rerun) or '-'}; interrupted {', '.join(event.interrupted) or '-'}"
        case WorkspaceTaskSkipped():
            return f"skip {event.workspace}: {event.reason or ', '.join(event.because) + ' did not succeed'}"
        case WorkspaceTaskCancelled():
            return f"cancel {event.workspace}: {event.reason}"
        case PhaseCompleted():
            ends = {"succeeded": event.succeeded, "failed": event.failed, "skipped": event.skipped}
            return f"phase {event.phase} done: " + "; ".join(f"{how} {', '.join(ws)}" for how, ws in ends.items() if ws)
        case RequestCompleted():
            stopped = f"; {event.stopped}" if event.stopped else ""
            return f"completed: {event.succeeded} succeeded, {event.failed} failed, {event.skipped} skipped{stopped}"
        case RequestCancelled():
            return f"cancelled by {event.by}"
    return event.type


PHASE_1 = ["phase 1: api-service, shared-lib/core", f"dispatch {API}", f"dispatch {CORE}"]
CANCEL_LATER = [f"cancel {w}: cancelled before it ran" for w in (DOCS, BACKEND, FRONTEND)]

RUNS = [
    pytest.param(None, [
        (("approved", ALICE), PHASE_1),
        (("succeeded", API), []),
        (("succeeded", CORE), [f"phase 1 done: succeeded {API}, {CORE}", f"phase 2: {DOCS}, {BACKEND}", f"dispatch {DOCS}", f"dispatch {BACKEND}"]),
        (("succeeded", BACKEND), []),
        (("succeeded", DOCS), [f"phase 2 done: succeeded {DOCS}, {BACKEND}", f"phase 3: {FRONTEND}", f"dispatch {FRONTEND}"]),
        (("succeeded", FRONTEND), [f"phase 3 done: succeeded {FRONTEND}", "completed: 5 succeeded, 0 failed, 0 skipped"]),
    ], id="phases in order, the next when the last task of the one before ends"),
    pytest.param(None, [
        (("approved", ALICE), PHASE_1),
        (("failed", CORE), []),
        (("succeeded", API), [f"phase 1 done: succeeded {API}; failed {CORE}", f"phase 2: {DOCS}",
                              f"skip {BACKEND}: {CORE} did not succeed", f"dispatch {DOCS}"]),
        (("succeeded", DOCS), [f"phase 2 done: succeeded {DOCS}; skipped {BACKEND}", "phase 3: -",
                               f"skip {FRONTEND}: {BACKEND} did not succeed", f"phase 3 done: skipped {FRONTEND}",
                               "completed: 2 succeeded, 1 failed, 2 skipped"]),
    ], id="a failed task skips its dependants, and theirs; independent tasks go on"),
    pytest.param(None, [
        (("approved", ALICE), PHASE_1),
        (("timed_out", API), []),
        (("succeeded", CORE), [f"phase 1 done: succeeded {CORE}; failed {API}", f"phase 2: {BACKEND}",
                               f"skip {DOCS}: {API} did not succeed", f"dispatch {BACKEND}"]),
        (("succeeded", BACKEND), [f"phase 2 done: succeeded {BACKEND}; skipped {DOCS}", f"phase 3: {FRONTEND}", f"dispatch {FRONTEND}"]),
        (("succeeded", FRONTEND), [f"phase 3 done: succeeded {FRONTEND}", "completed: 3 succeeded, 1 failed, 1 skipped"]),
    ], id="a timed-out task skips its dependants too"),
    pytest.param(None, [
        (("approved", ALICE), PHASE_1),
        (("succeeded", API), []),
        (("cancel", ALICE), [*CANCEL_LATER, f"stop running tasks (by {ALICE})"]),
        (("cancel", BOSS), []),
        (("cancelled", CORE), [f"cancelled by {ALICE}"]),
    ], id="cancel: later phases never run, running tasks are stopped, then the request ends"),
    pytest.param(0.05, [
        (("approved", ALICE), PHASE_1),
        (("succeeded", API), []),
        (("succeeded", CORE), [
            f"phase 1 done: succeeded {API}, {CORE}",
            *[f"skip {w}: the request's cost budget of $0.05 is spent ($0.051 so far)" for w in (DOCS, BACKEND, FRONTEND)],
            "completed: 2 succeeded, 0 failed, 3 skipped; stopped before phase 2: the request's cost budget of $0.05 is spent "
            f"($0.051 so far); not run: {DOCS}, {BACKEND}, {FRONTEND}",
        ]),
    ], id="budget: spent in phase 1, no further phase starts"),
    pytest.param(0.01, [
        (("approved", ALICE), [
            *[f"skip {w}: the request's cost budget of $0.01 is spent ($0.011 so far)" for w in (API, CORE, DOCS, BACKEND, FRONTEND)],
            "completed: 0 succeeded, 0 failed, 5 skipped; stopped before phase 1: the request's cost budget of $0.01 is spent "
            f"($0.011 so far); not run: {API}, {CORE}, {DOCS}, {BACKEND}, {FRONTEND}",
        ]),
    ], id="budget: spent by planning alone, nothing runs"),
    pytest.param(1.0, [
        (("approved", ALICE), PHASE_1),
        (("succeeded", API), []),
        (("succeeded", CORE), [f"phase 1 done: succeeded {API}, {CORE}", f"phase 2: {DOCS}, {BACKEND}", f"dispatch {DOCS}", f"dispatch {BACKEND}"]),
    ], id="budget: not spent, the next phase starts"),
    pytest.param(None, [
        (("approved", ALICE), PHASE_1),
        (("approved", BOSS), []),
        (("succeeded", API), []),
        (("last", "task.succeeded"), []),
        (("succeeded", DOCS), []),
        (("succeeded", CORE), [f"phase 1 done: succeeded {API}, {CORE}", f"phase 2: {DOCS}, {BACKEND}", f"dispatch {DOCS}", f"dispatch {BACKEND}"]),
    ], id="redelivered and unexpected events change nothing"),
]


@pytest.mark.parametrize("budget, run", RUNS)
async def test_phase_supervisor(budget: float | None, run: Run) -> None:
    settings = Settings(approvers=[BOSS], limits=LimitSettings(max_cost_usd_per_request=budget))
    async with running(settings) as world:
        story = Story(world, plan=PLAN, projects=PROJECTS)
        await world.given(*story.up_to("awaiting_approval"))
        supervisor = world.start(PhaseSupervisor, REQUEST)
        happened: Run = []
        for step, _ in run:
            stopped = len(world.tasks.cancelled)
            emitted = await world.deliver(supervisor, getattr(story, step[0])(step[1]))
            lines = [line(e) for e in emitted] + [f"stop running tasks (by {by})" for _, by in world.tasks.cancelled[stopped:]]
            happened.append((step, lines))
        assert happened == run


async def test_the_summary_tells_how_each_task_ended(world: World) -> None:
    story = Story(world, plan=PLAN, projects=PROJECTS)
    await world.given(*story.up_to("awaiting_approval"))
    supervisor = world.start(PhaseSupervisor, REQUEST)
    for event in (story.approved(), story.failed(CORE), story.succeeded(API)):
        await world.deliver(supervisor, event)
    *_, completed = await world.deliver(supervisor, story.succeeded(DOCS))
    assert isinstance(completed, RequestCompleted) and completed.summary == "\n".join([
        "2 of 5 workspace tasks succeeded.",
        f"✓ {API}: {API} done",
        f"✗ {CORE}: tests fail",
        f"✓ {DOCS}: {DOCS} done",
        f"– {BACKEND}: skipped: {CORE} did not succeed",
        f"– {FRONTEND}: skipped: {BACKEND} did not succeed",
    ])
    assert completed.usage.cost_usd == 0.071


async def test_a_workspace_served_by_a_remote_agent_is_dispatched_there(world: World) -> None:
    world.trees.remote = {CORE}
    story = Story(world, plan=PLAN, projects=PROJECTS)
    await world.given(*story.up_to("awaiting_approval"))
    supervisor = world.start(PhaseSupervisor, REQUEST)
    assert [line(e) for e in await world.deliver(supervisor, story.approved())] == [PHASE_1[0], PHASE_1[1], f"dispatch {CORE} (remote)"]


AFTER_CORE = [f"phase 1 done: succeeded {API}, {CORE}", f"phase 2: {DOCS}, {BACKEND}", f"dispatch {DOCS}", f"dispatch {BACKEND}"]


@pytest.mark.parametrize("budget, after_core", [
    pytest.param(None, AFTER_CORE, id="the next phase starts when the adopted task ends"),
    pytest.param(1.0, AFTER_CORE, id="budget: not spent, the next phase starts"),
    pytest.param(0.05, [
        f"phase 1 done: succeeded {API}, {CORE}",
        *[f"skip {w}: the request's cost budget of $0.05 is spent ($0.051 so far)" for w in (DOCS, BACKEND, FRONTEND)],
        "completed: 2 succeeded, 0 failed, 3 skipped; stopped before phase 2: the request's cost budget of $0.05 is spent "
        f"($0.051 so far); not run: {DOCS}, {BACKEND}, {FRONTEND}",
    ], id="budget: what was spent before the restart counts"),
])
async def test_a_resumed_supervisor_goes_on_where_the_stream_says(budget: float | None, after_core: list[str]) -> None:
    # A previous process approved the plan, dispatched phase 1 and saw api-service succeed; core
    # still runs on a remote agent, adopted after the restart, and the new supervisor is resumed.
    settings = Settings(approvers=[BOSS], limits=LimitSettings(max_cost_usd_per_request=budget))
    async with running(settings) as world:
        story = Story(world, plan=PLAN, projects=PROJECTS)
        await world.given(*story.up_to("awaiting_approval"), story.approved(), story.phase_started(1),
                          *[story.dispatched(w) for w in (API, CORE)],
                          story.succeeded(API))
        supervisor = world.start(PhaseSupervisor, REQUEST)
        assert [line(e) for e in await world.ask(supervisor, Resume())] == ["resumed: 1 finished; rerun -; interrupted -"]
        assert [line(e) for e in await world.deliver(supervisor, story.succeeded(CORE))] == after_core


async def test_a_resumed_supervisor_keeps_a_cancel_made_before_the_restart(world: World) -> None:
    # The person stopped the request; phase 2 and 3 were recorded as never to run; core, on a
    # remote agent, was still stopping when the orchestrator restarted and adopted it.
    story = Story(world, plan=PLAN, projects=PROJECTS)
    await world.given(*story.up_to("awaiting_approval"), story.approved(), story.phase_started(1),
                      *[story.dispatched(w) for w in (API, CORE)], story.succeeded(API), story.cancel(ALICE),
                      *[story.cancelled(w) for w in (DOCS, BACKEND, FRONTEND)])
    supervisor = world.start(PhaseSupervisor, REQUEST)
    assert await world.ask(supervisor, Resume()) == []
    assert [line(e) for e in await world.deliver(supervisor, story.cancelled(CORE))] == [f"cancelled by {ALICE}"]


OUTSIDE_GIT = "outside git: not run again"
RESUMES = [
    pytest.param([], Resume(), [
        "resumed: 0 finished; rerun -; interrupted -", *PHASE_1,
    ], [], id="approved just before the crash: phase 1 starts (once: the approval's redelivery changes nothing)"),
    pytest.param([("dispatched", API), ("started", API), ("dispatched", CORE), ("started", CORE)],
                 Resume(rerun=frozenset({API}), interrupted={CORE: OUTSIDE_GIT}), [
        f"resumed: 0 finished; rerun {API}; interrupted {CORE}", f"interrupted {CORE}: {OUTSIDE_GIT}", f"dispatch {API} (attempt 2)",
    ], [
        (("succeeded", API), [f"phase 1 done: succeeded {API}; failed {CORE}", f"phase 2: {DOCS}",
                              f"skip {BACKEND}: {CORE} did not succeed", f"dispatch {DOCS}"]),
    ], id="mid-task: a rolled-back task runs again, one outside git is interrupted and its dependants skipped"),
    pytest.param([("dispatched", API), ("dispatched", CORE), ("succeeded", API)], Resume(rerun=frozenset({CORE})), [
        f"resumed: 1 finished; rerun {CORE}; interrupted -", f"dispatch {CORE} (attempt 2)",
    ], [
        (("succeeded", CORE), AFTER_CORE),
    ], id="a task dispatched but never started simply runs; finished ones stay finished"),
    pytest.param([("dispatched", API), ("succeeded", API), ("dispatched", CORE), ("started", CORE), ("resumed", CORE)], Resume(), [
        "resumed: 1 finished; rerun -; interrupted -", f"dispatch {CORE} (attempt 2)",
    ], [], id="killed again before the run again was dispatched: it is, as the next attempt (never the first again)"),
    pytest.param([("dispatched", API), ("succeeded", API)], Resume(), [
        "resumed: 1 finished; rerun -; interrupted -", f"dispatch {CORE}",
    ], [], id="a crash while phase 1 was being dispatched: the rest of it is dispatched"),
    pytest.param([("dispatched", API), ("dispatched", CORE), ("succeeded", API), ("succeeded", CORE)], Resume(),
                 ["resumed: 2 finished; rerun -; interrupted -", *AFTER_CORE], [],
                 id="every task of the phase ended before the crash: the next phase starts"),
    pytest.param([("dispatched", API), ("dispatched", CORE), ("started", CORE), ("succeeded", API), ("cancel", ALICE)],
                 Resume(rerun=frozenset({CORE})), [
        f"interrupted {CORE}: the orchestrator restarted while this task ran",
        *[f"cancel {w}: cancelled before it ran" for w in (DOCS, BACKEND, FRONTEND)], f"cancelled by {ALICE}",
    ], [], id="a stop said before the crash: nothing runs again, the request ends cancelled"),
]


@pytest.mark.parametrize("before, verdict, resumed, then", RESUMES)
async def test_a_resumed_supervisor_takes_the_request_up(before: list[Step], verdict: Resume, resumed: list[str], then: Run) -> None:
    async with running(Settings(approvers=[BOSS])) as world:
        story = Story(world, plan=PLAN, projects=PROJECTS)
        steps = [story.approved(), *([story.phase_started(1)] if before else [])]
        await world.given(*story.up_to("awaiting_approval"), *steps, *[getattr(story, name)(arg) for name, arg in before])
        supervisor = world.start(PhaseSupervisor, REQUEST)
        assert [line(e) for e in await world.ask(supervisor, verdict)] == resumed
        # What the old process had recorded and not yet seen acknowledged comes again: nothing happens twice.
        assert await world.deliver(supervisor, story.last("plan.approved")) == []
        assert [(step, [line(e) for e in await world.deliver(supervisor, getattr(story, step[0])(step[1]))]) for step, _ in then] == then


async def test_the_last_task_ended_before_the_crash_completes_the_request(world: World) -> None:
    story = Story(world, plan=plan_of((API, [])), projects=["api-service"])
    await world.given(*story.up_to("awaiting_approval"), story.approved(), story.phase_started(1), story.dispatched(API),
                      story.succeeded(API))
    supervisor = world.start(PhaseSupervisor, REQUEST)
    emitted = await world.ask(supervisor, Resume())
    assert [line(e) for e in emitted] == [f"phase 1 done: succeeded {API}", "completed: 1 succeeded, 0 failed, 0 skipped"]
    assert emitted[-1].summary == f"1 of 1 workspace tasks succeeded.\n✓ {API}: {API} done"  # type: ignore[attr-defined]
    # The old supervisor had recorded that phase's end: the resumed one's is the same fact, stored once.
    assert await world.ask(world.start(PhaseSupervisor, REQUEST), Resume()) == []
