"""Local fake Slack and Telegram servers (real aiohttp servers on 127.0.0.1, port 0) for offline tests."""

from tests.fakes.slack import FakeSlack, SlackMessage
from tests.fakes.telegram import FakeTelegram, TgMessage

__all__ = ["FakeSlack", "FakeTelegram", "SlackMessage", "TgMessage"]
