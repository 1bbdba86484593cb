"""An agent's NATS identity: an nkey user, and the permissions that confine it to its workspace.

With these permissions an agent can pull and acknowledge its own workspace's tasks, write its
own presence key, send reports on its own `.out` subject, hear its own `.control` subject, and
receive replies under its own inbox prefix; nothing else. It cannot read another workspace's
tasks, forge another workspace's reports or presence, or touch the event log.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nkeys

from claude_tunnels.config.credentials import Secret
from claude_tunnels.events.subjects import Subjects
from claude_tunnels.remote_agent.protocol import ack_subjects, consumer_name, inbox_prefix, next_task_subject, presence_subject


@dataclass(frozen=True)
class Permissions:
    """The subjects one agent may publish to and subscribe to."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def agent_permissions(
    workspace: str, *, prefix: str = "tunnels", stream: str = "TUNNELS_EVENTS", js_domain: str | None = None
) -> Permissions:
    """The minimal permissions of the agent of `workspace` (see the module docstring).

    With `js_domain` (an agent behind a leaf node) the JetStream subjects are the domain's; the
    same block then confines both the agent on its leaf server and the leaf connection on the hub.
    """
    subjects = Subjects(prefix)
    return Permissions(
        publish=(
            subjects.workspace_out(workspace),  # reports (requests; the answer comes to the inbox)
            next_task_subject(workspace, stream, js_domain),  # pull the next task
            ack_subjects(workspace, stream),  # acknowledge a task
            presence_subject(workspace, js_domain),  # write its presence (a JetStream publish)
        ),
        subscribe=(
            subjects.workspace_control(workspace),  # cancels
            f"{inbox_prefix(workspace)}.>",  # replies, pulled tasks, acks' confirmations
        ),
    )


def permission_block(
    workspace: str, public_key: str, *, prefix: str = "tunnels", stream: str = "TUNNELS_EVENTS",
    js_domain: str | None = None,
) -> str:
    """The `authorization { users = [...] }` entry of the agent, in nats-server config syntax."""
    allowed = agent_permissions(workspace, prefix=prefix, stream=stream, js_domain=js_domain)

    def items(subjects: tuple[str, ...]) -> str:
        return "".join(f'\n        "{subject}",' for subject in subjects)

    return (
        f"# The tunnels-agent of {workspace}: add inside `authorization {{ users = [ ... ] }}`.\n"
        f"{{\n"
        f"  nkey: {public_key}\n"
        f"  permissions: {{\n"
        f"    publish: {{ allow: [{items(allowed.publish)}\n    ] }}\n"
        f"    subscribe: {{ allow: [{items(allowed.subscribe)}\n    ] }}\n"
        f"    allow_responses: true\n"
        f"  }}\n"
        f"}}\n"
    )


def new_seed() -> Secret:
    """A fresh nkey user seed (`SU…`)."""
    return Secret(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode())


def public_key(seed: Secret) -> str:
    """The public key (`U…`) of a user seed; `ValueError` if it is not one."""
    try:
        key = nkeys.from_seed(seed.reveal().encode()).public_key.decode()
    except Exception as err:
        raise ValueError("not a valid nkey seed") from err
    if not key.startswith("U"):
        raise ValueError("the nkey seed is not a user seed (it must start with SU)")
    return key


def write_secret_file(path: Path, secret: Secret) -> None:
    """Write `secret` to `path` with mode 0600 from the start (atomically: a temp file, renamed)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret.reveal() + "\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_seed(path: Path) -> Secret:
    """The seed stored at `path` (checked to be a user seed)."""
    seed = Secret(path.read_text(encoding="utf-8").strip())
    public_key(seed)
    return seed


def instance_name(workspace: str) -> str:
    """A file, unit and instance name for the workspace's agent (`proj_2Fapi`)."""
    return consumer_name(workspace).removeprefix("agent_")
