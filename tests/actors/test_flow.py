"""Decisions that take more than one actor: events routed by the real `Directory`, as the
dispatcher routes them, each delivered once its cause is folded."""

from __future__ import annotations

from claude_tunnels.actors.planner import Planned
from claude_tunnels.actors.ports import Consulted
from claude_tunnels.events.values import Usage
from tests.actors.harness import ALICE, World
from tests.actors.story import REQUEST, Story


async def test_a_stop_while_planning_ends_the_request_and_its_late_plan_is_never_shown(world: World) -> None:
    story = Story(world)
    await world.given(*story.up_to("planning"))
    directory = world.directory()
    caused = await world.flow(directory, story.message("stop"))
    assert [(e.type, getattr(e, "by", None)) for e in caused] == [("request.cancelled", ALICE)]
    assert world.sessions.get(story.session_key).status == "awaiting_followup"
    # The planner's answer arrives after the stop: it is dropped, nobody is asked to approve it.
    plan = {"label": "upgrade", "tasks": [{"workspace": "shared-lib/core", "task": "bump"}]}
    late = Planned(story.last("route.decided"), REQUEST, 0, world.trees.tree(), answer=Consulted(output=plan, text="", usage=Usage()))
    assert await world.ask(directory.planner, late) == []


async def test_a_request_goes_from_a_message_to_its_first_phase(world: World) -> None:
    world.advisors.script("router", {"projects": ["shared-lib", "web-app"]})
    world.advisors.script("planner", {"label": "upgrade", "tasks": [
        {"workspace": "web-app/backend", "task": "use v2", "depends_on": ["shared-lib/core"]},
        {"workspace": "shared-lib/core", "task": "bump to v2"},
    ]})
    story = Story(world)
    directory = world.directory()
    asked = await world.flow(directory, story.message("move shared-lib/core to v2 and use it in web-app/backend"))
    assert [e.type for e in asked] == ["request.opened", "route.decided", "plan.proposed", "confirmation.requested"]
    approved = await world.flow(directory, story.message("ok 👍"))
    assert [e.type for e in approved] == [
        "confirmation.answered", "confirmation.given", "plan.approved", "phase.started", "task.dispatched",
    ]
    assert [(task.workspace, task.task) for task in world.tasks.ran] == [("shared-lib/core", "bump to v2")]
