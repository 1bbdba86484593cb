"""`tunnels deploy ssh` and `tunnels deploy k8s`: put a workspace's agent on a host or a cluster.

Both read the agent's nkey seed made by `tunnels agent credentials` (or `--seed-file`) and send
it only on a child process's stdin (ssh, kubectl), never in a command line.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
from pathlib import Path

from claude_tunnels.config.credentials import Secret
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.remote_agent.credentials import read_seed
from claude_tunnels.remote_agent.deploy_k8s import K8sTarget, manifest, to_yaml
from claude_tunnels.remote_agent.deploy_ssh import SshTarget, Step, describe, ssh_plan
from claude_tunnels.tunnels.commands.agent import checked_workspace, seed_path
from claude_tunnels.tunnels.deploy_orchestrator import OrchestratorTarget, orchestrator_manifest
from claude_tunnels.tunnels.errors import UserError

_WHEEL = re.compile(r"[A-Za-z0-9_.+-]+\.whl")
_DOMAIN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _nats_url(loaded: LoadedSettings, given: str | None) -> str:
    url = given or loaded.settings.nats.seeds
    if not url:
        raise UserError("give --nats URL: the address at which the agent's host reaches your NATS server")
    if "@" in url.partition("://")[2]:
        raise UserError("--nats must not hold credentials; the agent authenticates with its nkey seed")
    return url


def _seed(loaded: LoadedSettings, workspace: str, given: Path | None) -> tuple[Secret, Path]:
    path = given or seed_path(loaded, workspace)
    try:
        return read_seed(path), path
    except FileNotFoundError:
        raise UserError(f"no credentials at {path}: run `tunnels agent credentials {workspace}` first, or pass --seed-file") from None
    except (OSError, ValueError) as err:
        raise UserError(f"cannot use the seed {path}: {err}") from None


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as err:
        raise UserError(f"cannot read the {what} {path}: {err.strerror}") from None


async def _run(step: Step) -> None:
    process = await asyncio.create_subprocess_exec(
        *step.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = await process.communicate(step.stdin)
    sys.stdout.write(out.decode(errors="replace"))
    if process.returncode == 0:
        for line in err.decode(errors="replace").splitlines():  # the host's notes
            print(f"tunnels deploy: host: {line}", file=sys.stderr)
    if process.returncode != 0:
        tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-5:])
        raise UserError(f"`{step.title}` failed (exit {process.returncode}): {tail or 'no output'}")


async def ssh(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Install the agent on `args.host` (or print the commands with --dry-run)."""
    workspace = checked_workspace(args.workspace)
    if not args.path.startswith("/"):
        raise UserError(f"--path must be an absolute folder on {args.host}, got {args.path!r}")
    if args.wheel is not None and not _WHEEL.fullmatch(args.wheel.name):
        raise UserError(f"--wheel must name a .whl file, got {args.wheel}")
    seed, seed_file = _seed(loaded, workspace, args.seed_file)
    target = SshTarget(
        host=args.host, workspace=workspace, path=args.path, nats=_nats_url(loaded, args.nats), prefix=args.prefix,
        stream=args.stream or loaded.settings.nats.stream, js_domain=args.js_domain, package=args.package, wheel=args.wheel,
        with_env_file=args.env_file is not None, drain_timeout_s=args.drain_timeout_s,
        ssh_options=tuple(args.ssh_option or ()),
    )
    env = _read(args.env_file, "env file")
    wheel = b"" if args.dry_run and args.wheel else _read(args.wheel, "wheel")
    steps = ssh_plan(target, (seed.reveal() + "\n").encode(), env, wheel)
    if args.dry_run:
        sources = {"the nkey seed": f"{seed_file}", "the env file": f"{args.env_file}"}
        sys.stdout.write(describe(steps, sources))
        return 0
    for step in steps:
        print(f"tunnels deploy: {step.title}", file=sys.stderr)
        await _run(step)
    print(
        f"tunnels deploy: the agent of {workspace} runs on {args.host}, supervised by the systemd user unit "
        f"tunnels-agent@{target.instance} (or by {target.base}/supervise.sh where the host has no systemd user session)",
        file=sys.stderr,
    )
    return 0


async def k8s(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print the agent's manifest (or with `--orchestrator`, the orchestrators'), or apply it with
    kubectl (the manifest goes on its stdin)."""
    if args.orchestrator:
        text = _orchestrator_manifest(loaded, args)
    else:
        if args.workspace is None:
            raise UserError("give --workspace PROJECT/NAME (the agent's workspace), or --orchestrator for the orchestrators")
        text = _agent_manifest(loaded, args)
    if not args.apply:
        sys.stdout.write(text)
        return 0
    await _run(Step("kubectl apply", ("kubectl", "apply", "-f", "-"), text.encode(), "the manifest", secret=True))
    return 0


def _orchestrator_manifest(loaded: LoadedSettings, args: argparse.Namespace) -> str:
    if loaded.settings.nats.url is None:
        raise UserError(
            "orchestrator replicas share an existing NATS cluster: set nats.url (its seed URLs) and nats.replicas: 3 "
            "in the orchestrator.yaml on the root's volume; the embedded server cannot be shared"
        )
    if args.replicas < 1:
        raise UserError(f"--replicas must be 1 or more, got {args.replicas} (2: one active, one standby)")
    env = _read(args.env_file, "env file")
    target = OrchestratorTarget(
        image=args.image, pvc=args.pvc or "tunnels-root", namespace=args.namespace, replicas=args.replicas,
    )
    try:
        documents = orchestrator_manifest(target, Secret(env.decode()) if env is not None else None)
    except ValueError as err:
        raise UserError(f"--env-file {args.env_file}: {err}; write one KEY=VALUE a line") from None
    header = ("# tunnels orchestrators: generated by `tunnels deploy k8s --orchestrator`. One replica holds the lease and serves,\n"
              "# the others stand by. The root (with orchestrator.yaml naming the NATS cluster) is the ReadWriteMany claim.\n")
    return header + to_yaml(documents).split("\n", 1)[1]


def _agent_manifest(loaded: LoadedSettings, args: argparse.Namespace) -> str:
    workspace = checked_workspace(args.workspace)
    seed, _ = _seed(loaded, workspace, args.seed_file)
    env = _read(args.env_file, "env file")
    target = K8sTarget(
        workspace=workspace, nats=_nats_url(loaded, args.nats), image=args.image, pvc=args.pvc,
        namespace=args.namespace, prefix=args.prefix, stream=args.stream or loaded.settings.nats.stream,
        js_domain=args.js_domain,
        drain_timeout_s=args.drain_timeout_s,
    )
    return to_yaml(manifest(target, seed, Secret(env.decode()) if env is not None else None))


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """`tunnels agent ...` and `tunnels deploy ...`."""
    agent = commands.add_parser("agent", help="remote workspace agents").add_subparsers(dest="agent_command", required=True)
    creds = agent.add_parser("credentials", help="make an agent's nkey and print its server permissions")
    creds.add_argument("workspace", metavar="PROJECT/NAME")
    creds.add_argument("--out", type=Path, help="where to keep the seed (default: <state_dir>/agents)")
    creds.add_argument("--rotate", action="store_true", help="replace an existing seed with a new one")
    creds.add_argument("--child-orchestrator", action="store_true",
                       help="the login of a child orchestrator known as PROJECT/NAME: the same confined block, and its `parent:` settings")
    _layout_options(creds)
    listing = agent.add_parser("list", help="the agents that announced themselves, and whether they are live")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    deploy = commands.add_parser("deploy", help="install a remote workspace agent").add_subparsers(dest="deploy_command", required=True)
    over_ssh = deploy.add_parser("ssh", help="on a host over ssh, as a systemd user service")
    over_ssh.add_argument("host", help="ssh destination (user@host or a Host of ~/.ssh/config)")
    over_ssh.add_argument("--path", required=True, help="the workspace folder on the host (absolute)")
    over_ssh.add_argument("--package", default="claude-tunnels", help="pip requirement to install (default: claude-tunnels)")
    over_ssh.add_argument("--wheel", type=Path, help="a local wheel to copy and install instead of --package")
    over_ssh.add_argument("--ssh-option", action="append", metavar="OPT", help="an extra ssh argument (repeatable), e.g. -p2222")
    over_ssh.add_argument("--dry-run", action="store_true", help="print the exact commands and files instead of running them")
    on_k8s = deploy.add_parser("k8s", help="on Kubernetes: a Secret and a one-replica Deployment")
    on_k8s.add_argument("--image", default="claude-tunnels:0.1.0", help="a container image with claude-tunnels installed")
    on_k8s.add_argument("--pvc", help="the PersistentVolumeClaim holding the workspace (default: <name>-workspace)")
    on_k8s.add_argument("--namespace", help="the namespace (default: kubectl's)")
    on_k8s.add_argument("--apply", action="store_true", help="kubectl apply the manifest instead of printing it")
    on_k8s.add_argument("--orchestrator", action="store_true",
                        help="the orchestrators instead of an agent: a Deployment of --replicas against nats.url's cluster")
    on_k8s.add_argument("--replicas", type=int, default=2, help="with --orchestrator: how many (one active, the rest standby)")
    over_ssh.add_argument("--workspace", required=True, metavar="PROJECT/NAME")
    on_k8s.add_argument("--workspace", metavar="PROJECT/NAME", help="the agent's workspace (not with --orchestrator)")
    for sub in (over_ssh, on_k8s):
        sub.add_argument("--nats", metavar="URL", help="the NATS URL as the agent reaches it (default: nats.url)")
        sub.add_argument("--seed-file", type=Path, help="the agent's nkey seed (default: from `tunnels agent credentials`)")
        sub.add_argument("--env-file", type=Path, help="KEY=VALUE lines for the agent's Claude Code CLI (e.g. its API key)")
        sub.add_argument("--drain-timeout-s", type=float, default=60.0, help="how long a stopping agent may finish its task")
        _layout_options(sub)


def _layout_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", default="tunnels", help="subject prefix (default: tunnels)")
    parser.add_argument("--stream", help="the event stream's name (default: nats.stream)")
    parser.add_argument(
        "--js-domain", type=_js_domain, metavar="DOMAIN",
        help="the hub's JetStream domain, for an agent that connects to a leaf node (nats/leafnode.example.conf)",
    )


def _js_domain(value: str) -> str:
    if not _DOMAIN.fullmatch(value):
        raise argparse.ArgumentTypeError(f"must be 1-64 letters, digits, `_` or `-`, got {value!r}")
    return value
