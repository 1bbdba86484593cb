"""Planner: a validated plan, a direct answer, or a failure the person hears, as a table.

Each row: the projects the request was routed to (none: a direct answer), what the planner (or
the direct answerer) says, the events the planner records, and what the request has cost once
they are folded (routing $0.001, each agent answer $0.01): every call is paid for, its answer
used or not. An invalid plan goes back to the planner once, with the reason; the rows' planner
gives the same answer again, so an invalid one fails the request after two calls.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from claude_tunnels.actors.agent_errors import AgentFailed, AgentTimeout
from claude_tunnels.actors.planner import Planned, Planner
from claude_tunnels.actors.ports import Consulted
from claude_tunnels.actors.tree import Edge, TreeError
from claude_tunnels.events.values import Plan, PlannedTask, Usage
from tests.actors.fakes import sample_tree
from tests.actors.harness import ALICE, World
from tests.actors.story import REQUEST, TEXT, Has, Out, Story, out, shape

USAGE = Usage(input_tokens=100, output_tokens=10, cost_usd=0.01)
BROKEN = TreeError("the projects root /nowhere/tree does not exist")


def task(workspace: str, depends_on: list[str] | None = None) -> dict[str, Any]:
    return {"workspace": workspace, "task": f"work on {workspace}", "depends_on": depends_on or []}


def answer(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"label": "upgrade", "tasks": list(tasks)}


def proposed(phases: list[list[str]], *tasks: PlannedTask) -> list[Out]:
    return [out("plan.proposed", plan=Plan(label="upgrade", tasks=list(tasks), phases=phases), revision=0, usage=USAGE)]


def planned(workspace: str, depends_on: list[str] | None = None, text: str | None = None) -> PlannedTask:
    return PlannedTask(workspace=workspace, task=text or f"work on {workspace}", depends_on=depends_on or [])


def rejected(reason: str) -> list[Out]:
    return [out("plan.rejected", reason=Has(reason), usage=USAGE), out("plan.rejected", reason=Has(reason), usage=USAGE),
            out("request.failed", stage="planning", reason=Has(f"the plan is invalid (its second try too): {reason}"),
                request_id=REQUEST, usage=None)]


ROWS = [
    # -- a plan --------------------------------------------------------------------------------
    pytest.param(["web-app"], answer(task("web-app/frontend")), proposed([["web-app/frontend"]], planned("web-app/frontend")), 0.011,
                 id="one task"),
    pytest.param(["shared-lib", "web-app"], answer(task("web-app/backend", ["shared-lib/core"]), task("shared-lib/core")),
                 proposed([["shared-lib/core"], ["web-app/backend"]], planned("web-app/backend", ["shared-lib/core"]),
                          planned("shared-lib/core")), 0.011,
                 id="dependencies become phases"),
    pytest.param(["web-app"], answer(task("frontend")),
                 proposed([["web-app/frontend"]], planned("web-app/frontend", text="work on frontend")), 0.011,
                 id="a short name in a single-project route"),
    # -- an invalid plan: rejected, the request fails, its cost is kept ---------------------------------
    pytest.param(["web-app"], answer(task("web-app/mobile")), rejected("the plan names 'web-app/mobile', which is not a workspace here"),
                 0.021, id="invalid: an unknown workspace"),
    pytest.param(["web-app"], answer(task("api-service")),
                 rejected("the plan has a task for api-service, which is outside the projects this request was routed to (web-app)"),
                 0.021, id="invalid: outside the route"),
    pytest.param(["web-app"], answer(task("web-app/frontend", ["web-app/backend"]), task("web-app/backend", ["web-app/frontend"])),
                 rejected("the plan's dependencies form a cycle between web-app/backend, web-app/frontend"), 0.021, id="invalid: a cycle"),
    pytest.param(["web-app"], answer({**task("web-app/frontend"), "id": "t1"}, {**task("web-app/backend"), "id": "t1"}),
                 rejected("the plan has two tasks with the id t1 (tasks 1 and 2); give each task its own id"), 0.021,
                 id="invalid: an id twice"),
    pytest.param(["web-app"], answer(), rejected("the planner found no workspace task to do"), 0.021, id="invalid: no task"),
    pytest.param(["web-app"], {"tasks": "all of them"}, rejected("the planner's answer has the wrong shape"), 0.021,
                 id="invalid: wrong shape"),
    pytest.param(["web-app"], AgentFailed("the model API is overloaded"),
                 [out("request.failed", stage="planning", reason="planning failed: the model API is overloaded", usage=None)], 0.001,
                 id="the planner failed"),
    pytest.param(["web-app"], AgentFailed("the agent did not finish within max_turns=8", usage=USAGE),
                 [out("request.failed", stage="planning", reason="planning failed: the agent did not finish within max_turns=8",
                      usage=USAGE)], 0.011,
                 id="the planner failed after spending: still counted"),
    pytest.param(["web-app"], BROKEN, [out("request.failed", stage="planning", reason=f"planning failed: {BROKEN}")], 0.001,
                 id="the tree cannot be read"),
    # -- no project: a direct answer --------------------------------------------------------------------
    pytest.param([], "Paris.", [out("answer.direct", text="Paris.", usage=USAGE),
                                out("request.completed", summary="Paris.", usage=Usage(input_tokens=100, output_tokens=10, cost_usd=0.011))],
                 0.011, id="direct answer"),
    pytest.param([], "  ", [out("answer.direct", text="(no answer)"), out("request.completed", summary="(no answer)")], 0.011,
                 id="direct answer: empty"),
    pytest.param([], AgentTimeout(300), [out("request.failed", stage="planning", reason="no answer: no answer within 300 s")], 0.001,
                 id="direct answer: timed out"),
    pytest.param([], AgentFailed("Claude Code failed: overloaded", usage=USAGE),
                 [out("request.failed", stage="planning", reason="no answer: Claude Code failed: overloaded", usage=USAGE)], 0.011,
                 id="direct answer: failed after spending, still counted"),
]


@pytest.mark.parametrize("projects, says, expected, cost_usd", ROWS)
async def test_planner(world: World, projects: list[str], says: object, expected: list[Out], cost_usd: float) -> None:
    if isinstance(says, TreeError):
        world.trees.error = says
    else:
        world.advisors.script("planner" if projects else "direct", says)
    story = Story(world, projects=projects)
    await world.given(story.opened())
    planner = world.start(Planner)
    assert shape(await world.deliver(planner, story.routed()), expected) == expected
    request = world.requests.get(REQUEST)
    assert request is not None and request.usage.cost_usd == cost_usd


async def test_an_invalid_plan_goes_back_once_with_the_reason_and_both_calls_count(world: World) -> None:
    world.advisors.script_each("planner", [answer(task("web-app/mobile")), answer(task("web-app/frontend"))])
    story = Story(world, projects=["web-app"])
    await world.given(story.opened())
    planner = world.start(Planner)
    refusal = "the plan names 'web-app/mobile', which is not a workspace here"
    expected = [out("plan.rejected", reason=Has(refusal), usage=USAGE),
                out("plan.proposed", plan=Plan(label="upgrade", tasks=[planned("web-app/frontend")], phases=[["web-app/frontend"]]), usage=USAGE)]
    assert shape(await world.deliver(planner, story.routed()), expected) == expected
    first, second = world.advisors.asked
    assert "<refusal>" not in first.prompt and "was refused" not in first.prompt
    assert "Your previous plan for this request was refused:\n<refusal>" in second.prompt and refusal.replace("'", "&#x27;") not in second.prompt
    assert refusal in second.prompt and second.prompt.endswith("Plan the workspace tasks.")
    request = world.requests.get(REQUEST)
    assert request is not None and request.usage.cost_usd == 0.021 and request.status == "awaiting_approval" and request.reason == ""


async def test_a_revision_reaches_the_planner_once_with_the_request_once(world: World) -> None:
    story = Story(world)
    await world.given(*story.up_to("awaiting_approval"))
    world.advisors.script("planner", answer(task("shared-lib/core")))
    planner = world.start(Planner)
    await world.deliver(planner, story.revised(ALICE, "also update the docs"))
    [asked] = world.advisors.asked
    assert asked.prompt.count("also update the docs") == 1 and asked.prompt.count(TEXT) == 1


async def test_a_revision_is_planned_again_with_what_was_asked(world: World) -> None:
    story = Story(world)
    await world.given(*story.up_to("awaiting_approval"))
    world.advisors.script("planner", answer(task("shared-lib/core")))
    planner = world.start(Planner)
    expected = [out("plan.proposed", revision=1)]
    assert shape(await world.deliver(planner, story.revised(ALICE, "only the library, please")), expected) == expected
    [asked] = world.advisors.asked
    assert "only the library, please" in asked.prompt


async def test_a_redelivered_route_is_planned_once(world: World) -> None:
    story = Story(world)
    await world.given(*story.up_to("awaiting_approval"))
    planner = world.start(Planner)
    assert await world.deliver(planner, story.last("route.decided")) == []
    assert world.advisors.asked == []


async def test_a_plan_for_a_revised_request_is_dropped(world: World) -> None:
    # The planner answered revision 0 after the person revised the plan: only revision 1 counts.
    story = Story(world)
    await world.given(*story.up_to("revising"))
    planner = world.start(Planner)
    late = Consulted(output=answer(task("shared-lib/core")), text="", usage=USAGE)
    stale = Planned(story.last("route.decided"), REQUEST, 0, world.trees.tree(), answer=late)
    assert await world.ask(planner, stale) == []


async def test_the_planner_sees_and_may_plan_for_neighbours_and_its_plan_is_warned_about(world: World) -> None:
    # web-app/backend uses shared-lib/core: routed to web-app, the planner is shown shared-lib too.
    uses = Edge(source="web-app/backend", target="shared-lib/core", why=("requirements name",))
    world.trees.current = msgspec.structs.replace(sample_tree(), edges=(uses,))
    world.advisors.script("planner", answer(task("shared-lib/core"), task("web-app/backend")))
    story = Story(world, projects=["web-app"])
    await world.given(story.opened())
    planner = world.start(Planner)
    warning = "⚠ web-app/backend depends on shared-lib/core but runs in the same phase"
    expected = [out("plan.proposed", plan=Plan(
        label="upgrade", tasks=[planned("shared-lib/core"), planned("web-app/backend")],
        phases=[["shared-lib/core", "web-app/backend"]], warnings=[warning],
    ))]
    assert shape(await world.deliver(planner, story.routed()), expected) == expected
    [asked] = world.advisors.asked
    assert "- shared-lib/core [neighbour, 1 hop]: " in asked.prompt and "web-app/backend -> shared-lib/core" in asked.prompt
    assert "api-service" not in asked.prompt


async def test_a_plan_naming_a_workspace_whose_agent_went_offline_names_it_offline(world: World) -> None:
    gone = "web-app/edge is served by a remote agent that is offline (last seen 12:03 UTC, 5 min ago)"
    world.trees.gone["web-app/edge"] = gone
    world.advisors.script("planner", answer(task("web-app/edge")))
    story = Story(world, projects=["web-app"])
    await world.given(story.opened())
    planner = world.start(Planner)
    events = await world.deliver(planner, story.routed())
    reason = f"the plan names 'web-app/edge', which cannot run now: {gone}"
    expected = [out("plan.rejected", reason=reason), out("plan.rejected", reason=reason),
                out("request.failed", reason=f"the plan is invalid (its second try too): {reason}")]
    assert shape(events, expected) == expected
    assert gone in world.advisors.asked[1].prompt  # the planner was told, and could plan without it


async def test_a_revision_reaches_the_workspace_agents_once_with_the_request_once(world: World) -> None:
    story = Story(world)
    dispatched = story.dispatched("shared-lib/core")
    await world.given(*story.up_to("revising"), story.proposed(revision=1), dispatched)
    order = world.tasks.order_for(dispatched)
    assert order is not None
    assert order.prompt.count("use the v3 API instead") == 1 and order.prompt.count(TEXT) == 1
    assert order.prompt.index(TEXT) < order.prompt.index("use the v3 API instead") < order.prompt.index("Your task in this workspace")
