"""A remote agent's permission decisions and questions, sent as reports; answers come on control.

The agent decides nothing a person should: it reports its policy's and sandbox's decisions
(`Decided`), and for an action that is relayed it reports the question (`Asked`) and waits for
the orchestrator's `AnswerCommand`. If no answer arrives (the orchestrator is gone for longer than
the question's deadline, or the control message was lost), the action is refused.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from claude_tunnels.actors.ports import Answer, PermissionNote, Question
from claude_tunnels.remote_agent.protocol import AnswerCommand, Asked, Decided
from claude_tunnels.remote_agent.reports import ReportSender

log = logging.getLogger(__name__)

GRACE_S = 60.0
"""How much longer than the question's deadline the agent waits for the orchestrator's answer."""


class TaskQuestions:
    """One task's `on_decision` and `ask` on the agent, talking to the orchestrator through reports."""

    def __init__(self, reports: ReportSender, task_id: str, timeout_s: float) -> None:
        self.reports = reports
        self.task_id = task_id
        self.timeout_s = timeout_s
        self._asked = 0
        self._waiting: dict[int, asyncio.Future[Answer]] = {}

    def on_decision(self, note: PermissionNote) -> None:
        """Report a decision of the agent's own policy or sandbox."""
        by: Literal["policy", "sandbox"] = "sandbox" if note.by == "sandbox" else "policy"
        self.reports.send(Decided(
            task_id=self.task_id, tool=note.tool, detail=note.detail, allowed=note.allowed, reason=note.reason,
            rule=note.rule, by=by,
        ))

    async def ask(self, question: Question) -> Answer:
        """Report the question and wait for the orchestrator's answer (refused if none comes)."""
        self._asked += 1
        number = self._asked
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        self.reports.send(Asked(
            task_id=self.task_id, number=number, tool=question.tool, detail=question.detail, reason=question.reason,
            rule=question.rule,
        ))
        try:
            async with asyncio.timeout(self.timeout_s + GRACE_S):
                return await future
        except TimeoutError:
            log.warning("no answer to question %d of task %s reached the agent; refusing", number, self.task_id)
            return Answer(allowed=False, by="timeout", reason="no answer reached the agent in time")
        finally:
            self._waiting.pop(number, None)

    def answered(self, command: AnswerCommand) -> None:
        """An answer from the orchestrator (a second answer to the same question changes nothing)."""
        future = self._waiting.get(command.answer_to)
        if future is not None and not future.done():
            future.set_result(Answer(allowed=command.allowed, by=command.by, reason=command.reason))
