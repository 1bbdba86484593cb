"""What the workspace agent needs of the world: its NATS link, Claude Code sessions, a lock.

The agent's logic (take a task once, report in order, drain, relay questions) depends on these
`Protocol`s only; `tunnels.agent_main` wires the real ones (`tunnels.agent_link`,
`tunnels.agent_sessions`, `tunnels.pidlock`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from claude_tunnels.actors.ports import Asker, PermissionNote, Progress
from claude_tunnels.remote_agent.protocol import Finished, TaskCommand
from claude_tunnels.remote_agent.settings import AgentSecrets, AgentSettings


class Link(Protocol):
    """One connection to NATS, narrowed to one workspace's subjects (`LinkError` on failures)."""

    async def close(self) -> None: ...

    async def start_pulling(self) -> None: ...

    async def next_task(self, wait_s: float) -> Any | None:
        """The next task message, or None after `wait_s` (`ConsumerMissing` before it exists)."""
        ...

    async def stop_pulling(self) -> list[Any]:
        """Stop asking for tasks; the messages delivered but not taken yet."""
        ...

    async def ack(self, msg: Any, attempts: int = 5) -> bool: ...

    async def put_presence(self, value: bytes) -> None: ...

    async def report(self, data: bytes, timeout_s: float) -> bytes | None:
        """Send a report and return the orchestrator's answer (None when none came in time)."""
        ...

    async def on_control(self, handler: Callable[[bytes], None]) -> None: ...


class Sessions(Protocol):
    """Runs one task's Claude Code session in the workspace folder."""

    async def run(
        self, command: TaskCommand, cwd: Path, *, protected: tuple[Path, ...], on_progress: Callable[[Progress], None],
        on_decision: Callable[[PermissionNote], None], ask: Asker | None,
    ) -> Finished:
        """Run the session to its end; how it ended, as the report to send (cancellation propagates)."""
        ...


class Lock(Protocol):
    """A held lock file; `close()` releases it."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class AgentPorts:
    """Everything the agent reaches the world through."""

    open_link: Callable[[AgentSettings, AgentSecrets], Awaitable[Link]]
    sessions: Sessions
    take_lock: Callable[[Path], Lock]
    """Take the lock at the path or raise `remote_agent.errors.AlreadyRunning` naming its holder."""
    sandbox_problem: str = ""
    """Why this host cannot run the OS sandbox ("" when it can): sandboxed tasks are refused."""
