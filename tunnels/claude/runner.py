"""Running one agent session through claude-agent-sdk and the real Claude Code CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeSDKClient,
    ClaudeSDKError,
    ProcessError,
    ResultMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from claude_tunnels.actors.agent_errors import AgentFailed, AgentOutputInvalid, AgentTimeout
from claude_tunnels.actors.ports import Asker, PermissionNote
from claude_tunnels.events.values import TaskResult, Usage, bounded_result, usd
from claude_tunnels.tunnels.claude import environment, scratch
from claude_tunnels.tunnels.claude.confinement import ReadScope, home_areas
from claude_tunnels.tunnels.claude.guard import ToolGuard
from claude_tunnels.tunnels.claude.options import build_options, sandbox_env
from claude_tunnels.tunnels.claude.permissions import BashRules, PermissionPolicy
from claude_tunnels.tunnels.claude.progress import progress_of
from claude_tunnels.tunnels.claude.sandbox import MAX_TMPDIR_CHARS, disabled_warning
from claude_tunnels.tunnels.claude.spec import AgentOutcome, AgentSpec, Progress

ProgressCallback = Callable[[Progress], None]
DecisionCallback = Callable[[PermissionNote], None]

log = logging.getLogger(__name__)

_STDERR_LINES = 20
_REASON_LIMIT = 300
_EXIT_CODE = re.compile(r"exit code:? (-?\d+)")


async def run_agent(
    spec: AgentSpec, on_progress: ProgressCallback | None = None, *,
    on_decision: DecisionCallback | None = None, ask: Asker | None = None,
) -> AgentOutcome:
    """Run the session `spec` to its end and return what it answered.

    `on_decision` hears every permission decision worth recording; `ask` is how an action the
    policy relays (`spec.relay`) is put to a person (without it, such actions are refused).
    Raises `AgentTimeout` after `spec.timeout_s`, `AgentFailed` when the CLI cannot start,
    crashes or ends with an error result (`spec.max_budget_usd` reached among them), and
    `AgentOutputInvalid` when a structured answer was required and none came; the last two
    carry the session's `usage` when the CLI reported one. Cancelling the calling task raises
    `CancelledError` as usual. In every case the CLI process is gone when this returns: on
    timeout, error and cancel it is sent SIGTERM at once instead of waiting out the SDK's 5 s
    grace period.
    """
    with _run_dir(spec.sandbox_dir) as (run_dir, run_env):
        session = _Session(spec, run_dir, run_env)
        session.listen(on_progress, on_decision, ask)
        deadline = asyncio.timeout(spec.timeout_s)
        try:
            async with deadline:
                await session.connect()
                return await session.converse(spec.prompt)
        except TimeoutError:
            if deadline.expired():
                raise AgentTimeout(spec.timeout_s) from None
            raise
        finally:
            await session.close()


class WarmAgent:
    """A workspace session started ahead of its task: the CLI is running and initialised (its
    settings, CLAUDE.md and skills loaded, our hooks registered) and waits for its prompt.

    Nothing reaches the model and no tool runs until `run` sends the prompt: a CLI in streaming
    mode acts only on a user message. `close` ends the process (SIGTERM) whatever state it is in.
    """

    def __init__(self, spec: AgentSpec) -> None:
        if spec.kind != "workspace":
            raise ValueError(f"a warm agent is a workspace agent, got kind={spec.kind!r}")
        self.spec = spec
        self._stack = contextlib.ExitStack()
        self._session: _Session | None = None
        self._used = False

    @property
    def pid(self) -> int | None:
        """The CLI's process id once started (None before, or when it did not say)."""
        return self._session.pid if self._session is not None else None

    async def start(self) -> None:
        """Start the CLI and wait for its initialisation (`AgentFailed` when it cannot start).
        Bounded by the task's own timeout, so a CLI that hangs at start-up does not stay."""
        try:
            run_dir, run_env = self._stack.enter_context(_run_dir(self.spec.sandbox_dir))
            self._session = _Session(self.spec, run_dir, run_env)
            async with asyncio.timeout(self.spec.timeout_s):
                await self._session.connect()
        except TimeoutError:
            await self.close()
            raise AgentFailed(f"Claude Code did not start within {self.spec.timeout_s:g} s") from None
        except BaseException:
            await self.close()
            raise

    async def run(
        self, prompt: str, on_progress: ProgressCallback | None = None, *,
        on_decision: DecisionCallback | None = None, ask: Asker | None = None,
    ) -> tuple[TaskResult, AgentOutcome]:
        """Send the task's prompt and run it to its end, as `run_workspace_task` does (the same
        errors, the task's timeout counted from here); the CLI is gone when this returns."""
        session = self._session
        if session is None or self._used:
            raise RuntimeError("a warm agent runs one prompt, after start()")
        self._used = True
        session.listen(on_progress, on_decision, ask)
        deadline = asyncio.timeout(self.spec.timeout_s)
        try:
            async with deadline:
                outcome = await session.converse(prompt)
        except TimeoutError:
            if deadline.expired():
                raise AgentTimeout(self.spec.timeout_s) from None
            raise
        finally:
            await self.close()
        return _task_result(outcome), outcome

    async def close(self) -> None:
        """End the CLI (if it runs) and remove the run's private folder; safe to call again."""
        try:
            if self._session is not None:
                await self._session.close()
        finally:
            self._stack.close()


async def run_workspace_task(
    spec: AgentSpec, on_progress: ProgressCallback | None = None, *,
    on_decision: DecisionCallback | None = None, ask: Asker | None = None,
) -> tuple[TaskResult, AgentOutcome]:
    """Run a `workspace` session and validate its structured answer as a `TaskResult`."""
    if spec.kind != "workspace":
        raise ValueError(f"run_workspace_task needs a workspace agent, got kind={spec.kind!r}")
    outcome = await run_agent(spec, on_progress, on_decision=on_decision, ask=ask)
    return _task_result(outcome), outcome


def _task_result(outcome: AgentOutcome) -> TaskResult:
    try:
        return bounded_result(msgspec.convert(outcome.structured_output, TaskResult))
    except msgspec.ValidationError as err:
        raise AgentOutputInvalid(f"the task result is malformed: {err}", usage=outcome.usage) from err


class _Session:
    def __init__(self, spec: AgentSpec, run_dir: Path, run_env: dict[str, str]):
        self.spec = spec
        self.on_progress: ProgressCallback | None = None
        workspace = spec.kind == "workspace"
        private = run_dir / "private"
        try:
            git_env = spec.git.environment() if spec.git is not None else {}
            launch = environment.prepare(private, {**spec.env, **run_env, **git_env}, spec.cli_path)
        except environment.CliNotFound as err:
            raise AgentFailed(str(err)) from err
        git_dirs = (spec.git.own_dir, spec.git.shared_dir) if spec.git is not None else ()
        scratch = (*((Path(run_env["TMPDIR"]),) if "TMPDIR" in run_env else ()), *spec.visible, *git_dirs)
        scope = ReadScope(spec.cwd, (*spec.protected, *home_areas(), private), scratch=scratch)
        network = spec.sandbox.network_allow if spec.sandbox is not None else ()
        policy = PermissionPolicy(
            spec.cwd, spec.bash if workspace else BashRules(mode="deny_all"), reads=scope,
            network_allow=network, relay=spec.relay if workspace else frozenset(), own_branch=spec.git is not None,
        )
        self.guard = ToolGuard(policy)
        self.stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        options = build_options(spec, self.guard, launch, self._on_stderr, scope.sandbox_denials(), private / "settings.json")
        self.client = ClaudeSDKClient(options)
        self.pid: int | None = None
        self.ended = False  # the CLI sent its result: it is idle and exits when stdin closes

    def listen(self, on_progress: ProgressCallback | None, on_decision: DecisionCallback | None, ask: Asker | None) -> None:
        """Who hears this session's progress and decisions, and who is asked (known once it is due)."""
        self.on_progress = on_progress
        self.guard.on_decision = on_decision
        self.guard.ask = ask

    @contextlib.contextmanager
    def _cli_failures(self) -> Iterator[None]:
        """The CLI's failures while talking to it, as `AgentFailed` with a one-line reason."""
        try:
            yield
        except ClaudeSDKError as err:
            raise AgentFailed(self._crash_reason(err)) from err
        except Exception as err:
            if type(err) is not Exception:  # the SDK's control-request timeouts are bare Exceptions
                raise
            raise AgentFailed(_one_line(f"Claude Code did not respond: {err}")) from err

    async def connect(self) -> None:
        """Start the CLI and wait for its initialisation; nothing is sent to the model yet."""
        with self._cli_failures():
            await self.client.connect()
            pid = (await self.client.get_server_info() or {}).get("pid")
            self.pid = pid if isinstance(pid, int) else None

    async def converse(self, prompt: str) -> AgentOutcome:
        """Send `prompt` and read the session to its result."""
        texts: list[str] = []
        result: ResultMessage | None = None
        with self._cli_failures():
            await self.client.query(prompt)
            calls: dict[str, ToolUseBlock] = {}
            async for message in self.client.receive_response():
                if isinstance(message, AssistantMessage):
                    texts.extend(b.text for b in message.content if isinstance(b, TextBlock))
                    calls.update((b.id, b) for b in message.content if isinstance(b, ToolUseBlock))
                    self._report(message)
                elif isinstance(message, UserMessage) and isinstance(message.content, list):
                    self._check_results(message.content, calls)
                elif isinstance(message, ResultMessage):
                    result = message
        if result is None:
            raise AgentFailed(self._with_stderr("Claude Code ended without a result"))
        self.ended = True
        return self._outcome(result, texts)

    async def close(self) -> None:
        """Stop the CLI (SIGTERM unless it finished cleanly) and reap it."""
        if not self.ended:
            _terminate(self.pid)  # synchronous: a second cancel cannot skip it
        with contextlib.suppress(Exception):
            await self.client.disconnect()

    def _check_results(self, blocks: list[Any], calls: dict[str, ToolUseBlock]) -> None:
        for block in blocks:
            if isinstance(block, ToolResultBlock) and block.is_error and (call := calls.get(block.tool_use_id)):
                text = block.content if isinstance(block.content, str) else " ".join(
                    str(part.get("text", "")) for part in block.content or [] if isinstance(part, dict))
                self.guard.tool_failed(block.tool_use_id, call.name, call.input, text)

    def _on_stderr(self, line: str) -> None:
        self.stderr.append(line)
        if self.spec.sandbox is not None and disabled_warning(line) and not self.guard.sandbox_disabled:
            # The CLI fails open without bubblewrap or socat: from here on Bash is refused.
            log.error("Claude Code runs without its sandbox in %s (%s); refusing Bash", self.spec.cwd, line.strip()[:200])
            self.guard.sandbox_disabled = True

    def _report(self, message: AssistantMessage) -> None:
        # message.error: the CLI's own synthetic text about a failed API call, not agent work.
        if (
            self.on_progress is not None
            and message.error is None
            and message.parent_tool_use_id is None
        ):
            for item in progress_of(message, self.spec.cwd):
                self.on_progress(item)

    def _outcome(self, result: ResultMessage, texts: list[str]) -> AgentOutcome:
        usage = _usage(result)
        if result.is_error:
            raise _result_failure(result, self.spec, usage)
        wants_output = self.spec.kind == "workspace" or self.spec.output_schema is not None
        if wants_output and result.structured_output is None:
            said = _one_line(result.result or (texts[-1] if texts else ""))
            raise AgentOutputInvalid(
                "the agent ended without its structured answer"
                + (f"; it said: {said}" if said else ""),
                usage=usage,
            )
        text = result.result if result.result is not None else (texts[-1] if texts else "")
        return AgentOutcome(
            text, result.structured_output, usage, result.session_id, self.guard.denied
        )

    def _crash_reason(self, err: ClaudeSDKError) -> str:
        # A CLI dying at start-up surfaces in several wordings depending on timing.
        exit_code = err.exit_code if isinstance(err, ProcessError) else None
        if exit_code is None:
            # e.g. "Cannot write to terminated process (exit code: 3)"
            found = _EXIT_CODE.search(str(err))
            exit_code = int(found.group(1)) if found else None
        if exit_code is not None:
            reason = f"Claude Code exited with code {exit_code}"
        elif "process stdin" in str(err):
            reason = "Claude Code exited while starting"
        else:
            reason = _first_line(err)  # not found, no such working directory, bad output…
        return self._with_stderr(reason)

    def _with_stderr(self, reason: str) -> str:
        tail = " | ".join(line.strip() for line in self.stderr if line.strip())
        return _one_line(f"{reason}: {tail}" if tail else reason)


_TOKENS = (
    ("input_tokens", "inputTokens"),
    ("output_tokens", "outputTokens"),
    ("cache_read_input_tokens", "cacheReadInputTokens"),
    ("cache_creation_input_tokens", "cacheCreationInputTokens"),
)


def _usage(result: ResultMessage) -> Usage:
    """What the session cost. Token counts come from the result's `usage`, or, when that is
    empty (the CLI zeroes it in an `error_max_budget_usd` result), from the per-model totals."""
    raw = result.usage or {}
    tokens = {name: _count(raw.get(name)) for name, _ in _TOKENS}
    if not any(tokens.values()):
        models = [m for m in (result.model_usage or {}).values() if isinstance(m, dict)]
        tokens = {name: sum(_count(m.get(key)) for m in models) for name, key in _TOKENS}
    return Usage(
        **tokens,
        cost_usd=round(result.total_cost_usd or 0.0, 6),
        num_turns=result.num_turns,
        duration_ms=result.duration_ms,
    )


def _count(value: object) -> int:
    """A token count from the CLI's JSON (absent or not a number: 0)."""
    return int(value) if isinstance(value, (int, float)) else 0


def _result_failure(result: ResultMessage, spec: AgentSpec, usage: Usage) -> AgentFailed:
    if result.subtype == "error_max_turns":
        return AgentFailed(f"the agent did not finish within max_turns={spec.max_turns}", usage=usage)
    if result.subtype == "error_max_budget_usd":
        # The CLI checks its budget after each model answer, so it stops a little past it.
        budget = f" of {usd(spec.max_budget_usd)}" if spec.max_budget_usd is not None else ""
        return AgentFailed(
            f"the task reached its cost budget{budget} (spent {usd(usage.cost_usd)})", usage=usage
        )
    said = result.result or "; ".join(result.errors or []) or result.subtype
    return AgentFailed(
        _one_line(f"Claude Code failed: {said}"), api_status=result.api_error_status, usage=usage
    )


def _terminate(pid: int | None) -> None:
    """SIGTERM the CLI if `pid` is still our child (the CLI also ends the tools it started)."""
    if pid is None or not _is_our_child(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)


def _is_our_child(pid: int) -> bool:
    # Guards against a reaped pid being reused by an unrelated process.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no procfs (macOS): trust the pid
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return len(fields) > 1 and int(fields[1]) == os.getpid()


@contextlib.contextmanager
def _run_dir(sandbox_dir: Path | None) -> Iterator[tuple[Path, dict[str, str]]]:
    """A private folder for one run (mode 0700, removed after) holding the CLI's launcher, a fresh
    TMPDIR of its own, and, with `sandbox_dir`, a fresh HOME/CLAUDE_CONFIG_DIR under it.

    The TMPDIR is always the run's own, short and empty: the sandbox puts its proxy sockets there
    (a socket path must stay short, see `MAX_TMPDIR_CHARS`) and it is the one temporary folder
    the agent's commands may see. Folders made in `/tmp` are emptied at the end and removed once
    no session that started while they existed runs (`scratch`: other sessions hide them by name)."""
    if sandbox_dir is not None:
        sandbox_dir.mkdir(parents=True, exist_ok=True)
    with scratch.live_session():
        run_dir = Path(tempfile.mkdtemp(prefix="run-" if sandbox_dir else "tunnels-agent-", dir=sandbox_dir))
        temporary = Path(tempfile.mkdtemp(prefix="tnl-"))
        try:
            env = sandbox_env(run_dir) if sandbox_dir is not None else {}
            for path in env.values():
                Path(path).mkdir()
            if len(str(temporary)) <= MAX_TMPDIR_CHARS or "TMPDIR" not in env:
                env["TMPDIR"] = str(temporary)
            yield run_dir, env
        finally:
            if sandbox_dir is not None:
                shutil.rmtree(run_dir, ignore_errors=True)
            else:
                scratch.retire(run_dir)
            scratch.retire(temporary)


def _first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return lines[0].rstrip(": ") if lines else type(err).__name__


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _REASON_LIMIT else flat[: _REASON_LIMIT - 1] + "…"
