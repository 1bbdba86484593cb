"""`tunnels serve|chat --parent URL --parent-name NAME [--parent-seed FILE]`: the `parent:` settings
given (or overridden) on the command line.

A flag replaces its key of `parent:` in orchestrator.yaml and the rest is kept, so a site can keep
the description in the file and start the same root under different parents. The result is
validated like the file (`ParentSettings`), and a mistake names the flag and its fix.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import msgspec

from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.config.settings import ParentSettings

FLAGS = {
    "parent": "url", "parent_name": "name", "parent_seed": "nkey_seed_file", "parent_creds": "creds_file",
    "parent_description": "description", "parent_js_domain": "js_domain",
}
"""argparse destination → the `parent:` key it sets."""


def add_parent_arguments(parser: argparse.ArgumentParser) -> None:
    """The `--parent*` flags of `serve` and `chat`."""
    group = parser.add_argument_group("serving a parent orchestrator (override `parent:` in orchestrator.yaml)")
    group.add_argument("--parent", metavar="URL", help="the parent's NATS server: nats://hub:4222 or tls://…")
    group.add_argument("--parent-name", metavar="PROJECT/NAME", help="the workspace the parent knows this orchestrator by")
    group.add_argument("--parent-seed", metavar="FILE", help="the nkey seed of the login `tunnels agent credentials NAME` made at the parent")
    group.add_argument("--parent-creds", metavar="FILE", help="a JWT .creds file instead of --parent-seed (operator mode)")
    group.add_argument("--parent-description", metavar="TEXT", help="what this tree is for, read by the parent's planner")
    group.add_argument("--parent-js-domain", metavar="DOMAIN", help="the parent's JetStream domain (reached through a leaf node)")


def with_parent_arguments(loaded: LoadedSettings, args: argparse.Namespace) -> LoadedSettings:
    """`loaded` with the `--parent*` flags applied to `parent:` (unchanged when none is given).

    Files named on the command line are taken from the current folder (those in the file stay
    relative to the root). Raises `ConfigError` naming the flag when the result is incomplete."""
    given = {key: getattr(args, dest) for dest, key in FLAGS.items() if getattr(args, dest, None) is not None}
    if not given:
        return loaded
    for key in [k for k in ("nkey_seed_file", "creds_file") if k in given]:
        path = Path(given[key]).expanduser().absolute()
        if not path.is_file():
            flag = _flag(key)
            raise ConfigError(f"{flag} {given[key]}: no such file", key=flag,
                              fix="run `tunnels agent credentials NAME --out DIR` at the parent and give the seed it wrote")
        given[key] = str(path)
        # One login: a flag's seed replaces the file's creds (and the other way round).
        given.setdefault("creds_file" if key == "nkey_seed_file" else "nkey_seed_file", None)
    fields: dict[str, Any] = {**msgspec.structs.asdict(loaded.settings.parent), **given}
    try:
        if fields.get("url") is None:
            raise ValueError("--parent-* flags were given without the parent's URL")
        parent = ParentSettings(**fields)
    except ValueError as err:
        raise ConfigError(
            f"the parent orchestrator: {err}", file=loaded.config_path, key="parent",
            fix=_fix(fields),
        ) from None
    return msgspec.structs.replace(loaded, settings=msgspec.structs.replace(loaded.settings, parent=parent))


def _flag(key: str) -> str:
    return "--" + next(dest for dest, k in FLAGS.items() if k == key).replace("_", "-")


def _fix(fields: dict[str, Any]) -> str:
    if fields.get("url") is None:
        return "give --parent URL (the parent's NATS) with the other --parent-* flags"
    if not fields.get("name") or "/" not in str(fields.get("name")):
        return "give --parent-name PROJECT/NAME, the workspace the parent knows this orchestrator by"
    return "give --parent-seed FILE (or --parent-creds FILE): the login `tunnels agent credentials NAME` made at the parent"
