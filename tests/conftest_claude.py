"""Fixtures for tests that run the real Claude Code CLI against the scripted model server.

Wire in with ``pytest_plugins = ["tests.conftest_claude"]`` in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from claude_tunnels.tunnels.claude import AgentSpec
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer

SpecFactory = Callable[..., AgentSpec]


@pytest.fixture
async def scripted_model() -> AsyncIterator[ScriptedModelServer]:
    """A running scripted model server with an empty scenario; `load` one in the test."""
    async with ScriptedModelServer() as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace folder of the test's own."""
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def agent_spec(scripted_model: ScriptedModelServer, workspace: Path, tmp_path: Path) -> SpecFactory:
    """`agent_spec(prompt, **fields)`: an `AgentSpec` in `workspace`, wired to `scripted_model`.

    The CLI runs in a sandbox under the test's tmp folder (its own HOME, CLAUDE_CONFIG_DIR,
    TMPDIR); defaults: readonly, 60 s timeout, 8 turns. Keyword arguments override any field.
    """

    def make(prompt: str, **fields: Any) -> AgentSpec:
        base: dict[str, Any] = {
            "prompt": prompt,
            "cwd": workspace,
            "env": scripted_model.env(),
            "sandbox_dir": tmp_path / "sandbox",
            "timeout_s": 60.0,
            "max_turns": 8,
        }
        return AgentSpec(**{**base, **fields})

    return make


@pytest.fixture
def live_processes() -> Callable[[], list[psutil.Process]]:
    """A function listing this test process's descendants started since the fixture was made.

    Zombies (exited, not yet reaped) are not counted: they no longer run anything.
    """
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}

    def live() -> list[psutil.Process]:
        found = []
        for proc in me.children(recursive=True):
            try:
                if proc.pid not in before and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except psutil.NoSuchProcess:
                continue
        return found

    return live
