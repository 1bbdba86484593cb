"""A realistic, deterministic event stream for benchmarks: many sessions, interleaved in time.

Each session runs several requests one after another: a message, the request opened, a route, a
plan of 1-3 phases, an approval round trip, per task dispatch/start/progress/result, the phase
ends, the completion and the chat reply. About one task in ten fails; its dependants are
skipped. Sessions run concurrently, so the stream interleaves requests as a busy server would.
Ids and times come from `tests.factories.Events` (fixed clock, sequential ULIDs).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import _common  # noqa: F401  (puts the checkout on sys.path)

from claude_tunnels.events.base import Event
from claude_tunnels.events.conversation import (
    ConfirmationAnswered,
    ConfirmationGiven,
    ConfirmationRequested,
    MessageReceived,
    ReplyPosted,
    RequestOpened,
    Turn,
)
from claude_tunnels.events.execution import (
    PhaseCompleted,
    PhaseStarted,
    RequestCompleted,
    WorkspaceProgress,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskSkipped,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
)
from claude_tunnels.events.planning import PlanApproved, PlanProposed, RouteDecided
from claude_tunnels.events.values import Plan, PlannedTask, TaskResult, Usage
from tests.factories import Events

_PROJECTS = ["shared", "web", "mobile", "billing", "search", "docs", "infra", "auth"]
_TOOLS = ["Read src/app/main.py", "Edit src/app/api.py", "Bash pytest -q tests/unit", "Grep 'def handler'"]
_TEXTS = [
    "Upgrade the core library to v2 and adapt every caller",
    "Add a retry with backoff to the payment webhook handler",
    "Rename the user settings endpoint and update the clients",
    "Fix the flaky login test on CI and explain the cause",
]


def _plan(rng: random.Random, projects: list[str]) -> Plan:
    phases: list[list[str]] = []
    tasks: list[PlannedTask] = []
    previous: list[str] = []
    for layer in ("lib", "api", "app")[: rng.randint(1, 3)]:
        phase = [f"{project}/{layer}" for project in projects]
        tasks += [PlannedTask(workspace=w, task=f"{rng.choice(_TEXTS)} ({w})", depends_on=list(previous)) for w in phase]
        phases.append(phase)
        previous = phase
    return Plan(label=rng.choice(_TEXTS)[:40], tasks=tasks, phases=phases)


def _request(ev: Events, rng: random.Random, key: str, turns: list[Turn]) -> Iterator[Event]:
    channel = key.split(":")[0]
    sender = f"{channel}:U{rng.randint(1, 50):03d}"
    rid = ev.ids.new_id()
    text = rng.choice(_TEXTS)
    msg = MessageReceived(channel=channel, sender=sender, text=text, message_ref=f"ref-{rid}", **ev.envelope(key))
    yield msg
    yield RequestOpened(
        request_id=rid, text=text, requester=sender, channel=channel, message_id=msg.id,
        history=turns[-4:], causation_id=msg.id, **ev.envelope(key),
    )
    projects = rng.sample(_PROJECTS, rng.randint(1, 2))
    usage = Usage(input_tokens=1200, output_tokens=150, cost_usd=0.004, num_turns=1, duration_ms=900)
    yield RouteDecided(request_id=rid, projects=projects, method="agent", usage=usage, **ev.envelope(key))
    plan = _plan(rng, projects)
    yield PlanProposed(request_id=rid, plan=plan, usage=usage, **ev.envelope(key))
    env = ev.envelope(key)
    yield ConfirmationRequested(
        request_id=rid, requester=sender, approvers=[sender], expires_at=env["at"] + timedelta(minutes=10), **env
    )
    answer = MessageReceived(
        channel=channel, sender=sender, text="approve", message_ref=f"ref-a-{rid}", action="approve", **ev.envelope(key)
    )
    yield answer
    yield ConfirmationAnswered(request_id=rid, by=sender, answer="approve", message_id=answer.id, **ev.envelope(key))
    yield ConfirmationGiven(request_id=rid, by=sender, **ev.envelope(key))
    yield PlanApproved(request_id=rid, by=sender, **ev.envelope(key))
    failed: list[str] = []
    counts = {"succeeded": 0, "failed": 0, "skipped": 0}
    for number, phase in enumerate(plan.phases, start=1):
        yield PhaseStarted(request_id=rid, phase=number, workspaces=phase, **ev.envelope(key))
        ended: dict[str, list[str]] = {"succeeded": [], "failed": [], "skipped": []}
        for workspace in phase:
            task_id = f"{rid}-{workspace}"
            if failed:
                yield WorkspaceTaskSkipped(request_id=rid, task_id=task_id, workspace=workspace, because=list(failed), **ev.envelope(key))
                ended["skipped"].append(workspace)
                continue
            yield WorkspaceTaskDispatched(
                request_id=rid, task_id=task_id, workspace=workspace, phase=number,
                task=plan.task_for(workspace).task, upstream=plan.task_for(workspace).depends_on, **ev.envelope(key),
            )
            yield WorkspaceTaskStarted(request_id=rid, task_id=task_id, workspace=workspace, agent="local", **ev.envelope(key))
            for _ in range(rng.randint(1, 4)):
                yield WorkspaceProgress(request_id=rid, task_id=task_id, workspace=workspace, kind="tool", detail=rng.choice(_TOOLS), **ev.envelope(key))
            task_usage = Usage(input_tokens=24000, output_tokens=3100, cache_read_input_tokens=90000, cost_usd=0.21, num_turns=14, duration_ms=84000)
            if rng.random() < 0.1:
                yield WorkspaceTaskFailed(
                    request_id=rid, task_id=task_id, workspace=workspace, error="tests failed: 3 of 120", usage=task_usage, **ev.envelope(key),
                )
                ended["failed"].append(workspace)
            else:
                result = TaskResult(
                    summary=f"Done: {plan.task_for(workspace).task}. All tests pass.",
                    changed_files=["src/app/api.py", "tests/test_api.py"], test_result="pass",
                    downstream_context="the API now returns v2 payloads",
                )
                yield WorkspaceTaskSucceeded(request_id=rid, task_id=task_id, workspace=workspace, result=result, usage=task_usage, **ev.envelope(key))
                ended["succeeded"].append(workspace)
        failed += ended["failed"] + ended["skipped"]
        for name, value in ended.items():
            counts[name] += len(value)
        yield PhaseCompleted(request_id=rid, phase=number, **ended, **ev.envelope(key))
    summary = f"{counts['succeeded']} tasks succeeded, {counts['failed']} failed, {counts['skipped']} skipped."
    done = RequestCompleted(request_id=rid, summary=summary, **counts, **ev.envelope(key))
    yield done
    yield ReplyPosted(request_id=rid, channel=channel, in_reply_to=done.id, chat_ref=f"chat-{rid}", **ev.envelope(key))
    turns += [Turn(role="user", text=text), Turn(role="assistant", text=summary)]


def _session(ev: Events, rng: random.Random, number: int) -> Iterator[Event]:
    channel = ("slack", "telegram", "terminal")[number % 3]
    key = f"slack:T01/C{number:05d}" if channel == "slack" else f"{channel}:{number}"
    turns: list[Turn] = []
    for _ in range(rng.randint(5, 15)):
        yield from _request(ev, rng, key, turns)


def realistic_events(count: int, *, concurrent: int = 40, seed: int = 7) -> list[Event]:
    """`count` events of `concurrent` sessions at a time, interleaved; the same list for the same arguments."""
    rng = random.Random(seed)
    ev = Events()
    started = 0
    active: list[Iterator[Event]] = []
    out: list[Event] = []
    while len(out) < count:
        while len(active) < concurrent:
            active.append(_session(ev, rng, started))
            started += 1
        index = rng.randrange(len(active))
        try:
            out.append(next(active[index]))
        except StopIteration:
            active.pop(index)
    return out
