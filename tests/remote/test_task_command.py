"""The task command across versions: what an older orchestrator sent still decodes; the budget reaches the session."""

from __future__ import annotations

from pathlib import Path

import msgspec

from claude_tunnels.remote_agent.protocol import ENCODER, TaskCommand
from claude_tunnels.tunnels.agent_sessions import task_spec
from tests.helpers.remote import task
from tests.remote.conftest import API


def test_a_command_from_before_cost_budgets_decodes_without_a_budget() -> None:
    current = msgspec.json.decode(ENCODER.encode(task(API, "t1")))
    del current["max_budget_usd"]  # what an orchestrator without budgets sends

    command = msgspec.json.decode(msgspec.json.encode(current), type=TaskCommand)

    assert command.max_budget_usd is None
    assert task_spec(command, Path("/srv/api"), env={}, sandbox_dir=None).max_budget_usd is None


def test_the_per_task_budget_reaches_the_agent_session(tmp_path: Path) -> None:
    command = msgspec.json.decode(ENCODER.encode(task(API, "t1", max_budget_usd=0.25)), type=TaskCommand)

    spec = task_spec(command, tmp_path, env={}, sandbox_dir=None)

    assert (spec.max_budget_usd, spec.kind, spec.cwd) == (0.25, "workspace", tmp_path)
