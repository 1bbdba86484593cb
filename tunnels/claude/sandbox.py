"""Claude Code's own OS sandbox around an agent's Bash commands, and whether it can run here.

On Linux the CLI runs each Bash command in bubblewrap (a read-only root, writable working and
temporary folders, no network but through its proxy, which needs socat). Without those two
programs it *fails open*: it prints a warning and runs commands unconfined, even when unsandboxed
commands are not allowed. So an agent is started only after `check_sandbox()` passed, and a
session whose CLI still reports the sandbox disabled is stopped (`SANDBOX_DISABLED`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SANDBOX_DISABLED = ("Sandbox disabled", "sandbox is enabled but dependencies are missing")
"""What the CLI prints on stderr when it will run commands without the sandbox."""

SANDBOX_FAILED = ("Sandbox is enabled but failed to initialize", "Sandboxing is disabled for the rest of this session")
"""What a tool result says when the sandbox broke mid-session (the CLI then runs commands unconfined)."""

MAX_TMPDIR_CHARS = 60
"""The sandbox puts its proxy's Unix sockets in TMPDIR (`<TMPDIR>/claude-0/claude-http-<16 hex>.sock`);
a socket path is limited to 107 bytes, and past it the sandbox fails to start (measured)."""

VIOLATIONS_TAG = "<sandbox_violations>"
"""Where the CLI reports, inside a tool result, what the sandbox refused."""


@dataclass(frozen=True)
class SandboxSpec:
    """The sandbox of one session: network domains Bash may reach, and paths it may not read."""

    network_allow: tuple[str, ...] = ()
    denied_reads: tuple[Path, ...] = ()


def sandbox_option(spec: SandboxSpec, *, writable: Sequence[Path] = (), read_only: Sequence[Path] = ()) -> dict[str, Any]:
    """The `ClaudeAgentOptions.sandbox` value: on, no way out, only the listed domains; commands
    may also write `writable` and never write `read_only` (which wins).

    `read_only` matters for a git worktree: Claude Code lets commands in a linked worktree write
    the repository's shared `.git` (every branch's refs, the objects), so it is named here."""
    option: dict[str, Any] = {
        "enabled": True,
        "autoAllowBashIfSandboxed": True,  # the PreToolUse policy still judges every command
        "allowUnsandboxedCommands": False,
        "network": {"allowedDomains": list(spec.network_allow)},
    }
    if writable or read_only:
        option["filesystem"] = {"allowWrite": [str(p) for p in writable], "denyWrite": [str(p) for p in read_only]}
    return option


def read_deny_rules(paths: Sequence[Path]) -> list[str]:
    """`Read(//abs/path/**)` deny rules (the form the CLI's sandbox applies to Bash as well)."""
    rules = []
    for path in paths:
        text = str(path).lstrip("/")
        rules.append(f"Read(//{text})")
        rules.append(f"Read(//{text}/**)")
    return rules


@dataclass(frozen=True)
class SandboxCheck:
    """Whether the sandbox can confine commands on this host; `problem` says why not and the fix."""

    ok: bool
    problem: str = ""


def check_sandbox() -> SandboxCheck:
    """Check that bubblewrap and socat are installed and that bubblewrap can start a namespace."""
    missing = [name for name in ("bwrap", "socat") if shutil.which(name) is None]
    if missing:
        packages = " ".join("bubblewrap" if name == "bwrap" else name for name in missing)
        return SandboxCheck(False, f"{' and '.join(missing)} not installed (apt-get install {packages})")
    try:
        probe = subprocess.run(
            ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-all", "--die-with-parent", "true"],
            capture_output=True, text=True, timeout=20, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return SandboxCheck(False, f"bubblewrap could not run: {err}")
    if probe.returncode != 0:
        said = " ".join(probe.stderr.split())[:200]
        return SandboxCheck(False, f"bubblewrap cannot create a sandbox here ({said}); user namespaces may be disabled")
    return SandboxCheck(True)


def sandbox_failed(text: str) -> bool:
    """Whether a tool result says the sandbox failed and is off for the rest of the session."""
    return any(marker in text for marker in SANDBOX_FAILED)


def disabled_warning(line: str) -> bool:
    """Whether a line of the CLI's stderr says it runs commands without the sandbox."""
    return any(marker in line for marker in SANDBOX_DISABLED)
