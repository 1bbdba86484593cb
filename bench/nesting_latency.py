"""The latency each level of orchestrators adds: a task passed down a chain and its result up.

    .venv/bin/python bench/nesting_latency.py [--rounds 3] [--depths 0,1,2,3]

Depth 0: the top orchestrator (in this process, embedded nats-server, scripted model) runs one
task in a local workspace whose agent answers at once. Depth d: the top's one task goes to the
child orchestrator `lvl1/orch`, a separate `tunnels serve --parent … --parent-name lvl1/orch
--parent-seed …` process on its own embedded nats-server, whose one task goes to `lvl2/orch`, and
so on; the deepest child runs the local workspace. Each child has that one project, so it routes
without a model call and plans with its scripted planner (a Claude Code CLI answering at once),
under the parent's approval. The figure is the top's task, `task.dispatched` to `task.succeeded`
as the top saw them (median over the rounds, after one warm-up round per depth): what a level adds
is its difference from the depth before. All Claude Code CLIs use one scripted model server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

import _common  # noqa: F401  (puts the checkout on sys.path)
from _orchestra import machine, med, planner_script, running, spread, workspace_script

from claude_tunnels.events.execution import WorkspaceTaskDispatched, WorkspaceTaskSucceeded
from claude_tunnels.remote_agent.credentials import read_seed
from claude_tunnels.remote_agent.protocol import PRESENCE_BUCKET, kv_key
from claude_tunnels.tunnels.bus import ConnectOptions, connect
from claude_tunnels.tunnels.bus.embedded_login import SEED_FILE

LEAF = "leaf/work"
TEXT = "chain go: run the bench task"


def orch(level: int) -> str:
    return f"lvl{level}/orch"


def scripts(depth: int) -> list[dict[str, object]]:
    """The top's planner, each child's (matched by its task's text), and the leaf agent."""
    first = orch(1) if depth else LEAF
    found: list[dict[str, object]] = [planner_script("top", [(first, [])], match="chain go"), workspace_script(LEAF)]
    for level in range(1, depth + 1):
        below = orch(level + 1) if level < depth else LEAF
        found.append(planner_script(f"l{level}", [(below, [])], match=f"Bench task for {orch(level)}."))
    return found


class Child:
    """One child orchestrator process, its events on its own embedded nats-server."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""
        self._drain: asyncio.Task[None] | None = None

    async def start(self, level: int, parent_url: str, parent_seed: Path, model_env: dict[str, str], leaf: bool) -> None:
        self.root.mkdir(parents=True)
        if leaf:
            (self.root / "leaf" / "work").mkdir(parents=True)
            (self.root / "leaf" / "CLAUDE.md").write_text("# leaf\nThe leaf project.\n", encoding="utf-8")
            (self.root / "leaf" / "work" / "CLAUDE.md").write_text("# work\nAnswers at once.\n", encoding="utf-8")
        document = {
            "claude": {"isolate_home": True, "env": model_env}, "limits": {"progress_interval_s": 0.1, "task_timeout_s": 120},
            "channels": {"terminal": {"enabled": False}}, "parent": {"description": f"Bench level {level}.", "heartbeat_s": 0.5},
        }
        (self.root / "orchestrator.yaml").write_text(json.dumps(document), encoding="utf-8")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(self.root), "serve",
            "--parent", parent_url, "--parent-name", orch(level), "--parent-seed", str(parent_seed),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stderr is not None
        while line := (await asyncio.wait_for(self.process.stderr.readline(), 120)).decode():
            if "events on " in line:  # `tunnels: serving … ; events on nats://…`
                self.url = line.rsplit("events on ", 1)[1].strip()
                break
        if not self.url:
            raise RuntimeError(f"the level-{level} child did not start")
        self._drain = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while await self.process.stderr.readline():
            pass

    @property
    def seed(self) -> Path:
        return self.root / ".tunnels" / "nats" / SEED_FILE

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 60)
        if self._drain is not None:
            self._drain.cancel()


async def announced(url: str, seed: Path, name: str) -> None:
    """Wait until `name` has written its presence on the server at `url` (its parent will see it next)."""
    nc = await connect(ConnectOptions(url=url, nkey_seed=read_seed(seed).reveal(), name="bench"))
    try:
        kv = await nc.jetstream().key_value(PRESENCE_BUCKET)
        watcher = await kv.watch(kv_key(name))
        while True:
            entry = await asyncio.wait_for(watcher.updates(timeout=None), 60)
            if entry is not None and entry.value:
                return
    finally:
        await nc.close()


async def one_depth(depth: int, rounds: int) -> list[float]:
    spans: list[float] = []
    with tempfile.TemporaryDirectory(prefix=f"bench-nesting-{depth}-") as tmp:
        projects = {} if depth else {"leaf": ["work"]}
        (Path(tmp) / "tree").mkdir()  # with depth, the top's only project is its child's (remote)
        async with running(Path(tmp), projects, scripts(depth), {"task_timeout_s": 300}) as bench:
            top = bench.orchestrator
            assert top.backbone is not None
            parent_url, parent_seed = top.backbone.url, top.loaded.state_dir / "nats" / SEED_FILE
            children = [Child(Path(tmp) / f"lvl{level}") for level in range(1, depth + 1)]
            try:
                for level, child in enumerate(children, start=1):
                    await child.start(level, parent_url, parent_seed, bench.model.env(), leaf=level == depth)
                    await announced(parent_url, parent_seed, orch(level))
                    parent_url, parent_seed = child.url, child.seed
                if depth:
                    await top.remote.wait_live(orch(1), timeout=60)
                for round_ in range(rounds + 1):
                    final, _ = await bench.approved_request(TEXT, timeout=300)
                    if type(final).__name__ != "RequestCompleted" or getattr(final, "failed", 1):
                        raise RuntimeError(f"depth {depth}: the request did not succeed: {final}")
                    seen = bench.of_request(final.request_id or "")
                    sent = next(s.perf for s in seen if isinstance(s.event, WorkspaceTaskDispatched))
                    done = next(s.perf for s in seen if isinstance(s.event, WorkspaceTaskSucceeded))
                    if round_:  # the first is a warm-up
                        spans.append(done - sent)
            finally:
                for child in reversed(children):
                    await child.stop()
    return spans


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--depths", default="0,1,2,3")
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    results = {depth: await one_depth(depth, args.rounds) for depth in depths}
    print(f"nesting latency: {args.rounds} rounds per depth (after a warm-up) on {machine()}")
    previous: float | None = None
    for depth in depths:
        median = med(results[depth])
        added = f"; +{median - previous:.2f} s over depth {depth - 1}" if previous is not None else ""
        print(f"  depth {depth}: top task dispatched -> succeeded {spread(results[depth], digits=2)} s{added}")
        previous = median
    if 0 in results and len(depths) > 1:
        base = med(results[0])
        per = [(med(results[d]) - base) / d for d in depths if d]
        print("  added per level (vs depth 0, divided by the depth): " + ", ".join(f"{p:.2f} s" for p in per))


if __name__ == "__main__":
    asyncio.run(main())
