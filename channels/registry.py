"""The chat channels `tunnels serve` runs: every one enabled in the settings.

Adding a channel: write one class translating a chat to events and back (subclass
`channels.base.ChatChannel`, or follow `channels.terminal` for the simplest case), give it
`from_settings(loaded, orchestrator)`, `start()` and `stop()`, and list it here.
"""

from __future__ import annotations

import importlib
from typing import Any

from claude_tunnels.channels.port import OrchestratorPort
from claude_tunnels.config.loader import LoadedSettings

CHAT_CHANNELS: dict[str, str] = {
    "slack": "claude_tunnels.channels.slack:SlackChannel",
    "telegram": "claude_tunnels.channels.telegram:TelegramChannel",
}


def channel_class(name: str) -> Any:
    """The channel class registered under `name` (imported on demand: chat libraries are heavy)."""
    module, _, attribute = CHAT_CHANNELS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def enabled_channels(loaded: LoadedSettings) -> list[str]:
    """Names of the chat channels enabled in the settings."""
    channels = loaded.settings.channels
    return [name for name in CHAT_CHANNELS if getattr(channels, name).enabled]


def build_channels(loaded: LoadedSettings, orchestrator: OrchestratorPort) -> list[Any]:
    """Every enabled chat channel, constructed (credentials read) but not started."""
    return [channel_class(name).from_settings(loaded, orchestrator) for name in enabled_channels(loaded)]
