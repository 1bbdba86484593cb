"""Router: which projects a request is about, as a table.

Each row: the tree, the request's text, what the router agent answers (None: it must not be
asked), and the events the router records. A malformed answer fails the request; it never
falls back to a guess.
"""

from __future__ import annotations

import pytest

from claude_tunnels.actors.agent_errors import AgentTimeout
from claude_tunnels.actors.ports import Consulted
from claude_tunnels.actors.router import Routed, Router
from claude_tunnels.actors.tree import Tree, TreeError
from claude_tunnels.events.values import Usage
from tests.actors.fakes import sample_tree, single_project_tree
from tests.actors.harness import ALICE, World
from tests.actors.story import REQUEST, Has, Out, Story, out, shape

AGENT_USAGE = Usage(input_tokens=100, output_tokens=10, cost_usd=0.01)
BROKEN = TreeError("the projects root /nowhere/tree does not exist")


def failed(reason: str | Has) -> list[Out]:
    return [out("request.failed", stage="routing", reason=reason, request_id=REQUEST)]


ROWS = [
    # -- no agent needed ------------------------------------------------------------------------
    pytest.param(sample_tree(), "update web-app please", None,
                 [out("route.decided", projects=["web-app"], workspaces=[], method="explicit", usage=None)], id="a project named"),
    pytest.param(sample_tree(), "fix web-app/frontend and api-service", None,
                 [out("route.decided", projects=["api-service", "web-app"], workspaces=["web-app/frontend"], method="explicit")],
                 id="a workspace named"),
    pytest.param(single_project_tree(), "tidy things up", None,
                 [out("route.decided", projects=["only"], workspaces=[], method="single_project")], id="a single project"),
    # -- the agent decides -------------------------------------------------------------------------
    pytest.param(sample_tree(), "upgrade the shared library", {"projects": ["shared-lib"]},
                 [out("route.decided", projects=["shared-lib"], method="agent", usage=AGENT_USAGE)], id="agent: a project"),
    pytest.param(sample_tree(), "what is a monad?", {"projects": []},
                 [out("route.decided", projects=[], method="agent")], id="agent: no project (a direct answer)"),
    pytest.param(sample_tree(), "fix the app", {"projects": [], "clarification": "The web app or the API?"},
                 [out("clarification.needed", question="The web app or the API?", usage=AGENT_USAGE)], id="agent: a question"),
    # -- the agent's answer is unusable -------------------------------------------------------------
    pytest.param(sample_tree(), "fix the app", {"projects": "web-app"}, failed(Has("routing failed: the router's answer has the wrong shape")),
                 id="malformed: wrong shape"),
    pytest.param(sample_tree(), "fix the app", {"projects": ["web-app"], "confidence": 0.9}, failed(Has("wrong shape")),
                 id="malformed: unknown field"),
    pytest.param(sample_tree(), "fix the app", {"projects": ["ghost"]}, failed("routing failed: the router named unknown projects: ghost"),
                 id="malformed: an unknown project"),
    pytest.param(sample_tree(), "fix the app", {"projects": ["../web-app"]}, failed(Has("which is refused as a project name")),
                 id="malformed: a traversing name"),
    pytest.param(sample_tree(), "fix the app", {"projects": [], "clarification": " "}, failed("routing failed: the router asked an empty question"),
                 id="malformed: an empty question"),
    pytest.param(sample_tree(), "fix the app", AgentTimeout(180), failed("routing failed: no answer within 180 s"), id="agent timed out"),
    pytest.param(None, "update web-app please", None, failed(f"routing failed: {BROKEN}"), id="the tree cannot be read"),
]


@pytest.mark.parametrize("tree, text, answer, expected", ROWS)
async def test_router(world: World, tree: Tree | None, text: str, answer: object, expected: list[Out]) -> None:
    world.trees.current, world.trees.error = tree or sample_tree(), None if tree else BROKEN
    if answer is not None:
        world.advisors.script("router", answer)
    router = world.start(Router)
    assert shape(await world.deliver(router, Story(world).opened(text)), expected) == expected
    assert [c.role for c in world.advisors.asked] == (["router"] if answer is not None else [])


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
    late = Routed(opened, sample_tree(), answer=Consulted(output={"projects": ["shared-lib"]}, text="", usage=AGENT_USAGE))
    assert await world.ask(router, late) == []
