"""The Bolt listeners: Slack events and button presses in, `ChatChannel.receive` out.

Bolt runs with `process_before_response=True`, so Slack's envelope is acknowledged only after the
listener returns: a message is on the stream before Slack forgets it. A listener that raises
leaves the envelope un-acked and Slack delivers it again (the orchestrator stores it once).
Every kind of request the app may get has a listener, so nothing stays un-acked by accident.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from claude_tunnels.channels.slack.blocks import ACTIONS
from claude_tunnels.channels.slack.inbound import Allowlist, Inbound, answer_target, from_click, from_event, mentions

if TYPE_CHECKING:
    from claude_tunnels.channels.slack.channel import SlackChannel

log = logging.getLogger(__name__)

_REMEMBERED = 512


class Inbox:
    """Turns what Slack delivers into recorded messages, refusing people who are not allowed."""

    def __init__(self, channel: SlackChannel, allowlist: Allowlist) -> None:
        self.channel = channel
        self.allowlist = allowlist
        self._threads: set[str] = set()  # sessions this process recorded a message for
        self._refused: OrderedDict[str, None] = OrderedDict()  # message refs already refused

    def register(self, app: AsyncApp) -> None:
        """Add the listeners to `app`; Bolt runs the first one that matches, so catch-alls go last."""
        app.event("message")(self._on_message)
        app.event("app_mention")(self._on_mention)
        app.action(re.compile("^(" + "|".join(map(re.escape, ACTIONS)) + ")$"))(self._on_click)
        for kind in (app.event, app.action, app.shortcut, app.view, app.options, app.command):
            kind(re.compile(".*"))(_ignore)

    async def _on_message(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._message(event, context, mentioned=False)

    async def _on_mention(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._message(event, context, mentioned=True)

    async def _on_click(self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        inbound = from_click(body, team=_team(context))
        if inbound is not None:
            if self.allowlist.permits(inbound.user, inbound.channel):
                await self._record(inbound)
            else:
                await self._refuse(inbound, in_thread=True)
        await ack()  # sent to Slack only once this listener has returned

    async def _message(self, event: dict[str, Any], context: AsyncBoltContext, *, mentioned: bool) -> None:
        bot = context.bot_user_id or ""
        inbound = from_event(event, team=_team(context), bot_user_id=bot)
        if inbound is None or not self._addressed(event, inbound, bot, mentioned):
            return
        if not self.allowlist.permits(inbound.user, inbound.channel):
            await self._refuse(inbound, in_thread="thread_ts" in event)
        elif inbound.text:
            hint = None
            if event.get("channel_type") == "im" and "thread_ts" not in event:
                inbound, hint = answer_target(inbound, self.channel.orchestrator.sessions.sessions)
            if hint is None:
                await self._record(inbound)
            else:  # a bare answer that could be meant for more than one thread: nothing to record
                await self.channel.tell(inbound.channel, inbound.user, hint, thread_ts=None)

    def _addressed(self, event: Mapping[str, Any], inbound: Inbound, bot: str, mentioned: bool) -> bool:
        """DMs, mentions, and replies in a thread that is already a conversation with the bot."""
        if mentioned or event.get("channel_type") == "im" or mentions(str(event.get("text") or ""), bot):
            return True
        if "thread_ts" not in event:
            return False
        return inbound.session_key in self._threads or inbound.session_key in self.channel.orchestrator.sessions.sessions

    async def _record(self, inbound: Inbound) -> None:
        await self.channel.receive(
            session_key=inbound.session_key, sender=inbound.sender, text=inbound.text, message_ref=inbound.message_ref,
            sent_at=inbound.sent_at, action=inbound.action, request_id=inbound.request_id, permission_id=inbound.permission_id,
            repo=inbound.repo,
        )
        self._threads.add(inbound.session_key)

    async def _refuse(self, inbound: Inbound, *, in_thread: bool) -> None:
        if inbound.message_ref in self._refused:
            return  # the same message came as `message` and `app_mention`, or again
        self._refused[inbound.message_ref] = None
        while len(self._refused) > _REMEMBERED:
            self._refused.popitem(last=False)
        reason = self.allowlist.refusal(inbound.user, inbound.channel) or "Sorry, you may not use this bot here."
        log.info("slack: refused %s in %s: %s", inbound.user, inbound.channel, reason)
        await self.channel.tell(inbound.channel, inbound.user, reason, thread_ts=inbound.thread_ts if in_thread else None)


async def _ignore(ack: AsyncAck) -> None:
    """Acknowledge what the bot does not handle, so Slack does not deliver it again."""
    await ack()


def _team(context: AsyncBoltContext) -> str:
    # The workspace the app is installed in: the same for a message and a click in one thread.
    result = context.authorize_result
    return (result.team_id if result is not None else None) or context.team_id or ""
