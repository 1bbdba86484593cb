"""Discovering the projects and workspaces under a root folder.

The rules:

- A *project* is a folder directly under the root that holds a ``CLAUDE.md`` file.
- Its *workspaces* are the folders inside it, at any depth up to ``max_depth``, that hold a
  ``CLAUDE.md`` or a ``.claude/`` folder. A workspace is a leaf: nothing inside it is looked at.
  Its name is its path inside the project (``apps/web``), its qualified name ``project/apps/web``.
- A project without workspaces is its own single workspace, qualified name ``project``.
- Never looked at: hidden folders (``.git``, ``.claude``, ``.tasks``, ``.venv``, ...),
  ``node_modules``, ``__pycache__``, virtualenvs (any folder with a ``pyvenv.cfg``), the
  ``exclude`` folders (the state and archive folders), folders with unsafe names: control
  characters, and lookalikes (not in NFC form, or mixing scripts, as ``wеb-app`` with a Cyrillic
  ``е`` does). Unsafe names are listed in ``Tree.skipped`` with the reason.
- A symlink is followed only when its target stays inside the root, outside every folder above
  and outside other projects, and has not been reached before (so no loops and no folder
  twice). Real folders are walked before any symlink, so a folder is found under its real name
  when it has one.
- A ``CLAUDE.md`` that is a symlink is read only when its target obeys the same rules.
- The dependency graph: each workspace's manifests (``tunnels.manifests``) and the
  ``depends_on:`` of its ``CLAUDE.md`` front matter; what cannot be read is a warning in
  ``Tree.warnings`` naming the file, never a failure.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import msgspec

from claude_tunnels.actors.tree.claude_md import CLAUDE_MD, CLAUDE_MD_BYTES, bounded_text
from claude_tunnels.actors.tree.errors import TreeError
from claude_tunnels.actors.tree.front_matter import FrontMatterError, declared_depends_on
from claude_tunnels.actors.tree.model import Project, Skipped, Tree, Workspace
from claude_tunnels.actors.tree.names import component_problem
from claude_tunnels.tunnels.manifests import manifest_graph

DEFAULT_MAX_DEPTH = 6
DEFAULT_MAX_DIRS = 10_000
_IGNORED_NAMES = frozenset({"node_modules", "__pycache__"})
_MAX_SKIPPED = 200


def discover(
    root: Path,
    *,
    exclude: Iterable[Path] = (),
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_dirs: int = DEFAULT_MAX_DIRS,
    manifests: bool = True,
    looked_at: list[Path] | None = None,
) -> Tree:
    """Walk ``root`` and return its projects and workspaces (see the module's rules).

    ``exclude`` folders (relative ones are taken from ``root``) are never entered. At most
    ``max_dirs`` folders are read; when the bound is hit the walk stops and ``Tree.skipped`` says
    so. With ``manifests`` (the default) the workspaces' manifests are read into ``Tree.edges``.
    ``looked_at``, when given, receives every folder and file the result depends on (the folders
    listed or checked for a ``CLAUDE.md``, the ``CLAUDE.md`` files and manifests read): while
    none of them changes, neither does the tree (``tunnels.tree_watch``).
    Raises ``TreeError`` when ``root`` is not a readable folder.
    """
    try:
        real_root = Path(os.path.realpath(root, strict=True))
    except OSError as err:
        raise TreeError(f"the root {root} cannot be used ({err.strerror})") from None
    if not real_root.is_dir():
        raise TreeError(f"the root {root} is not a folder")
    excluded = frozenset(Path(os.path.realpath(real_root / path)) for path in exclude)
    walker = _Walker(real_root, excluded, max_depth, max_dirs)
    tree = walker.run()
    if looked_at is not None:
        looked_at += walker.looked_at
    if not manifests:
        return tree
    graph = manifest_graph(real_root, tree.workspaces(), read=looked_at)
    return msgspec.structs.replace(tree, edges=graph.edges, warnings=(*tree.warnings, *graph.warnings))


class _Walker:
    def __init__(self, root: Path, excluded: frozenset[Path], max_depth: int, max_dirs: int):
        self.root = root
        self.excluded = excluded
        self.max_depth = max_depth
        self.max_dirs = max_dirs
        self.seen: set[Path] = {root}  # real folders walked or claimed as workspaces
        self.claimed: set[Path] = set()  # real workspace folders (nothing inside them counts)
        self.deferred: deque[tuple[str, str, int, Path]] = deque()  # project, name, depth, link
        self.projects: dict[str, tuple[Path, str]] = {}
        self.owners: dict[Path, str] = {}  # real project folder -> project name
        self.workspaces: dict[str, list[Workspace]] = {}
        self.skipped: list[Skipped] = []
        self.warnings: list[str] = []
        self.scanned = 0
        self.stopped = False
        self.looked_at: list[Path] = []  # what the tree depends on: folders listed or checked, files read

    def run(self) -> Tree:
        for name, path, is_link in self._children(self.root, ""):
            if is_link:
                self.deferred.append(("", name, 0, path))
            else:
                self._project(name, path)
        while self.deferred:  # symlinks only after every real folder has been seen
            project, name, depth, link = self.deferred.popleft()
            target = self._follow(project, f"{project}/{name}".lstrip("/"), link)
            if target is None:
                continue
            if project:
                self._visit(project, name, target, depth)
            else:
                self._project(name, target)
        return self._tree()

    def _project(self, name: str, path: Path) -> None:
        claude_md = self._claude_md(path, name)
        if claude_md is None or path in self.seen:
            return
        self.projects[name] = (path, claude_md)
        self.owners[path] = name
        self.workspaces[name] = []
        self._walk(name, "", path, 0)

    def _visit(self, project: str, name: str, path: Path, depth: int) -> None:
        if path in self.seen:
            return
        claude_md = self._claude_md(path, f"{project}/{name}")
        if claude_md is not None or (path / ".claude").is_dir():
            self.seen.add(path)
            self.claimed.add(path)
            qualified = f"{project}/{name}"
            self.workspaces[project].append(
                Workspace(
                    project=project,
                    name=name,
                    qualified=qualified,
                    path=path,
                    claude_md=claude_md or "",
                    depends_on=self._depends_on(claude_md or "", qualified),
                )
            )
        elif depth < self.max_depth:
            self._walk(project, name, path, depth)

    def _walk(self, project: str, name: str, path: Path, depth: int) -> None:
        self.seen.add(path)
        for child, child_path, is_link in self._children(path, f"{project}/{name}"):
            child_name = f"{name}/{child}" if name else child
            if is_link:
                self.deferred.append((project, child_name, depth + 1, child_path))
            else:
                self._visit(project, child_name, child_path, depth + 1)

    def _children(self, folder: Path, shown: str) -> list[tuple[str, Path, bool]]:
        """The sub-folders worth a look, sorted: (name, path, is a symlink)."""
        if self.scanned >= self.max_dirs:
            if not self.stopped:
                self.stopped = True
                self._skip(shown, f"not read: the walk stopped after {self.max_dirs} folders")
            return []
        self.scanned += 1
        self.looked_at.append(folder)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as err:
            self._skip(shown, f"cannot be read ({err.strerror})")
            return []
        found = []
        for entry in entries:
            if entry.name.startswith(".") or entry.name in _IGNORED_NAMES:
                continue
            is_link = entry.is_symlink()
            if not is_link and not entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            if problem := component_problem(entry.name):
                self._skip(f"{shown.rstrip('/')}/{entry.name!r}".lstrip("/"), f"unsafe folder name: {problem}")
            elif is_link or not self._ignored(path):  # a link's target is judged when followed
                found.append((entry.name, path, is_link))
            elif path not in self.excluded:
                self.looked_at.append(path)  # a virtualenv: its `pyvenv.cfg` going makes it a folder to walk
        return found

    def _follow(self, project: str, shown: str, link: Path) -> Path | None:
        """The real folder behind ``link`` (met in ``project``, or ``""`` for the root) when it
        may be followed, else ``None``."""
        try:
            real = Path(os.path.realpath(link, strict=True))
        except OSError as err:
            reason = "symlink loop" if err.errno == errno.ELOOP else "broken symlink"
            self._skip(shown, reason)
            return None
        if not real.is_dir():
            return None  # a link to a file is no folder to discover
        if not self._inside(real):
            self._skip(shown, "symlink leaves the root")
        elif self._forbidden(real):
            self._skip(shown, "symlink into a hidden, ignored or excluded folder")
        elif real in self.seen or any(parent in self.claimed for parent in real.parents):
            self._skip(shown, "symlink to a folder already discovered (a loop or an alias)")
        elif any(self.owners.get(part, project) != project for part in [real, *real.parents]):
            self._skip(shown, "symlink into another project")
        else:
            return real
        return None

    def _claude_md(self, folder: Path, shown: str) -> str | None:
        """The first ``CLAUDE_MD_BYTES`` of ``folder/CLAUDE.md``, or ``None`` when unusable."""
        path = folder / CLAUDE_MD
        self.looked_at.append(folder)  # a CLAUDE.md (or a `.claude/`) coming or going changes it
        try:
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                path = Path(os.path.realpath(path, strict=True))
                if not self._inside(path) or self._forbidden(path):
                    self._skip(f"{shown}/{CLAUDE_MD}", "CLAUDE.md links outside the projects")
                    return None
                mode = os.stat(path).st_mode
            if not stat.S_ISREG(mode):
                return None
            self.looked_at.append(path)
            with open(path, "rb") as handle:
                data = handle.read(CLAUDE_MD_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as err:
            self._skip(f"{shown}/{CLAUDE_MD}", f"cannot be read ({err.strerror})")
            return None
        return bounded_text(data)

    def _inside(self, real: Path) -> bool:
        return real == self.root or self.root in real.parents

    def _ignored(self, path: Path) -> bool:
        return path in self.excluded or (path / "pyvenv.cfg").exists()

    def _forbidden(self, real: Path) -> bool:
        """Whether a path inside the root lies in (or is) a folder discovery never enters."""
        folder = real if real.is_dir() else real.parent
        for part in [folder, *folder.parents]:
            if part == self.root:
                return False
            if part.name.startswith(".") or part.name in _IGNORED_NAMES or self._ignored(part):
                return True
            if component_problem(part.name):
                return True
        return False

    def _skip(self, path: str, reason: str) -> None:
        if len(self.skipped) < _MAX_SKIPPED:
            self.skipped.append(Skipped(path=path, reason=reason))

    def _tree(self) -> Tree:
        projects = []
        for name in sorted(self.projects):
            path, claude_md = self.projects[name]
            found = sorted(self.workspaces[name], key=lambda workspace: workspace.name)
            if not found:
                found = [
                    Workspace(
                        project=name, name=name, qualified=name, path=path, claude_md=claude_md,
                        depends_on=self._depends_on(claude_md, name),
                    )
                ]
            projects.append(
                Project(name=name, path=path, claude_md=claude_md, workspaces=tuple(found))
            )
        return Tree(root=self.root, projects=tuple(projects), skipped=tuple(self.skipped), warnings=tuple(self.warnings))

    def _depends_on(self, claude_md: str, qualified: str) -> tuple[str, ...]:
        """The ``depends_on:`` of a workspace's ``CLAUDE.md``; a bad front matter is a warning."""
        if not claude_md.lstrip("\ufeff").startswith("---"):
            return ()  # the common case: no front matter, nothing to parse
        try:
            return declared_depends_on(claude_md)
        except FrontMatterError as err:
            self.warnings.append(f"{qualified}/{CLAUDE_MD}: {err}; its depends_on is ignored")
            return ()
