"""`tunnels chat`: a terminal conversation, as a person types it."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from claude_tunnels.tunnels.demo.sample_tree import lay_out
from tests.e2e.scenarios import plan, scenario, succeeds

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
