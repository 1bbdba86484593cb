"""NATS plumbing for remote workspace agents: presence KV, task work queue, reports, control."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig
from nats.js.errors import BucketNotFoundError

from claude_tunnels.actors.background import Background
from claude_tunnels.events.subjects import untoken
from claude_tunnels.remote_agent.protocol import ENCODER, PRESENCE_BUCKET, Presence, consumer_name
from claude_tunnels.tunnels.bus.errors import BusError
from claude_tunnels.tunnels.bus.store import EventStore
from claude_tunnels.tunnels.bus.streams import ensure_bucket, ensure_consumer

log = logging.getLogger(__name__)

_PRESENCE = msgspec.json.Decoder(Presence)


class WorkspaceBus:
    """The orchestrator's side of the remote-agent subjects."""

    def __init__(self, store: EventStore, *, background: Background | None = None) -> None:
        self.store = store
        self.background = background if background is not None else Background("workspace bus")
        """Where the presence watch runs (the orchestrator's task group)."""
        self.nc = store.nc
        self.js = store.js
        self.subjects = store.subjects
        self.tasks_stream = f"{store.layout.stream}_TASKS"
        self._subs: list[Any] = []
        self._watch_task: asyncio.Future[None] | None = None
        self._kv: Any = None
        self._watcher: Any = None
        self._on_presence: Callable[[str, Presence | None], None] | None = None

    async def start(
        self,
        on_presence: Callable[[str, Presence | None], None],
        on_report: Callable[[str, bytes], Awaitable[bytes]],
    ) -> None:
        """Create the presence bucket, watch it, and answer agents' reports."""
        try:
            self._kv = await ensure_bucket(
                self.js, KeyValueConfig(bucket=PRESENCE_BUCKET, history=1, replicas=self.store.layout.replicas))
            watcher = self._watcher = await self._kv.watchall()
            self._on_presence = on_presence

            async def report(msg: Msg) -> None:
                workspace = untoken(msg.subject.split(".")[-2])
                answer = await on_report(workspace, msg.data)
                if msg.reply:
                    await msg.respond(answer)

            self._subs.append(await self.nc.subscribe(f"{self.subjects.prefix}.ws.*.out", cb=report))
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not set up the remote-agent subjects: {err}") from err
        self._watch_task = self.background.start(self._watch(watcher, on_presence), name="presence watch")

    async def rewatch(self) -> None:
        """Watch the presences anew (after the server came back: the old watch's consumer may be
        gone with it, and would only be noticed after its heartbeats fail)."""
        if self._kv is None or self._on_presence is None:
            return
        old_task, old = self._watch_task, self._watcher
        try:
            watcher = self._watcher = await self._kv.watchall()
        except (TimeoutError, NatsError) as err:
            log.warning("could not watch the agents' presence again yet: %s", err)
            return
        self._watch_task = self.background.start(self._watch(watcher, self._on_presence), name="presence watch")
        if old_task is not None:
            old_task.cancel()
        if old is not None:
            try:
                await old.stop()
            except NatsError:
                pass

    async def _watch(self, watcher: Any, on_presence: Callable[[str, Presence | None], None]) -> None:
        while True:
            try:
                entry = await watcher.updates(timeout=None)
            except (TimeoutError, NatsError) as err:
                log.warning("presence watch interrupted: %s", err)
                continue
            if entry is None:
                continue  # the end of the initial values
            if entry.operation in ("DEL", "PURGE") or not entry.value:
                on_presence(entry.key, None)
                continue
            try:
                on_presence(entry.key, _PRESENCE.decode(entry.value))
            except msgspec.DecodeError as err:
                log.warning("ignoring a malformed presence %s: %s", entry.key, err)

    async def ensure_consumer(self, workspace: str) -> None:
        """The durable pull consumer one workspace's agents take tasks from.

        An agent acknowledges a task when it starts it, after noting it in its on-disk ledger, so a
        task is run once; a delivery lost with a dying connection is delivered again (up to 5 times)
        instead of waiting forever as "dispatched"."""
        durable = consumer_name(workspace)
        config = ConsumerConfig(
            durable_name=durable, filter_subject=self.subjects.workspace_tasks(workspace),
            ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, max_deliver=5, ack_wait=60,
            num_replicas=self.store.layout.replicas,
        )
        try:
            await ensure_consumer(self.js, self.tasks_stream, config)
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not create the task consumer of {workspace}: {err}") from err

    async def send_task(self, workspace: str, task_id: str, command: Any) -> None:
        """Queue a task for the workspace's agent (idempotent per task id)."""
        await self.ensure_consumer(workspace)
        try:
            await self.js.publish(
                self.subjects.workspace_tasks(workspace), ENCODER.encode(command), stream=self.tasks_stream,
                headers={"Nats-Msg-Id": task_id},
            )
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not queue task {task_id} for {workspace}: {err}") from err

    async def send_control(self, workspace: str, command: Any) -> None:
        """Tell the workspace's agent something now (cancel)."""
        try:
            await self.nc.publish(self.subjects.workspace_control(workspace), ENCODER.encode(command))
        except NatsError as err:
            raise BusError(f"could not reach the agent of {workspace}: {err}") from err

    async def stop(self) -> None:
        """Stop watching and answering."""
        if self._watch_task is not None:
            self._watch_task.cancel()
        if self._watcher is not None:  # its subscription (and nats-py's tasks for it) end with it
            watcher, self._watcher = self._watcher, None
            try:
                await watcher.stop()
            except NatsError:
                pass
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except NatsError:
                pass


async def read_presences(js: Any, timeout_s: float = 5.0) -> list[tuple[Presence, datetime | None]]:
    """Every agent's latest presence and when the server stored it, by workspace (none without a bucket)."""
    try:
        kv = await js.key_value(PRESENCE_BUCKET)
        watcher = await kv.watchall(ignore_deletes=True)
    except BucketNotFoundError:
        return []
    except (TimeoutError, NatsError) as err:
        raise BusError(f"could not read the agents' presence: {err}") from err
    found: dict[str, tuple[Presence, datetime | None]] = {}
    try:
        while (entry := await watcher.updates(timeout=timeout_s)) is not None:  # None: all current values read
            try:
                presence = _PRESENCE.decode(entry.value or b"")
            except msgspec.DecodeError:
                continue  # not ours to show
            found[presence.workspace] = (presence, entry.created)
    except (TimeoutError, NatsError) as err:
        raise BusError(f"could not read the agents' presence: {err}") from err
    finally:
        await watcher.stop()
    return [found[workspace] for workspace in sorted(found)]
