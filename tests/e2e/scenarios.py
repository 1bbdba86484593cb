"""Small scenario builders for end-to-end tests."""

from __future__ import annotations

import json
from typing import Any


def plan(label: str, *tasks: tuple[str, str, list[str]], match: str = "") -> dict[str, Any]:
    """A planner script answering with these (workspace, task, depends_on) tasks."""
    return {
        "name": f"planner-{label}",
        "match": ["Plan the workspace tasks.", *([match] if match else [])],
        "turns": [{"structured_output": {"label": label, "tasks": [
            {"workspace": w, "task": t, "depends_on": d} for w, t, d in tasks
        ]}}],
    }


def succeeds(workspace: str, summary: str = "done", *, delay_s: float = 0, writes: str | None = None) -> dict[str, Any]:
    """A workspace script that (optionally writes a file and) returns a passing result."""
    turns: list[dict[str, Any]] = []
    if writes:
        turns.append({"tool_uses": [{"name": "Write", "input": {"file_path": "{cwd}/" + writes, "content": "x\n"}}]})
    final: dict[str, Any] = {"structured_output": {"summary": summary, "changed_files": [writes] if writes else [], "test_result": "pass"}}
    if delay_s:
        final["delay_s"] = delay_s
    return {"name": workspace, "match": [f"Workspace: {workspace}\n"], "turns": [*turns, final]}


def hangs(workspace: str) -> dict[str, Any]:
    """A workspace script whose model never answers."""
    return {"name": workspace, "match": [f"Workspace: {workspace}\n"], "turns": [{"hang": True}]}


def errors(workspace: str) -> dict[str, Any]:
    """A workspace script whose model call fails for good (the CLI gives up)."""
    return {"name": workspace, "match": [f"Workspace: {workspace}\n"],
            "turns": [{"error": {"status": 400, "type": "invalid_request_error", "message": "scripted crash"}}]}


def router(projects: list[str], match: str) -> dict[str, Any]:
    """A router script answering with these projects."""
    return {"name": f"router-{match}", "match": ["Which projects is this request about?", match],
            "turns": [{"structured_output": {"projects": projects}}]}


def scenario(*scripts: dict[str, Any]) -> str:
    """The YAML text of a scenario (JSON is YAML)."""
    return json.dumps({"scripts": list(scripts)})
