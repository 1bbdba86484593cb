"""Helpers of the remote-agent tests: an authorizing nats-server, agent processes, a stand-in orchestrator.

The stand-in plays the orchestrator's side of `remote_agent.protocol` (stream, bucket, consumer,
tasks, cancels, answering reports) so the agent can be tested on its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, KeyValueConfig, RetentionPolicy, StreamConfig

from claude_tunnels.config.credentials import Secret
from claude_tunnels.events.subjects import Subjects, untoken
from claude_tunnels.remote_agent.credentials import new_seed, permission_block, public_key, write_secret_file
from claude_tunnels.remote_agent.protocol import (
    ENCODER,
    PRESENCE_BUCKET,
    REPORTS,
    AgentReport,
    CancelCommand,
    Presence,
    TaskCommand,
    consumer_name,
    kv_key,
)
from claude_tunnels.tunnels.bus import ConnectOptions, connect
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer

ORCH_USER = "orchestrator"
ORCH_PASSWORD = "orchestrator-test-password"
PREFIX = "tunnels"
STREAM = "TUNNELS_EVENTS"
_PRESENCE = msgspec.json.Decoder(Presence)


@dataclass(frozen=True)
class AgentIdentity:
    """An agent's nkey: the seed file the agent reads and the public key the server knows."""

    workspace: str
    seed_file: Path
    public_key: str
    seed: Secret


def make_identity(workspace: str, folder: Path) -> AgentIdentity:
    """A fresh nkey user for the agent of `workspace`, its seed written (0600) under `folder`."""
    seed = new_seed()
    path = folder / f"{kv_key(workspace)}.nk"
    write_secret_file(path, seed)
    return AgentIdentity(workspace, path, public_key(seed), seed)


def authorization(
    *agents: AgentIdentity, prefix: str = PREFIX, stream: str = STREAM, js_domain: str | None = None,
    orchestrator: bool = True, extra_users: str = "",
) -> str:
    """An `authorization` block: the orchestrator may do anything, each agent only its own subjects."""
    users = "\n".join(
        permission_block(a.workspace, a.public_key, prefix=prefix, stream=stream, js_domain=js_domain) for a in agents
    )
    orch = f"{{ user: {ORCH_USER}, password: {ORCH_PASSWORD} }}" if orchestrator else ""
    return f"authorization {{\n  users = [\n{orch}\n{extra_users}\n{users}\n  ]\n}}\n"


def hub_config(store_dir: Path, js_domain: str, *leaves: AgentIdentity) -> str:
    """Extra config of a hub that remote sites reach through leaf nodes: a JetStream domain, a
    leaf-node listener on a free port, and each leaf confined like the agent it carries.

    nats-server keeps the last of two blocks of one name, so this `jetstream` block replaces the
    embedded config's (hence the store folder given again)."""
    return (
        f'jetstream {{ store_dir: "{store_dir}", domain: {js_domain} }}\n'
        'leafnodes { listen: "127.0.0.1:-1" }\n'
        + authorization(*leaves, js_domain=js_domain)
    )


def leaf_config(hub_leaf_port: int, leaf: AgentIdentity, js_domain: str, *agents: AgentIdentity, extra_users: str = "") -> str:
    """Extra config of a leaf server on an agent's host: no JetStream of its own, one outgoing
    leaf connection to the hub as `leaf`, and the agents as local users (domain permissions)."""
    return (
        "server_name: tunnels_test_leaf\n"
        "jetstream: disabled\n"
        f'leafnodes {{ remotes = [ {{ url: "nats://127.0.0.1:{hub_leaf_port}", nkey: "{leaf.seed.reveal()}" }} ] }}\n'
        + authorization(*agents, js_domain=js_domain, orchestrator=False, extra_users=extra_users)
    )


async def orchestrator_connection(url: str) -> tuple[Client, list[str]]:
    """A connection as the (unrestricted) orchestrator user, and its asynchronous errors."""
    errors: list[str] = []
    nc = await connect(ConnectOptions(url=url, user=ORCH_USER, password=ORCH_PASSWORD, name="stand-in", errors=errors))
    return nc, errors


class AgentProcess:
    """`tunnels-agent` as a separate OS process (its own process group), its log collected."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str] | None = None, module: str = "claude_tunnels.tunnels.agent_main") -> None:
        self.args = list(args)
        self.env = env
        self.module = module
        """What runs: `tunnels-agent` by default, `claude_tunnels.tunnels.cli` for an orchestrator."""
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> AgentProcess:
        """Start the process (`python -m MODULE ARGS`)."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.module, *self.args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, **(self.env or {})}, start_new_session=True,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            async with self._changed:
                self.lines.append(line.decode(errors="replace").rstrip())
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_line(self, text: str, timeout: float = 30.0) -> str:
        """The first log line containing `text` (waiting for it)."""

        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: found() is not None or self.exited)
        line = found()
        if line is None:
            raise AssertionError(f"the agent exited ({self.returncode}) without logging {text!r}:\n" + "\n".join(self.lines[-20:]))
        return line

    @property
    def exited(self) -> bool:
        """True once the process has ended and its output is read."""
        return self.process is not None and self.process.returncode is not None and self._reader is not None and self._reader.done()

    @property
    def returncode(self) -> int | None:
        """The exit code once ended."""
        return None if self.process is None else self.process.returncode

    async def wait(self, timeout: float = 60.0) -> int:
        """Wait for the process to end; its exit code."""
        assert self.process is not None
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"the agent did not exit within {timeout} s:\n" + "\n".join(self.lines[-30:])) from None
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout)
        print(f"--- agent log (exit {code}) ---", *self.lines, sep="\n")  # shown by pytest on failure
        return code

    def signal(self, signum: int) -> None:
        """Send `signum` to the agent process itself."""
        assert self.process is not None
        self.process.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL the agent and everything it started (its Claude Code CLI): a host going away."""
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    async def stop(self) -> None:
        """End the process (and its group) if it still runs."""
        if self.process is not None and self.process.returncode is None:
            self.kill_group()
            await self.process.wait()
            if self._reader is not None:
                await asyncio.gather(self._reader, return_exceptions=True)
            print("--- agent log (killed) ---", *self.lines, sep="\n")


def agent_args(url: str, workspace: str, path: Path, seed_file: Path, state_dir: Path, *extra: str) -> list[str]:
    """The command line of a test agent (fast heartbeats and drains)."""
    return [
        "--nats", url, "--workspace", workspace, "--path", str(path), "--nkey-seed-file", str(seed_file),
        "--state-dir", str(state_dir), "--heartbeat-s", "0.5", "--progress-interval-s", "0.1", *extra,
    ]


async def start_agent(url: str, identity: AgentIdentity, path: Path, tmp_path: Path, model: ScriptedModelServer, *extra: str) -> AgentProcess:
    """A test agent for `identity` serving `path`, its Claude Code CLI pointed at the scripted `model`."""
    env_file = write_env_file(tmp_path / "agent.env", model.env())
    args = agent_args(url, identity.workspace, path, identity.seed_file, tmp_path / "agent-state", "--env-file", str(env_file), *extra)
    return await AgentProcess(args).start()


def write_env_file(path: Path, env: dict[str, str]) -> Path:
    """An env file (mode 0600) for `--env-file`."""
    write_secret_file(path, Secret("\n".join(f"{k}={v}" for k, v in env.items())))
    return path


class StandInOrchestrator:
    """The orchestrator's side of the protocol, for testing the agent alone.

    `async with StandInOrchestrator(nc) as orch:` creates the task stream and presence bucket,
    records every report (answering `ok`, or what `answer` returns) and every presence.
    """

    def __init__(self, nc: Client, *, prefix: str = PREFIX, stream: str = STREAM) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.subjects = Subjects(prefix)
        self.tasks_stream = f"{stream}_TASKS"
        self.reports: list[tuple[str, AgentReport]] = []
        self.presences: list[Presence] = []
        self.answer: Callable[[str, AgentReport], bytes] = lambda workspace, report: b"ok"
        self._changed = asyncio.Condition()
        self._subs: list[Any] = []
        self._watch: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StandInOrchestrator:
        await self.js.add_stream(StreamConfig(
            name=self.tasks_stream, subjects=[f"{self.subjects.prefix}.ws.*.task"], retention=RetentionPolicy.WORK_QUEUE,
        ))
        kv = await self.js.create_key_value(KeyValueConfig(bucket=PRESENCE_BUCKET, history=1))
        watcher = await kv.watchall()
        self._watch = asyncio.create_task(self._watch_presences(watcher))
        self._subs.append(await self.nc.subscribe(f"{self.subjects.prefix}.ws.*.out", cb=self._on_report))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for sub in self._subs:
            await sub.unsubscribe()

    async def _on_report(self, msg: Msg) -> None:
        workspace = untoken(msg.subject.split(".")[-2])
        report = REPORTS.decode(msg.data)
        async with self._changed:
            self.reports.append((workspace, report))
            self._changed.notify_all()
        await msg.respond(self.answer(workspace, report))

    async def _watch_presences(self, watcher: Any) -> None:
        while True:
            entry = await watcher.updates(timeout=None)
            if entry is None or not entry.value:
                continue
            async with self._changed:
                self.presences.append(_PRESENCE.decode(entry.value))
                self._changed.notify_all()

    async def ensure_consumer(self, workspace: str) -> None:
        """The durable consumer the agent pulls from (as the orchestrator creates it)."""
        await self.js.add_consumer(self.tasks_stream, ConsumerConfig(
            durable_name=consumer_name(workspace), filter_subject=self.subjects.workspace_tasks(workspace),
            ack_policy=AckPolicy.EXPLICIT, max_deliver=1, ack_wait=60,
        ))

    async def send(self, command: TaskCommand) -> None:
        """Queue a task for its workspace's agent."""
        await self.js.publish(
            self.subjects.workspace_tasks(command.workspace), ENCODER.encode(command),
            headers={"Nats-Msg-Id": command.task_id},
        )

    async def cancel(self, workspace: str, task_id: str) -> None:
        """Publish a cancel on the workspace's control subject."""
        await self.nc.publish(self.subjects.workspace_control(workspace), ENCODER.encode(CancelCommand(task_id=task_id, by="test")))
        await self.nc.flush()

    async def wait_report(self, match: Callable[[str, AgentReport], bool], timeout: float = 60.0) -> AgentReport:
        """The first report (workspace, report) matching `match`, waiting for it."""

        def found() -> AgentReport | None:
            return next((report for workspace, report in self.reports if match(workspace, report)), None)

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        report = found()
        assert report is not None
        return report

    async def wait_presence(self, match: Callable[[Presence], bool], timeout: float = 30.0) -> Presence:
        """The first presence matching `match`, waiting for it."""

        def found() -> Presence | None:
            return next((p for p in self.presences if match(p)), None)

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        presence = found()
        assert presence is not None
        return presence

    def reports_of(self, task_id: str) -> list[AgentReport]:
        """Every report received about one task, in order."""
        return [report for _, report in self.reports if report.task_id == task_id]


def task(workspace: str, task_id: str, text: str = "make the change", **fields: Any) -> TaskCommand:
    """A task command with test defaults."""
    base: dict[str, Any] = {"timeout_s": 60.0, "max_turns": 8, "request_id": "req-" + task_id, "request_text": "please " + text}
    return TaskCommand(task_id=task_id, workspace=workspace, task=text, **{**base, **fields})


class TcpProxy:
    """A TCP forwarder on a free loopback port that a test can cut and restore (a network cut).

    `async with TcpProxy(host, port) as proxy:` then connect to `proxy.port`; `await proxy.cut()`
    drops every connection and refuses new ones; `await proxy.restore()` listens again (same port).
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0
        """Connections accepted so far."""
        self._server: asyncio.base_events.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> TcpProxy:
        await self.restore()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.cut()

    async def restore(self) -> None:
        """Accept connections (again) on the proxy's port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Close the listening socket and every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pipe = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()
            self._writers.discard(sink)


@dataclass(frozen=True)
class TlsFiles:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate (made with openssl)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_block(self) -> str:
        """A nats-server `tls` block requiring client certificates (mutual TLS)."""
        return (f'tls {{\n  cert_file: "{self.server_cert}"\n  key_file: "{self.server_key}"\n'
                f'  ca_file: "{self.ca}"\n  verify: true\n  timeout: 2\n}}\n')


def make_tls_files(folder: Path) -> TlsFiles:
    """Create the files under `folder` (ECDSA P-256 keys, one day of validity)."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *curve, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1", "-subj", "/CN=tunnels test CA")
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", *curve, "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN=tunnels test {name}")
        (folder / f"{name}.ext").write_text(extension + "\n", encoding="utf-8")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")
    return TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem", folder / "client.pem", folder / "client-key.pem")
