"""`python -m claude_tunnels.tunnels.scripted_model`: one readiness line, serves, exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from claude_tunnels.tunnels import scripted_model

EXAMPLE = Path(scripted_model.__file__).parent / "scenarios" / "example.yaml"


async def test_serves_the_scenario_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claude_tunnels.tunnels.scripted_model", "--scenario", str(EXAMPLE), "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        found = re.fullmatch(r"scripted-model listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert found, line
        body: dict[str, Any] = {
            "model": "m",
            "system": "s",
            "messages": [{"role": "user", "content": "fail please"}],
        }
        body["messages"].append({"role": "system", "content": "Primary working directory: /w"})
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{found.group(1)}/v1/messages", json=body) as response,
        ):
            assert response.status == 529  # the example's `overloaded` script
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 10)
    assert code == 0
    assert await proc.stdout.read() == b""  # exactly one line


async def test_a_bad_scenario_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scripts:\n  - name: a\n    match: [x]\n    turns: [{txt: hi}]\n")

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claude_tunnels.tunnels.scripted_model", "--scenario", str(bad),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)

    assert proc.returncode == 2
    assert out == b""
    assert "bad.yaml" in err.decode() and "$.scripts[0].turns[0]" in err.decode()
