"""Rendering one request as the Markdown file of the task log (deterministic: same state, same bytes)."""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import PurePosixPath

from claude_tunnels.events.values import TaskFacts, Usage
from claude_tunnels.projections.requests import RequestState, TaskState
from claude_tunnels.projections.slugs import slug

NO_PROJECT = "_no-project"


def _time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _usage(usage: Usage) -> str:
    return (
        f"{usage.input_tokens} in / {usage.output_tokens} out tokens, "
        f"{usage.num_turns} turns, ${usage.cost_usd:.4f}"
    )


_CODE = re.compile(r"^[ \t]*```.*?^[ \t]*```[^\n]*$|`[^`\n]+`", re.DOTALL | re.MULTILINE)


def markdown_text(value: str) -> str:
    """Untrusted text (a request, an agent's summary) as Markdown shows it, not as HTML: `<`, `>`
    and `&` escaped, except inside code spans and fenced blocks, where Markdown shows them as they are."""
    out: list[str] = []
    start = 0
    for code in _CODE.finditer(value):
        out.append(html.escape(value[start:code.start()], quote=False) + code.group())
        start = code.end()
    return "".join(out) + html.escape(value[start:], quote=False)


def _quote(value: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in markdown_text(value).splitlines() or [""])


def relative_paths(state: RequestState) -> list[PurePosixPath]:
    """`<YYYY-MM-DD>/<project>/<HHMMSS>_<label>_<request id>.md` under each project the request
    touches (`_projects`: the plan's, else the route's; `_no-project` for none), the first
    project's first: unique per request, safe for any label."""
    return [_under(state, folder) for folder in dict.fromkeys(slug(name) for name in _projects(state))] or [_under(state, NO_PROJECT)]


def relative_path(state: RequestState) -> PurePosixPath:
    """The request's first file (under the first project it touches; see `relative_paths`)."""
    return relative_paths(state)[0]


def stale_paths(state: RequestState) -> list[PurePosixPath]:
    """Where the request was filed before and is no more: a project it was routed to, or an
    earlier plan touched, that the current plan does not."""
    current = set(relative_paths(state))
    earlier = (_under(state, slug(name)) for name in dict.fromkeys([*state.projects, *state.planned_projects]))
    return [path for path in earlier if path not in current]


def _under(state: RequestState, folder: str) -> PurePosixPath:
    first_line = state.text.strip().splitlines()[0] if state.text.strip() else ""
    name = f"{state.opened_at:%H%M%S}_{slug(first_line, max_len=40)}_{state.request_id}.md"
    return PurePosixPath(f"{state.opened_at:%Y-%m-%d}", folder, name)


def _facts(facts: TaskFacts | None) -> list[str]:
    """What the orchestrator found: the branch and commit, each file's diff, the declared tests."""
    if facts is None:
        return []
    lines = []
    if facts.branch:
        lines.append(f"- Branch: `{facts.branch}` of `{facts.repo}` (commit `{facts.commit[:12]}`, from `{facts.base[:12]}`)")
    changed = ", ".join(f"`{f.path}` (+{f.added} −{f.removed})" if f.added >= 0 else f"`{f.path}`" for f in facts.files) or "none"
    lines.append(f"- Changed files (found): {changed}")
    if facts.test is not None:
        outcome = "passed" if facts.test.passed else f"FAILED (exit {facts.test.exit_code})"
        lines.append(f"- Tests (run by the orchestrator): `{facts.test.command}` {outcome}")
    lines += [f"- Mismatch: {note}" for note in facts.mismatches]
    return lines


def _changes_section(state: RequestState) -> list[str]:
    """Per repository: the request branch, what it changes, and what became of it."""
    lines = ["## Changes", ""]
    for label, repo in state.changes.items():
        proposal = repo.proposal
        on = f"on `{proposal.base_branch}`" if proposal.base_branch else "on a detached HEAD"
        lines += [f"### {label}: {repo.status}", "",
                  f"- Request branch: `{proposal.branch}` at `{proposal.head[:12]}`, from `{proposal.base[:12]}` {on}"]
        changed = ", ".join(f"`{f.path}` (+{f.added} −{f.removed})" if f.added >= 0 else f"`{f.path}`" for f in proposal.files) or "none"
        lines.append(f"- Changed files: {changed}")
        lines += [f"- Left out: `{task.workspace}`: {markdown_text(task.left_out)}" for task in proposal.tasks if task.left_out]
        lines += [f"- Overlaps request `{o.request_id}` in {', '.join(f'`{f}`' for f in o.files)}" for o in proposal.overlaps]
        if repo.decision:
            lines.append(f"- Decision: {repo.decision} by `{repo.by}` (attempt {repo.attempts})")
        if repo.outcome:
            lines.append(f"- {'Outcome' if repo.status != 'open' else 'Last refusal'}: {markdown_text(repo.outcome)}")
        lines.append("")
    return lines


def _task_section(task: TaskState, label: str) -> list[str]:
    lines = [f"### {label} (phase {task.phase}): {task.status}", "", f"Task: {markdown_text(task.task)}", ""]
    if task.result is not None:
        lines += [markdown_text(task.result.summary), ""]
        files = ", ".join(f"`{name}`" for name in task.result.changed_files) or "none"
        lines += [f"- Changed files (the agent's claim): {files}", f"- Tests (the agent's claim): {task.result.test_result}"]
        lines += _facts(task.facts)
        if task.result.downstream_context:
            lines.append(f"- Downstream context: {markdown_text(task.result.downstream_context)}")
    if task.error:
        lines.append(f"- Error: {markdown_text(task.error)}")
    if task.refused:
        lines.append(f"- Refused actions ({task.refused}):")
        lines += [f"  - {markdown_text(' '.join(line.split()))}" for line in task.refusals]
        if task.refused > len(task.refusals):
            lines.append(f"  - … and {task.refused - len(task.refusals)} more")
    if task.usage != Usage():
        lines.append(f"- Usage: {_usage(task.usage)}")
    lines.append("")
    return lines


def _projects(state: RequestState) -> list[str]:
    """What the plan touches once there is one (routed projects first, then the neighbours it
    added), else the route."""
    if state.plan is None:
        return state.projects
    touched = state.plan.projects
    return [name for name in state.projects if name in touched] + [name for name in touched if name not in state.projects]


def render(state: RequestState) -> str:
    """The whole Markdown file for one request."""
    title = state.plan.label if state.plan else (state.text.strip().splitlines() or ["(empty request)"])[0][:80]
    lines = [
        f"# {markdown_text(title)}",
        "",
        f"- Request: `{state.request_id}`",
        f"- Session: `{state.session_key}` ({state.channel}), requested by `{state.requester}`",
        f"- Opened: {_time(state.opened_at)}; ended: {_time(state.ended_at)}",
        f"- Status: **{state.status}**" + (f" ({markdown_text(state.reason)})" if state.reason else ""),
        f"- Projects: {', '.join(_projects(state)) or '-'}",
        f"- Usage: {_usage(state.usage)}",
        "",
        "## Request",
        "",
        _quote(state.text),
        "",
    ]
    for number, revision in enumerate(state.revisions, start=1):
        lines += [f"Revision {number}:", "", _quote(revision), ""]
    if state.plan is not None:
        lines += ["## Plan", ""]
        if state.approved_by:
            lines += [f"Approved by `{state.approved_by}`.", ""]
        for index, phase in enumerate(state.plan.phases, start=1):
            lines.append(f"Phase {index}:")
            for key in phase:
                planned = state.plan.task_for(key)
                after = f" (after {', '.join(planned.depends_on)})" if planned.depends_on else ""
                lines.append(f"- `{state.plan.label_of(key)}`{after}: {markdown_text(planned.task)}")
            lines.append("")
        if state.plan.warnings:
            lines += [*(f"- {markdown_text(warning)}" for warning in state.plan.warnings), ""]
    if state.tasks:
        lines += ["## Results", ""]
        for key, task in sorted(state.tasks.items(), key=lambda item: (item[1].phase, item[1].workspace)):
            lines += _task_section(task, state.plan.label_of(key) if state.plan is not None else task.workspace)
    if state.answer:
        lines += ["## Answer", "", markdown_text(state.answer), ""]
    if state.changes:
        lines += _changes_section(state)
    return "\n".join(lines).rstrip() + "\n"
