"""Our NATS adapter: the embedded server, connections, stream declarations and the event store.

Only this package touches nats-py exceptions; everything it raises is a `BusError`.
"""

from claude_tunnels.events.log import Appended, Stored
from claude_tunnels.tunnels.bus.connection import ConnectOptions, connect
from claude_tunnels.tunnels.bus.errors import AppendConflict, BusError, NotReachable, StoreLocked
from claude_tunnels.tunnels.bus.server import EmbeddedNatsServer, running_server, running_server_url
from claude_tunnels.tunnels.bus.store import EventStore
from claude_tunnels.tunnels.bus.streams import Layout

__all__ = [
    "AppendConflict",
    "Appended",
    "BusError",
    "ConnectOptions",
    "EmbeddedNatsServer",
    "EventStore",
    "Layout",
    "NotReachable",
    "StoreLocked",
    "Stored",
    "connect",
    "running_server",
    "running_server_url",
]
