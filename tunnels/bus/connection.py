"""Connecting to NATS: the embedded server or a configured one (token, user/password, creds, TLS).

A connection reconnects forever by itself (every `_RECONNECT_WAIT_S` while the server is away);
`BusHealth` says whether it is up, since when it is down, and tells listeners of each change.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client
from nats.errors import Error as NatsError

import nats
from claude_tunnels.tunnels.bus.errors import LoginRefused, NotReachable

log = logging.getLogger(__name__)

_RECONNECT_WAIT_S = 0.25


class BusHealth:
    """Whether a connection is up: `down_since` (the loop's time) while it is not, `wait_up()`,
    and `listen(callback)` for each change (`callback(up)`, on the loop)."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self._up = asyncio.Event()
        self._up.set()
        self._listeners: list[Callable[[bool], None]] = []
        self._returns: list[asyncio.Future[None]] = []

    @property
    def up(self) -> bool:
        """Whether the connection is up now."""
        return self.down_since is None

    def listen(self, callback: Callable[[bool], None]) -> None:
        """Call `callback(up)` at each change from now on."""
        self._listeners.append(callback)

    def close(self) -> None:
        """Tell no one any more (the connection is being closed on purpose)."""
        self._listeners.clear()

    def back(self) -> asyncio.Future[None]:
        """A future resolved the next time the connection comes back (after going down)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._returns.append(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: asyncio.Future[None]) -> None:
        if future.cancelled():
            try:
                self._returns.remove(future)
            except ValueError:
                pass

    async def wait_up(self, timeout: float) -> bool:
        """Return once the connection is up (True), or False after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _changed(self, up: bool) -> None:
        if up == self.up:
            return
        if up:
            self.down_since = None
            self._up.set()
            returns, self._returns = self._returns, []
            for future in returns:
                if not future.done():
                    future.set_result(None)
        else:
            self.down_since = asyncio.get_running_loop().time()
            self._up.clear()
        for listener in list(self._listeners):
            try:
                listener(up)
            except Exception:  # one listener's bug must not stop the others hearing it
                log.exception("a bus health listener failed")


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach a server. Secrets here never go into an event or a log line."""

    url: str
    """One server, or a cluster's seed URLs separated by commas."""
    token: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    creds_file: Path | None = None
    nkey_seed: str | None = field(default=None, repr=False)
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    inbox_prefix: str | None = None
    connect_timeout_s: float = 5.0
    name: str = "tunnels"
    errors: list[str] = field(default_factory=list, compare=False)

    @property
    def servers(self) -> list[str]:
        """The seed URLs (nats-py tries them in turn and learns the rest of the cluster)."""
        return [url.strip() for url in self.url.split(",") if url.strip()]

    def tls_context(self) -> ssl.SSLContext | None:
        """An SSL context when TLS files are configured (or the URL is tls://)."""
        if not (self.tls_ca_file or self.tls_cert_file or any(url.startswith("tls://") for url in self.servers)):
            return None
        context = ssl.create_default_context(cafile=str(self.tls_ca_file) if self.tls_ca_file else None)
        if self.tls_cert_file and self.tls_key_file:
            context.load_cert_chain(str(self.tls_cert_file), str(self.tls_key_file))
        return context


def _redact(urls: str) -> str:
    return ",".join(_redact_one(url.strip()) for url in urls.split(","))


def _redact_one(url: str) -> str:
    # nats://user:secret@host -> nats://user:***@host
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


async def connect(options: ConnectOptions, health: BusHealth | None = None) -> Client:
    """Connect, reconnecting forever afterwards; fail within `connect_timeout_s` if nobody answers.
    `health` hears when the connection goes down and comes back."""

    connected = False

    async def on_error(err: Exception) -> None:
        # Permission violations arrive here asynchronously, not as exceptions of publish().
        # Failures of the first connect are reported once, by the NotReachable below.
        options.errors.append(str(err))
        # While reconnecting, each failed try is expected (the disconnect itself was logged).
        reconnecting = health is not None and not health.up
        log.log(logging.WARNING if connected and not reconnecting else logging.DEBUG, "nats: %s", err)

    async def on_disconnect() -> None:
        log.info("nats: disconnected from %s, reconnecting", _redact(options.url))
        if health is not None and connected:
            health._changed(False)

    async def on_reconnect() -> None:
        log.info("nats: reconnected to %s", _redact(options.url))
        if health is not None:
            health._changed(True)

    kwargs: dict[str, object] = {
        "servers": options.servers,
        "name": options.name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": _RECONNECT_WAIT_S,
        "connect_timeout": min(2.0, options.connect_timeout_s),
        "error_cb": on_error,
        "disconnected_cb": on_disconnect,
        "reconnected_cb": on_reconnect,
        "allow_reconnect": True,
    }
    if options.token:
        kwargs["token"] = options.token
    if options.user:
        kwargs["user"], kwargs["password"] = options.user, options.password or ""
    if options.creds_file:
        kwargs["user_credentials"] = str(options.creds_file)
    if options.nkey_seed:
        kwargs["nkeys_seed_str"] = options.nkey_seed
    if options.inbox_prefix:
        kwargs["inbox_prefix"] = options.inbox_prefix
    if (context := options.tls_context()) is not None:
        kwargs["tls"] = context
    try:
        # With reconnects forever, nats-py's first connect would also retry forever: bound it.
        client = await asyncio.wait_for(nats.connect(**kwargs), options.connect_timeout_s)  # type: ignore[arg-type]
        connected = True
        return client
    except (TimeoutError, NatsError, OSError) as err:
        if any("authorization violation" in e.lower() for e in [*options.errors, str(err)]):
            raise LoginRefused(
                f"the NATS server at {_redact(options.url)} refused the login (authorization violation): "
                "check the user and password, token, creds file or nkey seed, and the server's authorization block"
            ) from err
        raise NotReachable(
            f"no NATS server answered at {_redact(options.url)} within {options.connect_timeout_s:.0f} s "
            "(is it running? check nats.url, credentials and TLS settings)"
        ) from err
