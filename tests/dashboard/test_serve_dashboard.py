"""`tunnels serve` starts the dashboard when `dashboard.enabled`, says where, serves `/metrics`
and stops on SIGTERM with 0; an open bind beyond loopback stops the start with exit code 2."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import aiohttp

from claude_tunnels.tunnels.demo.sample_tree import lay_out

ROOT = Path(__file__).resolve().parents[2]


async def _serve(tmp_path: Path, dashboard: dict[str, object]) -> asyncio.subprocess.Process:
    root = lay_out(tmp_path / "tree")
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}, "dashboard": dashboard}))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "serve", cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


async def test_serve_starts_the_dashboard_and_stops_it(tmp_path: Path) -> None:
    process = await _serve(tmp_path, {"enabled": True, "bind": "127.0.0.1:0"})
    assert process.stderr is not None
    seen: list[str] = []
    try:
        while not (found := re.search(r"dashboard on (http://127\.0\.0\.1:\d+)", seen[-1] if seen else "")):
            line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
            assert line, f"serve ended early:\n{''.join(seen)}"
            seen.append(line)
        async with aiohttp.ClientSession() as http, http.get(found.group(1) + "/metrics") as response:
            assert response.status == 200 and "tunnels_events_position" in await response.text()
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 60)
    assert process.returncode == 0


async def test_an_open_bind_beyond_loopback_is_refused(tmp_path: Path) -> None:
    process = await _serve(tmp_path, {"enabled": True, "bind": "0.0.0.0:0"})
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    [line] = err.decode().strip().splitlines()
    assert "not loopback and no dashboard.users" in line and "tunnels dashboard token" in line
