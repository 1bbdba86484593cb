"""How soon work goes on after the embedded nats-server dies and its supervisor starts it again.

    .venv/bin/python bench/bus_restart.py [--rounds 7]

An orchestrator (embedded nats-server, scripted model) in this process. Each round SIGKILLs the
nats-server, and while it is down a person's message comes in (its append waits for the bus).
Timed, on the loop's clock: the kill to the server ready again (the supervisor's restart), the
server ready to the connection back, and the server ready to the message's `request.opened`
folded by the projections (the append retried, the projection's ordered consumer made again,
the actors' durable consumer delivering, the conversation's reaction recorded and folded): the
moment work goes on. The request then ends (its plan, from a model with no script, is refused), so rounds do not pile up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
from pathlib import Path

import _common  # noqa: F401  (puts the checkout on sys.path)
from _orchestra import machine, running, spread

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.events.catalogue import REQUEST_ENDED
from claude_tunnels.events.conversation import RequestOpened


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    restarted, reconnected, resumed = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-bus-") as tmp:
        async with running(Path(tmp), {"app": ["api"]}, [], {}) as bench:
            orchestrator = bench.orchestrator
            assert orchestrator.backbone is not None and orchestrator.backbone.server is not None
            server, health = orchestrator.backbone.server, orchestrator.backbone.health
            loop = asyncio.get_running_loop()
            for round_ in range(args.rounds):
                terminal = TerminalChannel(orchestrator, f"bus{round_}", out=open(os.devnull, "w"))
                opened = terminal.watch(lambda e: isinstance(e, RequestOpened))
                ended = terminal.watch(lambda e: isinstance(e, REQUEST_ENDED))
                back, down = health.back(), loop.create_future()
                health.listen(lambda up, down=down: None if up or down.done() else down.set_result(None))
                killed_at = loop.time()
                os.kill(server.pid or 0, signal.SIGKILL)
                await asyncio.wait_for(down, 30)  # the client noticed the dead socket
                say = asyncio.ensure_future(terminal.say("what is the answer?"))  # recorded once the bus is back
                await asyncio.wait_for(back, 60)
                reconnected_at = loop.time()
                await asyncio.wait_for(opened, 60)
                opened_at = loop.time()
                await say
                restarted.append(server.ready_at - killed_at)
                reconnected.append(reconnected_at - server.ready_at)
                resumed.append(opened_at - server.ready_at)
                await asyncio.wait_for(ended, 120)
    print(f"embedded nats-server SIGKILLed and started again: {args.rounds} rounds on {machine()}")
    print(f"  kill -> the server ready again (the supervisor): {spread(restarted, digits=2)} s")
    print(f"  server ready -> the connection back: {spread(reconnected, digits=2)} s")
    print(f"  server ready -> a message that came in meanwhile handled (request.opened folded): {spread(resumed, digits=2)} s")


if __name__ == "__main__":
    asyncio.run(main())
