"""PermissionGate: one decision per relayed question, by the right person, as a table.

Each row: the stage the request is in (`question`: the task of shared-lib/core asked `P1`;
`answered`: ALICE allowed it), what reaches the gate, and the events it records.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from claude_tunnels.actors.permission_gate import ExpireQuestion, PermissionGate, decision_id
from claude_tunnels.events.execution import PermissionDecided
from tests.actors.harness import ALICE, BOB, BOSS, World
from tests.actors.story import QUESTION, REQUEST, Out, Stage, Story, out, shape

Make = Callable[[Story], object]
CORE, BACKEND = "shared-lib/core", "web-app/backend"


def warning(text: str) -> Out:
    return out("notice.issued", level="warning", text=text, request_id=REQUEST)


def decided(allowed: bool, by: str, reason: str) -> Out:
    return out("permission.decided", permission_id=QUESTION, task_id=f"{REQUEST}-1", workspace=CORE, tool="Bash",
               allowed=allowed, by=by, reason=reason, rule="asked in the conversation")


TASK_ENDED = [decided(False, "orchestrator", "the task ended before anyone answered")]

ROWS = [
    # -- an answer ----------------------------------------------------------------------------
    pytest.param("question", lambda s: s.permission_answered(ALICE, True), [decided(True, ALICE, f"allowed by {ALICE}")],
                 id="the requester allows"),
    pytest.param("question", lambda s: s.permission_answered(BOSS, False), [decided(False, BOSS, f"denied by {BOSS}")],
                 id="an approver denies"),
    pytest.param("question", lambda s: s.permission_answered(BOB, True),
                 [warning(f"Only {ALICE} or an approver can answer that question.")], id="someone else may not answer"),
    pytest.param("answered", lambda s: s.permission_answered(BOSS, False),
                 [warning(f"That question was already answered: allowed ({ALICE}).")], id="answered already"),
    pytest.param("question", lambda s: s.permission_answered(ALICE, True, permission_id="P9"),
                 [warning("That question is not one I asked; nothing changed.")], id="not a question I asked"),
    # -- the task ends first --------------------------------------------------------------------
    pytest.param("question", lambda s: s.failed(CORE), TASK_ENDED, id="its task failed: denied"),
    pytest.param("question", lambda s: s.succeeded(CORE), TASK_ENDED, id="its task succeeded: denied"),
    pytest.param("question", lambda s: s.cancelled(CORE), TASK_ENDED, id="its task was cancelled: denied"),
    pytest.param("question", lambda s: s.succeeded(BACKEND), [], id="another task ended: still waits"),
    pytest.param("answered", lambda s: s.failed(CORE), [], id="its task ended after the answer"),
    # -- asked, and the deadline ------------------------------------------------------------------
    pytest.param("executing", lambda s: s.question(CORE), [], id="asked: waits for an answer"),
    pytest.param("question", lambda s: s.after(300, lambda: ExpireQuestion(REQUEST, QUESTION)),
                 [decided(False, "timeout", "nobody answered within 5 minutes")], id="deadline: nobody answered"),
    pytest.param("question", lambda s: s.after(60, lambda: ExpireQuestion(REQUEST, QUESTION)), [],
                 id="deadline: the timer fired early"),
    pytest.param("answered", lambda s: s.after(300, lambda: ExpireQuestion(REQUEST, QUESTION)), [],
                 id="deadline: answered in time"),
]


@pytest.mark.parametrize("stage, arrives, expected", ROWS)
async def test_permission_gate(world: World, stage: Stage, arrives: Make, expected: list[Out]) -> None:
    story = Story(world)
    await world.given(*story.up_to(stage))
    gate = world.start(PermissionGate)
    assert shape(await world.react(gate, arrives(story)), expected) == expected


async def test_every_writer_gives_a_decision_the_same_id(world: World) -> None:
    # An answer and the deadline may both decide (a restart, a race): the log keeps the first.
    story = Story(world)
    await world.given(*story.up_to("question"))
    gate = world.start(PermissionGate)
    request = world.requests.get(REQUEST)
    assert request is not None
    question = request.questions[QUESTION]
    [answer] = await world.deliver(gate, story.permission_answered(ALICE, True))
    assert isinstance(answer, PermissionDecided) and answer.id == decision_id(question)
