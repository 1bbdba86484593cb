"""`tunnels doctor`: check everything a running orchestrator needs, and say what to fix."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from claude_tunnels.channels.registry import enabled_channels
from claude_tunnels.config.credentials import load_credentials
from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.backbone import open_backbone
from claude_tunnels.tunnels.bus.errors import BusError
from claude_tunnels.tunnels.childenv import child_environment
from claude_tunnels.tunnels.discovery import discover

Check = Callable[[], Awaitable[str]]


class Failed(Exception):
    """A check failed; the message says what to fix."""


async def _tree(loaded: LoadedSettings) -> str:
    tree = discover(loaded.root, exclude=[loaded.state_dir, loaded.archive_dir, loaded.task_log_dir])
    if not tree.projects:
        raise Failed(f"no project under {loaded.root}: a project is a folder with a CLAUDE.md (tunnels init offers stubs)")
    found = f"{len(tree.projects)} project(s), {len(tree.workspaces())} workspace(s) under {loaded.root}"
    return found + "".join(f"\n  left out {line}" for line in tree.left_out())


async def _git(loaded: LoadedSettings) -> str:
    from claude_tunnels.tunnels.git.readiness import check_workspaces

    if shutil.which("git") is None:
        return "git is not installed here: every workspace is edited in place, with no rollback (install git)"
    tree = discover(loaded.root, exclude=[loaded.state_dir, loaded.archive_dir, loaded.task_log_dir])
    found = await check_workspaces(tree.workspaces(), worktrees=loaded.settings.git.worktrees)
    return found.summary() + "".join(f"\n  note: {line}" for line in found.notes)


async def _nats(loaded: LoadedSettings) -> str:
    try:
        async with open_backbone(loaded, role="reader", name="tunnels-doctor") as backbone:
            last = await backbone.store.last_seq()
            kind = "embedded" if backbone.server else "at"
            return f"NATS {kind} {backbone.url} answers; {last} event(s) in the log"
    except (BusError, ConfigError) as err:  # ConfigError: an unusable credentials file (mode, content)
        raise Failed(str(err)) from err


def _cli_path(loaded: LoadedSettings) -> str:
    if loaded.settings.claude.cli_path:
        return loaded.settings.claude.cli_path
    import claude_agent_sdk

    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    return str(bundled)


async def _claude(loaded: LoadedSettings) -> str:
    cli = _cli_path(loaded)
    try:
        process = await asyncio.create_subprocess_exec(
            cli, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=child_environment({"DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}, keep=("PATH", "HOME", "LANG", "LC_*", "TZ")),
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    except (TimeoutError, OSError) as err:
        raise Failed(f"the Claude Code CLI at {cli} does not run ({err}); reinstall claude-agent-sdk or set claude.cli_path") from err
    if process.returncode != 0:
        raise Failed(f"the Claude Code CLI at {cli} exited with {process.returncode}: {output.decode(errors='replace')[:200]}")
    return f"Claude Code CLI {output.decode().strip()} ({cli})"


async def _sandbox(loaded: LoadedSettings) -> str:
    from claude_tunnels.tunnels.claude.probe import probe_sandbox

    if not loaded.settings.permissions.sandbox:
        return "OFF (permissions.sandbox: off): workspace agents run their commands unconfined"
    result = await probe_sandbox(loaded.settings.claude.cli_path, loaded.settings.claude.env)
    if not result.confined:
        raise Failed(
            f"{result.detail}; workspace agents will not run. Install bubblewrap and socat "
            "(apt-get install bubblewrap socat), or set permissions.sandbox: off to run them unconfined"
        )
    return f"OS sandbox confines commands: {result.detail}"


async def _model_access(loaded: LoadedSettings) -> str:
    env = {**os.environ, **loaded.settings.claude.env}
    if env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN") or env.get("CLAUDE_CODE_OAUTH_TOKEN"):
        return "model access: an API key or token is set"
    if (Path.home() / ".claude" / ".credentials.json").exists() and not loaded.settings.claude.isolate_home:
        return "model access: a Claude Code login is present"
    raise Failed("no model access: set ANTHROPIC_API_KEY (environment or claude.env), or log in with `claude`")


async def _slack(loaded: LoadedSettings) -> str:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    creds = load_credentials(loaded.archive_dir, "slack", env=os.environ, env_keys={"bot_token": "SLACK_BOT_TOKEN", "app_token": "SLACK_APP_TOKEN"})
    base = loaded.settings.channels.slack.api_url or "https://slack.com/api/"
    try:
        bot = await AsyncWebClient(token=creds.require("bot_token").reveal(), base_url=base).auth_test()
        await AsyncWebClient(base_url=base).apps_connections_open(app_token=creds.require("app_token").reveal())
    except SlackApiError as err:
        raise Failed(f"Slack refused a token ({err.response.get('error')}); check {creds.path}") from None
    except OSError as err:
        raise Failed(f"Slack is not reachable at {base} ({err})") from None
    return f"Slack tokens accepted (bot {bot.get('user')} in {bot.get('team')})"


async def _telegram(loaded: LoadedSettings) -> str:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

    creds = load_credentials(loaded.archive_dir, "telegram", env=os.environ, env_keys={"bot_token": "TELEGRAM_BOT_TOKEN"})
    api_url = loaded.settings.channels.telegram.api_url
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    try:
        bot = Bot(token=creds.require("bot_token").reveal(), session=session)
        me = await bot.get_me()
    except (TelegramAPIError, TelegramNetworkError) as err:
        raise Failed(f"Telegram refused the token or is unreachable ({type(err).__name__}); check {creds.path}") from None
    except Exception as err:
        raise Failed(f"the Telegram token is not valid ({type(err).__name__}); check {creds.path}") from None
    finally:
        await session.close()
    return f"Telegram token accepted (@{me.username})"


async def doctor(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Run every check; exit 1 if any failed."""
    checks: list[tuple[str, Check]] = [
        ("project tree", lambda: _tree(loaded)),
        ("git", lambda: _git(loaded)),
        ("NATS", lambda: _nats(loaded)),
        ("Claude Code", lambda: _claude(loaded)),
        ("sandbox", lambda: _sandbox(loaded)),
        ("model access", lambda: _model_access(loaded)),
    ]
    for name in enabled_channels(loaded):
        checks.append((name, {"slack": lambda: _slack(loaded), "telegram": lambda: _telegram(loaded)}[name]))
    settings = f"{loaded.config_path or 'defaults (no orchestrator.yaml)'}"
    results: list[dict[str, object]] = [{"check": "settings", "ok": True, "detail": settings}]
    if not args.json:
        print(f"settings: {settings}: ok")
    for name, check in checks:
        try:
            result = {"check": name, "ok": True, "detail": await check()}
        except (Failed, ConfigError) as err:
            result = {"check": name, "ok": False, "detail": str(err)}
        results.append(result)
        if not args.json:
            print(f"{name}: {'ok' if result['ok'] else 'FAILED'}: {result['detail']}")
    failures = sum(1 for result in results if not result["ok"])
    if args.json:
        print(json.dumps({"ok": not failures, "checks": results}))
    else:
        print("everything a running orchestrator needs is in place" if not failures else f"{failures} problem(s) to fix")
    return 1 if failures else 0
