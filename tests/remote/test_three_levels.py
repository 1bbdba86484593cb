"""Three levels of orchestrators: a top, two divisions as its workspaces, their own workspaces.

The top runs here (the sample tree) on a hub nats-server with authorization and a leaf-node
listener. Division `us/ml` is a `tunnels serve --parent … --parent-name … --parent-seed …`
process joined to the hub directly; its own events and its remote agent (`recsys/serving`, a
`tunnels-agent` process) are on a nats-server of its own. Division `kr/product` is a `tunnels
serve` process reaching the hub through a leaf server on its host (`parent.js_domain: hub`), its
own events on its embedded nats-server, and it requires its own approval of its plans
(`parent.approval: own`): they are put to the top's conversation as questions. Each level has its own scripted model; every agent is
the real Claude Code CLI.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from claude_tunnels.channels.status import status_text
from claude_tunnels.events.conversation import ConfirmationRequested, RequestOpened
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    RequestCancelled,
    RequestCompleted,
    WorkspaceTaskCancelled,
    WorkspaceTaskFailed,
    WorkspaceTaskSkipped,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
)
from claude_tunnels.events.planning import PlanApproved
from claude_tunnels.events.values import CHILD_PLAN_TOOL
from claude_tunnels.remote_agent.credentials import permission_block
from claude_tunnels.tunnels.bus import EmbeddedNatsServer
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.scenarios import hangs, plan, router, scenario, succeeds
from tests.e2e.world import World, world
from tests.git.repos import make_repo, run
from tests.helpers.remote import (
    ORCH_PASSWORD,
    ORCH_USER,
    PREFIX,
    STREAM,
    AgentProcess,
    authorization,
    leaf_config,
    make_identity,
    start_agent,
)
from tests.remote.test_children import child_replay

pytestmark = pytest.mark.cli

US, KR = "us/ml", "kr/product"
TRAINER, SERVING, API = "recsys/trainer", "recsys/serving", "backend/api"
TEXT = "in us and kr: retrain the model and consume its new API"


def top_script() -> str:
    return scenario(
        router(["us", "kr"], TEXT),
        plan("top", (US, "retrain the model and serve it", []), (KR, "consume the new model API", [US])),
    )


def events_of(w: World, request_id: str | None) -> list[Any]:
    """The top session's events of one request, in order."""
    return [e for e in w.terminal.events if getattr(e, "request_id", None) == request_id]


def us_script(*scripts: dict[str, Any]) -> str:
    return scenario(*scripts)


def asks_first(script: dict[str, Any], command: str) -> dict[str, Any]:
    """`script`, its agent first running a Bash `command` outside the allowlist: a question for a person."""
    return {**script, "turns": [{"tool_uses": [{"name": "Bash", "input": {"command": command}}]}, *script["turns"]]}


def division_root(folder: Path, project: str, workspace: str, model_env: dict[str, str], *, git: bool = False, **settings: Any) -> Path:
    """A division's root: one project with one local workspace (a git repository with `git`),
    its Claude Code CLIs on `model_env`."""
    (folder / project / workspace).mkdir(parents=True)
    (folder / project / "CLAUDE.md").write_text(f"# {project}\nThe {project} project.\n", encoding="utf-8")
    (folder / project / workspace / "CLAUDE.md").write_text(f"# {workspace}\nThe {workspace}.\n", encoding="utf-8")
    if git:
        make_repo(folder / project / workspace, {})
    document = {
        "claude": {"isolate_home": True, "env": model_env}, "limits": {"progress_interval_s": 0.1, "task_timeout_s": 60},
        "channels": {"terminal": {"enabled": False}}, **settings,
    }
    (folder / "orchestrator.yaml").write_text(json.dumps(document), encoding="utf-8")
    return folder


def top_replay(root: Path, request_id: str) -> str:
    """The top's own `tunnels replay` of a request (the real command, as text)."""
    return subprocess.run(
        [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "replay", request_id],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout


@dataclass
class Levels:
    top: World
    us: AgentProcess
    us_root: Path
    us_model: ScriptedModelServer
    serving_dir: Path
    kr_root: Path
    kr_model: ScriptedModelServer


@asynccontextmanager
async def three_levels(tmp_path: Path) -> AsyncIterator[Levels]:
    us_login = make_identity(US, tmp_path / "keys")  # us/ml, a user of the hub
    kr_login = make_identity(KR, tmp_path / "kr-keys")  # kr/product, a user of its leaf server
    kr_leaf = make_identity(KR, tmp_path / "kr-leaf-keys")  # that leaf's connection, a user of the hub
    serving_login = make_identity(SERVING, tmp_path / "serving-keys")  # the agent, a user of us/ml's server
    hub_state = tmp_path / "hub"
    hub_extra = (
        f'jetstream {{ store_dir: "{hub_state / "nats" / "store"}", domain: hub }}\n'
        'leafnodes { listen: "127.0.0.1:-1" }\n'
        + authorization(kr_leaf, js_domain="hub", extra_users=permission_block(US, us_login.public_key, prefix=PREFIX, stream=STREAM))
    )
    async with AsyncExitStack() as stack:
        hub = await stack.enter_async_context(EmbeddedNatsServer(hub_state, extra_config=hub_extra))
        leaf = await stack.enter_async_context(EmbeddedNatsServer(
            tmp_path / "kr-leaf", extra_config=leaf_config(hub.listeners["leafnode"][1], kr_leaf, "hub", kr_login)))
        us_nats = await stack.enter_async_context(EmbeddedNatsServer(tmp_path / "us-nats", extra_config=authorization(serving_login)))
        us_model = await stack.enter_async_context(ScriptedModelServer(parse_scenario(us_script())))
        kr_model = await stack.enter_async_context(ScriptedModelServer(parse_scenario(scenario(
            plan("kr", (API, "consume the new API", [])), succeeds(API, "api consumes the new model", writes="api.txt"),
        ))))
        settings = {"nats": {"url": hub.url, "user": ORCH_USER, "password": ORCH_PASSWORD}, "remote": {"lost_after_s": 5}}
        # The top throttles its agents' progress to one line a minute; a division's lines are each recorded.
        top = await stack.enter_async_context(world(tmp_path, top_script(), settings=settings, limits={"progress_interval_s": 60}))

        # us/ml: the parent on the command line (over `parent:`, which keeps the description and heartbeat).
        us_root = division_root(
            tmp_path / "us", "recsys", "trainer", us_model.env(),
            nats={"url": us_nats.url, "user": ORCH_USER, "password": ORCH_PASSWORD},
            parent={"description": "The US ML platform.", "heartbeat_s": 0.5},
        )
        us = await AgentProcess([
            "--root", str(us_root), "serve", "--parent", hub.url, "--parent-name", US, "--parent-seed", str(us_login.seed_file),
        ], module="claude_tunnels.tunnels.cli").start()
        stack.push_async_callback(us.stop)
        serving_dir = tmp_path / "serving-host" / "serving"
        serving_dir.mkdir(parents=True)
        (serving_dir / "CLAUDE.md").write_text("# serving\nServes the model.\n", encoding="utf-8")
        agent = await start_agent(us_nats.url, serving_login, serving_dir, tmp_path / "serving-host", us_model)
        stack.push_async_callback(agent.stop)

        # kr/product: behind the leaf node, in its settings.
        kr_root = division_root(
            tmp_path / "kr", "backend", "api", kr_model.env(), git=True,
            parent={"url": leaf.url, "nkey_seed_file": str(kr_login.seed_file), "name": KR, "js_domain": "hub",
                    "description": "The Korean product backend.", "heartbeat_s": 0.5, "approval": "own"},
        )
        kr = await AgentProcess(["--root", str(kr_root), "serve"], module="claude_tunnels.tunnels.cli").start()
        stack.push_async_callback(kr.stop)

        remote = top.orchestrator.remote
        await remote.wait_live(KR, timeout=60)
        # us/ml announces its remote workspace once it has seen its agent.
        await remote.wait_seen(lambda: US in remote.presences and "serving" in remote.presences[US][0].claude_md, 60)
        yield Levels(top, us, us_root, us_model, serving_dir, kr_root, kr_model)


async def test_one_message_at_the_top_runs_two_divisions_and_approvals_cancels_and_a_lost_division_go_up_and_down(tmp_path: Path) -> None:
    async with three_levels(tmp_path) as levels:
        w = levels.top
        assert "The Korean product backend." in w.orchestrator.remote.presences[KR][0].claude_md
        levels.us_model.load(parse_scenario(us_script(
            plan("us", (TRAINER, "retrain the model", []), (SERVING, "serve the new model", [TRAINER])),
            asks_first(succeeds(TRAINER, "model retrained", writes="model.txt"), "touch trained.flag"),
            succeeds(SERVING, "serving the new model", writes="serving.txt"),
        )))

        # 1. One message: the top's phases (us/ml, then kr/product), us/ml's (trainer, then its
        #    remote serving agent), kr/product's one task; files only where they belong.
        asked = await w.ask(TEXT, lambda e: isinstance(e, ConfirmationRequested))
        # us/ml's trainer asks to run a command outside its allowlist: the question comes up to the
        # top (us/ml's own conversation is no chat); alice allows it here.
        question = await w.ask("yes", lambda e: isinstance(e, PermissionRequested) and e.request_id == asked.request_id, 120)
        assert question.workspace == US and question.tool == "Bash" and f"{TRAINER}: touch trained.flag" in question.detail
        # Then kr/product's plan comes up as a question nested under its task; alice approves it at the top.
        question = await w.ask("yes", lambda e: isinstance(e, PermissionRequested) and e.request_id == asked.request_id
                               and e.workspace == KR, 120)
        assert question.workspace == KR and question.tool == CHILD_PLAN_TOOL
        assert "1 task(s) in 1 phase(s): backend/api (consume the new API)" in question.detail
        assert "kr/product (a child orchestrator) asks to approve its plan" in w.out.getvalue()
        final = await w.ask("yes", lambda e: isinstance(e, RequestCompleted) and e.request_id == asked.request_id, 120)
        assert (final.succeeded, final.failed) == (2, 0), final
        for words in ("model retrained", "serving the new model", "api consumes the new model",
                      f"{TRAINER}: succeeded", f"{SERVING}: succeeded", f"{API}: succeeded"):
            assert words in final.summary, (words, final.summary)
        assert (levels.us_root / "recsys" / "trainer" / "model.txt").read_text() == "x\n"
        assert (levels.serving_dir / "serving.txt").read_text() == "x\n"
        bases = (w.root, levels.us_root, levels.kr_root, levels.serving_dir.parent)
        for name in ("model.txt", "serving.txt"):  # each in its workspace, nowhere else
            assert len([p for base in bases for p in base.rglob(name)]) == 1, name

        top_order = [(type(e).__name__, e.workspace) for e in events_of(w, asked.request_id)
                     if isinstance(e, WorkspaceTaskStarted | WorkspaceTaskSucceeded)]
        assert top_order == [("WorkspaceTaskStarted", US), ("WorkspaceTaskSucceeded", US),
                             ("WorkspaceTaskStarted", KR), ("WorkspaceTaskSucceeded", KR)], top_order
        us_request = next(e.child_request_id for e in w.of_type(WorkspaceTaskStarted) if e.workspace == US)
        us_events = child_replay(levels.us_root, us_request)
        us_order = [(type(e).__name__, e.workspace) for e in us_events if isinstance(e, WorkspaceTaskStarted | WorkspaceTaskSucceeded)]
        assert us_order == [("WorkspaceTaskStarted", TRAINER), ("WorkspaceTaskSucceeded", TRAINER),
                            ("WorkspaceTaskStarted", SERVING), ("WorkspaceTaskSucceeded", SERVING)], us_order
        allowed = next(e for e in us_events if isinstance(e, PermissionDecided) and e.permission_id)
        assert allowed.allowed and allowed.by == "parent:terminal:alice" and allowed.workspace == TRAINER
        assert (levels.us_root / "recsys" / "trainer" / "trained.flag").exists()  # the command ran, once allowed
        approved = next(e for e in us_events if isinstance(e, PlanApproved))
        assert approved.auto and asked.request_id in approved.by
        kr_request = next(e.child_request_id for e in w.of_type(WorkspaceTaskStarted) if e.workspace == KR)
        kr_events = child_replay(levels.kr_root, kr_request)
        opened = next(e for e in kr_events if isinstance(e, RequestOpened))
        assert opened.delegation is not None and opened.delegation.request_id == asked.request_id
        # kr/product's workspace is a git repository: its change is on a branch there (waiting for a
        # person at kr/product), which its report and the top's reply name.
        kr_facts = next(e for e in kr_events if isinstance(e, WorkspaceTaskSucceeded)).facts
        assert kr_facts is not None and kr_facts.branch
        assert run(levels.kr_root / "backend" / "api", "show", f"{kr_facts.branch}:api.txt").strip() == "x"
        assert not (levels.kr_root / "backend" / "api" / "api.txt").exists()
        assert f"{API}: repo backend/api, branch {kr_facts.branch} at {kr_facts.commit[:12]}" in final.summary, final.summary
        assert "waiting for a decision at kr/product" in final.summary
        kr_approved = next(e for e in kr_events if isinstance(e, PlanApproved))
        assert not kr_approved.auto and kr_approved.by == "parent:terminal:alice"  # its own approval, given at the top
        # The top's replay nests each division's reported lines under its task; so does its chat's status.
        replay = top_replay(w.root, asked.request_id or "")
        assert f"↳ {US}: planned 2 task(s) in 2 phase(s): {TRAINER}, {SERVING}" in replay, replay
        assert f"↳ {US}: {SERVING} succeeded: serving the new model" in replay
        assert f"↳ {KR}: {API} succeeded: api consumes the new model" in replay
        status = status_text(w.orchestrator.requests.get(asked.request_id or ""))  # type: ignore[arg-type]
        assert f"✓ {US} (child orchestrator, request {us_request})\n    ↳ routed to recsys\n    ↳ planned 2 task(s)" in status, status
        # Costs roll up through both levels.
        us_cost = next(e for e in us_events if isinstance(e, RequestCompleted)).usage.cost_usd
        kr_cost = next(e for e in kr_events if isinstance(e, RequestCompleted)).usage.cost_usd
        assert final.usage.cost_usd >= round(us_cost + kr_cost, 6) > 0

        # 2. A cancel at the top stops the grandchild's agent (us/ml's remote agent, waiting on its model).
        levels.us_model.load(parse_scenario(us_script(plan("us-serve", (SERVING, "serve it", [])), hangs(SERVING))))
        serving_calls = len(levels.us_model.requests_for(SERVING))
        asked = await w.ask(TEXT, lambda e: isinstance(e, ConfirmationRequested))
        await w.terminal.say("yes")
        await levels.us_model.wait_for_requests(serving_calls + 1, script=SERVING, timeout=120)
        cancelled = await w.ask("stop", lambda e: isinstance(e, RequestCancelled) and e.request_id == asked.request_id, 120)
        assert cancelled.by == "terminal:alice"
        top_events = events_of(w, asked.request_id)
        assert sorted(e.workspace for e in top_events if isinstance(e, WorkspaceTaskCancelled)) == [KR, US]  # running and pending
        assert [e.workspace for e in top_events if isinstance(e, WorkspaceTaskStarted)] == [US]
        us_request = next(e.child_request_id for e in events_of(w, asked.request_id) if isinstance(e, WorkspaceTaskStarted))
        us_events = child_replay(levels.us_root, us_request)
        assert [e.workspace for e in us_events if isinstance(e, WorkspaceTaskCancelled)] == [SERVING]
        assert any(isinstance(e, RequestCancelled) for e in us_events)

        # 3. kr/product's plan refused at the top: its request stops before its agent runs; the top's task fails saying so.
        levels.us_model.load(parse_scenario(us_script(plan("us-quick", (TRAINER, "retrain", [])), succeeds(TRAINER, "retrained"))))
        api_calls = len(levels.kr_model.requests_for(API))
        asked = await w.ask(TEXT, lambda e: isinstance(e, ConfirmationRequested))
        await w.ask("yes", lambda e: isinstance(e, PermissionRequested) and e.request_id == asked.request_id, 120)
        final = await w.ask("no", lambda e: isinstance(e, RequestCompleted) and e.request_id == asked.request_id, 120)
        assert (final.succeeded, final.failed) == (1, 1), final
        refused = next(e for e in events_of(w, asked.request_id) if isinstance(e, WorkspaceTaskFailed))
        assert refused.workspace == KR and "kr/product's plan was refused by terminal:alice" in refused.error
        assert len(levels.kr_model.requests_for(API)) == api_calls
        kr_request = next(e.child_request_id for e in events_of(w, asked.request_id) if isinstance(e, WorkspaceTaskStarted) and e.workspace == KR)
        assert any(isinstance(e, RequestCancelled) for e in child_replay(levels.kr_root, kr_request))

        # 4. us/ml's host goes away mid-task: the top reports it lost and skips kr/product, which depended on it.
        levels.us_model.load(parse_scenario(us_script(plan("us-train", (TRAINER, "retrain", [])), hangs(TRAINER))))
        trainer_calls = len(levels.us_model.requests_for(TRAINER))
        asked = await w.ask(TEXT, lambda e: isinstance(e, ConfirmationRequested))
        lost = w.terminal.watch(lambda e: isinstance(e, WorkspaceTaskFailed) and e.request_id == asked.request_id)
        skipped = w.terminal.watch(lambda e: isinstance(e, WorkspaceTaskSkipped) and e.request_id == asked.request_id)
        await w.terminal.say("yes")
        await levels.us_model.wait_for_requests(trainer_calls + 1, script=TRAINER, timeout=120)
        levels.us.kill_group()
        await levels.us.wait()
        failure = await asyncio.wait_for(lost, 60)
        assert failure.workspace == US and "agent lost" in failure.error and "for 5 s" in failure.error  # remote.lost_after_s
        assert (await asyncio.wait_for(skipped, 30)).workspace == KR
