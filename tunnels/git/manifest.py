"""What changed in a folder outside git: a manifest of its files before and after, compared.

Outside git the orchestrator still records facts, not the agent's claims: which files appeared,
disappeared or changed (size or modification time) while the task ran. Hidden folders and the
usual heavy ones (`node_modules`, virtualenvs, caches) are not walked.
"""

from __future__ import annotations

import os
from pathlib import Path

SKIPPED = frozenset({"node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache"})
MAX_FILES = 200_000

Manifest = dict[str, tuple[int, int]]
"""Relative path -> (size, modification time in ns)."""


def take(folder: Path) -> Manifest:
    """The manifest of `folder` (at most `MAX_FILES` files; links are not followed)."""
    found: Manifest = {}
    for current, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED]
        for name in files:
            path = Path(current) / name
            try:
                stat = path.lstat()
            except OSError:
                continue
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
            if len(found) >= MAX_FILES:
                return found
    return found


def changed(before: Manifest, after: Manifest) -> list[str]:
    """Files added, removed or modified between two manifests, sorted."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
