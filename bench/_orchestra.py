"""Helpers of the orchestration benchmarks: a generated tree, a scripted model, a running orchestrator.

A bench lays out `projects` (each a folder with a CLAUDE.md holding workspace folders with their
own CLAUDE.md), starts the scripted model server and an `Orchestrator` on the tree (in this
process, as the end-to-end tests do; the embedded nats-server and the Claude Code CLIs are child
processes), and runs requests through a `TerminalChannel`: request text, wait for the
confirmation, approve, wait for the end. Every event the orchestrator publishes is kept with the
`time.perf_counter()` at which this process saw it.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the checkout on sys.path)

from claude_tunnels.actors.ports import Consultation, Consulted
from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import REQUEST_ENDED, AnyEvent
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.values import Usage
from claude_tunnels.tunnels.claude import runner as claude_runner
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from claude_tunnels.tunnels.scripted_model.scenario import Scenario
from claude_tunnels.tunnels.scripted_model.server import RecordedRequest, choose_script


def lay_out_tree(root: Path, projects: dict[str, list[str]]) -> Path:
    """Write `projects` ({project: [workspace, ...]}) under `root`, each folder with a CLAUDE.md."""
    for project, workspaces in projects.items():
        (root / project).mkdir(parents=True, exist_ok=True)
        (root / project / "CLAUDE.md").write_text(f"# {project}\nA bench project.\n", encoding="utf-8")
        for workspace in workspaces:
            folder = root / project / workspace
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "CLAUDE.md").write_text(f"# {workspace}\nA bench workspace of {project}.\n", encoding="utf-8")
    return root


def planner_script(label: str, tasks: Sequence[tuple[str, list[str]]], match: str = "") -> dict[str, Any]:
    """The planner answering at once with these (workspace, depends_on) tasks; with `match`, only
    for requests containing it (it then wins over a planner script without one)."""
    return {"name": f"planner-{match}", "match": ["Plan the workspace tasks.", *([match] if match else [])], "turns": [{"structured_output": {
        "label": label, "tasks": [{"workspace": w, "task": f"Bench task for {w}.", "depends_on": d} for w, d in tasks],
    }}]}


def router_script(projects: Sequence[str]) -> dict[str, Any]:
    """The router answering at once with these projects (a message naming several projects is routed:
    names are hints)."""
    return {"name": "router", "match": ["Which projects is this request about?"], "turns": [{"structured_output": {"projects": list(projects)}}]}


def workspace_script(workspace: str, delay_s: float = 0.0) -> dict[str, Any]:
    """A workspace agent whose one turn is its structured TaskResult (after `delay_s`), no tool calls."""
    turn: dict[str, Any] = {"structured_output": {"summary": f"{workspace} done", "changed_files": [], "test_result": "skip"}}
    if delay_s:
        turn["delay_s"] = delay_s
    return {"name": workspace, "match": [f"Workspace: {workspace}\n"], "turns": [turn]}


class ScriptedAdvisors:
    """The `Advisors` port answered in this process from a scripted-model scenario: the script
    whose `match` strings all occur in the prompt plays its first turn (no CLI, no HTTP)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    async def consult(self, consultation: Consultation) -> Consulted:
        script = choose_script(self.scenario, consultation.prompt)
        if script is None or not script.turns:
            raise RuntimeError(f"no script answers this {consultation.role} prompt")
        turn = script.turns[0]
        return Consulted(output=turn.structured_output, text=turn.text or "", usage=Usage())



@dataclass
class Seen:
    """One event and when this process saw it (after the projections folded it)."""

    event: AnyEvent
    perf: float


@dataclass
class Bench:
    """A running orchestrator with every event it published."""

    root: Path
    orchestrator: Orchestrator
    model: ScriptedModelServer
    seen: list[Seen] = field(default_factory=list)
    calls: list[tuple[datetime, RecordedRequest]] = field(default_factory=list)
    """Every request the scripted model received, with the wall-clock time it arrived."""
    closes: list[tuple[str, datetime, float]] = field(default_factory=list)
    """Every agent session's close (cwd, when it began, seconds): after a clean end, the wait for the CLI to exit."""
    _users: int = 0

    def _listen(self, seq: int, event: AnyEvent) -> None:
        self.seen.append(Seen(event, time.perf_counter()))

    async def approved_request(
        self, text: str, timeout: float = 120, on_approve: Callable[[], None] | None = None,
    ) -> tuple[AnyEvent, AnyEvent]:
        """Run `text` in a new conversation, approve its plan, and wait for its end.

        Returns the end event and the approving `message.received`. A new conversation per call
        keeps requests independent (no follow-up to the previous one). `on_approve` is called
        just before the approving message is sent.
        """
        self._users += 1
        terminal = TerminalChannel(self.orchestrator, f"bench{self._users}", out=io.StringIO(), show_progress=False)
        asked = terminal.watch(lambda e: isinstance(e, ConfirmationRequested))
        await terminal.say(text)
        await asyncio.wait_for(asked, timeout)
        ended = terminal.watch(lambda e: isinstance(e, REQUEST_ENDED))
        if on_approve is not None:
            on_approve()
        await terminal.say("yes")
        final = await asyncio.wait_for(ended, timeout)
        approval = [e for e in terminal.events if type(e).__name__ == "MessageReceived" and e.text == "yes"]  # type: ignore[attr-defined]
        return final, approval[0]

    def of_request(self, request_id: str) -> list[Seen]:
        """The seen events of one request, in stream order."""
        return [s for s in self.seen if getattr(s.event, "request_id", None) == request_id]

    def close_of(self, workspace: str, since: datetime, until: datetime) -> float:
        """Seconds the session of `workspace` running between `since` and `until` took to close."""
        return next(d for cwd, at, d in self.closes if cwd.endswith("/" + workspace) and since <= at <= until)

    def calls_for(self, script: str, since: datetime) -> list[datetime]:
        """Arrival times of the model calls played by `script` (a workspace) since `since`."""
        return [at for at, r in self.calls if r.script == script and at >= since]


def _time_model_calls(bench: Bench) -> None:
    # The server keeps no arrival times; wrap its (private) recording hook to stamp each request.
    record = bench.model._record

    async def stamped(recorded: RecordedRequest) -> None:
        bench.calls.append((datetime.now(UTC), recorded))
        await record(recorded)

    bench.model._record = stamped  # type: ignore[method-assign]


@contextmanager
def _time_session_closes(bench: Bench) -> Iterator[None]:
    # Instrumentation only: how long `_Session.close` (SIGTERM-less disconnect, reaping the CLI)
    # takes; it runs before `task.succeeded` is recorded, so it is inside a task's agent time.
    close = claude_runner._Session.close

    async def timed(session: Any) -> None:
        at, began = datetime.now(UTC), time.perf_counter()
        try:
            await close(session)
        finally:
            bench.closes.append((str(session.spec.cwd), at, time.perf_counter() - began))

    claude_runner._Session.close = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        claude_runner._Session.close = close  # type: ignore[method-assign]


@asynccontextmanager
async def running(
    tmp: Path, projects: dict[str, list[str]], scripts: list[dict[str, Any]], limits: dict[str, Any],
    *, keep_requests: int | None = None, agent_env: dict[str, str] | None = None, **settings: Any,
) -> AsyncIterator[Bench]:
    """Lay out the tree under `tmp/tree`, start the scripted model and an orchestrator on it
    (`settings`: more sections of orchestrator.yaml, e.g. `remote={...}`; `keep_requests`: how
    many requests the model server keeps recorded; `agent_env`: point the CLIs at another model
    server instead)."""
    root = lay_out_tree(tmp / "tree", projects)
    document = {"claude": {"isolate_home": True}, "limits": {"progress_interval_s": 0.1, "task_timeout_s": 120, **limits}, **settings}
    (root / "orchestrator.yaml").write_text(json.dumps(document), encoding="utf-8")
    loaded = load_settings(root / "orchestrator.yaml")
    async with ScriptedModelServer(parse_scenario(json.dumps({"scripts": scripts})), keep_requests=keep_requests) as model:
        async with Orchestrator(loaded, agent_env=agent_env or model.env()) as orchestrator:
            bench = Bench(root, orchestrator, model)
            orchestrator.add_listener(bench._listen)
            _time_model_calls(bench)
            with _time_session_closes(bench):
                yield bench


def machine() -> str:
    """CPUs and the 1-minute load average: other work on the machine skews every figure here."""
    return f"{os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.1f}"


def seconds(later: datetime, earlier: datetime) -> float:
    """`later - earlier` in seconds."""
    return (later - earlier).total_seconds()


def med(values: Sequence[float]) -> float:
    """The median (nan when empty)."""
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 0) -> str:
    """`median (min-max)` of `values` times `scale`."""
    if not values:
        return "-"
    f = f"{{:.{digits}f}}"
    return f"{f.format(med(values) * scale)} ({f.format(min(values) * scale)}-{f.format(max(values) * scale)})"
