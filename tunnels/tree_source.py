"""The project tree as the flow sees it (`actors.ports.TreeSource`): the folders on disk, read
again each time, plus the workspaces live remote agents serve."""

from __future__ import annotations

import logging

from claude_tunnels.actors.tree import Tree, TreeError, remote_workspace
from claude_tunnels.actors.tree.front_matter import FrontMatterError, declared_depends_on
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.runtime.remote import RemoteWorkspaces

log = logging.getLogger(__name__)


class DiskTree:
    """Discovers the tree under the root (never the state, archive or task-log folders)."""

    def __init__(self, loaded: LoadedSettings, remote: RemoteWorkspaces | None = None) -> None:
        self.loaded = loaded
        self.remote = remote
        self._told: set[str] = set()  # what was left out of the tree, warned about once each

    def tree(self) -> Tree:
        """The project tree as it is on disk now, plus the workspaces remote agents announce."""
        loaded = self.loaded
        tree = discover(loaded.root, exclude=[loaded.state_dir, loaded.archive_dir, loaded.task_log_dir])
        for line in tree.left_out():
            self._warn_once(f"left out of the project tree: {line}")
        for line in tree.warnings:
            self._warn_once(f"dependency graph: {line}")
        local = {workspace.qualified for workspace in tree.workspaces()}
        remote = []
        for name, presence in sorted(self.remote.live().items() if self.remote else []):
            project, _, rest = name.partition("/")
            if name not in local and rest:
                try:
                    depends_on = declared_depends_on(presence.claude_md)
                except FrontMatterError as err:
                    self._warn_once(f"dependency graph: the CLAUDE.md announced by {name}: {err}; its depends_on is ignored")
                    depends_on = ()
                try:
                    remote.append(remote_workspace(project, rest, claude_md=presence.claude_md, depends_on=depends_on))
                except TreeError as err:
                    self._warn_once(f"ignoring the remote workspace {name!r}: {err}")
        return tree.with_remote(remote) if remote else tree

    def remote_workspaces(self) -> set[str]:
        """Qualified names of workspaces served by remote agents right now."""
        return set(self.remote.live()) if self.remote else set()

    def offline(self, qualified: str) -> str | None:
        """Why a workspace a remote agent served earlier in this run is missing now (its agent
        is offline, and since when); None otherwise."""
        return self.remote.offline(qualified) if self.remote else None

    def _warn_once(self, text: str) -> None:
        # The tree is read for every request and task: say each problem once per process, not each time.
        if text not in self._told:
            self._told.add(text)
            log.warning("%s", text)
