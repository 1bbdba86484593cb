"""Before `tunnels serve` starts anything: ask each enabled chat platform who the bot is.

Slack answers `auth.test` (the bot token) and `apps.connections.open` (the app token, Socket
Mode); Telegram answers `getMe`. A token that is missing, malformed or refused, or a credentials
file others can read, stops the start with one line naming the fix (`CredentialsRefused`, or the
loader's `ConfigError`: exit code 2). A platform that cannot be reached is not an error: it is
reported (`ChannelCheck.reachable` False) and `patient` keeps trying it while the others serve.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from claude_tunnels.config.credentials import load_credentials
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.tunnels.errors import UserError

TIMEOUT_S = 10.0
"""How long one check waits for the platform before calling it unreachable."""


class CredentialsRefused(UserError):
    """A chat platform refused (or could never accept) the configured token; the message names the fix."""


@dataclass(frozen=True)
class ChannelCheck:
    """What one platform said: reachable (and who the bot is), or why it could not be asked."""

    name: str
    reachable: bool
    detail: str


Check = Callable[[LoadedSettings, Mapping[str, str]], Awaitable[ChannelCheck]]


async def check_slack(loaded: LoadedSettings, env: Mapping[str, str]) -> ChannelCheck:
    """`auth.test` with the bot token, `apps.connections.open` with the app token."""
    import aiohttp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    from claude_tunnels.channels.slack.channel import ENV_KEYS

    credentials = load_credentials(loaded.archive_dir, "slack", env=env, env_keys=ENV_KEYS)
    bot, app = credentials.require("bot_token").reveal(), credentials.require("app_token").reveal()
    where = f"`{{key}}` in {loaded.archive_dir / 'slack' / 'credentials'} (or {{env}})"
    for key, value, prefix in (("bot_token", bot, "xoxb-"), ("app_token", app, "xapp-")):
        if not value.startswith(prefix):
            raise CredentialsRefused(
                f"slack: the {key} does not look like a Slack {'bot' if key == 'bot_token' else 'app-level'} token "
                f"({prefix}…); put the right one in " + where.format(key=key, env=ENV_KEYS[key])
            )
    settings = loaded.settings.channels.slack
    client = AsyncWebClient(token=bot, base_url=settings.api_url or AsyncWebClient.BASE_URL, timeout=int(TIMEOUT_S))
    key = "bot_token"
    try:
        identity = await client.auth_test()
        key = "app_token"
        await client.apps_connections_open(app_token=app)
    except SlackApiError as err:
        error = err.response.get("error", "refused") if err.response is not None else "refused"
        raise CredentialsRefused(
            f"slack: Slack refused the {key} ({error}); put a valid one in " + where.format(key=key, env=ENV_KEYS[key])
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as err:
        return ChannelCheck("slack", False, _reason(err))
    return ChannelCheck("slack", True, f"as {identity.get('user', '?')} in {identity.get('team', '?')}")


async def check_telegram(loaded: LoadedSettings, env: Mapping[str, str]) -> ChannelCheck:
    """`getMe` with the bot token."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import AiogramError, TelegramUnauthorizedError
    from aiogram.utils.token import TokenValidationError

    from claude_tunnels.channels.telegram.calls import describe, retryable
    from claude_tunnels.channels.telegram.channel import ENV_KEYS

    credentials = load_credentials(loaded.archive_dir, "telegram", env=env, env_keys=ENV_KEYS)
    token = credentials.require("bot_token").reveal()
    api_url = loaded.settings.channels.telegram.api_url
    try:
        bot = Bot(token=token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession())
    except TokenValidationError:
        raise CredentialsRefused(
            "telegram: the bot token is malformed (it looks like 123456:ABC-...); put the token @BotFather gave you in "
            f"{loaded.archive_dir / 'telegram' / 'credentials'} as `bot_token : <token>` or set TELEGRAM_BOT_TOKEN"
        ) from None
    try:
        me = await asyncio.wait_for(bot.me(), TIMEOUT_S)
    except TelegramUnauthorizedError:
        raise CredentialsRefused(
            "telegram: Telegram refused the bot token (401 Unauthorized); put the token @BotFather gave you in "
            f"{loaded.archive_dir / 'telegram' / 'credentials'} as `bot_token : <token>` or set TELEGRAM_BOT_TOKEN"
        ) from None
    except AiogramError as err:
        if not retryable(err):
            raise CredentialsRefused(f"telegram: getMe failed: {describe(err, token)}; check channels.telegram.api_url") from None
        return ChannelCheck("telegram", False, describe(err, token))
    except TimeoutError as err:
        return ChannelCheck("telegram", False, _reason(err))
    finally:
        await bot.session.close()
    return ChannelCheck("telegram", True, f"as @{me.username}")


CHECKS: dict[str, Check] = {"slack": check_slack, "telegram": check_telegram}
"""One check per chat channel of `channels.registry.CHAT_CHANNELS`."""


async def check_channels(loaded: LoadedSettings, names: list[str], env: Mapping[str, str] | None = None) -> list[ChannelCheck]:
    """Check the channels `names`, together.

    Raises:
        ConfigError: a credentials file is missing, malformed or readable by others, or a token is missing.
        CredentialsRefused: a token is malformed or the platform refused it.
    """
    environment = os.environ if env is None else env
    return list(await asyncio.gather(*(CHECKS[name](loaded, environment) for name in names)))


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:199] + "…"
