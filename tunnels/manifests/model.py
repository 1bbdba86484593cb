"""What one manifest declares: the package names a workspace provides and the references it makes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Ecosystem = Literal["python", "node", "go", "cargo"]


class ManifestError(ValueError):
    """A manifest that cannot be read (not valid TOML/JSON, the wrong shape); discovery skips it
    with a warning naming the file."""


@dataclass(frozen=True)
class Ref:
    """One reference to other code: by `path` (relative to the manifest's folder), by package
    `name`, or by a `glob` of folders (workspace members). A path is tried first; the name only
    when the path finds no workspace (or there is none). `why_path`/`why_name` label the edge."""

    ecosystem: Ecosystem
    why_name: str = ""
    why_path: str = ""
    name: str | None = None
    path: str | None = None
    glob: str | None = None


@dataclass
class Declared:
    """What a workspace's manifests declare: names it is known by, and its references."""

    names: list[tuple[Ecosystem, str]] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)

    def add(self, other: Declared) -> None:
        """Take in what another manifest of the same workspace declares."""
        self.names += other.names
        self.refs += other.refs


def local_path(spec: str) -> str | None:
    """The path of a `file:`/`link:` specifier or a bare `./x`, `../x`, `/x` one; None when
    `spec` is not a local path (a version, a URL)."""
    spec = spec.strip()
    for prefix in ("file://", "file:", "link:"):
        if spec.startswith(prefix):
            spec = spec[len(prefix) :]
            break
    else:
        if not spec.startswith(("./", "../", "/")) and spec not in (".", ".."):
            return None
    return spec or None
