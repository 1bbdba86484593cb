"""Failures before or outside the model: each becomes one short `AgentFailed` line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from claude_tunnels.tunnels.claude import AgentFailed, AgentSpec, run_agent


async def test_a_missing_cli_is_reported(tmp_path: Path) -> None:
    spec = AgentSpec(prompt="p", cwd=tmp_path, cli_path=str(tmp_path / "no-such-claude"))

    with pytest.raises(AgentFailed, match=r"Claude Code not found at: .*no-such-claude"):
        await run_agent(spec)


async def test_a_missing_workspace_is_reported(tmp_path: Path) -> None:
    spec = AgentSpec(prompt="p", cwd=tmp_path / "gone")

    with pytest.raises(AgentFailed, match=r"Working directory does not exist: .*gone"):
        await run_agent(spec)


async def test_a_crashing_cli_is_reported_with_the_end_of_its_stderr(tmp_path: Path) -> None:
    fake = tmp_path / "claude"
    fake.write_text(
        "#!/bin/sh\necho 'starting' >&2\necho 'fatal: settings are broken' >&2\nexit 3\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    spec = AgentSpec(prompt="p", cwd=tmp_path, cli_path=str(fake), sandbox_dir=tmp_path / "sb")

    with pytest.raises(AgentFailed) as caught:
        await run_agent(spec)

    # Depending on timing the SDK sees the exit, or only a closed stdin.
    assert caught.value.message in (
        "Claude Code exited with code 3: starting | fatal: settings are broken",
        "Claude Code exited while starting: starting | fatal: settings are broken",
    )
    assert not caught.value.retryable
