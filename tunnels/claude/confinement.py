"""What an agent may read: its own folder, system paths, and never the sensitive areas.

A `ReadScope` is decided once per session. Sensitive areas (the project tree, the state and
archive folders, home folders, temporary folders, a few system secrets) are never readable,
except the path down to the agent's own folder and the `CLAUDE.md` files on that path, which
Claude Code loads as the agent's instructions.

Claude Code's sandbox hides a path from Bash with a `Read(//path/**)` deny rule. A rule on an
*ancestor* of the working directory would also stop the CLI from loading the workspace's own
`CLAUDE.md` (measured with CLI 2.1.332), so an area that contains the working directory is not
denied whole: its entries beside that path are denied one by one (`sandbox_denials`).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_READ_PREFIXES: tuple[str, ...] = (
    "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/opt", "/etc", "/nix", "/snap", "/dev/null",
)  # fmt: skip
"""Where read tools may look outside the workspace: what running tools needs, nothing personal."""

SYSTEM_SECRETS: tuple[str, ...] = (
    "/root", "/home", "/tmp", "/var/tmp", "/run/secrets", "/var/run/secrets", "/etc/shadow", "/etc/gshadow",
    "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh", "/etc/ssl/private",
)  # fmt: skip
"""Areas hidden from every agent wherever it runs: homes (`~/.ssh`, `~/.aws`, `~/.config`,
`.netrc`…), temporary folders of other processes, Kubernetes and Docker secrets, system keys."""

PROCESS_SECRETS: tuple[str, ...] = ("/proc/*/environ", "/proc/*/mem", "/proc/*/cmdline", "/proc/*/auxv")
"""What a process exposes about itself or others; never readable (patterns)."""

INSTRUCTION_FILES: frozenset[str] = frozenset({"CLAUDE.md"})
"""Files on the path down to the workspace that stay readable (Claude Code loads them)."""


def home_areas(env: dict[str, str] | os._Environ[str] | None = None) -> tuple[Path, ...]:
    """The real home folder of this process (from `HOME`), which holds personal secrets."""
    home = (env if env is not None else os.environ).get("HOME")
    return (Path(home),) if home else ()


@dataclass(frozen=True)
class ReadScope:
    """What an agent whose folder is `base` may read.

    `sensitive` areas are never readable except the path down to `base` (and the instruction
    files on it). Read tools (Read, Grep, Glob) may read inside `base` and under the system
    prefixes; Bash is judged only against the sensitive areas (the sandbox does the rest).
    """

    base: Path
    sensitive: tuple[Path, ...] = ()
    scratch: tuple[Path, ...] = ()
    """Folders of the session's own that stay readable wherever they are (its temporary folder)."""
    system: tuple[str, ...] = SYSTEM_READ_PREFIXES
    _real_base: Path = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_real_base", _real(self.base))
        areas = {_real(area) for area in (*self.sensitive, *map(Path, SYSTEM_SECRETS))}
        object.__setattr__(self, "sensitive", tuple(sorted(areas)))
        object.__setattr__(self, "scratch", tuple(_real(path) for path in self.scratch))

    @property
    def real_base(self) -> Path:
        """`base` with every symlink resolved."""
        return self._real_base

    def resolve(self, path: str) -> Path:
        """`path` as the agent means it: relative paths from `base`, `~` expanded, links resolved."""
        expanded = os.path.expanduser(path) if path.startswith("~") else path
        return _real(self._real_base / expanded)

    def tool_problem(self, path: str) -> str | None:
        """Why a read tool may not read `path`, or None."""
        real = self.resolve(path)
        if problem := self.sensitive_problem(real):
            return problem
        if any(_inside(real, area) for area in (self._real_base, *self.scratch, *map(Path, self.system))):
            return None
        return f"{path} is outside the workspace {self._real_base} (read tools stay in the workspace and system folders)"

    def sensitive_problem(self, real: Path) -> str | None:
        """Why `real` (a resolved path) lies in a hidden area, or None."""
        text = str(real)
        if any(fnmatch.fnmatchcase(text, pattern) for pattern in PROCESS_SECRETS):
            return f"{text} would expose a process's environment or memory"
        if _inside(real, self._real_base) or self._on_the_way(real) or any(_inside(real, s) for s in self.scratch):
            return None
        for area in self.sensitive:
            if _inside(real, area):
                return f"{text} is in a protected area ({area}) outside the workspace"
        return None

    def _on_the_way(self, real: Path) -> bool:
        # An ancestor of base (listing it shows only what is not hidden) or an instruction file on the path.
        return _inside(self._real_base, real) or (real.name in INSTRUCTION_FILES and _inside(self._real_base, real.parent))

    def sandbox_denials(self) -> list[Path]:
        """The paths to hide from sandboxed commands: each sensitive area, or, for an area on the
        way to `base` or to a scratch folder, every entry beside those ways (instruction files kept).

        The sandbox reaches its network proxy through sockets in the scratch (temporary) folder:
        hiding any folder on the way to it cuts the network off without a word (measured)."""
        ways = (self._real_base, *self.scratch)
        denied: list[Path] = []
        for area in self.sensitive:
            inner = [way for way in ways if _inside(way, area)]
            if inner:
                denied.extend(_beside_the_ways(area, inner))
            elif not any(_inside(area, way) for way in ways):
                denied.append(area)
        return sorted(set(denied))


def _beside_the_ways(area: Path, ways: Sequence[Path]) -> Iterable[Path]:
    """Entries of `area` and of each folder below it on the way down to each of `ways` that lie
    on none of those ways."""
    on_the_way = {area}
    for way in ways:
        folder = area
        for part in way.relative_to(area).parts:
            folder = folder / part
            on_the_way.add(folder)
    for folder in sorted(on_the_way):
        if folder in ways:
            continue  # a way's own contents stay visible
        for entry in _entries(folder):
            if entry in on_the_way or entry.name in INSTRUCTION_FILES:
                continue
            real = _real(entry)
            if any(_inside(way, real) or _inside(real, way) for way in ways):
                continue  # a link to a way or into one: the CLI resolves rules through links
            yield entry


def _entries(folder: Path) -> Sequence[Path]:
    try:
        return [folder / name for name in os.listdir(folder)]
    except OSError:
        return []


def _real(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return Path(os.path.abspath(path))


def _inside(path: Path, area: Path) -> bool:
    return path == area or path.is_relative_to(area)
