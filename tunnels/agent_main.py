"""`tunnels-agent`: the remote workspace agent wired to its real ports (the composition root).

    python -m claude_tunnels.tunnels.agent_main --nats URL --workspace PROJECT/NAME --path DIR ...

The agent's logic lives in `remote_agent/`; here it gets its NATS link, Claude Code sessions, its
lock file and the result of the host's sandbox check.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from claude_tunnels.remote_agent import cli
from claude_tunnels.remote_agent.errors import AlreadyRunning
from claude_tunnels.remote_agent.ports import AgentPorts, Lock
from claude_tunnels.remote_agent.settings import AgentSecrets, AgentSettings
from claude_tunnels.tunnels.agent_link import AgentLink
from claude_tunnels.tunnels.agent_sessions import ClaudeSessions
from claude_tunnels.tunnels.claude.sandbox import check_sandbox
from claude_tunnels.tunnels.pidlock import LockHeld, acquire


def take_lock(path: Path) -> Lock:
    """The agent's lock file, or `AlreadyRunning` naming the process that holds it."""
    try:
        return acquire(path)
    except LockHeld as held:
        raise AlreadyRunning(held.owner) from None


def real_ports(settings: AgentSettings, secrets: AgentSecrets) -> AgentPorts:
    """The agent's ports on this host."""
    check = check_sandbox()
    return AgentPorts(
        open_link=AgentLink.open,
        sessions=ClaudeSessions(secrets.extra_env, settings.state_path / "agent-homes", settings.cli_path),
        take_lock=take_lock,
        sandbox_problem="" if check.ok else check.problem,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The `tunnels-agent` console script."""
    return cli.main(argv, ports=real_ports)


if __name__ == "__main__":
    sys.exit(main())
