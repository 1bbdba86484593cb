"""The project tree as the flow sees it (`actors.ports.TreeSource`): the folders on disk, plus
the workspaces live remote agents serve.

The folders are walked once and kept, with the stamps of everything the walk looked at
(`tunnels.tree_watch`). `fresh()` checks those stamps (one `stat` each) and walks again only
when one changed; the router calls it once per request, on its own thread, so a new workspace
folder or an edited `CLAUDE.md` is seen by the next request. Everything else in the request
(planning, each task's folder, whether tasks take turns) reads the kept tree with `tree()`, which
never touches the disk once a walk was made. The first walk is made at start-up, in a worker
thread (`current()`): nothing walks the folders on the event loop.

The remote workspaces are merged into the kept tree when the set of live ones (or what they
announce) changes, not at every read.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from claude_tunnels.actors.tree import Tree, TreeError, remote_workspace
from claude_tunnels.actors.tree.front_matter import FrontMatterError, declared_depends_on
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.runtime.remote import RemoteWorkspaces
from claude_tunnels.tunnels.tree_watch import Fingerprint, now_ns

log = logging.getLogger(__name__)

_Announced = tuple[tuple[str, str], ...]
"""The live remote workspaces the merged tree holds: (qualified name, CLAUDE.md) each."""


class DiskTree:
    """Discovers the tree under the root (never the state, archive or task-log folders), once,
    and again only when the folders changed."""

    def __init__(self, loaded: LoadedSettings, remote: RemoteWorkspaces | None = None) -> None:
        self.loaded = loaded
        self.remote = remote
        self.walks = 0
        """How many times the folders were walked (the tests and the bench read it)."""
        self._told: set[str] = set()  # what was left out of the tree, warned about once each
        self._walking = threading.Lock()  # one walk at a time; who waits gets its result
        self._disk: tuple[Tree, Fingerprint] | None = None
        self._stale = False
        self._merged: tuple[Tree, _Announced, Tree] | None = None  # (disk tree, remote ones, merged)

    def tree(self) -> Tree:
        """The kept tree, plus the workspaces remote agents announce (walks only when no walk
        was made yet; `fresh()` checks the folders)."""
        kept = self._disk
        disk = kept[0] if kept is not None else self._refresh()
        return self._with_remote(disk)

    def fresh(self) -> Tree:
        """The tree as the folders are now: the kept one when nothing it was read from changed,
        else walked again. It blocks for the checks (and the walk): call it off the event loop."""
        return self._with_remote(self._refresh())

    async def current(self) -> Tree:
        """`fresh()` in a worker thread."""
        return await asyncio.to_thread(self.fresh)

    def invalidate(self) -> None:
        """Distrust the kept tree's stamps: the next `fresh()` walks again whatever they say
        (`tree()` still answers with the kept tree meanwhile)."""
        self._stale = True

    def remote_workspaces(self) -> set[str]:
        """Qualified names of workspaces served by remote agents right now."""
        return set(self.remote.live()) if self.remote else set()

    def offline(self, qualified: str) -> str | None:
        """Why a workspace a remote agent served earlier in this run is missing now (its agent
        is offline, and since when); None otherwise."""
        return self.remote.offline(qualified) if self.remote else None

    def _refresh(self) -> Tree:
        with self._walking:
            kept = self._disk
            if kept is not None and not self._stale and not kept[1].changed():
                return kept[0]
            loaded = self.loaded
            looked_at: list[Path] = []
            self._stale = False  # an invalidate() from now on is about this walk or later
            started = now_ns()
            tree = discover(
                loaded.root, exclude=[loaded.state_dir, loaded.archive_dir, loaded.task_log_dir], looked_at=looked_at,
            )
            self.walks += 1
            self._disk = (tree, Fingerprint.taken(looked_at, started))
        for line in tree.left_out():
            self._warn_once(f"left out of the project tree: {line}")
        for line in tree.warnings:
            self._warn_once(f"dependency graph: {line}")
        return tree

    def _with_remote(self, tree: Tree) -> Tree:
        if self.remote is None:
            return tree
        announced = tuple(sorted((name, presence.claude_md) for name, presence in self.remote.live().items()))
        merged = self._merged
        if merged is not None and merged[0] is tree and merged[1] == announced:
            return merged[2]
        result = self._merge(tree, announced)
        self._merged = (tree, announced, result)
        return result

    def _merge(self, tree: Tree, announced: _Announced) -> Tree:
        local = {workspace.qualified for workspace in tree.workspaces()}
        remote = []
        for name, claude_md in announced:
            project, _, rest = name.partition("/")
            if name not in local and rest:
                try:
                    depends_on = declared_depends_on(claude_md)
                except FrontMatterError as err:
                    self._warn_once(f"dependency graph: the CLAUDE.md announced by {name}: {err}; its depends_on is ignored")
                    depends_on = ()
                try:
                    remote.append(remote_workspace(project, rest, claude_md=claude_md, depends_on=depends_on))
                except TreeError as err:
                    self._warn_once(f"ignoring the remote workspace {name!r}: {err}")
        return tree.with_remote(remote) if remote else tree

    def _warn_once(self, text: str) -> None:
        # The tree is read for every request and task: say each problem once per process, not each time.
        if text not in self._told:
            self._told.add(text)
            log.warning("%s", text)
