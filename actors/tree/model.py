"""The discovered tree of projects and workspaces (frozen values)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

import msgspec

from claude_tunnels.actors.tree.describe import describe, shorten
from claude_tunnels.actors.tree.errors import DuplicateWorkspace, TreeError, UnknownProject, UnknownWorkspace, UnsafeName
from claude_tunnels.actors.tree.graph import Edge, Graph, merged
from claude_tunnels.actors.tree.names import validate_name


class Workspace(msgspec.Struct, frozen=True, kw_only=True):
    """One place an agent runs: cwd = ``path``, with its own ``CLAUDE.md`` / ``.claude/``.

    ``name`` is the path inside the project with ``/`` (``apps/web``) and ``qualified`` is
    ``project/name``. A project without workspaces is its own single workspace: then ``name``
    and ``qualified`` are both the project's name and ``path`` is the project folder. A remote
    workspace (served by an agent on another host) has ``path=None`` and ``remote=True``.
    ``depends_on`` is what its ``CLAUDE.md`` front matter declares it uses (see ``Tree.graph``).
    """

    project: str
    name: str
    qualified: str
    path: Path | None
    claude_md: str = ""
    remote: bool = False
    depends_on: tuple[str, ...] = ()

    @property
    def is_project_root(self) -> bool:
        """Whether this is a project standing as its own single workspace."""
        return self.qualified == self.project

    @property
    def description(self) -> str:
        """The first paragraph of prose of its ``CLAUDE.md`` (as announced, for a remote one),
        bounded; "" when it has none."""
        return describe(self.claude_md)


class Project(msgspec.Struct, frozen=True, kw_only=True):
    """A folder directly under the root with a ``CLAUDE.md`` (``path`` is ``None`` when the
    project is only known through remote workspaces)."""

    name: str
    path: Path | None
    claude_md: str
    workspaces: tuple[Workspace, ...]

    @property
    def description(self) -> str:
        """The first paragraph of prose of its ``CLAUDE.md``; without one (a project known only
        through remote agents, or an empty file) its workspaces' descriptions, bounded; "" when
        none has one."""
        own = describe(self.claude_md)
        if own:
            return own
        parts = [
            workspace.description if workspace.is_project_root else f"{workspace.name}: {workspace.description}"
            for workspace in self.workspaces
            if workspace.description
        ]
        return shorten("; ".join(parts))


class Skipped(msgspec.Struct, frozen=True, kw_only=True):
    """A folder discovery left out for a reason worth telling (``path`` relative to the root)."""

    path: str
    reason: str


class Tree(msgspec.Struct, frozen=True, kw_only=True):
    """The projects under ``root`` (sorted by name), and what discovery skipped and why.

    ``edges`` are the dependencies discovery read from the workspaces' manifests, and
    ``warnings`` what it could not read there (``graph()`` adds the ``depends_on:`` of each
    ``CLAUDE.md``)."""

    root: Path
    projects: tuple[Project, ...]
    skipped: tuple[Skipped, ...] = ()
    edges: tuple[Edge, ...] = ()
    warnings: tuple[str, ...] = ()

    def left_out(self) -> list[str]:
        """What discovery left out and why, one line each (``tunnels doctor`` and ``init`` show it)."""
        return [f"{skip.path}: {skip.reason}" for skip in self.skipped]

    def graph(self) -> Graph:
        """The dependency graph: the manifests' edges, plus each workspace's ``depends_on:``
        (a qualified workspace, or a project: all its workspaces), remote workspaces included.
        A name that is no workspace or project of the tree is a warning, never an error."""
        found = [(edge.source, edge.target, why) for edge in self.edges for why in edge.why]
        warnings = list(self.warnings)
        workspaces = {workspace.qualified: workspace for workspace in self.workspaces()}
        projects = {project.name: project for project in self.projects}
        for workspace in workspaces.values():
            for name in workspace.depends_on:
                targets = _declared_targets(name, workspaces, projects)
                if targets is None:
                    warnings.append(
                        f"{_claude_md_of(workspace)}: depends_on names {name!r}, which is no workspace or "
                        "project of the tree; write `project/workspace` or a project name"
                    )
                found += [(workspace.qualified, target, "CLAUDE.md depends_on") for target in targets or ()]
        return merged(found, warnings)

    def workspaces(self) -> tuple[Workspace, ...]:
        """Every workspace of every project, in project then workspace order."""
        return tuple(ws for project in self.projects for ws in project.workspaces)

    def project(self, name: str) -> Project:
        """The project called ``name``; raises ``UnknownProject`` (or ``UnsafeName``, which also
        refuses a name not in NFC form or mixing scripts: no lookalike finds a project)."""
        wanted = validate_name(name)
        for project in self.projects:
            if project.name == wanted:
                return project
        known = [project.name for project in self.projects]
        raise UnknownProject(name, known, _closest(name, known))

    def workspace(self, qualified: str) -> Workspace:
        """The workspace called ``qualified`` (``project/apps/web``, or ``project`` for a
        project that is its own workspace); raises ``UnknownWorkspace`` (or ``UnsafeName``, as
        ``project`` does)."""
        wanted = validate_name(qualified)
        for workspace in self.workspaces():
            if workspace.qualified == wanted:
                return workspace
        known = [workspace.qualified for workspace in self.workspaces()]
        raise UnknownWorkspace(qualified, known, _closest(qualified, known))

    def with_remote(self, workspaces: Iterable[Workspace]) -> Tree:
        """A new tree that also holds ``workspaces`` (remote ones, ``path=None``).

        A remote workspace joins its project, or a new path-less project of that name. Raises
        ``DuplicateWorkspace`` when a qualified name is taken and ``UnsafeName`` for a bad name.
        """
        taken = {ws.qualified for ws in self.workspaces()}
        by_project = {project.name: project for project in self.projects}
        for workspace in workspaces:
            validate_name(workspace.project)
            validate_name(workspace.qualified)
            if workspace.qualified != f"{workspace.project}/{workspace.name}":
                raise TreeError(
                    f"workspace {workspace.qualified!r} is not `project/name` of its project "
                    f"{workspace.project!r} and name {workspace.name!r}; build it with "
                    "remote_workspace()"
                )
            if workspace.qualified in taken:
                raise DuplicateWorkspace(workspace.qualified)
            taken.add(workspace.qualified)
            project = by_project.get(workspace.project) or Project(
                name=workspace.project, path=None, claude_md="", workspaces=()
            )
            by_project[project.name] = msgspec.structs.replace(
                project,
                workspaces=tuple(sorted((*project.workspaces, workspace), key=_by_name)),
            )
        projects = tuple(sorted(by_project.values(), key=lambda project: project.name))
        return msgspec.structs.replace(self, projects=projects)


def remote_workspace(project: str, name: str, *, claude_md: str = "", depends_on: tuple[str, ...] = ()) -> Workspace:
    """A workspace served by a remote agent (no local path), for ``Tree.with_remote``;
    ``depends_on`` is what its announced ``CLAUDE.md`` declares.

    Its names pass the same checks as discovered folders (``validate_name``): ``UnsafeName``
    for a lookalike (not NFC, mixed scripts), a hidden or a traversing name."""
    validate_name(project)
    validate_name(name)
    return Workspace(
        project=project,
        name=name,
        qualified=f"{project}/{name}",
        path=None,
        claude_md=claude_md,
        remote=True,
        depends_on=depends_on,
    )


def _declared_targets(name: str, workspaces: dict[str, Workspace], projects: dict[str, Project]) -> list[str] | None:
    """The workspaces a ``depends_on:`` name stands for, or None when it names nothing here."""
    try:
        validate_name(name)
    except UnsafeName:
        return None
    if name in workspaces:
        return [name]
    if name in projects:
        return [workspace.qualified for workspace in projects[name].workspaces]
    return None


def _claude_md_of(workspace: Workspace) -> str:
    return f"the CLAUDE.md announced by {workspace.qualified}" if workspace.remote else f"{workspace.qualified}/CLAUDE.md"


def _by_name(workspace: Workspace) -> str:
    return workspace.name


def _closest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None
