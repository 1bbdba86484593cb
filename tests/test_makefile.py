"""`make demo` installs only what the demo needs; `make test` the test extras too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def planned(target: str, venv: Path) -> str:
    """The commands `make` would run for `target` with a fresh virtual environment at `venv`."""
    return subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
def test_make_demo_installs_the_project_without_the_test_extras(tmp_path: Path) -> None:
    demo = planned("demo", tmp_path / "venv")
    assert "pip install -q -e ." in demo and "[test]" not in demo
    assert "tunnels demo" in demo
    assert "pip install -q -e '.[test]'" in planned("test", tmp_path / "venv")
