"""The ports through which the flow reaches the world, and the values that cross them.

Actors depend on these `Protocol`s only; the adapters in `tunnels/` implement them (the NATS
event log, Claude Code sessions, the tree on disk, remote agents) and the composition root wires
them. A test gives an actor fakes of these and nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from claude_tunnels.actors.tree import Tree
from claude_tunnels.events.base import Event
from claude_tunnels.events.changes import ProposedTask, RepoChanges
from claude_tunnels.events.execution import WorkspaceTaskDispatched
from claude_tunnels.events.log import Appended, Stored
from claude_tunnels.events.values import TaskFacts, TaskResult, Usage

# -- the event log ---------------------------------------------------------------------------


class Subscription(Protocol):
    """Something that delivers until unsubscribed."""

    async def unsubscribe(self) -> None: ...


class Appender(Protocol):
    """Where facts are recorded."""

    async def append(self, event: Event, *, expected_session_seq: int | None = None) -> Appended:
        """Store `event` (idempotent by its id); with `expected_session_seq`, only if its session's
        last stored event is still that one (else `events.log.AppendConflict`)."""
        ...


class EventLog(Appender, Protocol):
    """The append-only log every fact is recorded in (JetStream in production)."""

    async def last_seq(self, subject: str | None = None) -> int:
        """The sequence of the last stored event (of `subject`), 0 if none."""
        ...

    async def consume(self, name: str, handler: Callable[[Stored], Awaitable[None]]) -> Subscription:
        """Deliver each new event to `handler` at least once, through the durable consumer `name`."""
        ...


# -- time: timers and a monotonic source ----------------------------------------------------


class Cancellable(Protocol):
    """A scheduled callback that can still be called off."""

    def cancel(self) -> None:
        """Do not call it (if it has not run yet)."""
        ...


class Timers(Protocol):
    """Where the flow schedules what happens later: an approval's or a question's expiry, the
    heartbeat watchdog. Callable from any thread (an actor's, the loop's); the callbacks run on
    the orchestrator's loop and must not block. The clock that measures them is injected with
    them, so a test moves time by hand and the due callbacks run, without real waiting."""

    def call_at(self, when: datetime, callback: Callable[[], None]) -> Cancellable:
        """Call `callback` once the clock (`events.ids.Clock`) reads `when` or later; at once if it
        does already."""
        ...

    def call_after(self, seconds: float, callback: Callable[[], None]) -> Cancellable:
        """Call `callback` once `seconds` have elapsed (measured like `Monotonic`: a change of the
        wall clock neither hastens nor delays it)."""
        ...


Monotonic = Callable[[], float]
"""Seconds on a clock that never goes back (`time.monotonic` in production), for measuring how
long something took or has been silent; only differences between its readings mean anything."""


# -- the tree --------------------------------------------------------------------------------


class TreeSource(Protocol):
    """The project tree as it is now: local folders and the workspaces remote agents serve."""

    def tree(self) -> Tree:
        """The tree as last read from the folders (cheap: no disk access once it was read), with
        the workspaces live remote agents serve now."""
        ...

    def fresh(self) -> Tree:
        """The tree checked against the folders now (read again when they changed since), with
        the remote workspaces: what a new request starts from. It may block on the disk for a
        while: never call it on the event loop."""
        ...

    def remote_workspaces(self) -> set[str]:
        """Qualified names of the workspaces a live remote agent serves."""
        ...

    def offline(self, qualified: str) -> str | None:
        """Why a workspace that a remote agent served is missing now (`… is served by a remote
        agent that is offline (last seen 12:03 UTC, 5 min ago)`), or None."""
        ...


# -- read-only agents (router, planner, direct answers) --------------------------------------

Role = Literal["router", "planner", "direct"]


@dataclass(frozen=True)
class Consultation:
    """One read-only agent call: the role (which model and limits), its prompts, its answer's schema."""

    role: Role
    prompt: str
    system: str
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Consulted:
    """A read-only agent's answer: its structured output (with a schema) or its text, and the cost."""

    output: Any
    text: str
    usage: Usage


class Advisors(Protocol):
    """Runs read-only agents (no write or shell tools at all). Raises `actors.agent_errors.AgentError`."""

    async def consult(self, consultation: Consultation) -> Consulted: ...


# -- what an agent does while it works ------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Something the agent just did: a tool call (`Write src/x.py`) or a piece of its text."""

    kind: Literal["tool", "text"]
    detail: str
    every: bool = False
    """Record it even within `limits.progress_interval_s` of the last (a child orchestrator's
    lines: a few per phase and task, each worth telling, nested under its task)."""


@dataclass(frozen=True)
class PermissionNote:
    """One decision about one tool call, as it is recorded: `by` is `policy`, `sandbox` or who answered."""

    tool: str
    detail: str
    allowed: bool
    reason: str
    rule: str
    by: str = "policy"


@dataclass(frozen=True)
class Question:
    """An action the policy leaves to a person: what the agent wants and why it is asked."""

    tool: str
    detail: str
    reason: str
    rule: str


@dataclass(frozen=True)
class Answer:
    """A person's (or the deadline's) answer to a `Question`; already recorded by whoever asked."""

    allowed: bool
    by: str
    reason: str = ""


Asker = Callable[[Question], Awaitable[Answer]]
"""Asks a person and returns their answer (recording the question and the answer is its job)."""


# -- workspace tasks: one path, several runners ---------------------------------------------


@dataclass(frozen=True)
class Succeeded:
    """The agent finished with its structured result (its claims); `facts` is what the runner
    established itself (branch, commit, diff, declared tests), when it could."""

    result: TaskResult
    usage: Usage = Usage()
    facts: TaskFacts | None = None


@dataclass(frozen=True)
class Failed:
    """The agent crashed, errored, returned an invalid result or could not run."""

    error: str
    usage: Usage = Usage()


@dataclass(frozen=True)
class TimedOut:
    """The agent did not finish within its time limit and was stopped."""

    timeout_s: float


@dataclass(frozen=True)
class Cancelled:
    """The task was stopped because the request was cancelled."""

    reason: str = "cancelled"


@dataclass(frozen=True)
class Interrupted:
    """The runner went away while the task ran (the agent stopped, the orchestrator restarted)."""

    reason: str


TaskEnd = Succeeded | Failed | TimedOut | Cancelled | Interrupted
"""How a task ended, whichever runner ran it."""


@dataclass(frozen=True)
class TaskOrder:
    """A task ready to run: the dispatch it answers, and the prompt and instructions its agent gets."""

    dispatched: WorkspaceTaskDispatched
    prompt: str
    instructions: str


class TaskHandle(Protocol):
    """What a runner reports through while a task runs; it turns every report into events, once."""

    def started(self, agent: str, child_request_id: str = "") -> None:
        """The task's agent started (`child_request_id`: the request a child orchestrator opened for it)."""
        ...

    async def recorded(self) -> None:
        """Wait until everything reported so far is stored (a runner that must not act before its
        `task.started` is recorded: a restart then knows the task may have begun)."""
        ...

    def progress(self, progress: Progress) -> None: ...

    def decided(self, note: PermissionNote) -> None: ...

    async def ask(self, question: Question, number: int | None = None) -> Answer:
        """Put `question` to the conversation and wait for its decision. `number` names the task's
        question (the same number is the same question: asking it again after a restart waits
        for the answer it has, or gets); None takes the next one."""
        ...

    async def finish(self, end: TaskEnd) -> None: ...


class TaskExecutor(Protocol):
    """Runs workspace tasks somewhere: this host's Claude Code, a remote agent, a child orchestrator."""

    async def execute(self, order: TaskOrder, handle: TaskHandle) -> None:
        """Run the task (or hand it over) and report through `handle`; `handle.finish` is called
        exactly once, by the executor or by whoever hears the end later (a remote report)."""
        ...

    async def cancel(self, task_id: str, by: str) -> None:
        """Stop the task if it runs (its end is still reported through its handle)."""
        ...

    async def in_place(self, workspace: str) -> bool:
        """Whether tasks of `workspace` edit the same folder (then they must take turns)."""
        ...

    async def roll_back(self, request_id: str, task_id: str, workspace: str) -> bool:
        """After a restart, undo what an interrupted run of the task left behind (its worktree).
        True when that leaves the task as if it never ran, so it may run again; False when it
        cannot be undone (a folder edited in place) or is not this process's to undo."""
        ...


@dataclass(frozen=True)
class WarmTask:
    """A task that should have a session started ahead (`actors.warming`)."""

    task_id: str
    workspace: str
    approved: bool
    """Whether its plan is approved (before, a workspace that runs commands at start is not warmed)."""


class Warmer(Protocol):
    """Starts tasks' sessions before they are due and ends them when they are no longer wanted
    (`actors.warming`). Never sends a prompt: the task's executor does, when the task runs."""

    async def keep_warm(self, request_id: str, tasks: Sequence[WarmTask]) -> None:
        """Make the request's warm sessions these `tasks` (start the missing ones within its
        bound, drop the others, their processes ended); an empty list drops them all."""
        ...

    async def close(self) -> None:
        """Drop every warm session (at shutdown)."""
        ...


# -- a request's changes in git: request branches, merge, pull request, discard ---------------


@dataclass(frozen=True)
class RepoWork:
    """What one request changed in one repository: its pinned `base` (taken while the repository
    was on `base_branch`) and its succeeded tasks, in phase order (`ProposedTask.left_out` empty)."""

    repo: str
    base: str
    base_branch: str
    tasks: list[ProposedTask]


@dataclass(frozen=True)
class Merged:
    """The base branch now points at `commit` (`checkout`: the working tree that was updated, if any)."""

    commit: str
    fast_forward: bool
    checkout: str = ""


@dataclass(frozen=True)
class Pushed:
    """The request branch is on `remote`; with a token, `pr_url` is its pull request."""

    remote: str
    pr_url: str = ""
    pr_number: int = 0
    compare_url: str = ""
    note: str = ""


@dataclass(frozen=True)
class Discarded:
    """The branches that were deleted."""

    branches: list[str]


@dataclass(frozen=True)
class Refusal:
    """Nothing was changed: why, and the files that stood in the way (conflicting, uncommitted)."""

    reason: str
    files: list[str] = field(default_factory=list)


class ChangeIntegrator(Protocol):
    """Where a request's changes become one branch per repository and what the person decides is
    carried out (git and the code host). Each method is safe to call again after a crash: what was
    already done is found done."""

    async def propose(self, request_id: str, work: RepoWork) -> RepoChanges | None:
        """Make the request branch (the base with each task's commit merged in turn; a task whose
        changes conflict is left out, saying so); None when nothing is left to propose."""
        ...

    async def merge(self, request_id: str, changes: RepoChanges, message: str) -> Merged | Refusal:
        """Merge the request branch into `changes.base_branch` (refusing, with the files, when it
        conflicts or a checkout of that branch has uncommitted changes in the way); then delete
        the request branch and the tasks' branches."""
        ...

    async def publish(self, request_id: str, changes: RepoChanges, title: str, body: str) -> Pushed | Refusal:
        """Push the request branch and open a pull request into `changes.base_branch` (when a
        token is configured); then delete the tasks' branches (the request branch stays)."""
        ...

    async def discard(self, request_id: str, changes: RepoChanges) -> Discarded:
        """Delete the request branch and every task branch of the request in the repository."""
        ...
