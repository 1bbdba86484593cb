"""The settings schema of ``orchestrator.yaml``: frozen structs, every field defaulted.

An empty file is valid. Unknown keys are errors (``forbid_unknown_fields``), so a typo fails
loudly instead of silently falling back to a default. Cross-field rules live in
``__post_init__``; their messages start with the offending field in backticks, which the loader
turns into a dotted key path (``limits.max_parallel_agents``).
"""

from __future__ import annotations

import math
import re
from typing import Literal

import msgspec

BashMode = Literal["allowlist", "denylist", "allow_all", "deny_all"]
CHANNEL_KINDS = ("terminal", "slack", "telegram", "api")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NATS_URL = re.compile(r"(nats|tls|ws|wss)://([^\s/@,]+@)?[A-Za-z0-9.\[\]:_-]+(:[0-9]{1,5})?/?")
MAX_REPLICAS = 5
"""JetStream keeps at most five copies of a stream."""


def split_urls(value: str | list[str] | None) -> list[str]:
    """The seed URLs of `nats.url`: a list, or one string with commas between URLs."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [item.strip() for item in items]


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The shared struct settings of every section."""


def _require_positive(section: _Section, *names: str) -> None:
    for name in names:
        value = getattr(section, name)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"`{name}` must be greater than 0, got {value}; set a positive number")


def _require_pair(first: str, first_value: object, second: str, second_value: object) -> None:
    if first_value is not None and second_value is None:
        raise ValueError(f"`{second}` is missing while `{first}` is set; set both or neither")
    if second_value is not None and first_value is None:
        raise ValueError(f"`{first}` is missing while `{second}` is set; set both or neither")


class NatsTLS(_Section, frozen=True, kw_only=True):
    """TLS files for a connection to an external NATS server."""

    ca_file: str | None = None
    """The CA certificate(s) that signed the server's certificate (PEM); relative to the root."""
    cert_file: str | None = None
    """This client's certificate (PEM), for mutual TLS; set together with `key_file`."""
    key_file: str | None = None
    """This client's private key (PEM), for mutual TLS."""

    def __post_init__(self) -> None:
        _require_pair("cert_file", self.cert_file, "key_file", self.key_file)


class NatsSettings(_Section, frozen=True, kw_only=True):
    """Where the event log lives. ``url: None`` starts an embedded ``nats-server``."""

    url: str | list[str] | None = None
    """The server, or a cluster's seed URLs (a list, or comma-separated); None: embedded."""
    token: str | None = None
    user: str | None = None
    password: str | None = None
    creds_file: str | None = None
    nkey_seed_file: str | None = None
    """A file (mode 0600) holding an nkey user seed (`SU…`); the server knows its public key."""
    tls: NatsTLS | None = None
    stream: str = "TUNNELS_EVENTS"
    retention_days: float = 30
    duplicate_window_s: float = 86400
    connect_timeout_s: float = 5
    outage_notice_s: float = 30
    """When the event store has been unreachable this long, people with a request open are told
    (and told again once it is back); work waits for it meanwhile."""
    lease_ttl_s: float = 15
    """With `url` set, orchestrators of one stream share a lease: the active one renews it every
    third of this; a standby takes over once it went unrenewed this long (and so a killed active
    one is replaced within about this time)."""
    replicas: int = 1
    """Copies of the stream, its consumers and key-value buckets kept by a cluster (1-5; 3 on a
    three-node cluster survives the loss of a node). The embedded server has one node: 1."""

    def __post_init__(self) -> None:
        _require_positive(self, "retention_days", "duplicate_window_s", "connect_timeout_s", "outage_notice_s", "lease_ttl_s")
        urls = split_urls(self.url)
        if self.url is not None and not urls:
            raise ValueError("`url` is an empty list; give at least one nats://host:port, or null for the embedded server")
        for url in urls:
            if not _NATS_URL.fullmatch(url):
                raise ValueError(
                    f"`url` holds {url!r}, which is not a NATS URL; write nats://host:4222 (or tls://, ws://, "
                    "wss://), several as a list or separated by commas"
                )
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise ValueError(
                f"`replicas` must be 1 to {MAX_REPLICAS}, got {self.replicas}; use 1 for one server, 3 for a three-node cluster"
            )
        if self.url is None and self.replicas != 1:
            raise ValueError(
                f"`replicas` is {self.replicas} but the embedded server (url: null) is one node; set url to a cluster, or replicas: 1"
            )
        if not _STREAM_NAME.fullmatch(self.stream):
            raise ValueError(
                "`stream` must be 1-64 letters, digits, `_` or `-` (a JetStream stream name)"
            )
        _require_pair("user", self.user, "password", self.password)
        methods = [m for m in ("token", "user", "creds_file", "nkey_seed_file") if getattr(self, m) is not None]
        if len(methods) > 1:
            raise ValueError(f"`{methods[0]}` is set together with `{methods[1]}`; choose one way to log in")

    @property
    def seeds(self) -> str | None:
        """`url` as one comma-separated string (what connection options carry), None: embedded."""
        return None if self.url is None else ",".join(split_urls(self.url))

    def __repr__(self) -> str:
        # Settings get logged; the token and password must not be.
        fields = msgspec.structs.asdict(self)
        for name in ("token", "password"):
            if fields[name] is not None:
                fields[name] = "***"
        return "NatsSettings(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


class ModelSettings(_Section, frozen=True, kw_only=True):
    """The model of each agent role; ``None`` keeps the Claude Code CLI's default model."""

    router: str | None = None
    planner: str | None = None
    workspace: str | None = None
    direct: str | None = None


def _require_positive_or_null(section: _Section, *names: str) -> None:
    for name in names:
        value = getattr(section, name)
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ValueError(
                f"`{name}` must be greater than 0, got {value}; set an amount in USD such as 2.5, "
                "or null for no limit"
            )


class LimitSettings(_Section, frozen=True, kw_only=True):
    """Timeouts, sizes, counts and cost budgets; every one that is set must be positive.

    The cost budgets are in USD, as the Claude Code CLI computes cost; None is no budget.
    """

    router_timeout_s: float = 180
    planner_timeout_s: float = 600
    direct_timeout_s: float = 300
    task_timeout_s: float = 1800
    max_parallel_agents: int = 4
    max_warm_agents: int = 4
    """Tasks' Claude Code sessions started ahead and waiting for their prompt (0: none)."""
    approval_ttl_s: float = 1800
    followup_ttl_s: float = 1800
    upstream_context_chars: int = 4000
    max_message_chars: int = 16000
    planner_prompt_chars: int = 60000
    """The planner's prompt stays under this many characters (about 4 a token), whatever the tree."""
    router_prompt_chars: int = 40000
    """The router's prompt stays under this many characters."""
    readonly_max_turns: int = 15
    workspace_max_turns: int = 100
    progress_interval_s: float = 1.0
    max_cost_usd_per_task: float | None = None
    """Each workspace session stops when it has cost this much (the CLI's `--max-budget-usd`)."""
    max_cost_usd_per_request: float | None = None
    """No further phase of a request starts once routing, planning and its tasks cost this much."""

    def __post_init__(self) -> None:
        budgets = ("max_cost_usd_per_task", "max_cost_usd_per_request")
        _require_positive(self, *(name for name in msgspec.structs.asdict(self) if name not in (*budgets, "max_warm_agents")))
        if self.max_warm_agents < 0:
            raise ValueError(f"`max_warm_agents` must be 0 or more, got {self.max_warm_agents}: 0 starts no session ahead")
        _require_positive_or_null(self, *budgets)
        for name, least, default in (("planner_prompt_chars", 8000, 60000), ("router_prompt_chars", 4000, 40000)):
            if getattr(self, name) < least:
                raise ValueError(
                    f"`{name}` must be at least {least}, got {getattr(self, name)}: the request and the "
                    f"instructions alone take that much; raise it (the default is {default})"
                )


class BashPolicySettings(_Section, frozen=True, kw_only=True):
    """Which shell commands a workspace agent may run (enforced by ``tunnels.claude.permissions``).

    ``allow: None`` means the built-in default allowlist; ``allow: []`` allows nothing.
    """

    mode: BashMode = "allowlist"
    allow: list[str] | None = None
    deny: list[str] = []

    def __post_init__(self) -> None:
        for name, patterns in (("allow", self.allow or []), ("deny", self.deny)):
            for index, pattern in enumerate(patterns):
                if not pattern.strip():
                    raise ValueError(f"`{name}[{index}]` is empty; remove it or write a command")


_DOMAIN = re.compile(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")
RelayAction = Literal["bash", "network"]


class NetworkSettings(_Section, frozen=True, kw_only=True):
    """Which hosts an agent's sandboxed commands may reach (none by default)."""

    allow: list[str] = []
    """Domain names, or `*.example.org` for every subdomain (e.g. `pypi.org`, `*.npmjs.org`)."""

    def __post_init__(self) -> None:
        for index, domain in enumerate(self.allow):
            if not _DOMAIN.fullmatch(domain):
                raise ValueError(
                    f"`allow[{index}]` is not a domain name: {domain!r}; write a host such as `pypi.org` "
                    "or `*.npmjs.org` (no scheme, port or path)"
                )


class RelaySettings(_Section, frozen=True, kw_only=True):
    """Which actions an agent may not take by itself are asked of a person in the conversation."""

    actions: list[RelayAction] = msgspec.field(default_factory=lambda: ["bash", "network"])
    """`bash`: a command outside the Bash allowlist; `network`: a host not in `network.allow`.
    `[]` refuses them without asking."""
    timeout_s: float = 300
    """No answer within this time means deny."""

    def __post_init__(self) -> None:
        _require_positive(self, "timeout_s")


class PermissionSettings(_Section, frozen=True, kw_only=True):
    """What agents may do beyond reading."""

    bash: BashPolicySettings = msgspec.field(default_factory=BashPolicySettings)
    sandbox: bool = True
    """Claude Code's OS sandbox around every Bash command of a workspace agent. `off` runs them
    unconfined (a warning at every start); agents do not run where the sandbox cannot."""
    network: NetworkSettings = msgspec.field(default_factory=NetworkSettings)
    relay: RelaySettings = msgspec.field(default_factory=RelaySettings)


class ClaudeSettings(_Section, frozen=True, kw_only=True):
    """How the Claude Code CLI is started."""

    cli_path: str | None = None
    env: dict[str, str] = {}
    isolate_home: bool = False

    def __repr__(self) -> str:
        # `env` often carries API keys: show the names only.
        env = {name: "***" for name in self.env}
        return (
            f"ClaudeSettings(cli_path={self.cli_path!r}, env={env!r}, "
            f"isolate_home={self.isolate_home!r})"
        )


class TaskLogSettings(_Section, frozen=True, kw_only=True):
    """The human-readable task log (``<dir>/<date>/<project>/...``), relative to the root."""

    dir: str = ".tasks"
    retention_days: float = 30

    def __post_init__(self) -> None:
        if not self.dir.strip():
            raise ValueError("`dir` is empty; remove the key or give a folder")
        _require_positive(self, "retention_days")


class TerminalChannelSettings(_Section, frozen=True, kw_only=True):
    """The local terminal channel; its single user is trusted."""

    enabled: bool = True
    user: str = "local"
    auto_approve: bool = False

    def __post_init__(self) -> None:
        if not self.user.strip():
            raise ValueError("`user` is empty; name the local user, e.g. `user: local`")


def _require_allowlist(users: str, places: str, empty: bool, allow_everyone: bool) -> None:
    if empty and not allow_everyone:
        raise ValueError(
            f"`{users}` is empty while the channel is enabled; list the user ids allowed to use "
            f"the bot in `{users}` (`{places}` only narrows where), or set `allow_everyone: true` explicitly"
        )


class SlackChannelSettings(_Section, frozen=True, kw_only=True):
    """Slack over Socket Mode. Ids are Slack's stable ids (``U…`` users, ``C…`` channels)."""

    enabled: bool = False
    allowed_users: list[str] = []
    allowed_channels: list[str] = []
    allow_everyone: bool = False
    auto_approve: bool = False
    api_url: str | None = None
    """The Slack Web API base URL (None: https://slack.com/api/); for proxies and tests."""

    def __post_init__(self) -> None:
        if self.enabled:
            empty = not self.allowed_users
            _require_allowlist("allowed_users", "allowed_channels", empty, self.allow_everyone)


class TelegramChannelSettings(_Section, frozen=True, kw_only=True):
    """Telegram over long polling. Ids are Telegram's numeric user and chat ids."""

    enabled: bool = False
    allowed_users: list[int] = []
    allowed_chats: list[int] = []
    allow_everyone: bool = False
    auto_approve: bool = False
    per_user_sessions_in_groups: bool = True
    api_url: str | None = None
    """A Bot API server base URL (None: https://api.telegram.org), e.g. a local Bot API server."""

    def __post_init__(self) -> None:
        if self.enabled:
            empty = not self.allowed_users
            _require_allowlist("allowed_users", "allowed_chats", empty, self.allow_everyone)


class ChannelSettings(_Section, frozen=True, kw_only=True):
    """The chat channels the bot listens on."""

    terminal: TerminalChannelSettings = msgspec.field(default_factory=TerminalChannelSettings)
    slack: SlackChannelSettings = msgspec.field(default_factory=SlackChannelSettings)
    telegram: TelegramChannelSettings = msgspec.field(default_factory=TelegramChannelSettings)


def _check_approver(index: int, qualified: str, *, key: str = "") -> None:
    key = key or f"approvers[{index}]"
    kind, sep, user = qualified.partition(":")
    if not sep or kind not in CHANNEL_KINDS or not user.strip():
        raise ValueError(
            f"`{key}` must be `<channel>:<user id>` with channel one of "
            f"{', '.join(CHANNEL_KINDS)}, e.g. `slack:U123` or `telegram:42`"
        )
    if kind == "telegram" and not re.fullmatch(r"-?[0-9]+", user):
        raise ValueError(
            f"`{key}` is not a number after `telegram:`; Telegram user ids are "
            "numeric, e.g. `telegram:42`"
        )


_BRANCH_PREFIX = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?")
_REMOTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
OnSuccess = Literal["keep", "merge", "pr"]


class GitHubSettings(_Section, frozen=True, kw_only=True):
    """Pull requests through the GitHub REST API. The token is `token` in
    `ARCHIVE/github/credentials` or `GITHUB_TOKEN` (which wins); without one, Open PR only pushes."""

    api_url: str = "https://api.github.com"
    """The REST API's base URL: GitHub Enterprise Server's is `https://HOST/api/v3`."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", self.api_url):
            raise ValueError(f"`api_url` {self.api_url!r} is not an http(s) URL; e.g. `https://api.github.com`")


class GitSettings(_Section, frozen=True, kw_only=True):
    """A worktree and a branch per task, for workspaces inside a git repository."""

    worktrees: bool = True
    """Run each task in its own worktree on its own branch (false: edit the workspace in place)."""
    branch_prefix: str = "tunnels/"
    """Task branches are `<prefix><request>/<workspace>`."""
    keep_failed_days: float = 7
    """How long the branch of a failed, cancelled or interrupted task is kept (its worktree never is)."""
    on_success: OnSuccess = "keep"
    """What is done with a request's branches, without asking, when every task succeeded and every
    declared test passed, for requests from `trusted_channels`: keep them for a person to decide,
    merge them, or open pull requests."""
    trusted_channels: list[str] = msgspec.field(default_factory=lambda: ["terminal"])
    """The channels `on_success` applies to (elsewhere a person always decides)."""
    remote: str = "origin"
    """The remote Open PR pushes the request branch to."""
    github: GitHubSettings = msgspec.field(default_factory=GitHubSettings)

    def __post_init__(self) -> None:
        for index, channel in enumerate(self.trusted_channels):
            if channel not in CHANNEL_KINDS:
                raise ValueError(f"`trusted_channels[{index}]` {channel!r} is not a channel; use {', '.join(CHANNEL_KINDS)}")
        if not _REMOTE_NAME.fullmatch(self.remote):
            raise ValueError(f"`remote` {self.remote!r} is not a remote's name; e.g. `origin`")
        if not _BRANCH_PREFIX.fullmatch(self.branch_prefix) or ".." in self.branch_prefix or self.branch_prefix.startswith("-"):
            raise ValueError(
                f"`branch_prefix` {self.branch_prefix!r} is not a usable branch name prefix; use letters, digits, "
                "`.`, `_`, `-` and `/`, e.g. `tunnels/`"
            )
        if not (self.keep_failed_days >= 0 and math.isfinite(self.keep_failed_days)):
            raise ValueError(f"`keep_failed_days` must be 0 or more, got {self.keep_failed_days}")


class RemoteSettings(_Section, frozen=True, kw_only=True):
    """Remote workspace agents (``tunnels-agent``) reached over NATS."""

    lost_after_s: float = 30
    """An agent whose heartbeat is older than this is lost: its running task fails as "agent lost"."""

    def __post_init__(self) -> None:
        _require_positive(self, "lost_after_s")


class ParentSettings(_Section, frozen=True, kw_only=True):
    """A parent orchestrator this one serves as a workspace (``url: None``: none).

    The child connects to the parent's NATS as the nkey user `tunnels agent credentials NAME`
    made there (the seed in ``nkey_seed_file``, relative to the root), announces itself as
    ``name`` (``project/name`` at the parent) with ``description``, and runs each task the
    parent hands it as a request of its own, authorised by the parent's approved plan."""

    url: str | None = None
    """The parent's NATS server: ``nats://hub:4222``, ``tls://…``."""
    nkey_seed_file: str | None = None
    creds_file: str | None = None
    name: str | None = None
    """The workspace name the parent knows this orchestrator by: ``project/name``."""
    description: str = ""
    """What this orchestrator's tree is for, shown to the parent's planner."""
    js_domain: str | None = None
    """The parent's JetStream domain, when the child reaches it through a leaf node."""
    heartbeat_s: float = 5
    tls_ca_file: str | None = None
    approval: Literal["parent", "own"] = "parent"
    """Who approves this orchestrator's plan for a parent's task: ``parent`` (the parent's approved
    plan authorises it) or ``own`` (the plan is put to the parent's conversation as a question,
    answered there by the parent's requester or an approver)."""

    def __post_init__(self) -> None:
        _require_positive(self, "heartbeat_s")
        if self.url is None:
            return
        if not self.name or "/" not in self.name:
            raise ValueError("`name` must be set, as project/name: the workspace the parent knows this orchestrator by")
        if (self.nkey_seed_file is None) == (self.creds_file is None):
            raise ValueError("set one of `nkey_seed_file` or `creds_file`: the login `tunnels agent credentials` made at the parent")


_TOKEN_HASH = re.compile(r"sha256:[0-9a-f]{64}")


class DashboardSettings(_Section, frozen=True, kw_only=True):
    """The web dashboard, its JSON API and ``/metrics`` (``tunnels serve`` starts it when enabled;
    ``tunnels dashboard`` runs it alone).

    ``users`` maps a qualified chat identity (``slack:U123``) to the SHA-256 of its token
    (``sha256:<hex>``, made by ``tunnels dashboard token IDENTITY``): a web user acts as that
    identity, under the same approval rules as in the chat. A bind address other than loopback
    is refused while ``users`` is empty."""

    enabled: bool = False
    bind: str = "127.0.0.1:8470"
    """``host:port`` to listen on (port 0: any free port)."""
    users: dict[str, str] = {}

    def __post_init__(self) -> None:
        host, sep, port = self.bind.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"`bind` must be host:port, e.g. 127.0.0.1:8470, got {self.bind!r}")
        for identity, token_hash in self.users.items():
            _check_approver(0, identity, key=f"users.{identity}")
            if not _TOKEN_HASH.fullmatch(token_hash):
                raise ValueError(
                    f"`users.{identity}` must be sha256:<64 hex digits> (the hash of the token, never the token); "
                    f"`tunnels dashboard token {identity}` makes a token and prints its line"
                )


class Settings(_Section, frozen=True, kw_only=True):
    """The whole of ``orchestrator.yaml``.

    Paths: ``root`` is relative to the file's folder; ``state_dir``, ``archive_dir`` and
    ``task_log.dir`` are relative to ``root``. ``approvers`` are qualified user ids
    (``terminal:alice``, ``slack:U123``, ``telegram:42``) who may approve anyone's request.
    """

    root: str = "."
    state_dir: str = ".tunnels"
    archive_dir: str = "ARCHIVE"
    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    models: ModelSettings = msgspec.field(default_factory=ModelSettings)
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)
    permissions: PermissionSettings = msgspec.field(default_factory=PermissionSettings)
    claude: ClaudeSettings = msgspec.field(default_factory=ClaudeSettings)
    task_log: TaskLogSettings = msgspec.field(default_factory=TaskLogSettings)
    channels: ChannelSettings = msgspec.field(default_factory=ChannelSettings)
    remote: RemoteSettings = msgspec.field(default_factory=RemoteSettings)
    parent: ParentSettings = msgspec.field(default_factory=ParentSettings)
    git: GitSettings = msgspec.field(default_factory=GitSettings)
    dashboard: DashboardSettings = msgspec.field(default_factory=DashboardSettings)
    approvers: list[str] = []

    def __post_init__(self) -> None:
        for name in ("root", "state_dir", "archive_dir"):
            if not getattr(self, name).strip():
                raise ValueError(f"`{name}` is empty; remove the key or give a folder")
        for index, qualified in enumerate(self.approvers):
            _check_approver(index, qualified)
