"""The environment of a Claude Code CLI: built from an allowlist, never inherited whole.

claude-agent-sdk starts the CLI with this process's whole environment plus `options.env`, and
whatever the CLI gets, every Bash command it runs can print (`env`). So the CLI is started
through a launcher script that `exec`s it under `env -i` with only the listed variable *names*
(the script holds names, never values): what the CLI needs to run and reach its model, what the
caller passed explicitly (`claude.env`, a scripted model's URL), and the SDK's own variables.
Chat tokens and NATS credentials never reach it.

The model key is not put in the environment at all: `ANTHROPIC_API_KEY` / `ANTHROPIC_AUTH_TOKEN`
are written to a mode-0600 file in the run's private folder and handed to the CLI through its
`apiKeyHelper` setting, a command the CLI itself runs; the sandbox hides that folder from Bash.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import claude_agent_sdk

BASE_NAMES: frozenset[str] = frozenset({
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "USER", "LOGNAME", "SHELL", "HOME", "TMPDIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE",
    "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "CLAUDE_CONFIG_DIR",
    "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "AWS_REGION", "ANTHROPIC_VERTEX_PROJECT_ID", "CLOUD_ML_REGION",
    "DISABLE_TELEMETRY", "DISABLE_AUTOUPDATER", "DISABLE_ERROR_REPORTING", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
    "CLAUDE_CODE_MAX_OUTPUT_TOKENS", "MAX_THINKING_TOKENS", "API_TIMEOUT_MS", "BASH_DEFAULT_TIMEOUT_MS",
    "BASH_MAX_TIMEOUT_MS", "CLAUDE_CODE_STREAM_CLOSE_TIMEOUT", "CLAUDE_AGENT_SDK_SKIP_VERSION_CHECK",
    # set by claude-agent-sdk itself
    "CLAUDE_CODE_ENTRYPOINT", "CLAUDE_AGENT_SDK_VERSION", "CLAUDE_CODE_SDK_READS_SESSION_STATE", "PWD",
    "CLAUDE_AGENT_SDK_CLIENT_APP", "CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING", "TRACEPARENT", "TRACESTATE",
})  # fmt: skip
"""Variables a CLI may get from this process's environment: locale, paths, proxies, model settings."""

MODEL_KEY_NAMES: tuple[str, ...] = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
"""Model credentials handed over through `apiKeyHelper`, never through the environment."""

PROVIDER_NAMES: dict[str, tuple[str, ...]] = {
    "CLAUDE_CODE_USE_BEDROCK": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"),
    "CLAUDE_CODE_USE_VERTEX": ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"),
}
"""Cloud credentials passed on only when their provider is switched on (the CLI needs them)."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class CliNotFound(Exception):
    """No Claude Code CLI to start (neither `claude.cli_path`, the bundled one, nor one on PATH)."""


@dataclass(frozen=True)
class AgentEnvironment:
    """What a session's CLI is started with: `options.env`, the launcher, and extra settings."""

    env: dict[str, str]
    """Values to pass as `ClaudeAgentOptions.env` (the explicit ones, never the model key)."""
    cli_path: str
    """The launcher script to give as `ClaudeAgentOptions.cli_path`."""
    settings: dict[str, str]
    """Settings entries to merge (`apiKeyHelper` when a model key was given)."""


def real_cli(cli_path: str | None) -> str:
    """The CLI executable: `cli_path`, else the one bundled with claude-agent-sdk, else `claude` on PATH."""
    if cli_path:
        found = shutil.which(cli_path)
        if found is None:
            raise CliNotFound(f"Claude Code not found at: {cli_path} (set claude.cli_path to the claude executable)")
        return found
    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    if bundled.is_file():
        return str(bundled)
    found = shutil.which("claude")
    if found:
        return found
    raise CliNotFound("Claude Code not found: install claude-agent-sdk with its bundled CLI or set claude.cli_path")


def kept_names(explicit: Mapping[str, str], inherited: Mapping[str, str]) -> list[str]:
    """The names the CLI may see: the base allowlist, locale, the caller's own, provider credentials."""
    names = set(BASE_NAMES) | {name for name in inherited if name.startswith("LC_")} | set(explicit)
    for switch, credentials in PROVIDER_NAMES.items():
        if explicit.get(switch) or inherited.get(switch):
            names.update(credentials)
    return sorted(name for name in names - set(MODEL_KEY_NAMES) if _NAME.fullmatch(name))


def prepare(private_dir: Path, explicit: Mapping[str, str], cli_path: str | None,
            inherited: Mapping[str, str] | None = None) -> AgentEnvironment:
    """Write the launcher (and the model key file, if any) into `private_dir` (mode 0700)."""
    inherited = os.environ if inherited is None else inherited
    private_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings: dict[str, str] = {}
    key = next((explicit.get(n) or inherited.get(n) for n in MODEL_KEY_NAMES if explicit.get(n) or inherited.get(n)), None)
    if key:
        key_file = private_dir / "model-key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        settings["apiKeyHelper"] = f"cat {shlex.quote(str(key_file))}"
    launcher = private_dir / "claude"
    keep = " ".join(f'${{{name}+"{name}=${name}"}}' for name in kept_names(explicit, inherited))
    launcher.write_text(f'#!/bin/sh\nexec /usr/bin/env -i {keep} {shlex.quote(real_cli(cli_path))} "$@"\n')
    launcher.chmod(0o700)
    env = {name: value for name, value in explicit.items() if name not in MODEL_KEY_NAMES}
    return AgentEnvironment(env=env, cli_path=str(launcher), settings=settings)
