"""The orchestrator's git housekeeping: what a crash left is cleaned up at start, and what goes
stale is removed while it runs (`tunnels.git.retention` decides what is stale).

At start no task runs here yet, so every worktree (and agent git directory) in
`<state_dir>/worktrees` was left by the previous run and goes; branches past
`git.keep_failed_days` are deleted. Then the same sweep runs every `INTERVAL_S` (on the injected
`Timers`, so a test moves it by hand), sparing the worktrees of the tasks running right now. A
sweep that fails is logged and tried again at the next one: it never stops the orchestrator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType

from claude_tunnels.actors.background import Background
from claude_tunnels.actors.ports import Cancellable, Timers, TreeSource
from claude_tunnels.actors.tree import TreeError
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.ids import Clock
from claude_tunnels.projections import RequestsView
from claude_tunnels.tunnels.git.inventory import our_repositories
from claude_tunnels.tunnels.git.prune import Item, prune, summary, survey
from claude_tunnels.tunnels.git.retention import Policy

log = logging.getLogger(__name__)

INTERVAL_S = 3600.0
"""How often stale worktrees and branches are looked for while the orchestrator runs."""


class Housekeeping:
    """`async with Housekeeping(...)`: the start's cleanup on entering, then a sweep every
    `INTERVAL_S` until the block ends. `running()` names the tasks this process runs now."""

    def __init__(
        self, loaded: LoadedSettings, requests: RequestsView, trees: TreeSource, timers: Timers, clock: Clock,
        background: Background, running: Callable[[], set[str]],
    ) -> None:
        self.loaded = loaded
        self.requests = requests
        self.trees = trees
        self.timers = timers
        self.clock = clock
        self.background = background
        self.running = running
        self.sweeps = 0
        """Sweeps done (the start's included)."""
        self._timer: Cancellable | None = None
        self._busy = False
        self._stopped = False

    async def __aenter__(self) -> Housekeeping:
        await self.sweep(at_start=True)
        self._arm()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()

    async def sweep(self, *, at_start: bool = False) -> list[Item]:
        """Remove what is stale now (at start: every worktree); what was removed."""
        settings = self.loaded.settings.git
        folder = self.loaded.state_dir / "worktrees"
        try:
            try:
                workspaces = [w.path for w in self.trees.tree().workspaces() if w.path is not None]
            except TreeError:
                workspaces = []
            # Every request, the finished ones out of memory included (read from the file, off the loop).
            every = await asyncio.to_thread(lambda: dict(self.requests.every()))
            repos = await our_repositories(self.loaded.root, workspaces, list(every.values()))
            policy = Policy(
                now=self.clock.now(), keep_failed_days=settings.keep_failed_days, prefix=settings.branch_prefix,
                folder=folder, nothing_runs=at_start, running=frozenset(self.running()),
            )
            found = await survey(repos, every, policy)
            removed = await prune(found, folder)
        except Exception:  # never stops the orchestrator: said, and tried again at the next sweep
            log.warning("git housekeeping failed; it runs again in %g s", INTERVAL_S, exc_info=True)
            return []
        finally:
            self.sweeps += 1
        for item in removed:
            log.info("git housekeeping: removed %s %s (%s)", "branch" if item.kind == "branch" else "worktree entry", item.name, item.verdict.why)
        for item in found.stale():
            if item.error:
                log.warning("git housekeeping: could not remove %s: %s", item.name, item.error)
        if removed:
            log.warning("git housekeeping%s: %s", " at start" if at_start else "", summary(removed))
        return removed

    def _arm(self) -> None:
        if not self._stopped:
            self._timer = self.timers.call_after(INTERVAL_S, self._due)

    def _due(self) -> None:
        # On the loop. One sweep at a time; the next is armed when this one ends.
        if self._stopped or self.background.closed or self._busy:
            return
        self._busy = True
        self.background.start(self._periodic(), name="git housekeeping")

    async def _periodic(self) -> None:
        try:
            await self.sweep()
        finally:
            self._busy = False
            self._arm()
