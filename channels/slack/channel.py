"""The Slack channel: Socket Mode in (slack-bolt `AsyncApp`), Web API out, one thread per conversation."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from claude_tunnels.channels.base import CHANGES_SETTLED, ChatChannel
from claude_tunnels.channels.names import DisplayNames
from claude_tunnels.channels.port import OrchestratorPort
from claude_tunnels.channels.render import render
from claude_tunnels.channels.settled import outcome, settled
from claude_tunnels.channels.slack.blocks import approval_blocks, changes_blocks, question_blocks, section
from claude_tunnels.channels.slack.inbound import Allowlist, parse_session_key
from claude_tunnels.channels.slack.listeners import Inbox
from claude_tunnels.channels.slack.mrkdwn import SECTION_LIMIT, TEXT_LIMIT, escape, to_mrkdwn_parts
from claude_tunnels.config.credentials import Secret, load_credentials
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.config.settings import SlackChannelSettings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.conversation import (
    ConfirmationCancelled,
    ConfirmationExpired,
    ConfirmationGiven,
    ConfirmationRefused,
    PlanRevised,
)
from claude_tunnels.events.execution import PermissionDecided, RequestCancelled, RequestCompleted, RequestFailed

log = logging.getLogger(__name__)

ENV_KEYS = {"bot_token": "SLACK_BOT_TOKEN", "app_token": "SLACK_APP_TOKEN"}
"""Credential key -> the environment variable that overrides `ARCHIVE/slack/credentials`."""

_APPROVAL_SETTLED = (ConfirmationGiven, ConfirmationCancelled, ConfirmationExpired, PlanRevised,
                     RequestCompleted, RequestFailed, RequestCancelled)


class SlackChannel(ChatChannel):
    """Connects Slack (DMs and mentions; a thread is a conversation) to an orchestrator.

    `async with SlackChannel(...)` connects over Socket Mode and disconnects at the end; so do
    `start()` and `stop()`. The socket reconnects by itself after a `disconnect` frame or a
    dropped connection; Web API calls answered with 429 are retried after `Retry-After`.
    """

    name = "slack"

    def __init__(
        self, orchestrator: OrchestratorPort, settings: SlackChannelSettings, *, bot_token: str, app_token: str,
        approvers: Sequence[str], ping_interval: float = 10.0, max_rate_limit_retries: int = 5,
    ) -> None:
        super().__init__(orchestrator)
        self.settings = settings
        self.approvers = list(approvers)
        self.ping_interval = ping_interval
        self._app_token = Secret(app_token)
        self.client = AsyncWebClient(token=bot_token, base_url=settings.api_url or AsyncWebClient.BASE_URL)
        # Bolt copies this list into the client it builds per request: add before events flow.
        self.client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries))
        self.app = AsyncApp(client=self.client, process_before_response=True, name="claude-tunnels")
        self.inbox = Inbox(self, Allowlist(settings))
        self.inbox.register(self.app)
        self._handler: AsyncSocketModeHandler | None = None
        self.names = DisplayNames(self.name, self._user_name)
        self._approvals: dict[str, tuple[str, str, str]] = {}  # request id -> (session key, ts, mrkdwn)
        self._questions: dict[str, tuple[str, str, str, str]] = {}  # permission id -> (request id, session key, ts, mrkdwn)
        self._changes: dict[str, tuple[str, str, str]] = {}  # request id -> (session key, ts, mrkdwn) of its changes' buttons

    @classmethod
    def from_settings(
        cls, loaded: LoadedSettings, orchestrator: OrchestratorPort, *, env: Mapping[str, str] | None = None, **options: Any,
    ) -> SlackChannel:
        """The channel as `orchestrator.yaml` configures it, with tokens from `ARCHIVE/slack/credentials`
        (`bot_token`, `app_token`) or `SLACK_BOT_TOKEN` / `SLACK_APP_TOKEN`, which win."""
        credentials = load_credentials(loaded.archive_dir, "slack", env=os.environ if env is None else env, env_keys=ENV_KEYS)
        return cls(
            orchestrator, loaded.settings.channels.slack, bot_token=credentials.require("bot_token").reveal(),
            app_token=credentials.require("app_token").reveal(), approvers=loaded.settings.approvers, **options,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect over Socket Mode (returns once connected; retries by itself while it cannot)."""
        # The handler's client schedules work on the running loop when built: build it here.
        self._handler = AsyncSocketModeHandler(self.app, app_token=self._app_token.reveal(), ping_interval=self.ping_interval)
        await self._handler.connect_async()

    async def stop(self) -> None:
        """Disconnect, then stop the outbound workers."""
        if self._handler is not None:
            handler, self._handler = self._handler, None
            await handler.close_async()
        await self.close()

    async def __aenter__(self) -> SlackChannel:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    # -- outbound ----------------------------------------------------------------------------

    async def post(
        self, session_key: str, text: str, *, approval_for: str | None = None, question_for: tuple[str, str] | None = None,
        changes_for: tuple[str, list[str]] | None = None,
    ) -> str:
        """Post `text` in the conversation's thread (split when long); the last part carries the
        Approve / Cancel buttons when `approval_for` is a request id, Allow / Deny when
        `question_for` is (request id, permission id), or Merge / Open PR / Discard per repository
        when `changes_for` is (request id, repositories). Returns the first part's ts."""
        _, channel, thread_ts = parse_session_key(session_key)
        text = await self.names.named(text)
        parts = to_mrkdwn_parts(text, SECTION_LIMIT if approval_for or question_for or changes_for else TEXT_LIMIT)
        first = ""
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            blocks = None
            if last and approval_for:
                blocks = approval_blocks(part, approval_for)
            elif last and question_for:
                blocks = question_blocks(part, *question_for)
            elif last and changes_for:
                blocks = changes_blocks(part, *changes_for)
            response = await self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=part, blocks=blocks, unfurl_links=False, unfurl_media=False,
            )
            ts = str(response["ts"])
            first = first or ts
            if last and approval_for:
                self._approvals[approval_for] = (session_key, ts, part)
            elif last and question_for:
                self._questions[question_for[1]] = (question_for[0], session_key, ts, part)
            elif last and changes_for:
                self._changes[changes_for[0]] = (session_key, ts, part)
        return first

    async def edit(self, session_key: str, ref: str, text: str) -> None:
        """Replace the text of message `ref` (cut to one message when too long)."""
        _, channel, _ = parse_session_key(session_key)
        parts = to_mrkdwn_parts(await self.names.named(text), TEXT_LIMIT - 2) or ["…"]
        await self.client.chat_update(channel=channel, ts=ref, text=parts[0] + ("\n…" if len(parts) > 1 else ""))

    async def tell(self, channel: str, user: str, text: str, *, thread_ts: str | None = None) -> None:
        """Show `text` to `user` alone (an ephemeral message)."""
        parts = to_mrkdwn_parts(await self.names.named(text)) or ["…"]
        await self.client.chat_postEphemeral(channel=channel, user=user, text=parts[0], thread_ts=thread_ts)

    async def _show(self, event: AnyEvent) -> str | None:
        if isinstance(event, ConfirmationRefused) and event.by.startswith(f"{self.name}:"):
            # Only the person whose answer was refused needs to see why.
            _, channel, thread_ts = parse_session_key(event.session_key)
            await self.tell(channel, event.by.split(":", 1)[1], render(event) or "Not accepted.", thread_ts=thread_ts)
            return None
        ref = await super()._show(event)
        if isinstance(event, _APPROVAL_SETTLED) and event.request_id in self._approvals:
            await self._drop_buttons(event.request_id, event)
        if isinstance(event, PermissionDecided) and event.permission_id in self._questions:
            await self._drop_question_buttons(event.permission_id)
        if isinstance(event, (RequestCompleted, RequestFailed, RequestCancelled)):
            for permission_id in [p for p, (rid, *_) in self._questions.items() if rid == event.request_id]:
                await self._drop_question_buttons(permission_id)
        if isinstance(event, CHANGES_SETTLED) and event.request_id in self._changes and self.changes_settled(event.request_id):
            session_key, ts, text = self._changes.pop(event.request_id)  # decided for every repository: no buttons
            await self.client.chat_update(channel=parse_session_key(session_key)[1], ts=ts, text=text, blocks=[section(text)])
        return ref

    async def _drop_question_buttons(self, permission_id: str) -> None:
        """Once a question is answered (or its request ended), its message loses the buttons."""
        _, session_key, ts, text = self._questions.pop(permission_id)
        _, channel, _ = parse_session_key(session_key)
        await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=[section(text)])

    async def _drop_buttons(self, request_id: str, event: AnyEvent) -> None:
        """Once a plan is answered (or gone), its message loses the buttons and the question, and
        says what became of it."""
        session_key, ts, text = self._approvals.pop(request_id)
        _, channel, _ = parse_session_key(session_key)
        line = outcome(event)
        text = settled(text, await self.names.named(line) if line else None, escape)
        await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=[section(text)])

    async def _user_name(self, user_id: str) -> str | None:
        """A person's display name as Slack gives it (`users.info`, scope users:read)."""
        user = (await self.client.users_info(user=user_id)).get("user") or {}
        profile = user.get("profile") or {}
        return profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name")

