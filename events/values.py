"""Value objects carried inside events: usage, task results, plans.

They are plain frozen structs (no tag): they never travel alone, only inside an event.
"""

from __future__ import annotations

from typing import Literal

import msgspec

TestResult = Literal["pass", "fail", "skip"]


class Usage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Token use and cost of one agent call, as reported by the Claude Code CLI."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0
    num_turns: int = 0
    duration_ms: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
            num_turns=self.num_turns + other.num_turns,
            duration_ms=self.duration_ms + other.duration_ms,
        )


def usd(amount: float) -> str:
    """An amount of US dollars for people: `$1.23`, and below ten cents up to four decimals
    (`$0.0103`, `$0.01`), so a small cost or budget never reads as `$0.00`."""
    if abs(amount) >= 0.1:
        return f"${amount:,.2f}"
    whole, _, decimals = f"{amount:.4f}".rstrip("0").partition(".")
    return f"${whole}.{decimals.ljust(2, '0')}"


class TaskResult(msgspec.Struct, frozen=True, kw_only=True):
    """The structured answer a workspace agent returns at the end of its task."""

    summary: str
    changed_files: list[str] = []
    test_result: TestResult = "skip"
    downstream_context: str = ""


SUMMARY_CHARS = 4000
CONTEXT_CHARS = 8000
MAX_CHANGED_FILES = 500
PATH_CHARS = 300
CHILD_PLAN_TOOL = "child plan"
"""The `tool` of a relayed question that is a child orchestrator's plan waiting for approval
(`parent.approval: own` at the child): allowing it approves that plan, denying refuses it."""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded_result(result: TaskResult) -> TaskResult:
    """`result` with every field within the bounds a chat message, an event and a dependant's
    prompt can carry (a runaway answer, or a remote agent's, is cut, never refused)."""
    files = [_cut(path, PATH_CHARS) for path in result.changed_files[:MAX_CHANGED_FILES]]
    if len(result.changed_files) > MAX_CHANGED_FILES:
        files.append(f"… and {len(result.changed_files) - MAX_CHANGED_FILES} more")
    bounded = TaskResult(
        summary=_cut(result.summary, SUMMARY_CHARS), changed_files=files, test_result=result.test_result,
        downstream_context=_cut(result.downstream_context, CONTEXT_CHARS),
    )
    return result if bounded == result else bounded


class Delegation(msgspec.Struct, frozen=True, kw_only=True):
    """What authorised a child orchestrator's request: a task of its parent's approved plan.

    `parent` is the name the child is known by at its parent (`project/name`); `request_id` and
    `task_id` are the parent's; `approved_by` is who approved the parent's plan there."""

    parent: str
    request_id: str
    task_id: str
    approved_by: str = ""


class FileDiff(msgspec.Struct, frozen=True, kw_only=True):
    """One file a task changed, as git (or the file manifest) says: lines added and removed, -1 when
    unknown (a binary file, or a workspace outside git)."""

    path: str
    added: int = -1
    removed: int = -1


class TestRun(msgspec.Struct, frozen=True, kw_only=True):
    """The workspace's declared test command, run by the orchestrator after the agent."""

    __test__ = False  # not a pytest test class

    command: str
    passed: bool
    exit_code: int
    tail: str = ""
    """The last lines of its output (bounded)."""


class TaskFacts(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the orchestrator itself found a task did, beside the agent's claims (`TaskResult`).

    In git: the task's `branch` of the repository at `repo` (its root, relative to the tree's root
    when inside it), made at `base`; `commit` holds its changes ("" when nothing changed). Outside
    git, `files` come from a manifest of the workspace taken before and after. `mismatches` says
    where the agent's claims and these facts disagree.
    """

    repo: str = ""
    branch: str = ""
    base: str = ""
    base_branch: str = ""
    """The branch the repository was on when the request's `base` was pinned ("" on a detached head):
    where the request's changes are merged."""
    start: str = ""
    """The commit the task started from: `base` with its upstream tasks' branches merged in."""
    commit: str = ""
    files: list[FileDiff] = []
    test: TestRun | None = None
    mismatches: list[str] = []


class PlannedTask(msgspec.Struct, frozen=True, kw_only=True):
    """One task of a plan, for one workspace (`project/workspace`, qualified).

    A plan may hold several tasks for one workspace ("apply v2", then "run the tests" once its
    users are updated); `id` tells them apart ("t1", "t2", … as the planner writes them). A plan
    recorded before ids existed has none (`UNSET`, never written): its task's `key` is its
    workspace, which was unique then. `depends_on` names the keys of the tasks this one needs.
    """

    workspace: str
    task: str
    depends_on: list[str] = []
    id: str | msgspec.UnsetType = msgspec.UNSET

    @property
    def key(self) -> str:
        """The task's name within its plan: its `id`, or its workspace for a plan without ids."""
        return self.id if isinstance(self.id, str) and self.id else self.workspace


class Plan(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A validated plan: its tasks and the phases computed from their dependencies.

    `phases` are layers of task keys (`PlannedTask.key`); two tasks of one workspace are never in
    the same phase (a workspace runs one task at a time within a request).
    `warnings` are what planning noticed and let pass: a task that runs before or alongside a
    task of a workspace it uses per the dependency graph. They are shown with the plan.
    """

    label: str
    tasks: list[PlannedTask]
    phases: list[list[str]]
    warnings: list[str] = []

    @property
    def projects(self) -> list[str]:
        """The projects the plan touches, in the order its tasks first name them."""
        return list(dict.fromkeys(task.workspace.partition("/")[0] for task in self.tasks))

    def task_for(self, key: str) -> PlannedTask:
        """The task whose key is `key` (present in the plan)."""
        for task in self.tasks:
            if task.key == key:
                return task
        raise KeyError(key)

    def order(self) -> list[str]:
        """Every task key, in phase order."""
        return [key for phase in self.phases for key in phase]

    def run_id(self, request_id: str, key: str) -> str:
        """The `task_id` the events of running task `key` carry: `<request>-<n>`, n its place in the plan."""
        return f"{request_id}-{[task.key for task in self.tasks].index(key) + 1}"

    def key_of(self, request_id: str, task_id: str, workspace: str) -> str:
        """The key of the task an event names by `task_id` (`run_id`), else by `workspace` (the
        first task of that workspace: events recorded by other means)."""
        for index, task in enumerate(self.tasks, start=1):
            if f"{request_id}-{index}" == task_id:
                return task.key
        return next((task.key for task in self.tasks if task.workspace == workspace), workspace)

    def ordinal(self, key: str) -> int:
        """1 for the first task of its workspace in the plan, 2 for the second, …"""
        workspace = self.task_for(key).workspace
        same = [task.key for task in self.tasks if task.workspace == workspace]
        return same.index(key) + 1

    def label_of(self, key: str) -> str:
        """How a task is named to people: its workspace, with its id when the plan has ids."""
        task = self.task_for(key)
        return task.workspace if task.key == task.workspace else f"{task.workspace} [{task.key}]"
