"""Installing an agent on a host over ssh: a virtualenv, its config, a supervisor that restarts it.

The supervisor is a systemd user unit where the host has a systemd user session; elsewhere (a
container, a minimal host) it is `supervise.sh`, a small shell loop started with `setsid nohup`
that restarts the agent whenever it exits (it does not survive a reboot of the host).

`ssh_plan()` is pure: it returns the exact steps (`ssh` command lines and what goes on their
stdin), which `tunnels deploy ssh` prints (`--dry-run`) or runs. Secrets (the nkey seed, the
env file) travel only on ssh's stdin, written under `umask 077`: never in a command line.
Everything is idempotent: running the plan again rewrites the config and the unit, upgrades
the package and restarts the one agent instance (or stops the previous supervisor first).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from claude_tunnels.remote_agent.credentials import instance_name

UNIT_TEMPLATE = "tunnels-agent@.service"


@dataclass(frozen=True)
class SshTarget:
    """Where and what to deploy. `path` is the workspace folder on the remote host."""

    host: str
    workspace: str
    path: str
    nats: str
    prefix: str = "tunnels"
    stream: str = "TUNNELS_EVENTS"
    js_domain: str | None = None
    """The hub's JetStream domain, when `nats` is a leaf node."""
    package: str = "claude-tunnels"
    """A pip requirement; ignored when `wheel` is given."""
    wheel: Path | None = None
    """A local wheel to copy and install instead of `package`."""
    with_env_file: bool = False
    heartbeat_s: float = 5.0
    drain_timeout_s: float = 60.0
    ssh_options: tuple[str, ...] = ()

    @property
    def instance(self) -> str:
        """The systemd instance and folder name of this workspace's agent."""
        return instance_name(self.workspace)

    @property
    def base(self) -> str:
        """The agent's folder on the host (a shell expression)."""
        return f"$HOME/.tunnels-agent/{self.instance}"


@dataclass(frozen=True)
class Step:
    """One command to run locally; `stdin` is what it is fed (`stdin_label` is how it is shown)."""

    title: str
    argv: tuple[str, ...]
    stdin: bytes
    stdin_label: str
    secret: bool = False


def unit_file(drain_timeout_s: float = 60.0) -> str:
    """The systemd user unit template `tunnels-agent@.service` (`%i` = the instance name)."""
    return (
        "[Unit]\n"
        "Description=claude-tunnels workspace agent %i\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=exec\n"
        "ExecStart=%h/.tunnels-agent/%i/venv/bin/tunnels-agent --config %h/.tunnels-agent/%i/agent.yaml\n"
        "Restart=always\n"
        "RestartSec=5\n"
        "# SIGTERM drains: the running task may finish (drain_timeout_s) before the agent exits.\n"
        "KillSignal=SIGTERM\n"
        f"TimeoutStopSec={int(drain_timeout_s) + 30}\n"
        "UMask=0077\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def agent_config(target: SshTarget) -> str:
    """The agent's `agent.yaml` (paths relative to its folder; no secret values)."""
    lines = [
        "# Written by `tunnels deploy ssh`; run it again to change it. Secrets are in files beside it.",
        f"nats: {json.dumps(target.nats)}",
        f"workspace: {json.dumps(target.workspace)}",
        f"path: {json.dumps(target.path)}",
        f"prefix: {json.dumps(target.prefix)}",
        f"stream: {json.dumps(target.stream)}",
        "nkey_seed_file: seed.nk",
        "state_dir: state",
        f"heartbeat_s: {target.heartbeat_s:g}",
        f"drain_timeout_s: {target.drain_timeout_s:g}",
    ]
    if target.js_domain:
        lines.append(f"js_domain: {json.dumps(target.js_domain)}")
    if target.with_env_file:
        lines.append("env_file: agent.env")
    return "\n".join(lines) + "\n"


SUPERVISOR_SCRIPT = """\
#!/bin/sh
# Written by `tunnels deploy ssh` on a host without a systemd user session: runs tunnels-agent and
# starts it again whenever it exits (as systemd's Restart=always would) until this script gets
# SIGTERM, which it passes on so the agent drains. Its log: agent.log beside it.
base="$(cd "$(dirname "$0")" && pwd)"
echo $$ > "$base/supervise.pid"
child=
stop() {
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi
  rm -f "$base/supervise.pid"
  exit 0
}
trap stop TERM INT
while :; do
  "$base/venv/bin/tunnels-agent" --config "$base/agent.yaml" >>"$base/agent.log" 2>&1 &
  child=$!
  wait "$child"  # a signal ends the wait at once; the trap then stops the agent
  child=
  sleep 5 &  # RestartSec, interruptible
  wait $!
done
"""


def install_script(target: SshTarget) -> str:
    """The shell script run on the host (`sh -s`) to install or update the agent."""
    unit = f"tunnels-agent@{target.instance}.service"
    if target.wheel:
        # The exact wheel given replaces what is installed even when its version is the same
        # (a rebuilt development wheel); then its dependencies are installed as needed.
        wheel = f'"$base/{target.wheel.name}"'
        install = (
            f'"$base/venv/bin/python" -m pip install --quiet --force-reinstall --no-deps {wheel}\n'
            f'"$base/venv/bin/python" -m pip install --quiet {wheel}\n'
        )
    else:
        install = f'"$base/venv/bin/python" -m pip install --quiet --upgrade {shlex.quote(target.package)}\n'
    stop_wait = int(target.drain_timeout_s) + 30
    return (
        "set -eu\n"
        "umask 077\n"
        f'base="{target.base}"\n'
        "python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || "
        "{ echo 'tunnels-agent needs python3 >= 3.11 on this host' >&2; exit 1; }\n"
        f"[ -d {shlex.quote(target.path)} ] || "
        f"{{ echo {shlex.quote(f'the workspace folder {target.path} does not exist on this host')} >&2; exit 1; }}\n"
        'mkdir -p "$base/state"\n'
        '[ -x "$base/venv/bin/python" ] || python3 -m venv "$base/venv"\n'
        f"{install}"
        "cat > \"$base/agent.yaml\" <<'TUNNELS_EOF'\n"
        f"{agent_config(target)}"
        "TUNNELS_EOF\n"
        "if systemctl --user show-environment >/dev/null 2>&1; then\n"
        'units="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"\n'
        'mkdir -p "$units"\n'
        f"cat > \"$units/{UNIT_TEMPLATE}\" <<'TUNNELS_EOF'\n"
        f"{unit_file(target.drain_timeout_s)}"
        "TUNNELS_EOF\n"
        "systemctl --user daemon-reload\n"
        f"systemctl --user enable {unit}\n"
        "# restart, not start: a second deploy replaces the running agent instead of adding one\n"
        f"systemctl --user restart {unit}\n"
        'loginctl enable-linger "$(id -un)" 2>/dev/null || '
        "echo \"note: run 'sudo loginctl enable-linger $(id -un)' so the agent keeps running after logout\" >&2\n"
        f"systemctl --user --no-pager --lines=0 status {unit} || true\n"
        "else\n"
        "echo \"no systemd user session here: $base/supervise.sh restarts the agent (not after a reboot)\" >&2\n"
        "cat > \"$base/supervise.sh\" <<'TUNNELS_EOF'\n"
        f"{SUPERVISOR_SCRIPT}"
        "TUNNELS_EOF\n"
        "# stop the supervisor a previous deploy started (checked by its command line, not just its pid)\n"
        'pid=$(cat "$base/supervise.pid" 2>/dev/null || true)\n'
        'if [ -n "$pid" ] && grep -q supervise.sh "/proc/$pid/cmdline" 2>/dev/null; then\n'
        '  kill -TERM "$pid"\n'
        "  waited=0\n"
        '  while kill -0 "$pid" 2>/dev/null; do\n'
        f'    waited=$((waited + 1)); [ "$waited" -le {stop_wait * 10} ] || {{ kill -KILL "$pid"; break; }}\n'
        "    sleep 0.1\n"
        "  done\n"
        "fi\n"
        '# setsid + nohup: detached from this ssh session, which can end at once\n'
        'setsid nohup sh "$base/supervise.sh" </dev/null >/dev/null 2>&1 &\n'
        'echo $! > "$base/supervise.pid"\n'
        "fi\n"
    )


def _write_file_command(target: SshTarget, name: str) -> str:
    # Written under umask 077 to a temporary name, then renamed: never readable by others, never half-written.
    final, temp = f'"{target.base}/{name}"', f'"{target.base}/.{name}.tmp"'
    return f'umask 077 && mkdir -p "{target.base}" && cat > {temp} && mv -f {temp} {final}'


def ssh_plan(target: SshTarget, seed: bytes, env_file: bytes | None = None, wheel: bytes | None = None) -> list[Step]:
    """The steps that deploy `target`: copy the secrets (and wheel), then run the install script."""
    ssh = ("ssh", *target.ssh_options, target.host)
    steps = [Step("write the nkey seed (mode 0600, over stdin)", (*ssh, _write_file_command(target, "seed.nk")),
                  seed, "the nkey seed", secret=True)]
    if env_file is not None:
        steps.append(Step("write the agent's environment file (mode 0600, over stdin)",
                          (*ssh, _write_file_command(target, "agent.env")), env_file, "the env file", secret=True))
    if target.wheel is not None and wheel is not None:
        steps.append(Step(f"copy {target.wheel.name}", (*ssh, _write_file_command(target, target.wheel.name)),
                          wheel, str(target.wheel)))
    steps.append(Step("install or update the agent and (re)start its systemd user unit", (*ssh, "sh -s"),
                      install_script(target).encode(), "the install script"))
    return steps


def describe(steps: list[Step], sources: dict[str, str] | None = None) -> str:
    """The steps as a reader sees them (`--dry-run`): commands, and stdin unless it is secret."""
    sources = sources or {}
    out = []
    for number, step in enumerate(steps, 1):
        command = " ".join(shlex.quote(part) for part in step.argv)
        out.append(f"# {number}. {step.title}")
        if step.secret or step.argv[-1] != "sh -s":
            label = sources.get(step.stdin_label, step.stdin_label)
            out.append(f"{command} < {label}")
        else:
            out.append(f"{command} <<'SCRIPT'\n{step.stdin.decode()}SCRIPT")
        out.append("")
    return "\n".join(out) + "\n"
