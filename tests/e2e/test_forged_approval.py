"""A local process that knows only the embedded server's URL cannot approve someone else's plan.

The attack that used to work: read `<state>/nats/url`, connect without credentials and append a
`message.received` "yes" from the requester; the orchestrator ran the plan. Here a real
orchestrator process holds Bob's plan pending; the test process plays the intruder.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from claude_tunnels.config.loader import LoadedSettings, load_settings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.codec import encode
from claude_tunnels.events.conversation import MessageReceived, RequestOpened
from claude_tunnels.events.ids import UlidSource
from claude_tunnels.events.planning import PlanApproved
from claude_tunnels.events.subjects import Subjects
from claude_tunnels.projections.sessions import SessionState, evolve
from claude_tunnels.tunnels.backbone import layout_of
from claude_tunnels.tunnels.bus import ConnectOptions, EventStore, connect, running_server
from claude_tunnels.tunnels.bus.errors import LoginRefused
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from tests.e2e.scenarios import hangs, plan, scenario, succeeds
from tests.e2e.world import BASE_LIMITS

ROOT = Path(__file__).resolve().parents[2]
BOB = "terminal:bob"


@contextmanager
def orchestrator_process(root: Path, scenario_file: Path) -> Iterator[subprocess.Popen[str]]:
    """tests.helpers.orchestrator_proc: Bob's plan waits for approval, Alice's task runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.orchestrator_proc", str(root), str(scenario_file)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        yield process
    finally:
        os.kill(process.pid, signal.SIGKILL)  # its nats-server follows (parent-death signal)
        process.wait()


def forged_yes(loaded: LoadedSettings) -> tuple[str, bytes]:
    """Bob's "yes", built the way the orchestrator records one: its subject and its bytes."""
    event = MessageReceived(
        id=UlidSource().new_id(), at=datetime.now(UTC), session_key=BOB, channel="terminal",
        sender=BOB, text="yes", message_ref="forged-1",
    )
    return Subjects(layout_of(loaded).prefix).for_event(event), encode(event)


async def raw_publish_without_login(url: str, subject: str, payload: bytes) -> bytes:
    """Speak the NATS protocol directly: CONNECT with no credentials and PUB at once, without
    waiting for an answer; return everything the server sent until it closed the connection."""
    host, port = url.removeprefix("nats://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        await reader.readline()  # INFO
        writer.write(
            b'CONNECT {"verbose":false,"pedantic":false,"name":"intruder"}\r\n'
            + f"PUB {subject} {len(payload)}\r\n".encode() + payload + b"\r\nPING\r\n"
        )
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)  # until the server hangs up
    finally:
        writer.close()


async def bob_state(store: EventStore) -> tuple[SessionState, list[AnyEvent]]:
    """Bob's session folded from the stream, and all of Bob's stored events."""
    events = [s.event for s in await store.read() if s.event.session_key == BOB]
    return functools.reduce(evolve, events, SessionState(key=BOB)), events


async def test_a_forged_yes_from_a_process_without_the_login_is_refused_and_the_plan_stays_pending(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "tree")
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}, "limits": BASE_LIMITS}))
    (tmp_path / "scenario.yaml").write_text(scenario(
        plan("alice", ("web-app/backend", "slow", []), match="alice's slow change"),
        plan("bob", ("api-service", "bob", []), match="bob's change"),
        hangs("web-app/backend"), succeeds("api-service", "bob's change is in"),
    ))
    loaded = load_settings(root / "orchestrator.yaml")
    with orchestrator_process(root, tmp_path / "scenario.yaml") as process:
        assert process.stdout is not None
        assert (await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 120)).strip() == "READY"

        # What the intruder can learn: the URL (and only the owner may even read that file now).
        url_file = loaded.state_dir / "nats" / "url"
        assert stat.S_IMODE(url_file.stat().st_mode) == 0o600
        url = url_file.read_text().strip()
        subject, payload = forged_yes(loaded)

        with pytest.raises(LoginRefused, match="authorization violation"):
            await connect(ConnectOptions(url=url, name="intruder", connect_timeout_s=2))
        answer = await raw_publish_without_login(url, subject, payload)
        assert b"Authorization Violation" in answer and b"PONG" not in answer

        login = running_server(loaded.state_dir, name="test-reader")
        assert login is not None
        nc = await connect(login)
        try:
            store = EventStore(nc, layout_of(loaded))
            session, events = await bob_state(store)
            assert session.status == "pending_plan_approval" and session.request is not None
            [opened] = [e for e in events if isinstance(e, RequestOpened)]
            assert not [e for e in events if isinstance(e, MessageReceived) and e.text == "yes"]
            assert not [e for e in events if isinstance(e, PlanApproved)]

            # The same bytes from a holder of the login do approve it: the refusal above, not a
            # malformed forgery, is what kept the plan pending.
            following = store.follow(start_seq=await store.last_seq() + 1)
            approved = asyncio.ensure_future(anext(
                s async for s in following
                if isinstance(s.event, PlanApproved) and s.event.request_id == opened.request_id
            ))
            await nc.publish(subject, payload)
            await asyncio.wait_for(approved, 60)
        finally:
            await nc.close()

