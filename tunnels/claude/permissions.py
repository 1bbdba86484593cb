"""Which tool calls a workspace agent may make: a pure policy, enforced in code by the runner.

Writes must land inside the workspace (symlinks followed, `..` resolved, relative paths taken
against the workspace) and never inside its `.git/` or `.claude/` folders (git hooks and project
settings would run commands in later sessions, outside this policy). Read tools stay inside the
workspace and the system folders (`confinement.ReadScope`). Bash is checked per simple command
against `BashRules`, and no word of it may name a protected path; git commands are judged by the
git rules (`git_rules`: in a task's worktree, what its own branch needs; in place, only looking);
network access from Bash is judged per host. Every other tool is denied.

A decision is allow, deny, or *ask* (`Decision.ask`): a Bash command outside the allowlist or a
host not listed, when that class of action is relayed to a person (`relay`). Every decision names
the `rule` that made it, so it can be recorded and shown.

Bash rules are not the wall: an allowed command (a test runner) runs code the workspace controls.
The wall is Claude Code's OS sandbox around every Bash command (`tunnels.claude.sandbox`).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from claude_tunnels.tunnels.claude.bash_parse import ParsedCommand, Unparseable, parse_command
from claude_tunnels.tunnels.claude.confinement import ReadScope
from claude_tunnels.tunnels.claude.git_rules import git_refusal

BashMode = Literal["allowlist", "denylist", "allow_all", "deny_all"]

WRITE_TOOLS: dict[str, str] = {
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
}
"""Tools that change files, and the input key that holds the path they change."""

READ_TOOLS: dict[str, tuple[str, ...]] = {
    "Read": ("file_path",),
    "Grep": ("path",),
    "Glob": ("path", "pattern"),
    "LS": ("path",),
    "NotebookRead": ("notebook_path",),
}
"""Tools that read files, and the input keys that may name what they read."""

BOOKKEEPING_TOOLS: frozenset[str] = frozenset({"TodoWrite", "StructuredOutput"})
"""Tools that touch nothing (`StructuredOutput` is how the CLI returns the final answer)."""

READ_ONLY_TOOLS: frozenset[str] = frozenset(READ_TOOLS) | BOOKKEEPING_TOOLS
"""Tools that change nothing."""

NETWORK_TOOL = "SandboxNetworkAccess"
"""How the CLI asks whether a sandboxed command may reach a host (input: `{"host": ...}`)."""

RelayClass = Literal["bash", "network"]
"""Classes of action that can be asked of a person instead of refused."""

PROTECTED_DIRS: frozenset[str] = frozenset({".git", ".claude"})

DEFAULT_BASH_ALLOW: tuple[str, ...] = (
    # looking around
    "ls *", "pwd", "cat *", "head *", "tail *", "wc *", "grep *", "rg *", "tree *",
    "diff *", "sort *", "uniq *", "cut *", "stat *", "file *", "du *", "which *", "echo *",
    "true", "false",
    # git: what the git rules allow (`git_rules`: in a task's worktree, status, diff, log, add,
    # commit on its own branch…; in place, only looking)
    "git *",
    # tests and builds
    "pytest *", "python -m pytest *", "python3 -m pytest *", "uv run pytest *",
    "python -m unittest *", "python3 -m unittest *",
    "make test", "make check", "npm test *", "npm run test *", "yarn test *", "pnpm test *",
    "cargo test *", "cargo check *", "go test *", "go vet *", "tox *",
)  # fmt: skip
"""A sensible allowlist: looking around, git as the git rules allow it, test runners. `X *` also matches `X`."""

_HARMLESS_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
_CHANGES_DIR = frozenset({"cd", "pushd", "popd"})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh"})
_SHELL_COMMAND_FLAG = re.compile(r"-[a-zA-Z]*c[a-zA-Z]*")
"""`-c`, and the short flags that include it (`-lc`, `-ec`): the next word is a command string."""
_WRAPPERS = frozenset(
    {
        "sudo",
        "env",
        "command",
        "builtin",
        "exec",
        "eval",
        "nohup",
        "time",
        "nice",
        "timeout",
        "xargs",
        "stdbuf",
        "ionice",
        "setsid",
        "doas",
    }
)


@dataclass(frozen=True)
class BashRules:
    """How Bash commands are judged.

    `allowlist`: every simple command must match an `allow` pattern; `denylist`: none may match a
    `deny` pattern; `allow_all` / `deny_all`: everything / nothing. Deny patterns win in every
    mode. Patterns are fnmatch-style, matched against each command's words joined by spaces;
    `X *` also matches a bare `X`. In allowlist and denylist modes output redirections must stay
    inside the workspace, a command the parser cannot follow is denied, and git commands obey the
    git rules (`git_rules`), whatever the patterns say.
    """

    mode: BashMode = "allowlist"
    allow: Sequence[str] = DEFAULT_BASH_ALLOW
    deny: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow", tuple(self.allow))
        object.__setattr__(self, "deny", tuple(self.deny))


@dataclass(frozen=True)
class Decision:
    """The verdict on one tool call; `reason` is shown to the model when denied.

    `ask`: not decided by the policy; a person is asked (then `allow` is False until they answer).
    `rule` names what decided (`bash.allowlist`, `read.outside_workspace`, …) for the record.
    """

    allow: bool
    reason: str
    rule: str = ""
    ask: bool = False


class PermissionPolicy:
    """Decides tool calls for an agent whose writes are confined to `workspace`.

    `reads` bounds what read tools and Bash words may name (default: the workspace, the system
    folders, never the protected areas); `network_allow` lists the hosts Bash may reach (`*.x.org`
    patterns); `relay` names the classes of action that are asked of a person instead of refused;
    `own_branch`: the agent works in a task's git worktree on a branch of its own (git may then
    add and commit there; otherwise git may only look).
    """

    def __init__(
        self, workspace: Path, bash: BashRules | None = None, *, reads: ReadScope | None = None,
        network_allow: Sequence[str] = (), relay: Collection[RelayClass] = (), own_branch: bool = False,
    ) -> None:
        self.workspace = Path(os.path.realpath(workspace))
        self.bash = bash or BashRules()
        self.reads = reads or ReadScope(self.workspace)
        self.network_allow = tuple(network_allow)
        self.relay = frozenset(relay)
        self.own_branch = own_branch

    def decide(self, tool_name: str, tool_input: dict[str, Any]) -> Decision:
        """Allow, deny or ask about `tool_name` called with `tool_input`."""
        if tool_name in BOOKKEEPING_TOOLS:
            return Decision(True, "read-only tool", "tool.bookkeeping")
        if tool_name in READ_TOOLS:
            return self._decide_read(tool_name, tool_input)
        if tool_name in WRITE_TOOLS:
            return self._decide_write(tool_name, tool_input.get(WRITE_TOOLS[tool_name]))
        if tool_name == "Bash":
            return self._decide_bash(tool_input.get("command"))
        if tool_name == NETWORK_TOOL:
            return self._decide_network(tool_input.get("host"))
        if tool_name in ("WebFetch", "WebSearch"):
            return Decision(
                False, f"{tool_name} is not allowed: workspace agents have no network tools", "tool.not_allowed"
            )
        if tool_name in ("Task", "Agent"):
            return Decision(
                False, f"{tool_name} is not allowed: workspace agents cannot start sub-agents", "tool.not_allowed"
            )
        return Decision(False, f"{tool_name} is not allowed for workspace agents", "tool.not_allowed")

    def _decide_read(self, tool_name: str, tool_input: dict[str, Any]) -> Decision:
        for key in READ_TOOLS[tool_name]:
            value = tool_input.get(key)
            if not isinstance(value, str) or not value:
                continue
            path = _glob_root(value) if key == "pattern" else value
            if path is None:
                continue
            if problem := self.reads.tool_problem(path):
                return Decision(False, f"{tool_name} of {_short(value)} is not allowed: {problem}", "read.outside_workspace")
        return Decision(True, "read-only tool inside the allowed folders", "read.allowed")

    def _decide_write(self, tool_name: str, path: object) -> Decision:
        if not isinstance(path, str) or not path:
            return Decision(False, f"{tool_name} needs a file path", "write.no_path")
        problem = self._path_problem(path)
        if problem:
            return Decision(False, f"{tool_name} to {path} is not allowed: {problem}", "write.outside_workspace")
        return Decision(True, "inside the workspace", "write.inside_workspace")

    def _decide_network(self, host: object) -> Decision:
        if not isinstance(host, str) or not host:
            return Decision(False, "network access needs a host", "network.no_host")
        if _matches_any(host.lower(), [pattern.lower() for pattern in self.network_allow]):
            return Decision(True, f"{host} is listed in permissions.network.allow", "network.allowlist")
        if "network" in self.relay:
            return Decision(False, f"network access to {host} (not in permissions.network.allow)", "network.not_listed", ask=True)
        return Decision(
            False, f"network access to {host} is not allowed: it is not in permissions.network.allow", "network.not_listed"
        )

    def _path_problem(self, path: str) -> str | None:
        """Why writing `path` is not allowed, or None."""
        if path.startswith("~") or "$" in path:
            return "the path must be literal, without ~ or $ expansions"
        resolved = Path(
            os.path.realpath(self.workspace / path)
        )  # an absolute path replaces the base
        if resolved == self.workspace or not resolved.is_relative_to(self.workspace):
            return f"it is outside the workspace {self.workspace}"
        if PROTECTED_DIRS.intersection(resolved.relative_to(self.workspace).parts):
            return "the workspace's .git and .claude folders are protected"
        return None

    def _decide_bash(self, command: object) -> Decision:
        rules = self.bash
        if not isinstance(command, str) or not command.strip():
            return Decision(False, "Bash needs a command", "bash.empty")
        if rules.mode == "deny_all":
            return Decision(False, "Bash is not allowed for this agent", "bash.deny_all")
        try:
            parsed = parse_command(command)
        except Unparseable as err:
            if _matches_any(command, rules.deny):
                return Decision(False, f"Bash command `{_short(command)}` is denied by a deny rule", "bash.deny")
            if rules.mode == "allow_all":
                return Decision(True, "Bash is allowed", "bash.allow_all")
            return self._unlisted(f"Bash command cannot be checked ({err}); write it more simply", "bash.unparseable")
        expanded = _with_inner_commands(parsed)
        if expanded is None:
            return self._unlisted("Bash command cannot be checked (a `sh -c` string); write it more simply", "bash.unparseable")
        commands = expanded.commands
        for words in commands:
            text = " ".join(words)
            if _matches_any(text, rules.deny) or _matches_any(
                " ".join(_unwrapped(words)), rules.deny
            ):
                return Decision(False, f"Bash command `{_short(text)}` is denied by a deny rule", "bash.deny")
        if rules.mode != "allow_all":
            for words in commands:
                # Never asked of a person: other branches, the remote and the repository's settings are not the agent's.
                if why := git_refusal(words, own_branch=self.own_branch):
                    return Decision(False, why, "bash.git")
        for words in commands:
            for path in _path_words(words[1:]):
                if problem := self.reads.sensitive_problem(self.reads.resolve(path)):
                    return Decision(False, f"Bash command `{_short(' '.join(words))}` is not allowed: {problem}", "bash.protected_path")
        if rules.mode != "allow_all":
            moves = any(words and words[0] in _CHANGES_DIR for words in commands)
            for target in expanded.write_targets:
                if target in _HARMLESS_TARGETS:
                    continue
                if moves and not target.startswith("/"):
                    return Decision(
                        False, f"Bash redirection to {target} after a cd cannot be checked", "bash.redirect"
                    )
                problem = self._path_problem(target)
                if problem:
                    return Decision(
                        False, f"Bash redirection to {target} is not allowed: {problem}", "bash.redirect"
                    )
        if rules.mode == "allowlist":
            for words in commands:
                text = " ".join(words)
                if not _matches_any(text, rules.allow):
                    return self._unlisted(f"Bash command `{_short(text)}` is not in the allowlist", "bash.allowlist")
        return Decision(True, "Bash command allowed", f"bash.{rules.mode}")

    def _unlisted(self, reason: str, rule: str) -> Decision:
        """A command the rules neither allow nor deny: asked of a person when Bash is relayed."""
        return Decision(False, reason, rule, ask="bash" in self.relay)


def _path_words(words: Sequence[str]) -> list[str]:
    """The words (and `--opt=value` values) of a command that look like file paths."""
    found = []
    for word in words:
        for candidate in (word, word.partition("=")[2]):
            if "://" in candidate or "$" in candidate or "`" in candidate:
                continue
            if candidate.startswith(("/", "~", "..")) or "/.." in candidate:
                found.append(candidate)
    return found


def _glob_root(pattern: str) -> str | None:
    """The folder a glob pattern starts from, when it leaves the working folder (else None)."""
    if not pattern.startswith(("/", "~", "..")) and "/.." not in pattern:
        return None
    fixed = []
    for part in pattern.split("/"):
        if any(char in part for char in "*?[{"):
            break
        fixed.append(part)
    return "/".join(fixed) or "/"


def _matches_any(text: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if fnmatch.fnmatchcase(text, pattern):
            return True
        if pattern.endswith(" *") and text == pattern[:-2]:
            return True
    return False


def _unwrapped(words: list[str]) -> list[str]:
    """The command without leading assignments and wrappers: `X=1 sudo -n rm …` is `rm …`."""
    rest = list(words)
    while rest:
        if "=" in rest[0] and not rest[0].startswith(("=", "-")):
            rest.pop(0)
        elif rest[0] in _WRAPPERS:
            rest.pop(0)
            while rest and (rest[0].startswith("-") or rest[0][:1].isdigit()):
                rest.pop(0)
        else:
            break
    return rest


def _with_inner_commands(parsed: ParsedCommand) -> ParsedCommand | None:
    """`parsed` plus what runs inside `sh -c STRING` / `bash -c STRING`; None if unparseable."""
    merged = ParsedCommand(list(parsed.commands), list(parsed.write_targets))
    for words in parsed.commands:
        bare = _unwrapped(words)
        flag = next((i for i, word in enumerate(bare[1:-1], 1) if _SHELL_COMMAND_FLAG.fullmatch(word)), None)
        if bare and os.path.basename(bare[0]) in _SHELLS and flag is not None:
            try:
                inner = _with_inner_commands(parse_command(bare[flag + 1]))
            except Unparseable:
                return None
            if inner is None:
                return None
            merged.commands.extend(inner.commands)
            merged.write_targets.extend(inner.write_targets)
    return merged


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
