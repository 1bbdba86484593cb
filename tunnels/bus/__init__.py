"""Our NATS adapter: the embedded server, connections, stream declarations and the event store.

Only this package touches nats-py exceptions; everything it raises is a `BusError`.
"""

from tunnels.bus.connection import ConnectOptions, connect
from tunnels.bus.errors import AppendConflict, BusError, NotReachable, StoreLocked
from tunnels.bus.server import EmbeddedNatsServer, running_server, running_server_url
from events.log import Appended, Stored
from tunnels.bus.store import EventStore
from tunnels.bus.streams import Layout

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
