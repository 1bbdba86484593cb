"""Running git: one small async helper, git's own errors turned into ours (never a traceback)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from claude_tunnels.tunnels.childenv import child_environment

REMOTE_TIMEOUT_S = 300.0
"""How long a command that talks to a remote (a push) may take."""
_KEEP = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_*", "TZ", "SSH_AUTH_SOCK")
"""What git may see of our environment: to find itself and the user's git config and ssh agent."""


class GitError(Exception):
    """A git command failed; `message` names the command and what git said."""

    def __init__(self, args: Sequence[str], code: int, said: str) -> None:
        self.args_ = list(args)
        self.code = code
        self.said = said.strip()
        last = " | ".join(line for line in self.said.splitlines()[-3:] if line.strip())
        super().__init__(f"git {' '.join(args[:3])} failed ({code}){': ' + last if last else ''}")
        self.message = str(self)


async def git(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, check: bool = True, stdin: str | None = None,
    remote: bool = False,
) -> str:
    """Run `git ARGS` in `cwd` and return its standard output (GitError when it fails and `check`).
    `remote`: the command talks to a remote (see `git_outcome`)."""
    code, out, err = await git_outcome(*args, cwd=cwd, env=env, stdin=stdin, remote=remote)
    if check and code != 0:
        raise GitError(args, code, err or out)
    return out


async def git_outcome(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, stdin: str | None = None, remote: bool = False,
) -> tuple[int, str, str]:
    """Run `git ARGS` in `cwd`: its exit code, standard output and standard error (for commands
    whose exit code is an answer, like `merge-base --is-ancestor`).

    A `remote` command (a push) runs in a session of its own, without a controlling terminal, so
    ssh fails at once instead of asking on the orchestrator's terminal (a host key, a passphrase),
    and it is stopped after `REMOTE_TIMEOUT_S`."""
    process = await asyncio.create_subprocess_exec(
        "git", *args, cwd=cwd,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=remote,
        env=child_environment({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}, keep=_KEEP),
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin is not None else None),
                                          REMOTE_TIMEOUT_S if remote else None)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)  # git and what it started (ssh): its own session
        await process.wait()
        return -1, "", f"no answer from the remote within {REMOTE_TIMEOUT_S:g} s"
    return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
