"""An orchestrator process to be SIGKILLed at a chosen moment and started again on the same store
(the crash tests in `tests/e2e/test_resume.py` and `bench/resume_kills.py`).

Usage: python -m tests.helpers.resume_proc ROOT SCENARIO SCRIPT

SCRIPT is a JSON file:

    {"users": ["ann", "bob"],                     # terminal conversations, attached before recovery
     "steps": [{"user": "ann", "say": "in web-app: ...", "after": ["task.started@web-app/backend"]}],
     "approve": true,                             # answer "yes" to every plan put to a user
     "crash": "task.succeeded@shared-lib/core"}   # SIGKILL itself when this event is folded

A step is said once every event it names `after` has been folded. `crash` (`TYPE`, `TYPE@WORKSPACE`,
`TYPE#N` for the N-th) kills the process from inside the projection listener: before any actor
reacts to that event, exactly as a crash right after it was stored. Without `crash` it runs until
no request is open and every reply due has been printed, then exits 0 (a restart run).

It prints one JSON line per folded event (`{"seq", "type", "rid", "ws", "t"}`, `t` the wall
clock), `START <t>` first and `READY <t>` once the orchestrator has started (recovery done).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.config.loader import load_settings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.projections.requests import REQUEST_OPEN
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, load_scenario


def matches(spec: str, event: AnyEvent, counts: dict[str, int]) -> bool:
    """Whether `event` is the one `spec` names (`TYPE`, `TYPE@WORKSPACE`, `TYPE#N`); `counts`
    keeps how often each spec matched so far."""
    spec_type, _, nth = spec.partition("#")
    kind, _, workspace = spec_type.partition("@")
    if event.type != kind or workspace and getattr(event, "workspace", None) != workspace:
        return False
    counts[spec] = counts.get(spec, 0) + 1
    return counts[spec] == int(nth or 1)


class Runner:
    """The orchestrator, its terminals, and the script's steps."""

    def __init__(self, script: dict[str, Any]) -> None:
        self.script = script
        self.steps: list[dict[str, Any]] = list(script.get("steps", []))
        self.seen: set[str] = set()
        self.counts: dict[str, int] = {}
        self.terminals: dict[str, TerminalChannel] = {}
        self.changed = asyncio.Event()
        self.said = 0
        self.opened = 0
        self.orchestrator: Orchestrator | None = None

    def attach(self, orchestrator: Orchestrator) -> list[TerminalChannel]:
        self.orchestrator = orchestrator
        orchestrator.add_listener(self.on_event)
        for user in self.script.get("users", []):
            self.terminals[f"terminal:{user}"] = TerminalChannel(orchestrator, user, out=io.StringIO(), confirms=True)
        return list(self.terminals.values())

    def on_event(self, seq: int, event: AnyEvent) -> None:
        workspace = getattr(event, "workspace", None)
        line = {"seq": seq, "type": event.type, "rid": getattr(event, "request_id", None), "ws": workspace, "t": time.time()}
        print(json.dumps(line), flush=True)
        crash = self.script.get("crash")
        if crash and matches(crash, event, self.counts):
            os.kill(os.getpid(), signal.SIGKILL)
        self.seen.add(event.type)
        if event.type == "request.opened" and event.session_key in self.terminals:
            self.opened += 1
        if workspace:
            self.seen.add(f"{event.type}@{workspace}")
        if isinstance(event, ConfirmationRequested) and self.script.get("approve") and event.session_key in self.terminals:
            terminal = self.terminals[event.session_key]
            assert self.orchestrator is not None
            self.orchestrator.background.start(terminal.say("yes"), name="approve")
        self.changed.set()

    async def run(self) -> None:
        assert self.orchestrator is not None
        if self.script.get("approve"):
            # Plans that were waiting when the previous process died: the person answers now.
            for key, terminal in self.terminals.items():
                if self.orchestrator.sessions.get(key).status == "pending_plan_approval":
                    await terminal.say("yes")
        while True:
            for step in [s for s in self.steps if all(a in self.seen for a in s.get("after", []))]:
                self.steps.remove(step)
                self.said += 1
                await self.terminals[f"terminal:{step['user']}"].say(step["say"])
            if not self.steps and self.idle():
                return
            self.changed.clear()
            await self.changed.wait()

    def idle(self) -> bool:
        assert self.orchestrator is not None
        requests = self.orchestrator.requests.requests.values()
        unposted = any(self.orchestrator.sessions.get(key).unposted for key in self.terminals)
        return self.opened >= self.said and not any(r.status in REQUEST_OPEN for r in requests) and not unposted


async def main(root: Path, scenario: Path, script_file: Path) -> None:
    print(f"START {time.time()}", flush=True)
    runner = Runner(json.loads(script_file.read_text()))
    loaded = load_settings(root / "orchestrator.yaml")
    async with ScriptedModelServer(load_scenario(scenario)) as model:
        async with Orchestrator(loaded, agent_env=model.env(), channels=runner.attach):
            print(f"READY {time.time()}", flush=True)
            await runner.run()
    print("IDLE", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
