"""What a person reads about a request's changes: the proposal per repository (branch, diffstat,
tests, overlaps) with what to reply, and each decision's outcome. Plain text; pure."""

from __future__ import annotations

from claude_tunnels.actors.facts import diffstat
from claude_tunnels.events.changes import (
    ChangesDiscarded,
    ChangesMerged,
    ChangesOverlapped,
    ChangesProposed,
    ChangesPushed,
    ChangesRefused,
    ProposedTask,
    RepoChanges,
)
from claude_tunnels.events.values import TaskFacts

_DOING = {"merge": "merging", "pr": "opening a pull request for", "discard": "discarding"}
_NOT_DONE = {"merge": "Not merged", "pr": "No pull request", "discard": "Not discarded"}
_FILES_SHOWN = 8


def _files(files: list[str]) -> str:
    shown = ", ".join(files[:_FILES_SHOWN])
    return shown + (f" and {len(files) - _FILES_SHOWN} more" if len(files) > _FILES_SHOWN else "")


def _test(task: ProposedTask) -> str:
    if task.test_passed is None:
        return f"{task.workspace} no declared test"
    return f"{task.workspace} {'pass' if task.test_passed else 'FAIL'} (`{task.test_command}`)"


def repo_lines(repo: RepoChanges) -> list[str]:
    """One repository of a proposal: branch, diffstat and target, tests, what was left out, overlaps."""
    into = f"to merge into {repo.base_branch}" if repo.base_branch else "made on a detached HEAD"
    lines = [f"• {repo.repo}: branch {repo.branch}, {diffstat(TaskFacts(files=repo.files))}, {into}",
             f"    tests: {'; '.join(_test(task) for task in repo.tasks if not task.left_out)}"]
    lines += [f"    ⚠ {task.workspace} left out: {task.left_out}" for task in repo.tasks if task.left_out]
    lines += [f"    ⚠ request {o.request_id} (not merged yet) also changes {_files(o.files)}" for o in repo.overlaps]
    return lines


def proposal_text(event: ChangesProposed) -> str:
    """The proposal as posted after the request's result."""
    lines = [f"Changes of request {event.request_id}, one branch per repository:"]
    for repo in event.repos:
        lines += repo_lines(repo)
    if event.automatic is not None:
        lines.append(f"git.on_success: {_DOING[event.automatic]} them now (every task succeeded, every declared test passed).")
    else:
        lines.append("Reply merge, pr (push and open a pull request) or discard; add the request id when several requests "
                     f"wait (merge {event.request_id}), and a repository to decide for one only.")
    return "\n".join(lines)


def outcome_text(event: ChangesMerged | ChangesRefused | ChangesPushed | ChangesDiscarded | ChangesOverlapped) -> str:
    """The outcome of one repository's decision, or an overlap notice."""
    rid = event.request_id
    match event:
        case ChangesMerged():
            how = "fast-forward" if event.fast_forward else "merge commit"
            where = f"; the checkout at {event.checkout} was updated" if event.checkout else ""
            return f"✓ Merged the changes of request {rid} in {event.repo} into {event.into} ({how}, {event.commit[:12]}){where}."
        case ChangesRefused():
            return f"✗ {_NOT_DONE.get(event.decision, 'Not done')} ({event.repo}, request {rid}): {event.reason}"
        case ChangesPushed() if event.pr_url:
            return f"↑ Pull request for request {rid} in {event.repo}: {event.pr_url} (branch {event.branch} pushed to {event.remote})."
        case ChangesPushed():
            opening = f" Open it at {event.compare_url}" if event.compare_url else ""
            return f"↑ Pushed {event.branch} to {event.remote} for request {rid} in {event.repo}; {event.note}.{opening}"
        case ChangesDiscarded():
            count = len(event.branches)
            return f"🗑 Discarded the changes of request {rid} in {event.repo}: {count} branch{'es' if count != 1 else ''} deleted."
        case ChangesOverlapped() if event.deciding_request == rid:
            return (f"⚠ Before {_DOING[event.decision]} {event.repo}: request {event.other_request} (branch {event.other_branch}, "
                    f"not merged yet) also changes {_files(event.files)}.")
        case ChangesOverlapped():
            return (f"⚠ Request {event.deciding_request} is {_DOING[event.decision]} its changes in {event.repo}, which also "
                    f"change files of this request's branch: {_files(event.files)}.")
