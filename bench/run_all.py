"""Run every benchmark of `bench/` (each `*.py` except this one and `_helpers`), one after another.

    .venv/bin/python bench/run_all.py [NAME ...]   # `make bench`; names filter, e.g. `rebuild`

Each script runs as its own process (its own nats-server, no shared state) with its output shown
as it comes; a script that fails is reported at the end and makes the exit status non-zero. A
script runs for at most `TIMEOUT_S`, or what a `# run_all: timeout <seconds>` line in it says.
A new `bench/<name>.py` is picked up without changing this file.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TIMEOUT_S = 600
_TIMEOUT_LINE = re.compile(r"^# run_all: timeout (\d+)$", re.MULTILINE)


def timeout_of(path: Path) -> int:
    """How long the script may run (its own `# run_all: timeout N` line, else `TIMEOUT_S`)."""
    found = _TIMEOUT_LINE.search(path.read_text(encoding="utf-8"))
    return int(found.group(1)) if found else TIMEOUT_S


def scripts(names: list[str]) -> list[Path]:
    """The benchmark scripts, by name, optionally only those named."""
    found = sorted(
        path for path in BENCH.glob("*.py") if path.name != Path(__file__).name and not path.name.startswith("_")
    )
    return [path for path in found if not names or path.stem in names]


def main() -> int:
    selected = scripts(sys.argv[1:])
    if not selected:
        print(f"no benchmark scripts in {BENCH} match {sys.argv[1:]}", file=sys.stderr)
        return 2
    failed: list[str] = []
    for path in selected:
        print(f"\n=== {path.name} ===", flush=True)
        start = time.perf_counter()
        limit = timeout_of(path)
        try:
            code = subprocess.run([sys.executable, str(path)], cwd=BENCH.parent, timeout=limit).returncode
        except subprocess.TimeoutExpired:
            code = -1
            print(f"{path.name} did not finish within {limit} s", flush=True)
        print(f"=== {path.name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.perf_counter() - start:.0f} s ===", flush=True)
        if code != 0:
            failed.append(path.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
