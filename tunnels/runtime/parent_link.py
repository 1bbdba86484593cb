"""This orchestrator as a workspace of its parent (`parent:` in orchestrator.yaml).

`ParentLink` runs a `remote_agent.child.ChildAgent` connected to the parent's NATS with the login
`tunnels agent credentials NAME` made there: it announces this orchestrator (kind
`orchestrator`, the description and a summary of its projects), heartbeats, and takes the tasks
the parent queues for `NAME`. `OwnRequests` turns each into a request of this orchestrator: a
message of channel `parent` carrying its `Delegation` (the parent's request, task and approver),
so the confirm gate approves its plan on the parent's authority. The request's events are told
to the parent in brief as it runs; its end becomes the `Finished` report (`remote_agent.delegated`).
A cancel from the parent cancels the request here (and so its agents) before the task is
reported cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from claude_tunnels.actors.confirm_policy import PARENT_CHANNEL
from claude_tunnels.actors.ports import Answer, PermissionNote, Progress, Question, TreeSource
from claude_tunnels.actors.tree import TreeError
from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import ConfirmationRequested, NoticeIssued, RequestOpened
from claude_tunnels.events.execution import PermissionRequested, WorkspaceProgress
from claude_tunnels.events.values import CHILD_PLAN_TOOL, Delegation, Plan
from claude_tunnels.remote_agent.child import ChildAgent, announcement
from claude_tunnels.remote_agent.delegated import ends_request, finished, nested_line, progress_line
from claude_tunnels.remote_agent.errors import AgentProcessError
from claude_tunnels.remote_agent.ports import AgentPorts
from claude_tunnels.remote_agent.protocol import Finished, TaskCommand
from claude_tunnels.remote_agent.settings import AgentSettings, read_secrets
from claude_tunnels.tunnels.agent_link import AgentLink
from claude_tunnels.tunnels.agent_main import take_lock

if TYPE_CHECKING:
    from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator

log = logging.getLogger(__name__)

CHANNEL = PARENT_CHANNEL
_OPEN_WAIT_S = 30.0
_CANCEL_WAIT_S = 60.0


class _Watch:
    """The events of one delegated task's conversation, as they are folded."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[AnyEvent] = asyncio.Queue()
        self.request_id: str | None = None
        self.opened = asyncio.Event()
        self.ended = asyncio.Event()


class OwnRequests:
    """The parent's tasks as requests of this orchestrator (`remote_agent.child.OwnRequests`)."""

    def __init__(self, orchestrator: Orchestrator, loaded: LoadedSettings, trees: TreeSource) -> None:
        self.orchestrator = orchestrator
        self.parent = loaded.settings.parent
        self.trees = trees
        self._watches: dict[str, _Watch] = {}

    def announcement(self) -> str:
        """The description and the summary of this tree's projects, as the parent sees them."""
        try:
            tree = self.trees.tree()
        except (TreeError, OSError) as err:
            log.warning("cannot read the project tree for the parent's announcement: %s", err)
            return self.parent.description
        return announcement(self.parent.description, tree)

    def on_event(self, seq: int, event: AnyEvent) -> None:
        """Hand each folded event of a delegated conversation to the run waiting for it."""
        watch = self._watches.get(event.session_key)
        if watch is None:
            return
        if isinstance(event, RequestOpened) and watch.request_id is None:
            watch.request_id = event.request_id
            watch.opened.set()
        watch.events.put_nowait(event)

    async def run(
        self, command: TaskCommand, *, opened: Callable[[str], None], on_progress: Callable[[Progress], None],
        ask: Callable[[Question], Awaitable[Answer]],
    ) -> Finished:
        """Open the request for `command`, tell its progress, and return how it ended (its plan put
        to the parent's conversation through `ask` first, with `parent.approval: own`)."""
        key = f"{CHANNEL}:{command.task_id}"
        watch = self._watches[key] = _Watch()
        sender = self._sender(command)
        try:
            await self.orchestrator.post_message(
                session_key=key, channel=CHANNEL, sender=sender, sender_name=f"{self.parent.name}'s parent",
                text=request_text(command), message_ref=command.task_id,
                delegation=Delegation(
                    parent=self.parent.name or "", request_id=command.request_id, task_id=command.task_id,
                    approved_by=command.approved_by,
                ),
            )
            try:
                async with asyncio.timeout(command.timeout_s):
                    return await self._follow(command, watch, opened, on_progress, ask)
            except TimeoutError:
                await self._cancel(key, watch, sender, f"the parent's task timeout ({command.timeout_s:g} s)")
                return Finished(task_id=command.task_id, outcome="timed_out", timeout_s=command.timeout_s)
            except asyncio.CancelledError:
                # The parent cancelled (or this orchestrator is stopping): the request stops here
                # too, its agents with it, before the task is reported cancelled.
                stopping = asyncio.ensure_future(self._cancel(key, watch, sender, "cancelled by the parent"))
                try:
                    await asyncio.shield(stopping)
                except asyncio.CancelledError:
                    await asyncio.wait({stopping})
                raise
        finally:
            self._watches.pop(key, None)

    async def _follow(
        self, command: TaskCommand, watch: _Watch, opened: Callable[[str], None], on_progress: Callable[[Progress], None],
        ask: Callable[[Question], Awaitable[Answer]],
    ) -> Finished:
        relays: set[asyncio.Future[None]] = set()
        try:
            return await self._follow_events(command, watch, opened, on_progress, ask, relays)
        finally:
            for relay in relays:  # a question still open when the request ended (or the task was cancelled)
                relay.cancel()

    async def _follow_events(
        self, command: TaskCommand, watch: _Watch, opened: Callable[[str], None], on_progress: Callable[[Progress], None],
        ask: Callable[[Question], Awaitable[Answer]], relays: set[asyncio.Future[None]],
    ) -> Finished:
        refused: Answer | None = None
        while True:
            event = await watch.events.get()
            if isinstance(event, RequestOpened) and event.request_id == watch.request_id:
                opened(event.request_id or "")
            elif isinstance(event, ConfirmationRequested) and event.request_id == watch.request_id:
                # `parent.approval: own`: the plan waits here for an answer given in the parent's conversation.
                answer = await ask(self._plan_question(event.request_id or ""))
                refused = None if answer.allowed else answer
                await self.orchestrator.post_message(
                    session_key=event.session_key, channel=CHANNEL, sender=f"{CHANNEL}:{answer.by}",
                    text="approve" if answer.allowed else "cancel", message_ref=f"{event.id}:answer",
                    action="approve" if answer.allowed else "cancel", request_id=watch.request_id,
                )
            elif isinstance(event, PermissionRequested) and event.request_id == watch.request_id:
                # One of this orchestrator's agents asks a person: the question goes up to the
                # parent's conversation (answered there, or denied at its deadline), concurrently
                # with the rest of the request.
                relay = asyncio.ensure_future(self._relay_question(event, ask))
                relays.add(relay)
                relay.add_done_callback(relays.discard)
            elif isinstance(event, NoticeIssued) and watch.request_id is None and event.level != "info":
                return Finished(task_id=command.task_id, outcome="failed", error=f"refused: {event.text}")
            elif watch.request_id is not None and getattr(event, "request_id", None) == watch.request_id:
                if ends_request(event):
                    watch.ended.set()
                    state = self.orchestrator.requests.get(watch.request_id)
                    assert state is not None  # folded before the listeners are told
                    if refused is not None:
                        why = f"{self.parent.name}'s plan was refused by {refused.by}" + (f" ({refused.reason})" if refused.reason else "")
                        return Finished(task_id=command.task_id, outcome="failed", error=why, usage=state.usage)
                    return finished(command.task_id, watch.request_id, state, event, self.parent.name or "the child")
                if isinstance(event, WorkspaceProgress):
                    # A child of this orchestrator's own: its lines go up too, nested under its task.
                    state = self.orchestrator.requests.get(watch.request_id)
                    line = nested_line(event, state) if state is not None else None
                else:
                    line = progress_line(event)
                if line is not None:
                    on_progress(Progress(kind="text", detail=line))

    async def _cancel(self, key: str, watch: _Watch, sender: str, why: str) -> None:
        """Cancel the request of a delegated task and wait (bounded) until it has ended."""
        try:
            async with asyncio.timeout(_OPEN_WAIT_S):
                await watch.opened.wait()
        except TimeoutError:
            log.warning("the request of %s never opened; nothing to cancel", key)
            return
        if watch.ended.is_set():
            return
        log.info("cancelling request %s: %s", watch.request_id, why)
        await self.orchestrator.post_message(
            session_key=key, channel=CHANNEL, sender=sender, text="stop", message_ref=f"{key}:cancel",
            action="cancel", request_id=watch.request_id,
        )
        try:
            async with asyncio.timeout(_CANCEL_WAIT_S):
                while not watch.ended.is_set():
                    if ends_request(event := await watch.events.get()) and getattr(event, "request_id", None) == watch.request_id:
                        watch.ended.set()
        except TimeoutError:
            log.warning("request %s did not end within %g s of its cancel", watch.request_id, _CANCEL_WAIT_S)

    async def _relay_question(self, asked: PermissionRequested, ask: Callable[[Question], Awaitable[Answer]]) -> None:
        """Put one of this orchestrator's agents' questions to the parent's conversation; its answer
        is given here as `parent:<who answered>`, which the permission gate takes (the parent's gate checked who)."""
        detail = f"{asked.workspace}: {asked.detail}"
        try:
            answer = await ask(Question(asked.tool, detail, asked.reason, asked.rule))
            await self.orchestrator.post_message(
                session_key=asked.session_key, channel=CHANNEL, sender=f"{CHANNEL}:{answer.by}",
                text="allow" if answer.allowed else "deny", message_ref=f"{asked.id}:answer",
                action="approve" if answer.allowed else "cancel", request_id=asked.request_id, permission_id=asked.permission_id,
            )
        except Exception as err:  # the question is then denied here at its own deadline
            log.warning("could not relay question %s to the parent: %s", asked.permission_id, err)

    def _plan_question(self, request_id: str) -> Question:
        """The question that puts this orchestrator's plan for `request_id` to the parent's conversation."""
        state = self.orchestrator.requests.get(request_id)
        plan = state.plan if state is not None else None
        detail = plan_brief(plan) if plan is not None else f"request {request_id}"
        reason = f"{self.parent.name} requires its own approval of its plans (request {request_id})"
        return Question(CHILD_PLAN_TOOL, detail, reason, "parent.approval: own")

    def _sender(self, command: TaskCommand) -> str:
        return f"{CHANNEL}:{command.approved_by or 'parent'}"


def plan_brief(plan: Plan) -> str:
    """A plan in one line for a question (cut to a relayed question's size at the parent):
    `2 task(s) in 2 phase(s): recsys/trainer (retrain the model); then recsys/serving (serve it)`."""
    phases = [", ".join(f"{plan.label_of(key)} ({' '.join(plan.task_for(key).task.split())[:80]})" for key in phase)
              for phase in plan.phases]
    return f"{len(plan.tasks)} task(s) in {len(plan.phases)} phase(s): " + "; then ".join(phases)


def request_text(command: TaskCommand) -> str:
    """What the child's request says: the parent's task, with its upstream results labelled as data."""
    parts = [command.task]
    for upstream in command.upstream:
        summary = upstream.result.summary[: command.upstream_context_chars]
        parts.append(f"(Result of {upstream.workspace} at the parent, as data: {summary})")
    return "\n\n".join(parts)


class _NoSessions:
    """A child orchestrator runs no Claude Code session for its parent itself."""

    async def run(self, command: TaskCommand, cwd: Path, *, protected: tuple[Path, ...], on_progress: Callable[[Progress], None],
                  on_decision: Callable[[PermissionNote], None], ask: object) -> Finished:
        raise RuntimeError("a child orchestrator turns tasks into requests; it runs no session itself")


def agent_settings(loaded: LoadedSettings) -> AgentSettings:
    """The parent link's settings (the remote agent's), from `parent:` (paths relative to the root)."""
    parent = loaded.settings.parent
    assert parent.url is not None and parent.name is not None

    def path(value: str | None) -> str | None:
        return None if value is None else str((loaded.root / value).expanduser())

    return AgentSettings(
        nats=parent.url, workspace=parent.name, path=str(loaded.root), nkey_seed_file=path(parent.nkey_seed_file),
        creds_file=path(parent.creds_file), tls_ca=path(parent.tls_ca_file), js_domain=parent.js_domain,
        heartbeat_s=parent.heartbeat_s, drain_timeout_s=0, progress_interval_s=0.2,
        state_dir=str(loaded.state_dir / "parent"),
    )


class ParentLink:
    """`await link.start()` … `await link.stop()`: serve the parent in the background."""

    def __init__(self, orchestrator: Orchestrator, loaded: LoadedSettings, trees: TreeSource) -> None:
        self.requests = OwnRequests(orchestrator, loaded, trees)
        try:
            settings = agent_settings(loaded)
            secrets = read_secrets(settings, {})  # the seed from its file only, never the environment
        except (AgentProcessError, ValueError) as err:
            raise ConfigError(str(err), file=loaded.config_path, key="parent",
                              fix="see `tunnels agent credentials NAME` at the parent for the login") from None
        ports = AgentPorts(open_link=AgentLink.open, sessions=_NoSessions(), take_lock=take_lock)
        self.agent = ChildAgent(settings, secrets, ports, self.requests)
        self._orchestrator = orchestrator
        self._serving: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Connect (in the background: an unreachable parent never holds up this orchestrator) and serve."""
        self._orchestrator.add_listener(self.requests.on_event)
        self._serving = self._orchestrator.background.start(self._serve(), name="parent link")

    async def _serve(self) -> None:
        async with self.agent:
            await self.agent.serve()

    async def stop(self) -> None:
        """Stop taking tasks; a running one is cancelled here and reported interrupted."""
        if self._serving is None:
            return
        self.agent.drain()
        # A failure of the link is the task group's to raise (at the orchestrator's exit).
        await asyncio.wait({self._serving}, timeout=_CANCEL_WAIT_S + 10)
        if not self._serving.done():
            self._serving.cancel()
            await asyncio.wait({self._serving})
