"""A three-node nats-server cluster on loopback, made of `nats/cluster.example.conf` itself.

Every node runs the example file with its own environment (free ports, a temporary store);
`kill(node)` SIGKILLs one node, `start(node)` brings it back on the same ports and store.
Readiness is read from the servers' own output, never guessed with sleeps.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import StreamConfig

import nats
from claude_tunnels.tunnels.bus.server import find_nats_server

_CONF = Path(__file__).resolve().parents[2] / "nats" / "cluster.example.conf"
_READY = "Server is ready"
_META_LEADER = ("JetStream cluster new metadata leader", "Self is new JetStream cluster metadata leader")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class _Node:
    name: str
    client_port: int
    route_port: int
    store: Path
    process: subprocess.Popen[bytes] | None = None
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None


class NatsCluster:
    """`async with NatsCluster(tmp_path) as cluster:` three routed JetStream nodes `n1`..`n3`."""

    def __init__(self, base: Path, *, size: int = 3, route_password: str = "route-secret") -> None:
        ports = _free_ports(2 * size)
        self.nodes = {
            f"n{i + 1}": _Node(f"n{i + 1}", ports[2 * i], ports[2 * i + 1], base / f"n{i + 1}") for i in range(size)
        }
        self._password = route_password
        self._conf = _CONF
        self._changed = asyncio.Event()

    @property
    def urls(self) -> list[str]:
        """The client URL of every node (the seed list of `nats.url`)."""
        return [f"nats://127.0.0.1:{node.client_port}" for node in self.nodes.values()]

    def url(self, name: str) -> str:
        """One node's client URL."""
        return f"nats://127.0.0.1:{self.nodes[name].client_port}"

    async def __aenter__(self) -> NatsCluster:
        try:
            for name in self.nodes:
                self._launch(name)
            await self.wait_for(lambda: all(_READY in "".join(n.lines) for n in self.nodes.values()))
            await self.wait_for(lambda: any(m in line for n in self.nodes.values() for line in n.lines for m in _META_LEADER))
            await self._wait_replicated_streams()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc: object | TracebackType) -> None:
        for name in self.nodes:
            self.kill(name)
        for node in self.nodes.values():
            if node.reader is not None:
                await asyncio.gather(node.reader, return_exceptions=True)

    async def _wait_replicated_streams(self) -> None:
        """Return once a stream of three replicas can be made (every peer has joined the meta group)."""
        nc = await self.client()
        js = nc.jetstream(timeout=5)

        async def made() -> bool:
            try:
                await js.add_stream(StreamConfig(name="CLUSTER_READY", subjects=["cluster.ready"], num_replicas=len(self.nodes)))
            except (TimeoutError, NatsError):
                return False
            await js.delete_stream("CLUSTER_READY")
            return True
        try:
            await self.until(made, timeout=60)
        finally:
            await nc.close()

    def _env(self, node: _Node) -> dict[str, str]:
        routes = {
            f"TUNNELS_ROUTE_{i + 1}": f"nats-route://route:{self._password}@127.0.0.1:{other.route_port}"
            for i, other in enumerate(self.nodes.values())
        }
        return {
            **os.environ, **routes, "TUNNELS_NODE": node.name, "TUNNELS_LISTEN": f"127.0.0.1:{node.client_port}",
            "TUNNELS_CLUSTER_LISTEN": f"127.0.0.1:{node.route_port}", "TUNNELS_STORE_DIR": str(node.store),
            "TUNNELS_ROUTE_PASSWORD": self._password,
        }

    def _launch(self, name: str) -> None:
        node = self.nodes[name]
        node.store.mkdir(parents=True, exist_ok=True)
        node.lines = []
        node.process = subprocess.Popen(
            [find_nats_server(), "-c", str(self._conf)], env=self._env(node), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        node.reader = asyncio.get_running_loop().create_task(self._read(node, node.process))

    async def _read(self, node: _Node, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        stream = process.stderr
        while line := await asyncio.to_thread(stream.readline):
            node.lines.append(line.decode(errors="replace"))
            self._changed.set()
        self._changed.set()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        """Return once `condition()` holds, re-checked at each line the servers print."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def until(self, condition: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
        """Return once the async `condition()` holds: a state only the servers know (a replica
        caught up), asked again every tenth of a second."""
        async with asyncio.timeout(timeout):
            while not await condition():
                await asyncio.sleep(0.1)

    def kill(self, name: str) -> None:
        """SIGKILL one node (its store stays, as after a crash)."""
        node = self.nodes[name]
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait()

    async def start(self, name: str) -> None:
        """Start a killed node again on its ports and store; return once it is ready."""
        self._launch(name)
        node = self.nodes[name]
        await self.wait_for(lambda: _READY in "".join(node.lines))

    async def client(self, name: str | None = None) -> Client:
        """A connection to one node, or to the cluster (every node a seed)."""
        servers = [self.url(name)] if name else self.urls
        return await nats.connect(servers=servers, max_reconnect_attempts=-1, reconnect_time_wait=0.1)

    async def stream_leader(self, nc: Client, stream: str) -> str:
        """The name of the node leading `stream`'s replicas."""
        info = await nc.jetstream().stream_info(stream)
        assert info.cluster is not None and info.cluster.leader is not None
        return info.cluster.leader
