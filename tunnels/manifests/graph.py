"""The dependency graph from the manifests of the discovered workspaces.

Each reference of a workspace's manifests is matched to a workspace: by path first (resolved,
and only inside the tree's root: a `../../..` that leaves it finds nothing), then by the package
name another workspace's manifest declares in the same ecosystem, and member globs against the
workspaces' folders. A name two workspaces declare is ambiguous: a warning, no edge. A manifest
that cannot be read is skipped with a warning naming the file; discovery never fails on one.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from claude_tunnels.actors.tree import Graph, Workspace
from claude_tunnels.actors.tree.graph import merged
from claude_tunnels.tunnels.manifests.files import manifests_in, read_manifest
from claude_tunnels.tunnels.manifests.model import Declared, Ecosystem, ManifestError, Ref

log = logging.getLogger(__name__)

_MAX_GLOB_CHARS = 200
_MAX_GLOB_STARS = 8  # each `**` is a `.*`: many of them backtrack without end on a long path


def manifest_graph(root: Path, workspaces: Sequence[Workspace], *, read: list[Path] | None = None) -> Graph:
    """The edges the manifests of the local `workspaces` (under the real folder `root`, their
    paths real too, as discovery gives them) give, and the warnings about manifests that were
    skipped or names that matched twice. `read`, when given, receives the manifest files found."""
    warnings: list[str] = []
    declared: dict[str, Declared] = {}
    for workspace in workspaces:
        if workspace.path is not None:
            declared[workspace.qualified] = _read(root, workspace, warnings, read)
    return _Matcher(root, workspaces, declared, warnings).graph()


def _read(root: Path, workspace: Workspace, warnings: list[str], read: list[Path] | None) -> Declared:
    assert workspace.path is not None
    found = Declared()
    for name, parse in manifests_in(workspace.path):
        shown = f"{workspace.qualified}/{name}"
        if read is not None:
            read.append(workspace.path / name)
        try:
            text = read_manifest(workspace.path / name, root)
            if text is not None:
                found.add(parse(text))
        except ManifestError as err:
            warnings.append(f"{shown}: {err}; skipped")
        except Exception as err:  # a parser's bug on a hostile file must not stop discovery
            log.debug("reading %s failed", shown, exc_info=True)
            warnings.append(f"{shown}: cannot be read ({type(err).__name__}); skipped")
    return found


class _Matcher:
    def __init__(self, root: Path, workspaces: Sequence[Workspace], declared: dict[str, Declared], warnings: list[str]) -> None:
        self.root = root
        self.declared = declared
        self.warnings = warnings
        self.paths = {ws.path: ws.qualified for ws in workspaces if ws.path is not None}
        self.folders = {qualified: path for path, qualified in self.paths.items()}
        self.names: dict[tuple[Ecosystem, str], list[str]] = {}
        for qualified, found in declared.items():
            for key in dict.fromkeys(found.names):
                self.names.setdefault(key, []).append(qualified)
        self._told: set[tuple[Ecosystem, str]] = set()

    def graph(self) -> Graph:
        edges: list[tuple[str, str, str]] = []
        for qualified, found in self.declared.items():
            base = self.folders[qualified]
            for ref in found.refs:
                edges += [(qualified, target, why) for target, why in self._match(qualified, base, ref)]
        return merged(edges, self.warnings)

    def _match(self, qualified: str, base: Path, ref: Ref) -> list[tuple[str, str]]:
        if ref.glob is not None:
            return [(target, ref.why_path) for target in self._members(base, ref.glob) if target != qualified]
        if ref.path is not None and (target := self._at(base, ref.path)) is not None:
            return [(target, ref.why_path)]
        if ref.name is not None:
            owners = self.names.get((ref.ecosystem, ref.name), [])
            if len(owners) == 1:
                return [(owners[0], ref.why_name)]
            if len(owners) > 1 and (ref.ecosystem, ref.name) not in self._told:
                self._told.add((ref.ecosystem, ref.name))
                self.warnings.append(
                    f"the {ref.ecosystem} package {ref.name!r} is declared by {', '.join(sorted(owners))}; "
                    "references to it by name are left out of the graph"
                )
        return []

    def _at(self, base: Path, path: str) -> str | None:
        """The workspace holding `base/path` once resolved, when that stays inside the root."""
        try:
            if _ascends_then_descends(path):
                # `../lib`, the common case: from a real `base`, a path that only climbs and then
                # names folders is where it says when it lands exactly on a (real) workspace
                # folder; no link can hide in it. Anything else pays for a full resolution.
                lexical = Path(os.path.normpath(os.path.join(base, path)))
                if lexical in self.paths:
                    return self.paths[lexical]
            real = Path(os.path.realpath(os.path.join(base, path)))
        except (OSError, ValueError):  # a NUL byte, a name too long: no folder of ours
            return None
        if real != self.root and self.root not in real.parents:
            return None
        for candidate in (real, *real.parents):
            if candidate in self.paths:
                return self.paths[candidate]
            if candidate == self.root:
                break
        return None

    def _members(self, base: Path, glob: str) -> list[str]:
        """The workspaces whose folders the member glob (relative to `base`) matches."""
        if len(glob) > _MAX_GLOB_CHARS or glob.count("*") > _MAX_GLOB_STARS or "\x00" in glob:
            return []
        pattern = _glob_pattern(os.path.normpath(glob.rstrip("/")))
        found = []
        for path, qualified in self.paths.items():
            relative = Path(os.path.relpath(path, base)).as_posix()
            if pattern.fullmatch(relative):
                found.append(qualified)
        return sorted(found)


def _ascends_then_descends(path: str) -> bool:
    """Whether the relative `path` is some `..` and then only folder names (`../../lib/x`)."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    climbing = True
    for part in parts:
        if part == "..":
            if not climbing:
                return False
        else:
            climbing = False
    return not path.startswith("/") and "\x00" not in path


def _glob_pattern(glob: str) -> re.Pattern[str]:
    """A glob as a regular expression: `*` and `?` within one folder name, `**` across folders."""
    parts: list[str] = []
    index = 0
    while index < len(glob):
        if glob.startswith("**/", index):
            parts.append("(?:[^/]+/)*")
            index += 3
        elif glob.startswith("**", index):
            parts.append(".*")
            index += 2
        elif glob[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(glob[index]))
            index += 1
    return re.compile("".join(parts))
