"""Where the NATS configuration files (the repository's `nats/` folder) are.

`nats/` is not a Python package (an importable `nats` would shadow nats-py). A source checkout
or editable install reads it in place; a wheel installs it under `<prefix>/share/claude-tunnels/nats`.
"""

from __future__ import annotations

import sys
from pathlib import Path


def nats_config_file(name: str) -> str:
    """The text of one file of `nats/`."""
    for folder in (Path(__file__).resolve().parent.parent / "nats", Path(sys.prefix) / "share" / "claude-tunnels" / "nats"):
        if (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8")
    raise FileNotFoundError(f"nats/{name} is missing from this installation; reinstall claude-tunnels")
