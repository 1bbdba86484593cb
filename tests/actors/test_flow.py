"""Decisions that take more than one actor: events routed by the real `Directory`, as the
dispatcher routes them, each delivered once its cause is folded."""

from __future__ import annotations

from actors.planner import Planned
from actors.ports import Consulted
from actors.reactions import Directory
from events.values import Usage
from tests.actors.harness import ALICE, World
from tests.actors.story import REQUEST, Story


async def test_a_stop_while_planning_ends_the_request_and_its_late_plan_is_never_shown(world: World) -> None:
    story = Story(world)
    await world.given(*story.up_to("planning"))
    directory = Directory(world.ctx)
    caused = await world.flow(directory, story.message("stop"))
    assert [(e.type, getattr(e, "by", None)) for e in caused] == [("request.cancelled", ALICE)]
    assert world.sessions.get(story.session_key).status == "awaiting_followup"
    # The planner's answer arrives after the stop: it is dropped, nobody is asked to approve it.
    plan = {"label": "upgrade", "tasks": [{"workspace": "shared-lib/core", "task": "bump"}]}
    late = Planned(story.last("route.decided"), REQUEST, 0, world.trees.tree(), answer=Consulted(output=plan, text="", usage=Usage()))
    assert await world.ask(directory.planner, late) == []
