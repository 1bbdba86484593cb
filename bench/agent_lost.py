"""How soon after a remote agent dies mid-task the orchestrator fails the task as "agent lost".

    .venv/bin/python bench/agent_lost.py [--rounds 5] [--lost-after-s 2]

An orchestrator (embedded nats-server, scripted model) and a real `tunnels-agent` process serving
`edge/worker` from a folder outside the tree (heartbeat every 0.5 s; it logs in with the embedded
server's own nkey seed, which the server demands of every client). Each round sends a request
whose edge task hangs, SIGKILLs the agent's process group (agent and Claude Code CLI) once the
task has started, and times the `task.failed` event from the kill. Silence is counted from the
last heartbeat the orchestrator saw, so the figure lies between `lost_after_s - heartbeat_s` and
`lost_after_s` plus the watchdog's period (min(1 s, lost_after_s / 4)); the ratio to
`lost_after_s` is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the checkout on sys.path)
from _orchestra import machine, med, planner_script, running, spread

from claude_tunnels.events.execution import WorkspaceTaskFailed, WorkspaceTaskStarted
from claude_tunnels.tunnels.bus.embedded_login import SEED_FILE

EDGE = "edge/worker"
HEARTBEAT_S = 0.5


async def start_agent(url: str, seed_file: Path, folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    env_file = folder / "agent.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    env_file.chmod(0o600)
    return subprocess.Popen(
        [sys.executable, "-m", "claude_tunnels.tunnels.agent_main", "--nats", url, "--workspace", EDGE, "--path", str(folder / "worker"),
         "--state-dir", str(folder / "state"), "--env-file", str(env_file), "--heartbeat-s", str(HEARTBEAT_S),
         "--nkey-seed-file", str(seed_file)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes its Claude Code CLI too
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lost-after-s", type=float, default=2.0)
    args = parser.parse_args()
    scripts = [
        planner_script("lost", [(EDGE, [])]),
        {"name": EDGE, "match": [f"Workspace: {EDGE}\n"], "turns": [{"hang": True}]},
    ]
    detections: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-lost-") as tmp:
        edge_host = Path(tmp) / "edge-host"
        (edge_host / "worker").mkdir(parents=True)
        (edge_host / "worker" / "CLAUDE.md").write_text("# worker\nAt the edge.\n", encoding="utf-8")
        limits = {"task_timeout_s": 300}
        remote = {"lost_after_s": args.lost_after_s}
        async with running(Path(tmp), {"app": ["api"]}, scripts, limits, remote=remote) as bench:
            orchestrator = bench.orchestrator
            url = orchestrator.backbone.url
            seed_file = orchestrator.loaded.state_dir / "nats" / SEED_FILE
            loop = asyncio.get_running_loop()
            for round_ in range(args.rounds):
                agent = await start_agent(url, seed_file, edge_host, bench.model.env())
                try:
                    await orchestrator.remote.wait_live(EDGE)
                    started: asyncio.Future[None] = loop.create_future()
                    failed: asyncio.Future[float] = loop.create_future()

                    def watch(seq: int, event: object, started: asyncio.Future[None] = started,
                              failed: asyncio.Future[float] = failed) -> None:
                        if isinstance(event, WorkspaceTaskStarted) and event.workspace == EDGE and not started.done():
                            started.set_result(None)
                        if isinstance(event, WorkspaceTaskFailed) and event.workspace == EDGE and not failed.done():
                            failed.set_result(time.perf_counter())

                    orchestrator.add_listener(watch)
                    request = asyncio.ensure_future(bench.approved_request("in edge: lost", timeout=120))
                    await asyncio.wait_for(started, 120)
                    await bench.model.wait_for_requests(round_ + 1, script=EDGE)  # the session is running
                    killed_at = time.perf_counter()
                    os.killpg(agent.pid, signal.SIGKILL)
                    detections.append(await asyncio.wait_for(failed, 60) - killed_at)
                    await request
                finally:
                    if agent.poll() is None:
                        os.killpg(agent.pid, signal.SIGKILL)
                    agent.wait()
    limit = args.lost_after_s
    print(f"agent lost: {args.rounds} rounds on {machine()}; remote.lost_after_s = {limit:g} s, heartbeat every {HEARTBEAT_S:g} s")
    print(f"  kill -> task.failed (agent lost): {spread(detections, digits=2)} s, "
          f"{med(detections) / limit:.2f}x lost_after_s; bound {limit - HEARTBEAT_S:g}-{limit + min(1.0, limit / 4):g} s")


if __name__ == "__main__":
    asyncio.run(main())
