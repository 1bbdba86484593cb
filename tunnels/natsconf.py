"""Where the NATS configuration files (the repository's `nats/` folder) are.

`nats/` is not a Python package (an importable `nats` would shadow nats-py). A source checkout
or editable install reads it in place; a wheel carries it as the package data `tunnels.natsconf`.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def nats_config_file(name: str) -> str:
    """The text of one file of `nats/`."""
    in_checkout = Path(__file__).resolve().parent.parent / "nats" / name
    if in_checkout.is_file():
        return in_checkout.read_text(encoding="utf-8")
    return importlib.resources.files("tunnels.natsconf").joinpath(name).read_text(encoding="utf-8")
