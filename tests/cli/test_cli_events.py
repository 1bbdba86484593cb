"""`tunnels replay`, `tunnels events tail`, `tunnels projections rebuild` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from claude_tunnels.tunnels.bus import EmbeddedNatsServer, EventStore, connect
from claude_tunnels.tunnels.cli_support import BROKEN_PIPE_EXIT
from tests.factories import T0, Events, two_phase_plan

ROOT = Path(__file__).resolve().parents[2]
KEY = "terminal:alice"
RID = "01REQ00000000000000000001"


def tunnels(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )


async def seed(root: Path, server: EmbeddedNatsServer) -> None:
    ev = Events()
    nc = await connect(server.connect_options())
    store = EventStore(nc)
    await store.ensure()
    for event in [
        ev.message(KEY, "upgrade core"), ev.opened(KEY, RID, "upgrade core"), ev.routed(KEY, RID, ["shared"]),
        ev.proposed(KEY, RID, two_phase_plan()), ev.asked(KEY, RID), ev.approved(KEY, RID),
        ev.phase(KEY, RID, 1, ["shared/core"]), ev.succeeded(KEY, RID, "shared/core", "bumped"), ev.completed(KEY, RID),
        ev.opened("terminal:bob", "01REQ00000000000000000002", "other"),
    ]:
        await store.append(event)
    await nc.close()


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tunnels: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
async def seeded_root(tmp_path: Path) -> Path:
    async with EmbeddedNatsServer(tmp_path / ".tunnels") as server:
        await seed(tmp_path, server)
    return tmp_path


async def test_replay_prints_the_whole_timeline_of_one_request(seeded_root: Path) -> None:
    result = tunnels(seeded_root, "replay", RID)
    assert result.returncode == 0, result.stderr
    kinds = [line.split()[2] for line in result.stdout.splitlines()]
    assert kinds == [
        "request.opened", "route.decided", "plan.proposed", "confirmation.requested", "plan.approved",
        "phase.started", "task.succeeded", "request.completed",
    ]
    assert "shared/core: bumped" in result.stdout
    as_json = tunnels(seeded_root, "replay", RID, "--json")
    assert [json.loads(line)["type"] for line in as_json.stdout.splitlines()][0] == "request.opened"
    read, write = os.pipe()
    os.close(read)  # `tunnels replay --json ID | head -1` once head has its line
    try:
        piped = subprocess.run([sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(seeded_root), "replay", "--json", RID],
                               cwd=ROOT, stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write)
    assert (piped.returncode, piped.stderr) == (BROKEN_PIPE_EXIT, "")  # quietly, as `cat` would


async def test_replay_joins_a_running_server_instead_of_fighting_for_the_store(seeded_root: Path) -> None:
    async with EmbeddedNatsServer(seeded_root / ".tunnels"):
        result = tunnels(seeded_root, "replay", RID)
        assert result.returncode == 0 and "request.completed" in result.stdout
        refused = tunnels(seeded_root, "projections", "rebuild")
        assert_one_clear_line(refused, "already runs the embedded NATS server")


async def test_rebuild_writes_the_task_log_from_the_stream(seeded_root: Path) -> None:
    result = tunnels(seeded_root, "projections", "rebuild")
    assert result.returncode == 0, result.stderr
    assert "2 requests" in result.stdout
    # The one request with a plan, under each of the two projects it touches: the same file.
    logs = sorted((seeded_root / ".tasks").rglob("*.md"))
    assert [log.parent.name for log in logs] == ["shared", "web"] and logs[0].read_bytes() == logs[1].read_bytes()
    assert "bumped" in logs[0].read_text()


async def test_tail_follows_the_stream_live(seeded_root: Path) -> None:
    async with EmbeddedNatsServer(seeded_root / ".tunnels") as server:
        tail = subprocess.Popen(
            [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(seeded_root), "events", "tail", "--json", "--from-start"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert tail.stdout is not None
            readline = tail.stdout.readline
            seen = [json.loads(await asyncio.to_thread(readline))["type"] for _ in range(10)]
            assert seen[0] == "message.received" and seen[-1] == "request.opened"
            await seed(seeded_root, server)  # the same events again: deduplicated, nothing new ...
            nc = await connect(server.connect_options())
            store = EventStore(nc)
            await store.append(Events(T0 + timedelta(hours=1)).message("terminal:carol", "live one"))  # ... new
            await nc.close()
            assert json.loads(await asyncio.to_thread(readline))["text"] == "live one"
        finally:
            tail.terminate()
            tail.wait(timeout=10)


def test_unknown_request_is_one_line(tmp_path: Path) -> None:
    assert_one_clear_line(tunnels(tmp_path, "replay", "01NOPE"), "no request 01NOPE")


def test_corrupt_config_is_one_line_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "orchestrator.yaml").write_text("limits:\n  max_paralel_agents: 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--config", str(tmp_path / "orchestrator.yaml"), "replay", "x"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert_one_clear_line(result, "limits.max_paralel_agents", "max_parallel_agents")


def test_no_server_reachable_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "orchestrator.yaml").write_text("nats:\n  url: nats://127.0.0.1:9\n  connect_timeout_s: 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--config", str(tmp_path / "orchestrator.yaml"), "replay", "x"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert_one_clear_line(result, "no NATS server answered at nats://127.0.0.1:9")


RID2 = "01REQ00000000000000000002"  # only opened by the seed: still running


async def test_tail_request_shows_a_finished_request_from_its_start_and_ends(seeded_root: Path) -> None:
    async with EmbeddedNatsServer(seeded_root / ".tunnels"):  # joined, as a running orchestrator's would be
        followed = tunnels(seeded_root, "events", "tail", "--request", RID)
        assert followed.returncode == 0, followed.stderr
        assert followed.stdout == tunnels(seeded_root, "replay", RID).stdout  # from its start, as replay shows it
        assert_one_clear_line(tunnels(seeded_root, "events", "tail", "--request", "01NOPE"), "no request 01NOPE")


async def test_tail_request_follows_a_running_request_until_it_ends(seeded_root: Path) -> None:
    async with EmbeddedNatsServer(seeded_root / ".tunnels") as server:
        tail = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(seeded_root), "events", "tail", "--request", RID2,
            "--json", cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert tail.stdout is not None
        try:
            opened = json.loads(await asyncio.wait_for(tail.stdout.readline(), 60))
            assert (opened["type"], opened["request_id"]) == ("request.opened", RID2)
            nc = await connect(server.connect_options())
            ev = Events(T0 + timedelta(hours=1))
            for event in (ev.routed("terminal:bob", RID2, ["shared"]), ev.opened(KEY, "01REQ00000000000000000003", "another"),
                          ev.completed("terminal:bob", RID2), ev.message("terminal:bob", "after the end")):
                await EventStore(nc).append(event)
            await nc.close()
            assert await asyncio.wait_for(tail.wait(), 60) == 0  # the request ended: so does the command
        finally:
            if tail.returncode is None:
                tail.kill()
                await tail.wait()
        rest = [json.loads(line)["type"] for line in (await tail.stdout.read()).decode().splitlines()]
        assert rest == ["route.decided", "request.completed"]


async def test_tail_ends_with_one_line_when_the_orchestrator_it_joined_stops(seeded_root: Path) -> None:
    server = EmbeddedNatsServer(seeded_root / ".tunnels")  # the orchestrator's server (it owns the store)
    await server.start()
    try:
        tail = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(seeded_root), "events", "tail", "--from-start",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert tail.stdout is not None and tail.stderr is not None
        assert "message.received" in (await asyncio.wait_for(tail.stdout.readline(), 60)).decode()  # it follows
    finally:
        await server.stop()
    try:
        assert await asyncio.wait_for(tail.wait(), 30) == 1
    finally:
        if tail.returncode is None:
            tail.kill()
            await tail.wait()
    err = (await tail.stderr.read()).decode()
    assert err.count("\n") == 1 and err.startswith("tunnels: the orchestrator of") and "stopped following" in err
