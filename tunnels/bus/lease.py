"""Which orchestrator of one event log is active: a lease in a JetStream key-value bucket.

- The lease is one key (the stream's name) in the bucket `<prefix>_lease`, holding who has it
  and its term. The active orchestrator renews it every third of `ttl_s` by compare-and-set on its
  revision; a standby reads it every quarter of `ttl_s` and takes it over by compare-and-set on the
  revision it saw, once that revision has not changed for `ttl_s` on the standby's own monotonic
  clock. No wall clocks are compared, so clock skew between hosts does not matter.
- The term (fencing token) grows by one at each takeover. The new holder then writes a term
  marker on `<prefix>.term`, a subject of the event stream itself, and every unguarded append it
  makes carries "the last message on `<prefix>.term` is my marker"
  (`Nats-Expected-Last-Subject-Sequence-Subject`): the stream's leader checks it when it stores the
  append, so an ex-holder that was paused (SIGSTOP, a VM freeze) and wakes up is refused by the
  server however late its append arrives. `EventStore.fence` carries that marker.
- A holder that fails to renew (the revision moved: someone took over; or its own lease time ran
  out while the server was away) is fenced locally at once and told through `lost`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from nats.errors import Error as NatsError
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from claude_tunnels.tunnels.bus.errors import BusError
from claude_tunnels.tunnels.bus.store import EventStore
from claude_tunnels.tunnels.bus.streams import ensure_bucket

log = logging.getLogger(__name__)


class Holder(msgspec.Struct, frozen=True):
    """What the lease key holds: who is active (empty: released at a clean stop), its term, and
    where it runs (for `tunnels status`)."""

    holder: str
    term: int
    host: str = ""
    pid: int = 0
    ttl_s: float = 0
    projects: tuple[str, ...] = ()
    """The projects the holder found on its own disk: a standby that cannot see them refuses."""


_DECODE = msgspec.json.Decoder(Holder)


def holder_id() -> str:
    """This process's name in the lease: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def bucket_name(prefix: str) -> str:
    """The lease bucket of a subject prefix."""
    return f"{prefix}_lease"


@dataclass(frozen=True)
class LeaseState:
    """The lease as read now: its holder (None: nobody holds it) and revision."""

    holder: Holder | None
    revision: int


class Lease:
    """`await lease.acquire()` returns once this process is active; `renew()` keeps it so."""

    def __init__(
        self, store: EventStore, *, ttl_s: float, holder: str | None = None,
        monotonic: Callable[[], float] = time.monotonic, projects: tuple[str, ...] = (),
    ) -> None:
        self.projects = projects
        self.store = store
        self.ttl_s = ttl_s
        self.name = holder or holder_id()
        self.key = store.layout.stream
        self.monotonic = monotonic
        self.term = 0
        self.revision = 0
        self.lost = asyncio.Event()
        """Set when this holder lost the lease (its appends are refused from then on)."""
        self._valid_until = 0.0
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            config = KeyValueConfig(bucket=bucket_name(self.store.layout.prefix), history=1, replicas=self.store.layout.replicas)
            try:
                self._kv = await ensure_bucket(self.store.js, config)
            except (TimeoutError, NatsError) as err:
                raise BusError(f"could not open the lease bucket: {err}") from err
        return self._kv

    async def read(self) -> LeaseState:
        """Who holds the lease now."""
        kv = await self._bucket()
        try:
            entry = await kv.get(self.key)
        except KeyNotFoundError:
            return LeaseState(None, 0)
        except (TimeoutError, NatsError) as err:
            raise BusError(f"could not read the lease: {err}") from err
        return LeaseState(_DECODE.decode(entry.value or b""), int(entry.revision or 0))

    def _value(self, term: int) -> bytes:
        return msgspec.json.encode(Holder(self.name, term, socket.gethostname(), os.getpid(), self.ttl_s, self.projects))

    async def acquire(self, on_standby: Callable[[Holder], None] | None = None) -> int:
        """Wait until this process holds the lease, then fence the store with the new term;
        return the term. `on_standby(holder)` is called once while another holds it."""
        kv = await self._bucket()
        seen: tuple[int, float] | None = None  # (revision, when it was first seen here)
        told = False
        while True:
            state = await self.read()
            now = self.monotonic()
            started = self.monotonic()
            try:
                if state.holder is None:
                    revision = await kv.create(self.key, self._value(1))
                    return await self._became(1, revision, started)
                if seen is None or seen[0] != state.revision:
                    seen = (state.revision, now)
                if not state.holder.holder or now - seen[1] >= self.ttl_s:
                    term = state.holder.term + 1
                    revision = await kv.update(self.key, self._value(term), last=state.revision)
                    log.warning("took over from %s (term %d)", state.holder.holder or "a stopped orchestrator", term)
                    return await self._became(term, revision, started)
            except KeyWrongLastSequenceError:
                seen = None  # someone else renewed or took it first: watch the new revision
                continue
            except (TimeoutError, NatsError) as err:
                log.warning("could not reach the lease yet: %s", err)
            if state.holder is not None and state.holder.holder and not told and on_standby is not None:
                on_standby(state.holder)
                told = True
            await asyncio.sleep(self.ttl_s / 4)  # the lease's own pace, not a test's synchronisation

    async def _became(self, term: int, revision: int, started: float) -> int:
        self.term, self.revision = term, revision
        self._valid_until = started + self.ttl_s
        self.store.fence = await self.store.write_term_marker(term, self.name)
        self.store.lease_valid = self.valid
        return term

    def valid(self) -> bool:
        """Whether this holder's lease surely has not expired for a standby yet (own clock)."""
        return not self.lost.is_set() and self.monotonic() < self._valid_until

    async def renew_forever(self) -> None:
        """Renew every third of the TTL until the lease is lost (then fence and return)."""
        kv = await self._bucket()
        while not self.lost.is_set():
            await asyncio.sleep(self.ttl_s / 3)
            started = self.monotonic()
            if started >= self._valid_until:
                self._lose("its time ran out before it could be renewed (paused, or the server was away)")
                return
            try:
                self.revision = await kv.update(self.key, self._value(self.term), last=self.revision)
                self._valid_until = started + self.ttl_s
            except KeyWrongLastSequenceError:
                self._lose("another orchestrator took it over")
                return
            except (TimeoutError, NatsError) as err:
                log.warning("could not renew the lease (tries again): %s", err)

    def _lose(self, why: str) -> None:
        log.error("lost the lease of term %d: %s; stopping (a standby takes over)", self.term, why)
        self.store.fenced = True
        self.lost.set()

    async def release(self) -> None:
        """Give the lease up at a clean stop, so a standby takes over at once."""
        if self.lost.is_set() or not self.term:
            return
        kv = await self._bucket()
        released = msgspec.json.encode(Holder("", self.term))  # the term stays: the next one is greater
        try:
            await kv.update(self.key, released, last=self.revision)
        except (TimeoutError, NatsError, KeyWrongLastSequenceError) as err:
            log.warning("could not release the lease (a standby waits for it to expire): %s", err)
