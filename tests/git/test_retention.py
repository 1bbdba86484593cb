"""The retention policy as a table: each branch or worktree entry of ours, what the event log says of
its request and task, and whether it is stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from msgspec.structs import replace

from claude_tunnels.events.changes import ProposedTask, RepoChanges
from claude_tunnels.events.values import Plan, PlannedTask
from claude_tunnels.projections.changes import RepoState
from claude_tunnels.projections.requests import RequestState, TaskState
from claude_tunnels.tunnels.git.inventory import OurBranch, TaskFolder
from claude_tunnels.tunnels.git.retention import Policy, RequestIndex, age, judge_branch, judge_folder, task_of_branch
from claude_tunnels.tunnels.git.tasks import branch_name

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
RID = "01JREQ0000000000000000000A"
FOLDER = Path("/state/worktrees")


def request(status: str = "completed", task: str = "succeeded", ended_days_ago: float | None = 1) -> RequestState:
    ended = NOW - timedelta(days=ended_days_ago) if ended_days_ago is not None else None
    return RequestState(
        request_id=RID, session_key="terminal:alice", text="x", requester="terminal:alice", channel="terminal",
        opened_at=NOW - timedelta(days=30), status=status,  # type: ignore[arg-type]
        tasks={"web": TaskState(workspace="web", task="t", phase=1, task_id=f"{RID}-1", status=task, ended_at=ended)},  # type: ignore[arg-type]
        ended_at=ended,
    )


def proposed(state: RequestState, status: str, *, left_out: str = "") -> RequestState:
    """`state` whose changes were proposed in one request branch holding its task's branch, now `status`."""
    task = ProposedTask(workspace="web", branch=f"tunnels/{RID.lower()}/web", commit="b" * 40, left_out=left_out)
    proposal = RepoChanges(repo="repo", branch=f"tunnels/{RID.lower()}-result", base="a" * 40, head="c" * 40, tasks=[task])
    assert state.ended_at is not None
    return replace(state, changes={"repo": RepoState(proposal=proposal, proposed_at=state.ended_at, status=status)})  # type: ignore[arg-type]


def branch(*, rest: str = "web", tip_days_ago: float = 1, unfinished: bool = False, checked_out: Path | None = None) -> OurBranch:
    return OurBranch(
        repo=Path("/repo"), name=f"tunnels/{RID.lower()}/{rest}", request=RID.lower(), rest=rest, tip="a" * 40,
        tip_at=NOW - timedelta(days=tip_days_ago), unfinished=unfinished, checked_out=checked_out,
    )


def policy(**fields: object) -> Policy:
    return Policy(**{"now": NOW, "keep_failed_days": 7, "prefix": "tunnels/", "folder": FOLDER, **fields})  # type: ignore[arg-type]


BRANCH_CASES = [
    # (what the log says, the branch, the policy, removed?, why contains)
    (request(task="failed", ended_days_ago=8), branch(), policy(), True, "failed 8 d ago"),
    (request(task="failed", ended_days_ago=2), branch(), policy(), False, "kept until 2026-11-26"),
    (request(task="failed", ended_days_ago=2), branch(), policy(keep_failed_days=0), True, "failed"),
    (request(task="cancelled", ended_days_ago=10), branch(), policy(), True, "cancelled 10 d ago"),
    (request(task="timed_out", ended_days_ago=10), branch(), policy(), True, "timed out"),
    (request(task="interrupted", ended_days_ago=10), branch(), policy(), True, "interrupted"),
    (request(task="failed", ended_days_ago=2), branch(), policy(everything=True), True, "failed"),
    (proposed(request(task="succeeded", ended_days_ago=90), "open"), branch(), policy(), False, "waits for the person's decision"),
    (proposed(request(task="succeeded", ended_days_ago=90), "deciding"), branch(), policy(keep_failed_days=0), False, "waits for the person's decision"),
    (proposed(request(task="succeeded"), "open"), branch(), policy(everything=True), True, "--all"),
    (proposed(request(status="failed", task="succeeded", ended_days_ago=90), "open"), branch(), policy(), False, "waits for the person's decision"),
    # decided: Merge, Open PR and Discard delete the branches themselves; one left behind is stale
    (proposed(request(task="succeeded", ended_days_ago=1), "merged"), branch(), policy(), True, "decided"),
    (proposed(request(task="succeeded", ended_days_ago=1), "pushed"), branch(), policy(), True, "decided"),
    (proposed(request(task="succeeded", ended_days_ago=1), "discarded"), branch(), policy(), True, "decided"),
    # succeeded but in no proposal (nothing to propose, or left out as conflicting): kept like a failed task's
    (request(task="succeeded", ended_days_ago=90), branch(), policy(), True, "succeeded, not proposed, 90 d ago"),
    (request(task="succeeded", ended_days_ago=2), branch(), policy(), False, "kept until 2026-11-26"),
    (proposed(request(task="succeeded", ended_days_ago=90), "open", left_out="conflicts"), branch(), policy(), True, "not proposed"),
    (request(task="succeeded", ended_days_ago=0.01), branch(), policy(keep_failed_days=0), False, "being proposed"),
    (request(status="executing", task="running", ended_days_ago=None), branch(), policy(everything=True), False, "its request is running"),
    (request(status="executing", task="failed", ended_days_ago=30), branch(), policy(everything=True), False, "its request is running"),
    (request(status="awaiting_approval", task="pending", ended_days_ago=None), branch(), policy(everything=True), False, "awaiting approval"),
    (request(status="completed", task="running", ended_days_ago=None), branch(), policy(everything=True), False, "running"),
    # the request is not in the event log any more (aged out), or never was
    (None, branch(tip_days_ago=30, unfinished=True), policy(), True, "an unfinished task's, last commit 30 d ago"),
    (None, branch(tip_days_ago=3, unfinished=True), policy(), False, "not in the event log"),
    (None, branch(tip_days_ago=300), policy(), False, "prune --all removes it"),
    (None, branch(tip_days_ago=1), policy(everything=True), True, "not in the event log"),
    # someone has it checked out outside our folder: never
    (request(task="failed", ended_days_ago=30), branch(checked_out=Path("/home/alice/web")), policy(everything=True), False, "checked out at /home/alice/web"),
    (None, branch(checked_out=Path("/home/alice/web")), policy(everything=True), False, "checked out"),
]


@pytest.mark.parametrize(("state", "ours", "rules", "removed", "why"), BRANCH_CASES)
def test_which_branches_are_stale(state: RequestState | None, ours: OurBranch, rules: Policy, removed: bool, why: str) -> None:
    verdict = judge_branch(ours, RequestIndex({RID: state} if state else {}), rules)

    assert verdict.remove is removed, verdict.why
    assert why in verdict.why


def test_a_branch_checked_out_in_one_of_our_worktrees_follows_that_worktree() -> None:
    index = RequestIndex({RID: request(task="failed", ended_days_ago=30)})
    ours = branch(checked_out=FOLDER / RID / f"{RID}-1")

    assert judge_branch(ours, index, policy()).remove
    assert not judge_branch(ours, index, policy(), kept_worktrees=frozenset({FOLDER / RID / f"{RID}-1"})).remove


FOLDER_CASES = [
    (request(status="executing", task="running", ended_days_ago=None), "worktree", f"{RID}-1", policy(), False, "its task is running"),
    (request(status="executing", task="dispatched", ended_days_ago=None), "gitdir", f"{RID}-1.git", policy(), False, "running"),
    (request(status="executing", task="running", ended_days_ago=None), "worktree", f"{RID}-1", policy(nothing_runs=True), True, "nothing runs at start"),
    (request(task="failed"), "worktree", f"{RID}-1", policy(), True, "its task is failed"),
    (request(task="succeeded"), "gitdir", f"{RID}-1.git", policy(), True, "its task is succeeded"),
    (request(task="failed"), "worktree", f"{RID}-1", policy(running=frozenset({f"{RID}-1"})), False, "its task is running"),
    (None, "worktree", "whatever", policy(), True, "not in the event log"),
    (None, "other", "stray.txt", policy(), True, "not a task's worktree"),
]


@pytest.mark.parametrize(("state", "kind", "name", "rules", "removed", "why"), FOLDER_CASES)
def test_which_worktree_entries_are_stale(state: RequestState | None, kind: str, name: str, rules: Policy, removed: bool, why: str) -> None:
    entry = TaskFolder(FOLDER / RID / name, RID, name, kind)

    verdict = judge_folder(entry, RequestIndex({RID: state} if state else {}), rules)

    assert verdict.remove is removed, verdict.why
    assert why in verdict.why


def test_requests_are_found_however_a_branch_spells_their_id() -> None:
    index = RequestIndex({RID: request()})
    assert index.get(RID.lower()) is index.get(RID) is not None and index.get("01jother") is None


@pytest.mark.parametrize(("seconds", "shown"), [(5, "5 s"), (90, "1 min"), (7200, "2 h"), (86400 * 3 + 5, "3 d"), (-4, "0 s")])
def test_ages_are_short(seconds: int, shown: str) -> None:
    assert age(timedelta(seconds=seconds)) == shown


def test_a_workspaces_second_task_is_found_by_its_own_branch() -> None:
    plan = Plan(label="v2", tasks=[
        PlannedTask(id="t1", workspace="web", task="apply v2"), PlannedTask(id="t2", workspace="web", task="run the tests", depends_on=["t1"]),
    ], phases=[["t1"], ["t2"]])
    state = replace(request(), plan=plan, tasks={
        "t1": TaskState(workspace="web", task="apply v2", phase=1, task_id=f"{RID}-1", status="succeeded"),
        "t2": TaskState(workspace="web", task="run the tests", phase=2, task_id=f"{RID}-2", status="failed"),
    })
    first, second = task_of_branch(state, branch(rest="web"), "tunnels/"), task_of_branch(state, branch(rest="web-2"), "tunnels/")
    assert (first and first.task, second and second.task) == ("apply v2", "run the tests")
    assert branch_name("tunnels/", RID, "web", 2) == f"tunnels/{RID.lower()}/web-2"
