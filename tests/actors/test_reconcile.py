"""Recovery at start: what becomes of each request, and each task, a crash left open.

The world's task runner says which workspaces run in git worktrees (`in_git`: an interrupted run
there rolls back); the verdicts handed to the supervisors are collected instead of told.
"""

from __future__ import annotations

from claude_tunnels.actors.phase_supervisor import Resume
from claude_tunnels.actors.reconcile import CANCELLING, INTERRUPTED_AGAIN, NOT_ROLLED_BACK, reconcile
from claude_tunnels.events.execution import PermissionDecided, RequestResumed
from tests.actors.harness import ALICE, World
from tests.actors.story import REQUEST, Story, plan_of

CORE, BACKEND, DOCS = "shared-lib/core", "web-app/backend", "shared-lib/docs"
THREE = plan_of((CORE, []), (DOCS, []), (BACKEND, [CORE]))
PLANNED = {"label": "again", "tasks": [{"workspace": CORE, "task": "bump", "depends_on": []}]}


async def verdicts(world: World, adopted: frozenset[str] = frozenset()) -> dict[str, Resume]:
    told: dict[str, Resume] = {}
    await reconcile(world.ctx, lambda rid, verdict: told.__setitem__(rid, verdict), adopted)
    return told


async def test_running_tasks_run_again_when_they_can_be_rolled_back_and_are_reported_when_not(world: World) -> None:
    world.tasks.in_git = {CORE}
    story = Story(world, plan=THREE)
    await world.given(*story.up_to("awaiting_approval"), story.approved(), story.phase_started(1),
                      story.dispatched(CORE), story.started(CORE), story.dispatched(DOCS), story.started(DOCS),
                      story.question(CORE))
    assert await verdicts(world) == {REQUEST: Resume(rerun=frozenset({CORE}), interrupted={DOCS: NOT_ROLLED_BACK})}
    assert world.tasks.rolled_back == [CORE, DOCS]
    # The interrupted run's question is closed: the run again asks its own.
    [closed] = [e for e in world.log.events if isinstance(e, PermissionDecided)]
    assert closed.task_id == story.task_id(CORE) and not closed.allowed and closed.by == "orchestrator"


async def test_a_task_interrupted_a_second_time_is_not_run_a_third(world: World) -> None:
    world.tasks.in_git = {CORE}
    story = Story(world, plan=THREE)
    await world.given(*story.up_to("awaiting_approval"), story.approved(), story.phase_started(1),
                      story.dispatched(CORE), story.started(CORE), story.dispatched(CORE, attempt=2), story.started(CORE))
    assert await verdicts(world) == {REQUEST: Resume(interrupted={CORE: INTERRUPTED_AGAIN})}


async def test_a_task_that_never_started_runs_and_adopted_remote_ones_are_left_to_their_agents(world: World) -> None:
    story = Story(world, plan=THREE)
    await world.given(*story.up_to("awaiting_approval"), story.approved(), story.phase_started(1),
                      story.dispatched(CORE), story.dispatched(DOCS), story.started(DOCS))
    adopted = frozenset({story.task_id(DOCS)})
    assert await verdicts(world, adopted) == {REQUEST: Resume(rerun=frozenset({CORE}))}


async def test_a_request_being_cancelled_runs_nothing_again(world: World) -> None:
    world.tasks.in_git = {CORE}
    story = Story(world, plan=THREE)
    await world.given(*story.up_to("awaiting_approval"), story.approved(), story.phase_started(1),
                      story.dispatched(CORE), story.started(CORE), story.cancel(ALICE))
    assert await verdicts(world) == {REQUEST: Resume(interrupted={CORE: CANCELLING})}


async def test_a_request_caught_routing_is_routed_again_once(world: World) -> None:
    story = Story(world, plan=THREE)
    opened = story.opened("in shared-lib/core: bump it")
    await world.given(opened)
    assert await verdicts(world) == {}
    [resumed] = [e for e in world.log.events if isinstance(e, RequestResumed)]
    assert resumed.stage == "routing" and resumed.request_id == REQUEST
    world.advisors.script("planner", PLANNED)
    directory = world.directory()
    # The resumed request is routed (by its explicit name) and planned; the redelivered opening changes nothing.
    after = await world.flow(directory, resumed)
    assert [e.type for e in after] == ["route.decided", "plan.proposed", "confirmation.requested"]
    assert await world.flow(directory, opened) == []


async def test_a_request_caught_planning_is_planned_again(world: World) -> None:
    story = Story(world, plan=THREE)
    await world.given(*story.up_to("planning"))
    await verdicts(world)
    [resumed] = [e for e in world.log.events if isinstance(e, RequestResumed)]
    assert resumed.stage == "planning"
    world.advisors.script("planner", PLANNED)
    after = await world.flow(world.directory(), resumed)
    assert [e.type for e in after][:2] == ["plan.proposed", "confirmation.requested"]
    assert [c.role for c in world.advisors.asked] == ["planner"]
