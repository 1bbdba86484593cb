"""The Telegram channel (aiogram 3, long polling): a private chat, group topic or group user is a conversation."""

from claude_tunnels.channels.telegram.calls import TelegramChannelError
from claude_tunnels.channels.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel", "TelegramChannelError"]
