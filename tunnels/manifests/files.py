"""Finding and reading the manifests of one workspace folder: bounded, regular files only, and
never through a link that leaves the tree."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from claude_tunnels.tunnels.manifests.cargo import parse_cargo_toml
from claude_tunnels.tunnels.manifests.go import parse_go_mod
from claude_tunnels.tunnels.manifests.model import Declared, ManifestError
from claude_tunnels.tunnels.manifests.node import parse_package_json
from claude_tunnels.tunnels.manifests.python import parse_pyproject, parse_requirements

MANIFEST_BYTES = 512 * 1024
"""A manifest larger than this is skipped with a warning (real ones are a few kB)."""

Parser = Callable[[str], Declared]
_PARSERS: dict[str, Parser] = {
    "pyproject.toml": parse_pyproject,
    "package.json": parse_package_json,
    "go.mod": parse_go_mod,
    "Cargo.toml": parse_cargo_toml,
}
_REQUIREMENTS = re.compile(r"^requirements[\w.-]*\.txt$")


def manifests_in(folder: Path) -> list[tuple[str, Parser]]:
    """The manifest files directly in `folder` (sorted by name) and the parser of each."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        return []
    found: list[tuple[str, Parser]] = []
    for name in names:
        if name in _PARSERS:
            found.append((name, _PARSERS[name]))
        elif _REQUIREMENTS.match(name):
            found.append((name, parse_requirements))
    return found


def read_manifest(path: Path, root: Path) -> str | None:
    """The text of the manifest at `path`; None when it is not a regular file or links out of
    `root` (nothing to read). ManifestError when it is too large, unreadable or not UTF-8."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            real = Path(os.path.realpath(path))
            if root not in real.parents:
                return None
            path = real
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            return None
        raise ManifestError(f"cannot be read ({err.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = handle.read(MANIFEST_BYTES + 1)
    if len(data) > MANIFEST_BYTES:
        raise ManifestError(f"larger than {MANIFEST_BYTES // 1024} kB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError("not UTF-8 text") from None
