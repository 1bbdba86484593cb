"""Router: which projects a request is about, as a table.

Each row: the tree, the request's text, what the router agent answers (None: it must not be
asked), the events the router records, and what the request has cost once they are folded: a
call counts whether its answer was used or not. Names in a message are hints for the router,
never a route of their own, except where nothing is left to decide (a single project, a message
addressed to one project). A malformed answer fails the request; it never falls back to a guess.
"""

from __future__ import annotations

import pytest
from msgspec.structs import replace as msgspec_replace

from claude_tunnels.actors.agent_errors import AgentFailed, AgentTimeout
from claude_tunnels.actors.ports import Consulted
from claude_tunnels.actors.router import Routed, Router
from claude_tunnels.actors.tree import Tree, TreeError
from claude_tunnels.events.conversation import Turn
from claude_tunnels.events.values import Usage
from tests.actors.fakes import sample_tree, single_project_tree
from tests.actors.harness import ALICE, World
from tests.actors.story import REQUEST, Has, Out, Story, out, shape

AGENT_USAGE = Usage(input_tokens=100, output_tokens=10, cost_usd=0.01)
CRASH_USAGE = Usage(input_tokens=50, output_tokens=5, cost_usd=0.004)
BROKEN = TreeError("the projects root /nowhere/tree does not exist")


def failed(reason: str | Has, usage: Usage | None = None) -> list[Out]:
    return [out("request.failed", stage="routing", reason=reason, request_id=REQUEST, usage=usage)]


ROWS = [
    # -- no agent needed: nothing is left to decide ---------------------------------------------
    pytest.param(single_project_tree(), "tidy things up", None,
                 [out("route.decided", projects=["only"], workspaces=[], method="single_project")], 0, id="a single project"),
    pytest.param(sample_tree(), "in web-app: fix the login", None,
                 [out("route.decided", projects=["web-app"], workspaces=[], method="explicit", usage=None)], 0,
                 id="addressed to one project"),
    pytest.param(sample_tree(), "web-app/frontend: fix the login", None,
                 [out("route.decided", projects=["web-app"], workspaces=["web-app/frontend"], method="explicit")], 0,
                 id="addressed to one workspace"),
    # -- names are hints: the agent decides -------------------------------------------------------
    pytest.param(sample_tree(), "update web-app please, then release shared-lib", {"projects": ["shared-lib", "web-app"]},
                 [out("route.decided", projects=["shared-lib", "web-app"], workspaces=[], method="agent", usage=AGENT_USAGE)], 0.01,
                 id="projects named: the agent still decides"),
    pytest.param(sample_tree(), "update web-app please", {"projects": ["web-app", "api-service"]},
                 [out("route.decided", projects=["web-app", "api-service"], method="agent")], 0.01,
                 id="the agent adds a project the message did not name"),
    pytest.param(sample_tree(), "fix web-app/frontend and api-service", {"projects": ["api-service", "web-app"]},
                 [out("route.decided", projects=["api-service", "web-app"], workspaces=["web-app/frontend"], method="agent")], 0.01,
                 id="a workspace named is kept with the route"),
    pytest.param(sample_tree(), "in web-app: do what api-service does", {"projects": ["web-app"]},
                 [out("route.decided", projects=["web-app"], method="agent")], 0.01,
                 id="addressed, but another project named: the agent decides"),
    pytest.param(sample_tree(), "upgrade the shared library", {"projects": ["shared-lib"]},
                 [out("route.decided", projects=["shared-lib"], method="agent", usage=AGENT_USAGE)], 0.01, id="agent: a project"),
    pytest.param(sample_tree(), "what is a monad?", {"projects": []},
                 [out("route.decided", projects=[], method="agent")], 0.01, id="agent: no project (a direct answer)"),
    pytest.param(sample_tree(), "fix the app", {"projects": [], "clarification": "The web app or the API?"},
                 [out("clarification.needed", question="The web app or the API?", usage=AGENT_USAGE)], 0.01, id="agent: a question"),
    # -- an unknown project is asked about, with the closest known ones ------------------------------
    pytest.param(sample_tree(), "fix wbe-app", {"projects": ["wbe-app"]},
                 [out("clarification.needed", question="wbe-app is not a project here; did you mean: web-app? Which do you mean?",
                      usage=AGENT_USAGE)], 0.01, id="unknown: the closest known project"),
    pytest.param(sample_tree(), "fix the app", {"projects": ["web"]},
                 [out("clarification.needed", question="web is not a project here; did you mean: web-app? Which do you mean?")], 0.01,
                 id="unknown: a known project containing the name"),
    pytest.param(sample_tree(), "fix zeta", {"projects": ["zeta"]},
                 [out("clarification.needed",
                      question="zeta is not a project here. The projects are: api-service, shared-lib, web-app. Which do you mean?")],
                 0.01, id="unknown: nothing close, the known projects"),
    # -- the agent's answer is unusable: the request fails, the call is paid for ----------------------
    pytest.param(sample_tree(), "fix the app", {"projects": "web-app"},
                 failed(Has("routing failed: the router's answer has the wrong shape"), AGENT_USAGE), 0.01, id="malformed: wrong shape"),
    pytest.param(sample_tree(), "fix the app", {"projects": ["web-app"], "confidence": 0.9}, failed(Has("wrong shape"), AGENT_USAGE), 0.01,
                 id="malformed: unknown field"),
    pytest.param(sample_tree(), "fix the app", {"projects": ["../web-app"]}, failed(Has("which is refused as a project name"), AGENT_USAGE), 0.01,
                 id="malformed: a traversing name"),
    pytest.param(sample_tree(), "fix the app", {"projects": [], "clarification": " "},
                 failed("routing failed: the router asked an empty question", AGENT_USAGE), 0.01, id="malformed: an empty question"),
    pytest.param(sample_tree(), "fix the app", AgentTimeout(180), failed("routing failed: no answer within 180 s", None), 0,
                 id="agent timed out (nothing reported spent)"),
    pytest.param(sample_tree(), "fix the app", AgentFailed("the agent did not finish within max_turns=8", usage=CRASH_USAGE),
                 failed("routing failed: the agent did not finish within max_turns=8", CRASH_USAGE), 0.004,
                 id="agent failed after spending"),
    pytest.param(None, "update web-app please", None, failed(f"routing failed: {BROKEN}"), 0, id="the tree cannot be read"),
]


@pytest.mark.parametrize("tree, text, answer, expected, cost_usd", ROWS)
async def test_router(world: World, tree: Tree | None, text: str, answer: object, expected: list[Out], cost_usd: float) -> None:
    world.trees.current, world.trees.error = tree or sample_tree(), None if tree else BROKEN
    if answer is not None:
        world.advisors.script("router", answer)
    router = world.start(Router)
    assert shape(await world.deliver(router, Story(world).opened(text)), expected) == expected
    assert [c.role for c in world.advisors.asked] == (["router"] if answer is not None else [])
    request = world.requests.get(REQUEST)
    assert request is not None and request.usage.cost_usd == cost_usd


async def test_the_router_sees_every_project_with_the_named_ones_marked(world: World) -> None:
    world.advisors.script("router", {"projects": ["web-app"]})
    router = world.start(Router)
    await world.deliver(router, Story(world).opened("update web-app please, then deploy it"))
    [asked] = world.advisors.asked
    assert "* web-app (named in the message): " in asked.prompt
    assert "- api-service: " in asked.prompt and "- shared-lib: " in asked.prompt
    assert "hint, not a limit" in asked.system


async def test_a_clarification_answer_marks_only_the_persons_words(world: World) -> None:
    # The bot's question listed web-app and api-service; the person answered "the API one".
    world.advisors.script("router", {"projects": ["api-service"]})
    router = world.start(Router)
    story = Story(world)
    question = Turn(role="assistant", text="Which app: web-app or api-service?")
    opened = story.opened("fix the login\n\nthe API one")
    await world.deliver(router, msgspec_replace(opened, history=[question]))
    [asked] = world.advisors.asked
    assert "(named in the message)" not in asked.prompt
    assert "Which app: web-app or api-service?" in asked.prompt  # the question is context, not a route


async def test_a_redelivered_request_is_routed_once(world: World) -> None:
    world.advisors.script("router", {"projects": ["shared-lib"]})
    router = world.start(Router)
    opened = Story(world).opened("upgrade the shared library")
    assert [e.type for e in await world.deliver(router, opened)] == ["route.decided"]
    assert await world.deliver(router, opened) == []
    assert len(world.advisors.asked) == 1


async def test_an_answer_for_a_request_cancelled_meanwhile_is_dropped(world: World) -> None:
    story = Story(world)
    opened = story.opened("upgrade the shared library")
    await world.given(opened, story.request_cancelled(ALICE))
    router = world.start(Router)
    late = Routed(opened, sample_tree(), opened.text, answer=Consulted(output={"projects": ["shared-lib"]}, text="", usage=AGENT_USAGE))
    assert await world.ask(router, late) == []
