"""The README's first hour, through the real command line: a tree set up by `tunnels init --yes`,
the bundled example scenario in `tunnels chat`, then `tunnels serve --scripted-model`, `tunnels
nats` and the README's integration example reading what was done."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_integration_example() -> str:
    """The Python block of the README's "Event subjects for integrations" section, as written."""
    section = (ROOT / "README.md").read_text().split("## Event subjects for integrations", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return code


class Lines:
    """A process's output read line by line, with what was seen kept for the failure message."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream
        self.seen: list[str] = []

    async def until(self, marker: str, timeout: float = 120) -> str:
        while True:
            line = (await asyncio.wait_for(self.stream.readline(), timeout)).decode()
            if not line:
                raise AssertionError(f"ended before {marker!r}; it printed:\n{''.join(self.seen)}")
            self.seen.append(line)
            if marker in line:
                return line


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


async def test_the_example_scenario_end_to_end_on_a_tree_set_up_by_init(tmp_path: Path) -> None:
    tree = tmp_path / "try"
    for folder in ("alpha/api/.claude", "beta/.claude"):
        (tree / folder).mkdir(parents=True)
    # The agents' Claude Code CLIs keep their state in a HOME of the test's own.
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env = {name: value for name, value in env.items() if not name.startswith(("SLACK_", "TELEGRAM_"))}
    init = subprocess.run(["tunnels", "--root", str(tree), "init", "--yes"], capture_output=True, text=True, env=env, timeout=60)
    assert init.returncode == 0, init.stderr
    assert "alpha/api" in init.stdout and (tree / "alpha" / "api" / "CLAUDE.md").exists()

    chat = await asyncio.create_subprocess_exec(
        "tunnels", "chat", "--scripted-model", "example", cwd=tree, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert chat.stdin is not None and chat.stdout is not None
    out = Lines(chat.stdout)
    try:
        await out.until("talking as local")
        chat.stdin.write(b"add a health endpoint to the API\n")  # names no project: the router decides
        await out.until("Reply yes to run it")
        chat.stdin.write(b"yes\n")
        done = await out.until("Done (request")
        await out.until("alpha/api: Added health()")
        chat.stdin.write(b"what can you do?\n")  # about no project: a direct answer
        await out.until("I plan and run changes across the projects")
        chat.stdin.write(b"/quit\n")
        await chat.stdin.drain()
        assert await asyncio.wait_for(chat.wait(), 60) == 0
        out.seen.append((await chat.stdout.read()).decode())
    finally:
        await stop(chat)
    text = "".join(out.seen)
    assert "Routed to alpha. Planning…" in text and "Phase 1:" in text and "• alpha/api:" in text
    assert text.count("I plan and run changes across the projects") == 1  # the direct answer, once
    assert text.count("Done (request") == 1  # and no "Done" repeating it
    assert "import health" in (tree / "alpha" / "api" / "test_health.py").read_text()
    rid = done.split("Done (request ", 1)[1].split(",")[0]

    serve = await asyncio.create_subprocess_exec(
        "tunnels", "--root", str(tree), "serve", "--scripted-model", "example", env=env, stderr=asyncio.subprocess.PIPE,
    )
    assert serve.stderr is not None
    try:
        serving = await Lines(serve.stderr).until("tunnels: serving")
        url = serving.rsplit("events on ", 1)[1].strip()
        info = json.loads(subprocess.run(["tunnels", "nats", "--json"], cwd=tree, env=env, capture_output=True, text=True,
                                         timeout=60, check=True).stdout)
        assert (info["url"], info["running"], info["stream"]) == (url, True, "TUNNELS_EVENTS")
        assert info["credentials"] == {"kind": "nkey_seed_file", "path": str(tree / ".tunnels" / "nats" / "orchestrator.nk")}

        reader = await asyncio.create_subprocess_exec(
            sys.executable, "-c", readme_integration_example(), cwd=tree, env=env, stdout=asyncio.subprocess.PIPE,
        )
        assert reader.stdout is not None
        try:
            first = (await asyncio.wait_for(reader.stdout.readline(), 60)).decode()
        finally:
            await stop(reader)
        assert first.startswith(f"{rid} $") and "1 of 1 workspace tasks succeeded" in first

        serve.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(serve.wait(), 60) == 0
    finally:
        await stop(serve)
