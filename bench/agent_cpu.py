"""CPU per Claude Code CLI: a bare `query()` against ours, and ours with one part taken away at a time.

    .venv/bin/python bench/agent_cpu.py [SESSIONS]     # default 4 per variant

Sessions run one at a time (so the figures say what a CLI costs, not how two cores share eight),
each answering one scripted turn at once; the CPU of each is its reaped process tree's user +
system time (`RUSAGE_CHILDREN` before and after). Variants:

- bare: `query(prompt)` with only `cwd` and the model's environment (a text answer);
- bare + schema: the same with our `output_format` (the TaskResult JSON schema, structured answer);
- ours: `run_workspace_task` as a task runs it (per-session home, launcher, settings file, hooks,
  `can_use_tool`, the key through `apiKeyHelper`, structured answer);
- ours without X: the same with one of those removed (by patching the options it is given).
  "Without the settings layer" also loses the model key (`apiKeyHelper`): that session fails at
  once ("Not logged in"), so its figure is a lower bound, not a working configuration.

Medians (min-max) in CPU milliseconds; the load average is printed, since other work skews them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the checkout on sys.path)
from _orchestra import machine, med
from claude_agent_sdk import ClaudeAgentOptions, query

from claude_tunnels.actors.prompts import WORKSPACE_INSTRUCTIONS
from claude_tunnels.tunnels.claude import AgentError, AgentSpec, run_workspace_task
from claude_tunnels.tunnels.claude import runner as claude_runner
from claude_tunnels.tunnels.claude.options import task_result_schema
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario

RESULT = {"summary": "done", "changed_files": [], "test_result": "skip"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def bare(folder: Path, model: ScriptedModelServer, schema: bool) -> None:
    extra: dict[str, Any] = {"output_format": {"type": "json_schema", "schema": task_result_schema()}} if schema else {}
    options = ClaudeAgentOptions(cwd=str(folder), env=model.env(), max_turns=3, **extra)
    marker = "Structured: cpu\n" if schema else "Text: cpu\n"
    async for _ in query(prompt=f"Measure me.\n{marker}", options=options):
        pass


async def ours(folder: Path, model: ScriptedModelServer, homes: Path | None, patch: Callable[[ClaudeAgentOptions], ClaudeAgentOptions] | None) -> None:
    spec = AgentSpec(prompt="Measure me.\nStructured: cpu\n", cwd=folder, kind="workspace", system_prompt=WORKSPACE_INSTRUCTIONS,
                     env=model.env(), sandbox_dir=homes, max_turns=3)
    build = claude_runner.build_options
    if patch is not None:
        claude_runner.build_options = lambda *a, **k: patch(build(*a, **k))  # type: ignore[assignment]
    try:
        await run_workspace_task(spec)
    except AgentError as err:
        print(f"  (session ended with: {err.message[:120]})")
    finally:
        claude_runner.build_options = build  # type: ignore[assignment]


def without(**changes: Any) -> Callable[[ClaudeAgentOptions], ClaudeAgentOptions]:
    return lambda options: dataclasses.replace(options, **changes)


def settings_without(key: str) -> Callable[[ClaudeAgentOptions], ClaudeAgentOptions]:
    """The settings layer (a file) without `key`, written beside it."""

    def patch(options: ClaudeAgentOptions) -> ClaudeAgentOptions:
        path = Path(str(options.settings))
        layer = json.loads(path.read_text())
        layer.pop(key, None)
        trimmed = path.with_name("trimmed.json")
        trimmed.write_text(json.dumps(layer))
        return dataclasses.replace(options, settings=str(trimmed))

    return patch


async def main(sessions: int) -> None:
    print(f"machine: {machine()} at the start", flush=True)
    scripts = [{"name": "structured", "match": ["Structured: cpu\n"], "turns": [{"structured_output": RESULT}]},
               {"name": "text", "match": ["Text: cpu\n"], "turns": [{"text": "done"}]}]
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        folder, homes = Path(tmp) / "ws", Path(tmp) / "homes"
        folder.mkdir()
        (folder / "CLAUDE.md").write_text("# ws\nA bench workspace.\n")
        async with ScriptedModelServer(parse_scenario(json.dumps({"scripts": scripts}))) as model:
            variants: list[tuple[str, Callable[[], Any]]] = [
                ("bare", lambda: bare(folder, model, schema=False)),
                ("bare + schema", lambda: bare(folder, model, schema=True)),
                ("ours", lambda: ours(folder, model, homes, None)),
                ("ours without the per-session home", lambda: ours(folder, model, None, None)),
                ("ours without hooks and can_use_tool", lambda: ours(folder, model, homes, without(hooks=None, can_use_tool=None))),
                ("ours without the settings layer", lambda: ours(folder, model, homes, without(settings=None))),
                ("ours without the Claude Code system prompt", lambda: ours(folder, model, homes, without(system_prompt=WORKSPACE_INSTRUCTIONS))),
                ("ours without the OS sandbox setting", lambda: ours(folder, model, homes, settings_without("sandbox"))),
                ("ours without the read deny rules", lambda: ours(folder, model, homes, settings_without("permissions"))),
                ("ours without disableAllHooks", lambda: ours(folder, model, homes, settings_without("disableAllHooks"))),
            ]
            for _round in range(sessions + 1):
                for name, run in variants:
                    before = children_cpu()
                    await run()
                    if _round:  # the first round warms the disk cache
                        figures.setdefault(name, []).append(children_cpu() - before)
    print(f"machine: {machine()} at the end\n")
    base = med(figures["bare"])
    width = max(len(n) for n in figures)
    print(f"CPU per CLI (one session at a time), ms: median (min-max) over {sessions}")
    for name, values in figures.items():
        print(f"{name:<{width}}  {med(values) * 1000:7.0f} ({min(values) * 1000:.0f}-{max(values) * 1000:.0f})  {med(values) / base:5.2f}x bare")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 4))
