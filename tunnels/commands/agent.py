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
    if getattr(args, "child_orchestrator", False):
        block = child_block(block, workspace)
    conf = path.with_suffix(".conf")
    conf.write_text(block, encoding="utf-8")
    sys.stdout.write(block)
    if getattr(args, "child_orchestrator", False):
        print(child_settings(loaded, workspace, path, args.js_domain), file=sys.stderr)
        return 0
    print(
        f"nkey seed {made}: {path} (mode 0600; the agent reads it with --nkey-seed-file, "
        f"`tunnels deploy` copies it). Add the block above (also in {conf}) to the server's "
        "`authorization { users = [...] }` and reload the server.",
        file=sys.stderr,
    )
    return 0


def child_block(block: str, name: str) -> str:
    """The permission block of a child orchestrator known here as `name`.

    It is an agent's: its workspace's task, report, control and presence subjects and its own
    inbox, nothing else of this server (not the event log, not another workspace's subjects). Its
    own children (agents and orchestrators) are on its own NATS server, where it is the
    orchestrator, each confined there the same way: so each level sees only its own subjects and
    its direct children's, and a grandchild is no login of this server at all."""
    head = (f"# The child orchestrator {name}: add inside `authorization {{ users = [ ... ] }}`. Like an agent's\n"
            f"# login: only {name}'s own subjects here; its children are on its own server.\n")
    return head + "\n".join(line for line in block.splitlines() if not line.startswith("# The tunnels-agent")) + "\n"


def child_settings(loaded: LoadedSettings, name: str, seed: Path, js_domain: str | None) -> str:
    """What to tell the child: its `parent:` settings (or the `tunnels serve --parent …` flags)."""
    url = loaded.settings.nats.url or "nats://THIS-SERVER:4222"
    domain = f"\n  js_domain: {js_domain}" if js_domain else ""
    return (
        f"nkey seed: {seed} (mode 0600): copy it to the child's host. Add the block above (also in "
        f"{seed.with_suffix('.conf')}) to this server's `authorization {{ users = [...] }}` and reload it. In the child's "
        f"orchestrator.yaml:\nparent:\n  url: {url}\n  nkey_seed_file: {seed.name}\n  name: {name}{domain}\n"
        f"or: tunnels serve --parent {url} --parent-name {name} --parent-seed {seed.name}"
        + (f" --parent-js-domain {js_domain}" if js_domain else "")
    )
