"""The event store: append events to JetStream and read them back, in order.

- Appends are idempotent: the event id is the `Nats-Msg-Id`, so a retried append is stored once.
- Session appends may be guarded: `expected_session_seq` is the last sequence the writer saw on
  the session's subjects; if another writer extended the session since, the append is refused
  with `AppendConflict` (JetStream's expected-last-subject-sequence check, on a wildcard subject).
- Reads use ordered push consumers (the fastest way to read a stream from nats-py) and stop at
  the last matching message present when the read began; `follow()` keeps going live.
- Outages: while the server is away (a supervised embedded server restarting, a cluster failing
  over), an append waits for the connection and tries again with the same id, for up to
  `outage_s`; ordered consumers send idle heartbeats every `ORDERED_HEARTBEAT_S`, so one whose
  server-side state was lost with the server is made again within about twice that.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import ConnectionReconnectingError, OutboundBufferLimitError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError

from claude_tunnels.events.base import Event
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.codec import EVENTS, encode
from claude_tunnels.events.log import Appended, Stored
from claude_tunnels.events.subjects import Subjects
from claude_tunnels.events.upcasting import SCHEMA_VERSION
from claude_tunnels.tunnels.bus.connection import BusHealth
from claude_tunnels.tunnels.bus.errors import AppendConflict, BusError, BusTimeout, Fenced
from claude_tunnels.tunnels.bus.streams import Layout, consumer_config, ensure_consumer, ensure_streams

SCHEMA_HEADER = "Tunnels-Schema"
_WRONG_LAST_SEQUENCE = 10071
_IN_FLIGHT = 10164
"""A clustered stream refuses an expected-sequence append while another one with the same check
is still being replicated ("wrong last sequence", no number): it is tried again."""
_IN_FLIGHT_TRIES = 50
_SCHEMA = str(SCHEMA_VERSION)
ORDERED_HEARTBEAT_S = 0.5
"""Idle heartbeat of the ordered consumers: nats-py makes one again after two missed (a restarted
server forgot it), so reading resumes within about a second of the server's return."""
_UNAVAILABLE = (NatsTimeout, TimeoutError, NoStreamResponseError, ConnectionReconnectingError, OutboundBufferLimitError)


def stream_seq(reply: str) -> int:
    """The stream sequence of a JetStream delivery, read from its ack subject.

    Parsing the reply subject ourselves is much cheaper than nats-py's `msg.metadata`.
    `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>...` (9 tokens), or with domain and account
    hash `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>...` (11+ tokens).
    """
    tokens = reply.split(".")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])


def decode_msg(msg: Msg) -> AnyEvent:
    """Decode one stored message, upcasting an older schema."""
    headers = msg.headers
    version = headers.get(SCHEMA_HEADER, _SCHEMA) if headers else _SCHEMA
    return EVENTS.decode(msg.data, int(version))


class EventStore:
    """Append and read events on one JetStream stream."""

    def __init__(
        self, nc: Client, layout: Layout | None = None, *, timeout_s: float = 10.0, health: BusHealth | None = None,
        outage_s: float = 120.0,
    ) -> None:
        self.nc = nc
        self.health = health
        """Where an append waits for the connection to come back (without it, it fails at once)."""
        self.outage_s = outage_s
        self.js = nc.jetstream(timeout=timeout_s)
        self.layout = layout = layout if layout is not None else Layout()
        self.subjects = Subjects(layout.prefix)
        self._timeout_s = timeout_s
        self.declarations: dict[str, Any] = {}
        self.fence: int | None = None
        """The stream sequence of this writer's term marker (`bus/lease.py`): unguarded appends are
        stored only while it is still the last message on the term subject. None: no lease."""
        self.fenced = False
        """This writer lost its lease: every append is refused here, before it is sent."""
        self.lease_valid: Callable[[], bool] | None = None
        """Whether this writer's lease surely still holds (its own clock): checked before each
        append, the fence of the session-guarded ones (which cannot carry the term check)."""

    async def ensure(self) -> None:
        """Create or update the declared streams (idempotent)."""
        try:
            self.declarations = await ensure_streams(self.js, self.layout)
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not set up JetStream streams: {err}") from err

    # -- appending -------------------------------------------------------------------------

    def _headers(self, event: Event) -> dict[str, str]:
        headers = {"Nats-Msg-Id": event.id, SCHEMA_HEADER: _SCHEMA}
        if self.fence is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(self.fence)
            headers["Nats-Expected-Last-Subject-Sequence-Subject"] = self.subjects.term
        return headers

    async def write_term_marker(self, term: int, holder: str) -> int:
        """Store the marker of a new term on the term subject; return its sequence (the fence)."""
        body = msgspec.json.encode({"term": term, "holder": holder})
        try:
            ack = await self.js.publish(self.subjects.term, body, headers={"Nats-Msg-Id": f"term:{term}"}, timeout=self._timeout_s)
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not write the marker of term {term}: {err}") from err
        self.fenced = False
        return int(ack.seq)

    async def append(self, event: Event, *, expected_session_seq: int | None = None) -> Appended:
        """Store one event and wait for the server's acknowledgement.

        With `expected_session_seq`, the append succeeds only if the session's last stored
        event is still at that sequence (0: the session has no event yet). While the server is
        away it is tried again (the same id: stored once) for up to `outage_s`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.outage_s
        while True:
            try:
                return await self._append_racing_outages(event, expected_session_seq)
            except _Unavailable as unavailable:
                left = deadline - loop.time()
                if self.health is None or left <= 0:
                    raise unavailable.error from unavailable
                if self.health.up and not unavailable.reconnected:
                    # Up, yet no answer: JetStream is still starting (no responders yet). Not a
                    # busy loop: a pause between tries.
                    await asyncio.sleep(min(0.1, left))
                await self.health.wait_up(max(left, 0.0))

    async def _append_racing_outages(self, event: Event, expected_session_seq: int | None) -> Appended:
        """One try; if the connection drops and comes back meanwhile, the publish may have been
        lost with the old socket: stop waiting for its answer and try again (same id: stored once)."""
        if self.health is None:
            return await self._append_once(event, expected_session_seq)
        back = self.health.back()
        publish: asyncio.Future[Appended] = asyncio.ensure_future(self._append_once(event, expected_session_seq))
        try:
            await asyncio.wait([publish, back], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        except asyncio.CancelledError:
            publish.cancel()
            raise
        finally:
            back.cancel()
        if publish.done():
            return publish.result()
        publish.cancel()
        await asyncio.gather(publish, return_exceptions=True)
        raise _Unavailable(BusTimeout(f"append of {event.type} interrupted by a reconnect"), reconnected=True)

    async def _append_once(self, event: Event, expected_session_seq: int | None) -> Appended:
        for attempt in range(_IN_FLIGHT_TRIES):
            try:
                return await self._append_checked(event, expected_session_seq)
            except _InFlight:
                await asyncio.sleep(0.005 * (attempt + 1))  # the other append is being replicated
        raise BusError(f"append of {event.type} refused: the server kept it waiting behind other appends")

    async def _append_checked(self, event: Event, expected_session_seq: int | None) -> Appended:
        if self.fenced or (self.lease_valid is not None and not self.lease_valid()):
            raise Fenced(f"append of {event.type} refused: this orchestrator's lease ran out or was taken over")
        subject = self.subjects.for_event(event)
        headers = self._headers(event)
        if expected_session_seq is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expected_session_seq)
            headers["Nats-Expected-Last-Subject-Sequence-Subject"] = self.subjects.session(event.session_key)
        try:
            ack = await self.js.publish(subject, encode(event), headers=headers, timeout=self._timeout_s)
        except APIError as err:
            if err.err_code == _IN_FLIGHT:
                raise _InFlight from err
            if err.err_code == _WRONG_LAST_SEQUENCE and expected_session_seq is not None:
                return await self._resolve_conflict(event, expected_session_seq, err)
            if err.err_code == _WRONG_LAST_SEQUENCE and self.fence is not None:
                self.fenced = True
                raise Fenced(
                    f"append of {event.type} refused by the server: another orchestrator took the lease over "
                    f"(a newer term marker follows ours at {self.fence})"
                ) from err
            raise BusError(f"append of {event.type} refused: {err.description}") from err
        except _UNAVAILABLE as err:
            timeout = BusTimeout(f"append of {event.type} not acknowledged within {self._timeout_s:.0f} s")
            raise _Unavailable(timeout) from err
        except NatsError as err:
            raise BusError(f"append of {event.type} failed: {err}") from err
        return Appended(seq=ack.seq, duplicate=bool(ack.duplicate))

    async def _resolve_conflict(self, event: Event, expected: int, err: APIError) -> Appended:
        # JetStream checks the expected sequence before deduplication: a retry of an append
        # that did land is refused too. If the session's last event is ours, it is a duplicate.
        last = await self._last_msg(self.subjects.session(event.session_key))
        if last is not None and last.headers and last.headers.get("Nats-Msg-Id") == event.id:
            return Appended(seq=last.seq or 0, duplicate=True)
        raise AppendConflict(
            event.session_key,
            expected,
            f"session {event.session_key} was extended by another writer after sequence {expected}",
        ) from err

    async def append_many(self, events: Iterable[Event], *, window: int = 1000) -> list[Appended]:
        """Store many events, pipelined (unguarded), in order; retry unacknowledged ones by id."""
        results: list[Appended] = []
        batch: list[tuple[Event, asyncio.Future[Any]]] = []

        async def settle() -> None:
            if not batch:
                return
            await asyncio.wait([future for _, future in batch], timeout=self._timeout_s)
            for event, future in batch:
                if future.done() and not future.cancelled() and future.exception() is None:
                    ack = future.result()
                    results.append(Appended(seq=ack.seq, duplicate=bool(ack.duplicate)))
                else:
                    # publish_async futures never resolve for messages lost in flight: retry
                    # with the same Msg-Id, which the server deduplicates.
                    future.cancel()
                    results.append(await self.append(event))
            batch.clear()

        try:
            for event in events:
                future = await self.js.publish_async(
                    self.subjects.for_event(event), encode(event), headers=self._headers(event)
                )
                batch.append((event, future))
                if len(batch) >= window:
                    await settle()
            await settle()
        except NatsError as err:
            raise BusError(f"append failed: {err}") from err
        return results

    # -- reading ---------------------------------------------------------------------------

    async def _last_msg(self, subject: str) -> Any | None:
        try:
            return await self.js.get_last_msg(self.layout.stream, subject, direct=True)
        except NotFoundError:
            return None
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not read the last event of {subject}: {err}") from err

    async def get(self, seq: int) -> Stored:
        """The event stored at stream sequence `seq`; `LookupError` if there is none (any more)."""
        try:
            raw = await self.js.get_msg(self.layout.stream, seq, direct=True)
        except NotFoundError:
            raise LookupError(f"no event at sequence {seq} of {self.layout.stream}") from None
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not read event {seq}: {err}") from err
        return Stored(seq, str(raw.subject), decode_msg(raw))  # type: ignore[arg-type]

    async def last_seq(self, subject: str | None = None) -> int:
        """The sequence of the last event matching `subject` (all events if None); 0 if none."""
        if subject is None:
            try:
                info = await self.js.stream_info(self.layout.stream)
            except (TimeoutError, NatsError) as err:
                raise BusError(f"could not read stream {self.layout.stream}: {err}") from err
            if int(info.state.last_seq) != await self.last_seq(self.subjects.term):
                return int(info.state.last_seq)
            subject = self.subjects.events  # the last message is a term marker, not an event
        last = await self._last_msg(subject)
        return int(last.seq) if last is not None and last.seq else 0

    async def replay(
        self,
        apply: Callable[[int, AnyEvent], None],
        subject: str | None = None,
        *,
        start_seq: int = 1,
    ) -> int:
        """Call `apply(seq, event)` for each stored event matching `subject`, from `start_seq`
        up to the last one present now; return the last sequence applied (0 if none)."""
        subject = subject or self.subjects.events
        last = await self.last_seq(None if subject == self.subjects.events else subject)
        if last < start_seq:
            return 0
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        failure: list[BaseException] = []

        async def on_msg(msg: Msg) -> None:
            if done.done():
                return
            try:
                seq = stream_seq(msg.reply)
                apply(seq, decode_msg(msg))
            except BaseException as err:  # surfaces in the caller, not lost in a callback
                failure.append(err)
                done.set_result(0)
                return
            if seq >= last:
                done.set_result(seq)

        sub = await self.subscribe_ordered(subject, start_seq, on_msg)
        try:
            result = await done
        finally:
            await _unsubscribe(sub)
        if failure:
            raise failure[0]
        return result

    async def read(self, subject: str | None = None, *, start_seq: int = 1) -> list[Stored]:
        """Every stored event matching `subject` from `start_seq`, in stream order."""
        subject = subject or self.subjects.events
        out: list[Stored] = []
        await self.replay(lambda seq, event: out.append(Stored(seq, subject, event)), subject, start_seq=start_seq)
        return out

    async def follow(self, subject: str | None = None, *, start_seq: int | None = None) -> AsyncIterator[Stored]:
        """Events matching `subject` as they are stored, from `start_seq` (default: new ones only)."""
        queue: asyncio.Queue[Msg] = asyncio.Queue()

        async def on_msg(msg: Msg) -> None:
            queue.put_nowait(msg)

        if start_seq is None:
            start_seq = await self.last_seq() + 1
        sub = await self.subscribe_ordered(subject or self.subjects.events, start_seq, on_msg)
        try:
            while True:
                msg = await queue.get()
                yield Stored(stream_seq(msg.reply), msg.subject, decode_msg(msg))
        finally:
            await _unsubscribe(sub)

    async def subscribe_events(self, start_seq: int, on_event: Callable[[int, AnyEvent], Awaitable[None]]) -> Any:
        """Call `on_event(seq, event)` for every event from `start_seq` on, as they are stored
        (`projections.source.EventSource`)."""

        async def on_msg(msg: Msg) -> None:
            await on_event(stream_seq(msg.reply), decode_msg(msg))

        return await self.subscribe_ordered(self.subjects.events, start_seq, on_msg)

    async def subscribe_ordered(self, subject: str, start_seq: int, cb: Callable[[Msg], Awaitable[None]]) -> Any:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(1, start_seq))
        try:
            return await self.js.subscribe(
                subject, stream=self.layout.stream, cb=cb, ordered_consumer=True, config=config, idle_heartbeat=ORDERED_HEARTBEAT_S,
                pending_msgs_limit=1_000_000, pending_bytes_limit=512 * 1024 * 1024,
            )
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not read {subject}: {err}") from err

    async def consume(self, name: str, handler: Callable[[Stored], Awaitable[None]]) -> Any:
        """Deliver each new event to `handler` at least once, acknowledging after it returns.

        Uses the durable consumer `name` declared in `nats/jetstream.yaml`; a crash before the
        acknowledgement means the event is delivered again after restart.
        """
        spec = self.declarations["consumers"][name]
        config = consumer_config(spec)

        async def on_msg(msg: Msg) -> None:
            await handler(Stored(stream_seq(msg.reply), msg.subject, decode_msg(msg)))
            await msg.ack()

        try:
            await ensure_consumer(self.js, self.layout.stream, config, create=False)
            if self.fence is not None:
                await self._take_consumer_over(config)
            return await self.js.subscribe(
                config.filter_subject or self.subjects.events, stream=self.layout.stream,
                durable=config.durable_name, cb=on_msg, manual_ack=True, config=config,
            )
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not attach consumer {name}: {err}") from err


    async def _take_consumer_over(self, config: ConsumerConfig) -> None:
        """A lease holder moves the durable consumer to a deliver subject of its own: a paused
        ex-holder may still be subscribed to the old one (its connection not yet timed out), which
        keeps the consumer bound (its late acks are harmless: it acknowledges only after an
        append, which its fence refuses)."""
        assert config.durable_name is not None
        try:
            info = await self.js.consumer_info(self.layout.stream, config.durable_name)
        except NotFoundError:
            return
        if info.push_bound:
            # The server keeps a bound consumer's deliver subject; made again from its ack floor,
            # what was delivered but not acknowledged comes again (handlers are idempotent).
            floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
            await self.js.delete_consumer(self.layout.stream, config.durable_name)
            await self.js.add_consumer(self.layout.stream, dataclasses.replace(
                info.config, deliver_subject=self.nc.new_inbox(), deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=(floor or 0) + 1,
            ))


class _InFlight(Exception):
    """The server asked to try an expected-sequence append again (see `_IN_FLIGHT`)."""


class _Unavailable(Exception):
    """The server did not answer an append (away, or starting): `error` says so if it stays away."""

    def __init__(self, error: BusTimeout, *, reconnected: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.reconnected = reconnected
        """The connection came back meanwhile: try again at once."""


async def _unsubscribe(sub: Any) -> None:
    try:
        await sub.unsubscribe()
    except NatsError:
        pass  # the connection is going away; the ordered consumer is ephemeral anyway
