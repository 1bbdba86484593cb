"""Real git repositories for tests: made with the git command, one commit to start from."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run(repo: Path, *args: str) -> str:
    """`git ARGS` in `repo` (a test helper: fails loudly)."""
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@localhost", *args], cwd=repo, check=True,
        capture_output=True, text=True,
    ).stdout


def make_repo(path: Path, files: dict[str, str], branch: str = "main") -> Path:
    """A repository at `path` whose first commit on `branch` holds `files`."""
    path.mkdir(parents=True, exist_ok=True)
    run(path, "init", "--quiet", "--initial-branch", branch)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    run(path, "add", "--all")
    run(path, "commit", "--quiet", "-m", "start")
    return path
