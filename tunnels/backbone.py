"""The event backbone of one process: a NATS connection (embedded server or `nats.url`) and the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from nats.aio.client import Client

from claude_tunnels.config.credentials import read_secret_file
from claude_tunnels.config.errors import CredentialsError
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.projections import RequestsView, SessionsView, TaskLog
from claude_tunnels.tunnels.bus import ConnectOptions, EmbeddedNatsServer, EventStore, Layout, connect, running_server
from claude_tunnels.tunnels.bus.connection import BusHealth

Role = Literal["owner", "reader"]


@dataclass
class Backbone:
    """What a process needs to append and read events."""

    store: EventStore
    nc: Client
    server: EmbeddedNatsServer | None
    url: str
    options: ConnectOptions = field(repr=False)
    """How this process connected (with its login): for a helper that needs a connection of its own."""
    health: BusHealth = field(default_factory=BusHealth)
    """Whether the connection is up (appends wait for it to come back; listeners hear each change)."""


def layout_of(loaded: LoadedSettings, prefix: str = "tunnels") -> Layout:
    """The stream layout named by the settings."""
    nats = loaded.settings.nats
    return Layout(prefix=prefix, stream=nats.stream, retention_days=nats.retention_days, duplicate_window_s=nats.duplicate_window_s,
                  replicas=nats.replicas)


def connect_options(loaded: LoadedSettings, url: str, name: str) -> ConnectOptions:
    """Connection options of a configured server, from `nats.*` (relative paths are from the root)."""
    nats = loaded.settings.nats

    def path(value: str | None) -> Path | None:
        return None if value is None else (loaded.root / value).expanduser()

    tls = nats.tls
    seed = None
    if nats.nkey_seed_file is not None:
        seed_path = path(nats.nkey_seed_file)
        assert seed_path is not None
        seed = read_secret_file(seed_path)
        if not seed.reveal().startswith("SU"):
            raise CredentialsError("does not hold an nkey user seed (SU...)", file=seed_path,
                                   fix="put the user's nkey seed (it starts with SU) in it")
    return ConnectOptions(
        url=url,
        token=nats.token,
        user=nats.user,
        password=nats.password,
        creds_file=path(nats.creds_file),
        nkey_seed=seed.reveal() if seed is not None else None,
        tls_ca_file=path(tls.ca_file) if tls else None,
        tls_cert_file=path(tls.cert_file) if tls else None,
        tls_key_file=path(tls.key_file) if tls else None,
        connect_timeout_s=nats.connect_timeout_s,
        name=name,
    )


@asynccontextmanager
async def open_backbone(loaded: LoadedSettings, *, role: Role, name: str = "tunnels") -> AsyncIterator[Backbone]:
    """Connect to the configured server, or run the embedded one.

    An `owner` (the orchestrator, a rebuild) starts the embedded server and is refused if another
    process already owns it; a `reader` (tail, replay) joins a running embedded server if there
    is one, and otherwise starts one for as long as it runs. On the embedded server both log in
    as the store's nkey user (its seed under `<state>/nats/`); a configured `nats.url` is reached
    with the configured credentials. An owner's embedded server is supervised: started again on
    the same store and port if it dies, while the connection reconnects by itself.
    """
    nats = loaded.settings.nats
    async with AsyncExitStack() as stack:
        server: EmbeddedNatsServer | None = None
        if nats.seeds is not None:
            options = connect_options(loaded, nats.seeds, name)
        else:
            joined = running_server(loaded.state_dir, name=name) if role == "reader" else None
            if joined is None:
                server = await stack.enter_async_context(EmbeddedNatsServer(loaded.state_dir, supervise=role == "owner"))
                joined = server.connect_options(name)
            options = replace(joined, connect_timeout_s=nats.connect_timeout_s)
        health = BusHealth()
        nc = await connect(options, health)
        stack.push_async_callback(_close, nc)  # before the server stops (last in, first out)
        stack.callback(health.close)  # before that: closing on purpose is no outage
        store = EventStore(nc, layout_of(loaded), health=health)
        await store.ensure()
        yield Backbone(store=store, nc=nc, server=server, url=options.url, options=options, health=health)


async def _close(nc: Client) -> None:
    await nc.drain() if nc.is_connected else await nc.close()


def standard_projections(loaded: LoadedSettings, checkpoints: Path | None = None) -> tuple[SessionsView, RequestsView, TaskLog]:
    """The projections every orchestrator keeps, with their checkpoints under the state folder
    (or in `checkpoints`)."""
    checkpoints = checkpoints or loaded.state_dir / "projections"
    requests = RequestsView(checkpoints / "requests.sqlite")
    return (
        SessionsView(checkpoints / "sessions.sqlite"),
        requests,
        TaskLog(loaded.task_log_dir, checkpoints / "task_log.json", requests=requests),
    )
