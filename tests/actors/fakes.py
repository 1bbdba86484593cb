"""The fake ports of the actor tables: an event log in a list that folds what it stores, a
fixed tree, read-only agents that answer as scripted, a task runner that only records.

Each implements the port (`actors.ports`) an actor sees in production; none does I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from claude_tunnels.actors.agent_errors import AgentError
from claude_tunnels.actors.ports import (
    Consultation,
    Consulted,
    Discarded,
    Merged,
    Pushed,
    Refusal,
    RepoWork,
    Role,
    Subscription,
)
from claude_tunnels.actors.task_runner import TaskRunner
from claude_tunnels.actors.tree import Project, Tree, TreeError, Workspace
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.config.settings import Settings
from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.changes import RepoChanges
from claude_tunnels.events.execution import WorkspaceTaskDispatched
from claude_tunnels.events.ids import Clock, IdSource
from claude_tunnels.events.log import AppendConflict, Appended, Stored
from claude_tunnels.events.subjects import Subjects
from claude_tunnels.events.values import FileDiff, Usage
from claude_tunnels.projections import RequestsView
from claude_tunnels.projections.base import Projection

# -- the event log ---------------------------------------------------------------------------


class MemoryLog:
    """An `EventLog` in a list: appends are stored in order and folded into `views` at once."""

    def __init__(self, *views: Projection) -> None:
        self.stored: list[Stored] = []
        self._views = views
        self._seq_of: dict[str, int] = {}
        self._session_last: dict[str, int] = {}
        self._subjects = Subjects()

    @property
    def events(self) -> list[AnyEvent]:
        """Every stored event, in order."""
        return [stored.event for stored in self.stored]

    async def append(self, event: Event, *, expected_session_seq: int | None = None) -> Appended:
        if event.id in self._seq_of:  # the id is the Nats-Msg-Id: stored once
            return Appended(seq=self._seq_of[event.id], duplicate=True)
        last = self._session_last.get(event.session_key, 0)
        if expected_session_seq is not None and expected_session_seq != last:
            raise AppendConflict(event.session_key, expected_session_seq, f"session {event.session_key} is at {last}")
        seq = len(self.stored) + 1
        stored = Stored(seq=seq, subject=self._subjects.for_event(event), event=cast(AnyEvent, event))
        self.stored.append(stored)
        self._seq_of[event.id] = seq
        if event.family == "session":
            self._session_last[event.session_key] = seq
        for view in self._views:
            view.apply(seq, stored.event)
        return Appended(seq=seq, duplicate=False)

    async def last_seq(self, subject: str | None = None) -> int:
        return len(self.stored) if subject is None else max((s.seq for s in self.stored if s.subject == subject), default=0)

    async def consume(self, name: str, handler: Callable[[Stored], Awaitable[None]]) -> Subscription:
        raise NotImplementedError("the world delivers events itself (harness.World.deliver)")


# -- the other ports -------------------------------------------------------------------------

ROOT = Path("/nowhere/tree")


def _workspace(project: str, name: str | None = None) -> Workspace:
    qualified = f"{project}/{name}" if name else project
    return Workspace(project=project, name=name or project, qualified=qualified, path=ROOT / qualified, claude_md=f"# {qualified}\n")


def _project(name: str, *workspaces: str) -> Project:
    members = tuple(_workspace(name, w) for w in workspaces) or (_workspace(name),)
    return Project(name=name, path=ROOT / name, claude_md=f"# {name}\n", workspaces=members)


def sample_tree() -> Tree:
    """The demo's shape: api-service (its own workspace), shared-lib (core, docs), web-app (backend, frontend)."""
    return Tree(root=ROOT, projects=(
        _project("api-service"), _project("shared-lib", "core", "docs"), _project("web-app", "backend", "frontend"),
    ))


def single_project_tree() -> Tree:
    """One project, `only`: every request is about it."""
    return Tree(root=ROOT, projects=(_project("only"),))


@dataclass
class StaticTree:
    """A `TreeSource` that answers with a fixed tree (or fails with `error`)."""

    current: Tree = field(default_factory=sample_tree)
    remote: set[str] = field(default_factory=set)
    error: TreeError | None = None
    gone: dict[str, str] = field(default_factory=dict)
    """Workspaces whose remote agent went offline -> why (what `offline` says)."""

    def tree(self) -> Tree:
        if self.error is not None:
            raise self.error
        return self.current

    def fresh(self) -> Tree:
        return self.tree()

    def remote_workspaces(self) -> set[str]:
        return set(self.remote)

    def offline(self, qualified: str) -> str | None:
        return self.gone.get(qualified)


class ScriptedAdvisors:
    """`Advisors` that answer each role as scripted, and remember what they were asked."""

    def __init__(self) -> None:
        self.scripts: dict[Role, list[Consulted | AgentError]] = {}
        self.asked: list[Consultation] = []

    def script(self, role: Role, answer: object, cost_usd: float = 0.01) -> None:
        """How the `role` agent answers from now on: with `answer` as its structured output (its
        text, when a string), costing `cost_usd`; or by raising it, when an `AgentError`."""
        self.script_each(role, [answer], cost_usd)

    def script_each(self, role: Role, answers: list[object], cost_usd: float = 0.01) -> None:
        """The `role` agent gives `answers` in turn (as `script` reads each), then the last again."""
        self.scripts[role] = [
            answer if isinstance(answer, AgentError) else Consulted(
                output=None if isinstance(answer, str) else answer, text=answer if isinstance(answer, str) else "",
                usage=Usage(input_tokens=100, output_tokens=10, cost_usd=cost_usd),
            )
            for answer in answers
        ]

    async def consult(self, consultation: Consultation) -> Consulted:
        self.asked.append(consultation)
        if consultation.role not in self.scripts:
            raise AssertionError(f"the {consultation.role} agent was consulted but has no script")
        answers = self.scripts[consultation.role]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, AgentError):
            raise answer
        return answer


class RecordingTasks(TaskRunner):
    """The task runner with nothing behind it: it records what it is asked to run and cancel."""

    def __init__(self, loaded: LoadedSettings, log: MemoryLog, requests: RequestsView, clock: Clock, ids: IdSource) -> None:
        super().__init__(loaded, log, requests, clock, ids, executors={}, monotonic=clock)
        self.ran: list[WorkspaceTaskDispatched] = []
        self.cancelled: list[tuple[str, str]] = []
        self.in_git: set[str] = set()
        """Workspaces whose tasks run in git worktrees: an interrupted run of theirs rolls back."""
        self.rolled_back: list[str] = []

    async def run(self, dispatched: WorkspaceTaskDispatched) -> None:
        self.ran.append(dispatched)

    async def cancel_request(self, request_id: str, by: str) -> None:
        self.cancelled.append((request_id, by))

    async def roll_back(self, request_id: str, task_id: str, workspace: str, target: str) -> bool:
        self.rolled_back.append(workspace)
        return workspace in self.in_git


class FakeIntegrator:
    """A `ChangeIntegrator` with no git behind it: it records what it is asked and answers as told.

    A proposal changes `files[workspace]` (default `<workspace>/x`) for each task; merges answer the
    queued `outcomes` first, then succeed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (what, request id, repository)
        self.work: list[RepoWork] = []
        self.files: dict[str, list[str]] = {}
        self.outcomes: list[Merged | Pushed | Refusal] = []
        self.bodies: list[tuple[str, str]] = []

    async def propose(self, request_id: str, work: RepoWork) -> RepoChanges | None:
        self.calls.append(("propose", request_id, work.repo))
        self.work.append(work)
        files = [FileDiff(path=path, added=1, removed=0) for t in work.tasks for path in self.files.get(t.workspace, [f"{t.workspace}/x"])]
        return RepoChanges(repo=work.repo, branch=f"tunnels/{request_id.lower()}-result", base=work.base, head="f" * 40,
                           base_branch=work.base_branch, files=files, tasks=work.tasks)

    async def merge(self, request_id: str, changes: RepoChanges, message: str) -> Merged | Refusal:
        self.calls.append(("merge", request_id, changes.repo))
        outcome = self.outcomes.pop(0) if self.outcomes else Merged(commit="m" * 40, fast_forward=True)
        assert not isinstance(outcome, Pushed)
        return outcome

    async def publish(self, request_id: str, changes: RepoChanges, title: str, body: str) -> Pushed | Refusal:
        self.calls.append(("pr", request_id, changes.repo))
        self.bodies.append((title, body))
        return Pushed(remote="origin", pr_url="https://github.example/acme/web/pull/1", pr_number=1)

    async def discard(self, request_id: str, changes: RepoChanges) -> Discarded:
        self.calls.append(("discard", request_id, changes.repo))
        return Discarded(branches=[changes.branch])


def loaded(settings: Settings) -> LoadedSettings:
    """`settings` as if loaded from a file under a root that is never read."""
    return LoadedSettings(
        settings=settings, config_path=None, root=ROOT, state_dir=ROOT / ".tunnels", archive_dir=ROOT / "ARCHIVE",
        task_log_dir=ROOT / ".tasks",
    )
