"""`tunnels chat`: a terminal conversation, as a person types it."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from claude_tunnels.tunnels.demo.sample_tree import lay_out
from tests.e2e.scenarios import plan, scenario, succeeds
from tests.git.repos import run

ROOT = Path(__file__).resolve().parents[2]


async def read_until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> None:
    while True:
        line = (await asyncio.wait_for(stream.readline(), 120)).decode()
        if not line:
            raise AssertionError(f"chat ended before {marker!r}; it printed:\n{''.join(seen)}")
        seen.append(line)
        if marker in line:
            return


async def test_chat_shows_the_plan_progress_and_result(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "tree")
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}}))
    (tmp_path / "scenario.yaml").write_text(scenario(plan("one", ("api-service", "bump", [])), succeeds("api-service", "bumped it", writes="NOTE")))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "chat", "--user", "ann", "--scripted-model", str(tmp_path / "scenario.yaml"),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    seen: list[str] = []
    try:
        await read_until(process.stdout, "talking as ann", seen)
        process.stdin.write(b"in api-service: bump it\n")
        await read_until(process.stdout, "Reply yes to run it", seen)
        process.stdin.write(b"yes\n")
        await read_until(process.stdout, "Done (request", seen)
        await read_until(process.stdout, "api-service: bumped it", seen)
        process.stdin.write(b"/quit\n")
        await process.stdin.drain()
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = "".join(seen)
    assert "Phase 1:" in text and "• api-service: bump" in text and "Approved by terminal:ann." in text
    assert (root / "api-service" / "NOTE").read_text() == "x\n"


async def test_chat_started_again_after_a_kill_shows_the_request_going_on_and_its_outcome(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "tree")
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}}))
    run(root / "api-service", "init", "--quiet", "--initial-branch", "main")
    run(root / "api-service", "add", "--all")
    run(root / "api-service", "commit", "--quiet", "-m", "start")
    ask = plan("one", ("api-service", "bump", []))
    (tmp_path / "slow.yaml").write_text(scenario(ask, {"name": "api-service", "match": ["Workspace: api-service\n"], "turns": [{"hang": True}]}))
    (tmp_path / "quick.yaml").write_text(scenario(ask, succeeds("api-service", "bumped it", writes="NOTE")))

    async def chat(model: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "chat", "--user", "ann", "--scripted-model",
            str(tmp_path / model), cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )

    seen: list[str] = []
    first = await chat("slow.yaml")
    assert first.stdin is not None and first.stdout is not None
    try:
        await read_until(first.stdout, "talking as ann", seen)
        first.stdin.write(b"in api-service: bump it\n")
        await read_until(first.stdout, "Reply yes to run it", seen)
        first.stdin.write(b"yes\n")
        await read_until(first.stdout, "api-service started", seen)
    finally:
        first.kill()  # SIGKILL, mid-task
        await first.wait()

    second = await chat("quick.yaml")
    assert second.stdin is not None and second.stdout is not None
    seen = []
    try:
        # Attached before the restart settles anything: the person hears the request resumed, then its outcome.
        await read_until(second.stdout, "resumed after an orchestrator restart", seen)
        await read_until(second.stdout, "Done (request", seen)
        second.stdin.write(b"/quit\n")
        await second.stdin.drain()
        assert await asyncio.wait_for(second.wait(), 60) == 0
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()
    text = "".join(seen)
    assert "interrupted, run again from the start: api-service" in text and text.count("Done (request") == 1
    assert not (root / "api-service" / "NOTE").exists()  # on the task's branch, not in the user's checkout
