"""Running the orchestrator's own command (a workspace's declared tests) in an OS sandbox.

The same confinement as an agent's Bash commands, with bubblewrap directly: the file system is
read-only but the task's worktree, `/tmp` is private and empty, the network is off, the protected
areas (the rest of the tree, the state and archive folders, homes) are hidden, and the
environment is a short allowlist. Without the sandbox (`permissions.sandbox: off`) the command
runs plainly, in the same folder and environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from claude_tunnels.tunnels.childenv import child_environment

TAIL_CHARS = 2000


@dataclass(frozen=True)
class CommandOutcome:
    """How the command ended: its exit code (-1 on timeout) and the tail of its output."""

    exit_code: int
    tail: str
    timed_out: bool = False


def bwrap_args(command: str, *, cwd: Path, writable: Path, hidden: Sequence[Path]) -> list[str]:
    """The bubblewrap command line that runs `command` in `cwd`, writing only under `writable`."""
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in sorted(hidden):
        if path == Path("/tmp") or path.is_relative_to("/tmp") or not path.exists():
            continue  # /tmp is already private and empty
        args += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    args += ["--bind", str(writable), str(writable), "--unshare-all", "--die-with-parent", "--new-session",
             "--chdir", str(cwd), "/bin/sh", "-c", command]
    return args


async def run_command(
    command: str, *, cwd: Path, writable: Path, hidden: Sequence[Path] = (), sandboxed: bool = True, timeout_s: float = 900,
) -> CommandOutcome:
    """Run `command` (a shell line) and wait for it, at most `timeout_s` (then it is killed)."""
    env = child_environment({"HOME": "/tmp", "TMPDIR": "/tmp", "CI": "1"} if sandboxed else {"CI": "1"},
                            keep=("PATH", "LANG", "LANGUAGE", "LC_*", "TZ", *(() if sandboxed else ("HOME",))))
    argv = bwrap_args(command, cwd=cwd, writable=writable, hidden=hidden) if sandboxed else ["/bin/sh", "-c", command]
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except (TimeoutError, asyncio.CancelledError) as err:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        if isinstance(err, asyncio.CancelledError):
            raise
        return CommandOutcome(-1, f"(no end within {timeout_s:g} s: stopped)", timed_out=True)
    text = output.decode(errors="replace")
    return CommandOutcome(process.returncode or 0, text[-TAIL_CHARS:])
