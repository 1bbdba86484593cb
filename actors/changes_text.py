"""The words that go with a request's changes into git and to the code host: the merge commit's
message, the pull request's title and body. Pure, from the requests view."""

from __future__ import annotations

from claude_tunnels.actors.facts import diffstat, facts_line
from claude_tunnels.events.changes import RepoChanges
from claude_tunnels.events.values import TaskFacts, usd
from claude_tunnels.projections.requests import RequestState

BODY_CHARS = 60_000
"""GitHub refuses a pull request body over 65,536 characters."""
_MARKS = {"succeeded": "✓", "skipped": "–"}


def _first_line(text: str, limit: int = 120) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def title(request: RequestState) -> str:
    """`<plan label> (request <id>)`."""
    label = request.plan.label if request.plan else _first_line(request.text, 80)
    return f"{label} (request {request.request_id})"[:250]


def merge_message(request: RequestState, changes: RepoChanges) -> str:
    """The message of the merge commit made on the base branch (when it is not a fast-forward)."""
    workspaces = ", ".join(task.workspace for task in changes.tasks if not task.left_out)
    return (
        f"Merge {changes.branch}: {title(request)}\n\n{_first_line(request.text, 400)}\n\n"
        f"Tasks: {workspaces}\n\nTunnels-Request: {request.request_id}\n"
    )


def pr_body(request: RequestState, changes: RepoChanges) -> str:
    """The pull request's description: the request, the plan, each task's result with the facts the
    orchestrator found, what this branch holds, the cost, and how to replay the request."""
    lines = ["## Request", "", *(f"> {line}" if line else ">" for line in request.text.strip().splitlines()), ""]
    if request.plan is not None:
        lines += [f"## Plan: {request.plan.label}", ""]
        for number, phase in enumerate(request.plan.phases, start=1):
            for key in phase:
                planned = request.plan.task_for(key)
                after = f" (after {', '.join(planned.depends_on)})" if planned.depends_on else ""
                lines.append(f"- Phase {number}, `{request.plan.label_of(key)}`{after}: {_first_line(planned.task, 300)}")
        lines.append("")
    lines += ["## Results", ""]
    for task in sorted(request.tasks.values(), key=lambda t: (t.phase, t.workspace)):
        mark = _MARKS.get(task.status, "✗")
        if task.result is not None:
            lines.append(f"- {mark} `{task.workspace}`: {_first_line(task.result.summary, 500)}")
            lines.append(f"  - {facts_line(task.facts, task.result)}")
        else:
            lines.append(f"- {mark} `{task.workspace}`: {task.status}{': ' + _first_line(task.error, 300) if task.error else ''}")
    base = f"`{changes.base_branch}` at `{changes.base[:12]}`" if changes.base_branch else f"`{changes.base[:12]}`"
    lines += ["", "## This branch", "", f"`{changes.branch}`: {diffstat(TaskFacts(files=changes.files))} from {base}."]
    lines += [f"- Left out: `{task.workspace}`: {task.left_out}" for task in changes.tasks if task.left_out]
    lines += [
        "", f"Cost: {usd(request.usage.cost_usd)} (routing, planning and the tasks).",
        f"Replay the request's timeline: `tunnels replay {request.request_id}`", "",
        "_Opened by claude-tunnels; the files, diffs and test outcomes above are what git and the "
        "orchestrator found, beside what the agents said._",
    ]
    body = "\n".join(lines)
    return body if len(body) <= BODY_CHARS else body[: BODY_CHARS - 40] + "\n\n… (cut: see `tunnels replay`)"
