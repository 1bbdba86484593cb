"""WorkspaceAgent: one per dispatched task; it hands the task to the runner once, then stops."""

from __future__ import annotations

from claude_tunnels.actors.workspace_agent import WorkspaceAgent
from tests.actors.harness import World
from tests.actors.story import Story


async def test_a_dispatched_task_is_run_once_and_the_agent_stops(world: World) -> None:
    story = Story(world)
    await world.given(*story.up_to("awaiting_approval"), story.approved())
    dispatched = story.dispatched("shared-lib/core")
    agent = world.start(WorkspaceAgent, dispatched.task_id, stops_itself=True)
    assert await world.deliver(agent, dispatched) == []  # the runner records the task's events
    assert world.tasks.ran == [dispatched]
    assert not agent.is_alive()
