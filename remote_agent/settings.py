"""The agent's settings: command line over `TUNNELS_AGENT_*` environment over a YAML config file.

Secrets (an nkey seed, a password) are read only from files or from the environment
(`TUNNELS_AGENT_NKEY_SEED`, `TUNNELS_AGENT_PASSWORD`), never from the command line, where any
local user could read them in the process list, nor from a URL.
"""

from __future__ import annotations

import math
import os
import re
import socket
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import yaml

from claude_tunnels.actors.tree.errors import UnsafeName
from claude_tunnels.actors.tree.names import validate_name
from claude_tunnels.config.credentials import Secret
from claude_tunnels.remote_agent.errors import SettingsError
from claude_tunnels.remote_agent.protocol import consumer_name

ENV_PREFIX = "TUNNELS_AGENT_"
SEED_ENV = ENV_PREFIX + "NKEY_SEED"
PASSWORD_ENV = ENV_PREFIX + "PASSWORD"
_STREAM = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PREFIX = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
_ENV_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)")
PATH_KEYS = ("path", "creds_file", "nkey_seed_file", "password_file", "tls_ca", "tls_cert", "tls_key",
             "state_dir", "env_file")


class AgentSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything `tunnels-agent` is configured with (no secret values, only where they are)."""

    nats: str
    """The server URL (`nats://host:4222`, `tls://…`); never with a user or password in it."""
    workspace: str
    """The qualified workspace this agent serves: `project/name`."""
    path: str
    """The workspace folder on this host: the agent's sessions run here and write only here."""
    creds_file: str | None = None
    nkey_seed_file: str | None = None
    user: str | None = None
    password_file: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    prefix: str = "tunnels"
    stream: str = "TUNNELS_EVENTS"
    js_domain: str | None = None
    """The hub's JetStream domain, when the agent connects to a leaf node rather than the hub."""
    heartbeat_s: float = 5.0
    drain_timeout_s: float = 60.0
    progress_interval_s: float = 1.0
    connect_timeout_s: float = 10.0
    state_dir: str | None = None
    """Sandboxed homes of the sessions and the agent's lock; default `~/.local/state/tunnels-agent/<ws>`."""
    env_file: str | None = None
    """KEY=VALUE lines added to the Claude Code CLI's environment (an API key, a model URL)."""
    cli_path: str | None = None

    def __post_init__(self) -> None:
        try:
            validate_name(self.workspace)
        except UnsafeName as err:
            raise ValueError(f"`workspace` {err}") from None
        if "/" not in self.workspace:
            raise ValueError(f"`workspace` must be qualified as project/name, got {self.workspace!r}")
        url = urlsplit(self.nats)
        if url.scheme not in ("nats", "tls", "ws", "wss") or not url.hostname:
            raise ValueError(f"`nats` must be a URL like nats://host:4222 or tls://host:4222, got {self.nats!r}")
        if url.username or url.password:
            raise ValueError("`nats` must not hold credentials; use nkey_seed_file, creds_file or user + password_file")
        methods = [m for m in ("creds_file", "nkey_seed_file", "user") if getattr(self, m)]
        if len(methods) > 1:
            raise ValueError(f"choose one way to authenticate, not {' and '.join(methods)}")
        if self.password_file and not self.user:
            raise ValueError("`password_file` is set without `user`")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("`tls_cert` and `tls_key` go together; set both or neither")
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"`prefix` must be dot-separated letters, digits, `_` or `-`, got {self.prefix!r}")
        if not _STREAM.fullmatch(self.stream):
            raise ValueError(f"`stream` must be 1-64 letters, digits, `_` or `-`, got {self.stream!r}")
        if self.js_domain is not None and not _STREAM.fullmatch(self.js_domain):
            raise ValueError(f"`js_domain` must be 1-64 letters, digits, `_` or `-`, got {self.js_domain!r}")
        for name in ("heartbeat_s", "progress_interval_s", "connect_timeout_s"):
            if not (getattr(self, name) > 0 and math.isfinite(getattr(self, name))):
                raise ValueError(f"`{name}` must be a positive number, got {getattr(self, name)}")
        if not (self.drain_timeout_s >= 0 and math.isfinite(self.drain_timeout_s)):
            raise ValueError(f"`drain_timeout_s` must be 0 or more, got {self.drain_timeout_s}")

    @property
    def state_path(self) -> Path:
        """The state folder (resolved default included)."""
        if self.state_dir:
            return Path(self.state_dir)
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(base) / "tunnels-agent" / consumer_name(self.workspace).removeprefix("agent_")


@dataclass(frozen=True)
class AgentSecrets:
    """The secret values, read from files or the environment; they never print."""

    nkey_seed: Secret | None = None
    password: Secret | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict, repr=False)


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in AgentSettings.__struct_fields__:
        value = environ.get(ENV_PREFIX + name.upper())
        if value is not None and value != "":
            found[name] = value
    return found


def _from_file(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise SettingsError(f"cannot read the config file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise SettingsError(f"the config file {path} is not valid YAML: {err}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"the config file {path} must be a mapping of option: value")
    if bad := sorted({"password", "nkey_seed", "token", "seed"} & set(document)):
        raise SettingsError(
            f"{path}: `{bad[0]}` holds a secret; put it in a file of mode 0600 and name the file "
            "(password_file, nkey_seed_file) or use the environment"
        )
    base = path.parent
    for key in PATH_KEYS:  # relative paths in the file are relative to the file
        if isinstance(document.get(key), str) and not os.path.isabs(os.path.expanduser(document[key])):
            document[key] = str(base / document[key])
    return {str(k).replace("-", "_"): v for k, v in document.items()}


def load_settings(cli: Mapping[str, Any], environ: Mapping[str, str], config_file: Path | None = None) -> AgentSettings:
    """Merge `cli` (options given on the command line) over `environ` over `config_file`."""
    config_file = config_file or (Path(environ[ENV_PREFIX + "CONFIG"]) if environ.get(ENV_PREFIX + "CONFIG") else None)
    merged: dict[str, Any] = {}
    if config_file is not None:
        merged.update(_from_file(config_file))
    merged.update(_from_env(environ))
    merged.update({k: v for k, v in cli.items() if v is not None})
    for key in PATH_KEYS:
        if isinstance(merged.get(key), str):
            merged[key] = os.path.expanduser(merged[key])
    missing = [name for name in ("nats", "workspace", "path") if not merged.get(name)]
    if missing:
        raise SettingsError(
            f"missing {', '.join('--' + m for m in missing)}: give it on the command line, as "
            f"{ENV_PREFIX}{missing[0].upper()}, or in --config"
        )
    try:
        settings = msgspec.convert(merged, AgentSettings, strict=False)
    except msgspec.ValidationError as err:
        raise SettingsError(f"invalid agent settings: {err}") from None
    if not Path(settings.path).is_dir():
        raise SettingsError(f"the workspace folder {settings.path} does not exist; create it or fix --path")
    return settings


def _read_secret_file(path: str, what: str) -> str:
    try:
        mode = os.stat(path).st_mode
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise SettingsError(f"cannot read the {what} file {path}: {err.strerror}") from None
    if mode & (stat.S_IRWXO | stat.S_IWGRP):
        raise SettingsError(f"the {what} file {path} may be read or changed by others; run: chmod 600 {path}")
    if not text:
        raise SettingsError(f"the {what} file {path} is empty")
    return text


def parse_env_file(text: str, path: str) -> dict[str, str]:
    """`KEY=VALUE` lines (`#` comments, blank lines and `export ` ignored; quotes stripped)."""
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.fullmatch(line)
        if match is None:
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE")
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[match.group(1)] = value
    return env


def read_secrets(settings: AgentSettings, environ: Mapping[str, str]) -> AgentSecrets:
    """The nkey seed, password and extra CLI environment named by `settings`."""
    seed = password = None
    if settings.nkey_seed_file:
        seed = Secret(_read_secret_file(settings.nkey_seed_file, "nkey seed"))
    elif environ.get(SEED_ENV) and not (settings.creds_file or settings.user):
        seed = Secret(environ[SEED_ENV].strip())
    if seed is not None and not seed.reveal().startswith("SU"):
        raise SettingsError("the nkey seed is not a user seed (it must start with SU); see `tunnels agent credentials`")
    if settings.user:
        if settings.password_file:
            password = Secret(_read_secret_file(settings.password_file, "password"))
        elif environ.get(PASSWORD_ENV):
            password = Secret(environ[PASSWORD_ENV])
        else:
            raise SettingsError(f"--user needs a password: --password-file FILE or {PASSWORD_ENV}")
    extra: dict[str, str] = {}
    if settings.env_file:  # it usually holds an API key: same rules as a secret file
        extra = parse_env_file(_read_secret_file(settings.env_file, "env"), settings.env_file)
    return AgentSecrets(nkey_seed=seed, password=password, extra_env=extra)


def host_name() -> str:
    """This host's name, as announced in the presence."""
    return socket.gethostname()
