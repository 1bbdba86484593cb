"""`tunnels agent credentials`: an nkey user for a remote workspace agent, and its permissions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from claude_tunnels.actors.tree import TreeError
from claude_tunnels.actors.tree.names import validate_name
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.remote_agent.credentials import instance_name, new_seed, permission_block, public_key, read_seed, write_secret_file
from claude_tunnels.tunnels.errors import UserError


def checked_workspace(workspace: str) -> str:
    """`workspace` if it is a safe qualified name (`project/name`), else a `UserError`."""
    try:
        validate_name(workspace)
    except TreeError as err:
        raise UserError(f"workspace {err}") from None
    if "/" not in workspace:
        raise UserError(f"the workspace must be qualified as project/name, got {workspace!r}")
    return workspace


def credentials_dir(loaded: LoadedSettings, out: Path | None) -> Path:
    """Where agents' credentials are kept (`<state_dir>/agents` unless `--out`)."""
    return out if out is not None else loaded.state_dir / "agents"


def seed_path(loaded: LoadedSettings, workspace: str, out: Path | None = None) -> Path:
    """The seed file of a workspace's agent."""
    return credentials_dir(loaded, out) / f"{instance_name(workspace)}.nk"


async def credentials(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Create (or show again) the agent's nkey; print the server's permission block for it."""
    workspace = checked_workspace(args.workspace)
    path = seed_path(loaded, workspace, args.out)
    if path.exists() and not args.rotate:
        try:
            seed = read_seed(path)
        except (OSError, ValueError) as err:
            raise UserError(f"cannot use the existing seed {path}: {err}; pass --rotate to replace it") from None
        made = "kept"
    else:
        seed = new_seed()
        write_secret_file(path, seed)
        made = "rotated" if args.rotate else "created"
    stream = args.stream or loaded.settings.nats.stream
    block = permission_block(
        workspace, public_key(seed), prefix=args.prefix, stream=stream, js_domain=args.js_domain
    )
    conf = path.with_suffix(".conf")
    conf.write_text(block, encoding="utf-8")
    sys.stdout.write(block)
    print(
        f"nkey seed {made}: {path} (mode 0600; the agent reads it with --nkey-seed-file, "
        f"`tunnels deploy` copies it). Add the block above (also in {conf}) to the server's "
        "`authorization { users = [...] }` and reload the server.",
        file=sys.stderr,
    )
    return 0
