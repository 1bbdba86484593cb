"""Loading orchestrator.yaml: valid files, and one clear line for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_tunnels.config import ConfigError, Settings, find_config, load_settings
from claude_tunnels.config.settings import LimitSettings, NatsSettings, SlackChannelSettings

FULL = """\
root: projects
state_dir: state
archive_dir: /srv/archive
nats:
  url: nats://nats.example:4222
  user: tunnels
  password: hunter2-secret
  tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}
  stream: EVENTS_1
  retention_days: 7.5
models: {router: sonnet, planner: opus}
limits:
  max_parallel_agents: 8
  task_timeout_s: 90.5
permissions:
  bash: {mode: denylist, deny: ["rm -rf", "git push"]}
claude: {cli_path: /usr/bin/claude, env: {ANTHROPIC_API_KEY: sk-secret}, isolate_home: true}
task_log: {dir: logs, retention_days: 10}
channels:
  terminal: {user: alice}
  slack: {enabled: true, allowed_users: [U1, U2]}
  telegram: {enabled: true, allow_everyone: true, per_user_sessions_in_groups: false}
approvers: ["terminal:alice", "slack:U123", "telegram:42"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orchestrator.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_file(tmp_path: Path) -> None:
    (tmp_path / "projects").mkdir()
    loaded = load_settings(write(tmp_path, FULL))
    settings = loaded.settings
    assert loaded.root == (tmp_path / "projects").resolve()
    assert loaded.state_dir == loaded.root / "state"
    assert loaded.archive_dir == Path("/srv/archive")
    assert loaded.task_log_dir == loaded.root / "logs"
    assert loaded.config_path == tmp_path / "orchestrator.yaml"
    assert settings.nats.retention_days == 7.5
    assert settings.limits.max_parallel_agents == 8
    assert settings.limits.router_timeout_s == 180  # untouched defaults stay
    assert settings.permissions.bash.mode == "denylist"
    assert settings.permissions.bash.allow is None
    assert settings.channels.slack.allowed_users == ["U1", "U2"]
    assert settings.channels.telegram.per_user_sessions_in_groups is False
    assert settings.approvers == ["terminal:alice", "slack:U123", "telegram:42"]


def test_settings_repr_hides_secrets(tmp_path: Path) -> None:
    (tmp_path / "projects").mkdir()
    text = repr(load_settings(write(tmp_path, FULL)).settings)
    assert "hunter2-secret" not in text and "sk-secret" not in text
    assert "ANTHROPIC_API_KEY" in text


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "{}\n"])
def test_empty_file_gives_defaults(tmp_path: Path, text: str) -> None:
    loaded = load_settings(write(tmp_path, text))
    assert loaded.settings == Settings()
    assert loaded.root == tmp_path.resolve()
    assert loaded.state_dir == tmp_path.resolve() / ".tunnels"
    assert loaded.archive_dir == tmp_path.resolve() / "ARCHIVE"
    assert loaded.task_log_dir == tmp_path.resolve() / ".tasks"


def test_no_file_uses_defaults_and_root_argument(tmp_path: Path) -> None:
    loaded = load_settings(root=tmp_path)
    assert loaded.config_path is None
    assert loaded.root == tmp_path.resolve()
    assert loaded.settings == Settings()


def test_root_argument_overrides_file(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    loaded = load_settings(write(tmp_path, "root: missing\n"), root=other)
    assert loaded.root == other.resolve()


# (yaml, the dotted key, substrings the one-line message must hold)
CASES = [
    (
        "limits:\n  max_paralel_agents: 3\n",
        "limits.max_paralel_agents",
        ["unknown key", "did you mean `max_parallel_agents`?", "router_timeout_s"],
    ),
    ("chanels: {}\n", "chanels", ["unknown key", "did you mean `channels`?", "top level"]),
    (
        "channels:\n  slack:\n    enabeld: true\n",
        "channels.slack.enabeld",
        ["did you mean `enabled`?", "allowed_channels"],
    ),
    ("limits:\n  max_parallel_agents: '4'\n", "limits.max_parallel_agents", ["an integer"]),
    ("limits:\n  task_timeout_s: soon\n", "limits.task_timeout_s", ["expected a number"]),
    ("limits:\n  max_parallel_agents: 0\n", "limits.max_parallel_agents", ["greater than 0"]),
    ("limits:\n  task_timeout_s: -5\n", "limits.task_timeout_s", ["greater than 0", "-5"]),
    ("limits:\n", "limits", ["got nothing (null)", "remove the key"]),
    (
        "permissions: {bash: {mode: allow}}\n",
        "permissions.bash.mode",
        ["invalid value 'allow'", "allowlist, denylist, allow_all, deny_all"],
    ),
    (
        "channels: {slack: {enabled: true}}\n",
        "channels.slack.allowed_users",
        ["is empty", "allow_everyone: true"],
    ),
    (
        "channels: {telegram: {enabled: true}}\n",
        "channels.telegram.allowed_users",
        ["is empty", "allow_everyone: true"],
    ),
    (
        "channels: {telegram: {enabled: true, allowed_users: [alice]}}\n",
        "channels.telegram.allowed_users[0]",
        ["expected an integer"],
    ),
    ("approvers: [bob]\n", "approvers[0]", ["<channel>:<user id>"]),
    ("approvers: ['telegram:bob']\n", "approvers[0]", ["Telegram user ids are numeric"]),
    ("nats: {user: me}\n", "nats.password", ["is missing while `user` is set"]),
    ("nats: {stream: 'my stream'}\n", "nats.stream", ["JetStream stream name"]),
    ("nats: {tls: {cert_file: c.pem}}\n", "nats.tls.key_file", ["set both or neither"]),
    ("nats: {url: 'nats://a:4222,http://b'}\n", "nats.url", ["'http://b'", "not a NATS URL", "separated by commas"]),
    ("nats: {url: [nats://a:4222, 'b c']}\n", "nats.url", ["'b c'", "nats://host:4222"]),
    ("nats: {url: []}\n", "nats.url", ["empty list"]),
    ("nats: {url: nats://a:4222, replicas: 7}\n", "nats.replicas", ["1 to 5", "three-node cluster"]),
    ("nats: {replicas: 3}\n", "nats.replicas", ["embedded server", "set url to a cluster"]),
]


@pytest.mark.parametrize("url", ["nats://a:4222, nats://b:4222,nats://c:4222", ["nats://a:4222", "nats://b:4222", "nats://c:4222"]])
def test_nats_url_takes_several_seeds(url: object) -> None:
    nats = NatsSettings(url=url, replicas=3)  # type: ignore[arg-type]
    assert nats.seeds == "nats://a:4222,nats://b:4222,nats://c:4222"


@pytest.mark.parametrize(("text", "key", "parts"), CASES)
def test_mistakes_name_the_key_and_the_fix(
    tmp_path: Path, text: str, key: str, parts: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.key == key
    assert message.startswith(f"{path}: {key}: ")
    for part in parts:
        assert part in message


@pytest.mark.parametrize(
    ("text", "line", "parts"),
    [
        ("limits:\n  max_parallel_agents: [1,\n", 3, ["YAML syntax error"]),
        ("root: a\n  bad indent: b\n", 2, ["YAML syntax error"]),
        ("root: a\nroot: b\n", 2, ["duplicate key `root`", "keep only one"]),
    ],
)
def test_yaml_errors_have_line_and_column(
    tmp_path: Path, text: str, line: int, parts: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}:{caught.value.column}: ")
    assert "\n" not in str(caught.value)
    for part in parts:
        assert part in str(caught.value)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="not a mapping of settings"):
        load_settings(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"configuration file not found; .*tunnels init"):
        load_settings(tmp_path / "nope.yaml")


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "root: ./not-there\n"))
    assert caught.value.key == "root"
    assert "does not exist" in str(caught.value)


def test_find_config(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None
    path = write(tmp_path, "")
    assert find_config(tmp_path) == path


@pytest.mark.parametrize(
    "build",
    [
        lambda: LimitSettings(max_parallel_agents=0),
        lambda: LimitSettings(progress_interval_s=float("inf")),
        lambda: NatsSettings(retention_days=0),
        lambda: SlackChannelSettings(enabled=True),
        lambda: Settings(approvers=["matrix:bob"]),
    ],
)
def test_structs_validate_when_built_in_code(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().root = "elsewhere"  # type: ignore[misc, unused-ignore]


# (yaml under `limits:`, the budgets it sets, or the key and message parts of the error)
BUDGET_CASES = [
    ("{}", (None, None), None),
    ("{max_cost_usd_per_task: null, max_cost_usd_per_request: null}", (None, None), None),
    ("{max_cost_usd_per_task: 0.5}", (0.5, None), None),
    ("{max_cost_usd_per_request: 3}", (None, 3), None),
    ("{max_cost_usd_per_task: 0.25, max_cost_usd_per_request: 2.5}", (0.25, 2.5), None),
    ("{max_cost_usd_per_task: 0}", None, ("limits.max_cost_usd_per_task", ["greater than 0, got 0", "or null for no limit"])),
    ("{max_cost_usd_per_request: -1}", None, ("limits.max_cost_usd_per_request", ["greater than 0, got -1", "USD"])),
    ("{max_cost_usd_per_request: .inf}", None, ("limits.max_cost_usd_per_request", ["greater than 0, got inf"])),
    ("{max_cost_usd_per_task: cheap}", None, ("limits.max_cost_usd_per_task", ["expected a number or nothing (null), got a string"])),
]


@pytest.mark.parametrize(("limits", "budgets", "error"), BUDGET_CASES)
def test_cost_budgets_are_positive_or_null(
    tmp_path: Path, limits: str, budgets: tuple[float | None, float | None] | None, error: tuple[str, list[str]] | None
) -> None:
    path = write(tmp_path, f"limits: {limits}\n")
    if error is None:
        loaded = load_settings(path).settings.limits
        assert (loaded.max_cost_usd_per_task, loaded.max_cost_usd_per_request) == budgets
        return
    key, parts = error
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.key == key and "\n" not in str(caught.value)
    for part in parts:
        assert part in str(caught.value)


@pytest.mark.parametrize(("limits", "key", "part"), [
    ("{planner_prompt_chars: 2000}", "limits.planner_prompt_chars", "must be at least 8000, got 2000"),
    ("{router_prompt_chars: 100}", "limits.router_prompt_chars", "must be at least 4000, got 100"),
    ("{planner_prompt_chars: -1}", "limits.planner_prompt_chars", "greater than 0, got -1"),
])
def test_prompt_budgets_leave_room_for_the_request(tmp_path: Path, limits: str, key: str, part: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, f"limits: {limits}\n"))
    assert caught.value.key == key and part in str(caught.value)
    loaded = load_settings(write(tmp_path, "limits: {planner_prompt_chars: 8000, router_prompt_chars: 4000}\n")).settings.limits
    assert (loaded.planner_prompt_chars, loaded.router_prompt_chars) == (8000, 4000)
