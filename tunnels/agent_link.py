"""The workspace agent's NATS adapter (`remote_agent.ports.Link`): the only part of the agent that touches nats-py.

It uses exactly what the agent's credentials allow (see `remote_agent.credentials`): a pull
request on its own durable consumer, acks of what it was given, a put of its own presence key,
requests to its own `.out` subject, and a subscription to its own `.control` subject; every
reply comes back under its own inbox prefix. Every nats-py failure is re-raised as `LinkError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from claude_tunnels.events.subjects import Subjects
from claude_tunnels.remote_agent.errors import ConnectionClosed, ConsumerMissing, LinkError, Unreachable
from claude_tunnels.remote_agent.protocol import consumer_name, inbox_prefix, next_task_subject, presence_subject
from claude_tunnels.remote_agent.settings import AgentSecrets, AgentSettings
from claude_tunnels.tunnels.bus import ConnectOptions, NotReachable, connect

log = logging.getLogger(__name__)

_NO_RESPONDERS = "503"
_ENDED = ("404", "408", "409")  # no message, request expired, consumer changed: ask again
_HEARTBEAT = "100"
_RECONNECT_CHECK_S = 0.5
_CLOSE_FLUSH_S = 3


class AgentLink:
    """One connection to NATS, narrowed to one workspace's subjects."""

    def __init__(self, nc: Client, settings: AgentSettings, errors: list[str]) -> None:
        self.nc = nc
        self.errors = errors
        """Asynchronous errors the server sent (permission violations land here)."""
        subjects = Subjects(settings.prefix)
        self.task_stream = f"{settings.stream}_TASKS"
        self.consumer = consumer_name(settings.workspace)
        self.out_subject = subjects.workspace_out(settings.workspace)
        self.control_subject = subjects.workspace_control(settings.workspace)
        self.presence_subject = presence_subject(settings.workspace, settings.js_domain)
        self._next_subject = next_task_subject(settings.workspace, settings.stream, settings.js_domain)
        self._deliveries: asyncio.Queue[Msg] = asyncio.Queue()
        self._pull_sub: Any = None
        self._control_sub: Any = None

    @classmethod
    async def open(cls, settings: AgentSettings, secrets: AgentSecrets) -> AgentLink:
        """Connect (reconnecting forever afterwards); `Unreachable` if nobody answers in time."""
        errors: list[str] = []
        options = ConnectOptions(
            url=settings.nats,
            user=settings.user,
            password=secrets.password.reveal() if secrets.password else None,
            creds_file=Path(settings.creds_file) if settings.creds_file else None,
            nkey_seed=secrets.nkey_seed.reveal() if secrets.nkey_seed else None,
            tls_ca_file=Path(settings.tls_ca) if settings.tls_ca else None,
            tls_cert_file=Path(settings.tls_cert) if settings.tls_cert else None,
            tls_key_file=Path(settings.tls_key) if settings.tls_key else None,
            inbox_prefix=inbox_prefix(settings.workspace),
            connect_timeout_s=settings.connect_timeout_s,
            name=f"tunnels-agent {settings.workspace}",
            errors=errors,
        )
        try:
            return cls(await connect(options), settings, errors)
        except NotReachable as err:  # a refused login too: the agent retries, the server may learn it
            raise Unreachable(err.message) from err

    async def close(self) -> None:
        """Close the connection, flushing what is buffered first (for at most a few seconds)."""
        if self.nc.is_closed:
            return
        try:
            await self.nc.flush(timeout=_CLOSE_FLUSH_S)
        except (TimeoutError, NatsError, OSError) as err:
            log.warning("could not flush before closing: %s", err)
        await self.nc.close()

    # -- tasks ----------------------------------------------------------------------------------

    async def start_pulling(self) -> None:
        """Subscribe the inbox that pull requests are answered on (one for the whole session)."""
        try:
            self._pull_sub = await self.nc.subscribe(self.nc.new_inbox(), cb=self._on_delivery)
        except NatsError as err:
            raise LinkError(f"cannot subscribe the task inbox: {err}") from err

    async def _on_delivery(self, msg: Msg) -> None:
        self._deliveries.put_nowait(msg)

    async def next_task(self, wait_s: float) -> Msg | None:
        """The next task message of the consumer, or None when none came within about `wait_s`.

        A message that arrived for an earlier request (after a reconnect, say) is returned first:
        nothing the server delivered is dropped. Raises `ConsumerMissing` while the consumer does
        not exist yet, and `LinkError` when the connection is closed.
        """
        if (msg := self._take_queued()) is not None:
            return msg
        if self.nc.is_closed or self._pull_sub is None:
            raise ConnectionClosed(f"the NATS connection was closed ({self.nc.last_error or 'no error given'})")
        request = json.dumps({"batch": 1, "expires": int(wait_s * 1e9)}).encode()
        try:
            await self.nc.publish(self._next_subject, request, reply=self._pull_sub.subject)
        except NatsError as err:
            raise LinkError(f"cannot ask for a task: {err}") from err
        reconnects = self.nc.stats["reconnects"]
        deadline = asyncio.get_running_loop().time() + wait_s + 2.0
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                async with asyncio.timeout(min(remaining, _RECONNECT_CHECK_S)):
                    msg = await self._deliveries.get()
            except TimeoutError:
                if self.nc.stats["reconnects"] != reconnects:
                    return None  # a restarted server forgot the request: ask again now
                continue
            status = _status(msg)
            if status is None:
                return msg
            if status == _NO_RESPONDERS:
                raise ConsumerMissing(f"the consumer {self.consumer} on {self.task_stream} does not exist yet")
            if status in _ENDED:
                return None
            if status != _HEARTBEAT:
                raise LinkError(f"the task consumer answered status {status}: {msg.headers}")
        return None  # no answer at all: the request was lost, ask again

    def _take_queued(self) -> Msg | None:
        while not self._deliveries.empty():
            msg = self._deliveries.get_nowait()
            if _status(msg) is None:
                return msg
        return None

    async def stop_pulling(self) -> list[Msg]:
        """Stop receiving tasks; return those the server delivered that were not taken yet."""
        sub, self._pull_sub = self._pull_sub, None
        if sub is not None:
            try:
                await sub.drain()  # unsubscribes, then hands over what already arrived
            except (TimeoutError, NatsError) as err:
                log.warning("could not stop the task subscription cleanly: %s", err)
        left = []
        while (msg := self._take_queued()) is not None:
            left.append(msg)
        return left

    async def ack(self, msg: Msg, attempts: int = 5) -> bool:
        """Acknowledge a task message (confirmed by the server); False if it could not be confirmed."""
        for attempt in range(attempts):
            try:
                await msg.ack_sync(timeout=2.0)
                return True
            except (TimeoutError, NatsError) as err:
                log.warning("ack of a task not confirmed (attempt %d): %s", attempt + 1, err)
        return False

    # -- presence, reports, control -------------------------------------------------------------

    async def put_presence(self, value: bytes) -> None:
        """Write this agent's presence key (a JetStream publish to the KV subject)."""
        try:
            reply = await self.nc.request(self.presence_subject, value, timeout=2.0)
        except (TimeoutError, NatsError) as err:
            raise LinkError(f"cannot write the presence: {err}") from err
        answer = _json(reply.data)
        if "error" in answer or _status(reply) is not None:
            raise LinkError(f"the presence was refused: {answer.get('error') or reply.headers}")

    async def report(self, data: bytes, timeout_s: float) -> bytes | None:
        """Send one report; the orchestrator's answer, or None when nobody answered in time."""
        try:
            reply = await self.nc.request(self.out_subject, data, timeout=timeout_s)
        except (TimeoutError, NatsError):
            return None  # no responders, a timeout, or disconnected: the caller retries
        return reply.data

    async def on_control(self, handler: Callable[[bytes], None]) -> None:
        """Call `handler` with each message on this workspace's control subject."""

        async def deliver(msg: Msg) -> None:
            handler(msg.data)

        try:
            self._control_sub = await self.nc.subscribe(self.control_subject, cb=deliver)
        except NatsError as err:
            raise LinkError(f"cannot subscribe {self.control_subject}: {err}") from err


def _status(msg: Msg) -> str | None:
    if msg.headers is None or msg.data:
        return None
    return msg.headers.get("Status")


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
