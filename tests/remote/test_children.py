"""Orchestrators of orchestrators: a top orchestrator whose workspace is a child orchestrator.

The top runs here (the sample tree, one hub nats-server with authorization); the child is a
separate `tunnels serve` process with its own root, its own embedded nats-server, its own
scripted model and one local workspace, joined to the hub as the nkey user `tunnels agent
credentials ml/platform` makes. Both run the real Claude Code CLI against scripted models.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from claude_tunnels.events import EVENTS
from claude_tunnels.events.conversation import ConfirmationRequested, RequestOpened
from claude_tunnels.events.execution import (
    RequestCompleted,
    WorkspaceProgress,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
)
from claude_tunnels.events.planning import PlanApproved, PlanProposed, RouteDecided
from claude_tunnels.tunnels.bus import EmbeddedNatsServer
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.scenarios import plan, router, scenario, succeeds
from tests.e2e.world import World, world
from tests.helpers.remote import ORCH_PASSWORD, ORCH_USER, AgentIdentity, AgentProcess, authorization, make_identity

pytestmark = pytest.mark.cli

CHILD = "ml/platform"
TEXT = "in shared-lib and ml: retrain on the new core"


def top_script() -> str:
    return scenario(
        router(["shared-lib", "ml"], TEXT),
        plan("retrain", ("shared-lib/core", "bump the core", []), (CHILD, "retrain the model on the new core", ["shared-lib/core"])),
        succeeds("shared-lib/core", "core bumped"),
    )


def child_script(trainer: dict[str, Any]) -> str:
    # One project: the child's router settles it without a model call; its planner and agent are scripted.
    return scenario(plan("child-retrain", ("recsys/trainer", "retrain it", [])), trainer)


def child_root(tmp_path: Path, identity: AgentIdentity, hub_url: str, model_env: dict[str, str]) -> Path:
    root = tmp_path / "child"
    (root / "recsys" / "trainer").mkdir(parents=True)
    (root / "recsys" / "CLAUDE.md").write_text("# recsys\nThe recommendation model.\n", encoding="utf-8")
    (root / "recsys" / "trainer" / "CLAUDE.md").write_text("# trainer\nTrains the model.\n", encoding="utf-8")
    document = {
        "claude": {"isolate_home": True, "env": model_env}, "limits": {"progress_interval_s": 0.1, "task_timeout_s": 60},
        "channels": {"terminal": {"enabled": False}},
        "parent": {"url": hub_url, "nkey_seed_file": str(identity.seed_file), "name": CHILD,
                   "description": "The US ML platform.", "heartbeat_s": 0.5},
    }
    (root / "orchestrator.yaml").write_text(json.dumps(document), encoding="utf-8")
    return root


@asynccontextmanager
async def two_levels(tmp_path: Path, trainer: dict[str, Any], **remote: float) -> AsyncIterator[tuple[World, AgentProcess, Path, ScriptedModelServer]]:
    """The hub, the top orchestrator on it, and the child process (live at the top) whose Claude
    Code CLIs answer to the scripted model server returned (run here, so a test can wait on it)."""
    identity = make_identity(CHILD, tmp_path / "keys")
    async with (
        EmbeddedNatsServer(tmp_path / "hub", extra_config=authorization(identity)) as hub,
        ScriptedModelServer(parse_scenario(child_script(trainer))) as child_model,
    ):
        settings = {"nats": {"url": hub.url, "user": ORCH_USER, "password": ORCH_PASSWORD}, "remote": remote}
        async with world(tmp_path, top_script(), settings=settings) as w:
            root = child_root(tmp_path, identity, hub.url, child_model.env())
            child = await AgentProcess(["--root", str(root), "serve"], module="claude_tunnels.tunnels.cli").start()
            try:
                await w.orchestrator.remote.wait_live(CHILD, timeout=60)
                yield w, child, root, child_model
            finally:
                await child.stop()


def child_replay(root: Path, request_id: str) -> list[Any]:
    """The child's own `tunnels replay --json` of one of its requests (the real command)."""
    done = subprocess.run(
        [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "replay", "--json", request_id],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return [EVENTS.decode(line.encode()) for line in done.stdout.splitlines()]


async def start_request(w: World) -> str:
    asked = await w.ask(TEXT, lambda e: isinstance(e, ConfirmationRequested))
    return asked.request_id or ""


async def test_one_message_at_the_top_runs_the_childs_plan_in_the_childs_workspace(tmp_path: Path) -> None:
    trainer = succeeds("recsys/trainer", "model retrained", writes="model.txt")
    async with two_levels(tmp_path, trainer) as (w, _child, root, _model):
        presence = w.orchestrator.remote.presences[CHILD][0]
        assert presence.kind == "orchestrator"
        assert "The US ML platform." in presence.claude_md and "- recsys: The recommendation model. (workspaces: trainer)" in presence.claude_md

        request_id = await start_request(w)
        final = await w.ask("yes", lambda e: isinstance(e, RequestCompleted), 120)
        assert (final.succeeded, final.failed) == (2, 0), final
        # The top's planner read the child's announcement; the top reply lists the child's result.
        assert "The recommendation model." in w.model.requests_for("planner-retrain")[0].task_text
        assert "model retrained" in final.summary and "recsys/trainer: succeeded" in final.summary
        # The file changed only in the child's workspace.
        assert (root / "recsys" / "trainer" / "model.txt").read_text() == "x\n"
        assert not list(w.root.rglob("model.txt"))

        # The top's events name the child's request; the child ran it on the parent's authority.
        started = next(e for e in w.of_type(WorkspaceTaskStarted) if e.workspace == CHILD)
        child_request = started.child_request_id
        assert child_request
        events = child_replay(root, child_request)
        opened = next(e for e in events if isinstance(e, RequestOpened))
        assert opened.delegation is not None and opened.delegation.request_id == request_id
        assert opened.delegation.approved_by == "terminal:alice" and opened.delegation.parent == CHILD
        approved = next(e for e in events if isinstance(e, PlanApproved))
        assert approved.auto and f"terminal:alice (parent request {request_id})" == approved.by
        assert [type(e) for e in events if isinstance(e, RouteDecided | PlanProposed)] == [RouteDecided, PlanProposed]
        assert not any(isinstance(e, ConfirmationRequested) for e in events)  # no second approval
        child_end = next(e for e in events if isinstance(e, RequestCompleted))

        # Costs roll up: the child's whole request is its task's cost at the top, and the top's total sums it.
        child_task = next(e for e in w.of_type(WorkspaceTaskSucceeded) if e.workspace == CHILD)
        assert child_task.usage.cost_usd == child_end.usage.cost_usd > 0
        top = w.orchestrator.requests.get(request_id)
        assert top is not None and final.usage.cost_usd == top.usage.cost_usd
        parts = [t.usage.cost_usd for t in top.tasks.values()]
        assert final.usage.cost_usd >= round(sum(parts), 6) > child_end.usage.cost_usd
        # Its progress came up in brief.
        lines = [e.detail for e in w.of_type(WorkspaceProgress) if e.workspace == CHILD]
        assert any(line.startswith("planned 1 task(s) in 1 phase(s): recsys/trainer") for line in lines), lines

        # `tunnels replay` of the top request names the child's request.
        replay = subprocess.run(
            [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(w.root), "replay", request_id],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
        assert f"ml/platform: child orchestrator's request {child_request}" in replay


# A cancel at the top reaching a child's agents, and a killed child lost with its dependants
# skipped, are shown at three levels: tests/remote/test_three_levels.py.
