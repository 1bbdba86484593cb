"""A whole orchestrator behind the real slack-bolt, talking to FakeSlack: what the Slack tests drive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_tunnels.channels.slack import SlackChannel
from claude_tunnels.config.credentials import write_credentials
from claude_tunnels.config.loader import LoadedSettings, load_settings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.scenarios import plan, scenario, succeeds
from tests.e2e.world import BASE_LIMITS
from tests.fakes.slack import FakeSlack, SlackMessage

ALICE, BOB, STRANGER = "U0ALICE", "U0BOB", "U0STRANGER"
CHANNEL = "C0FAKE"
BOT_TOKEN, APP_TOKEN = "xoxb-1-secret-bot-token", "xapp-1-secret-app-token"



def small(delay_s: float = 0) -> str:
    """Two one-workspace requests (named, so no router runs); each task takes `delay_s`."""
    return scenario(
        plan("alpha", ("api-service", "Apply the alpha change.", []), match="alpha change"),
        plan("beta", ("web-app/backend", "Apply the beta change.", []), match="beta change"),
        succeeds("api-service", "alpha is in", delay_s=delay_s),
        succeeds("web-app/backend", "beta is in", delay_s=delay_s),
    )


ALPHA, BETA = "in api-service: the alpha change", "in web-app: the beta change"


def write_tree(tmp_path: Path, api_url: str, *, slack: dict[str, Any] | None = None, approvers: list[str] | None = None) -> Path:
    """The sample tree with an `orchestrator.yaml` enabling Slack at `api_url`, and its credentials."""
    root = lay_out(tmp_path / "tree")
    document = {
        "claude": {"isolate_home": True}, "limits": BASE_LIMITS, "approvers": approvers or [],
        "channels": {"terminal": {"enabled": False}, "slack": {
            "enabled": True, "api_url": api_url, "allowed_users": [ALICE, BOB], **(slack or {})}},
    }
    (root / "orchestrator.yaml").write_text(json.dumps(document), encoding="utf-8")
    write_credentials(root / "ARCHIVE" / "slack" / "credentials", {"bot_token": BOT_TOKEN, "app_token": APP_TOKEN})
    return root


@dataclass
class SlackWorld:
    """The fake Slack, the orchestrator and the channel under test, with waits on both sides."""

    root: Path
    loaded: LoadedSettings
    fake: FakeSlack
    orchestrator: Orchestrator
    model: ScriptedModelServer
    channel: SlackChannel
    events: list[AnyEvent] = field(default_factory=list)
    _watchers: list[tuple[Callable[[AnyEvent], bool], asyncio.Future[AnyEvent]]] = field(default_factory=list)

    def _on_event(self, seq: int, event: AnyEvent) -> None:
        self.events.append(event)
        for predicate, future in list(self._watchers):
            if not future.done() and predicate(event):
                future.set_result(event)

    async def wait_event(self, predicate: Callable[[AnyEvent], bool], timeout: float = 60) -> AnyEvent:
        """The first event (seen so far or to come) matching `predicate`."""
        for event in self.events:
            if predicate(event):
                return event
        future: asyncio.Future[AnyEvent] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._watchers.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._watchers.remove(entry)

    async def settle(self) -> None:
        """Wait until the projections (and so `events`) have everything stored so far."""
        assert self.orchestrator.runner is not None
        await self.orchestrator.runner.wait(await self.orchestrator.store.last_seq())

    def of_type(self, kind: str, session_key: str | None = None) -> list[AnyEvent]:
        """Events of one type tag (e.g. `request.opened`), optionally of one session."""
        return [e for e in self.events if e.type == kind and (session_key is None or e.session_key == session_key)]

    async def say(self, user: str, text: str, *, thread_ts: str | None = None, mention: bool = True) -> dict[str, Any]:
        """`user` writes in the channel (as an `app_mention` when `mention`); returns the event once acked."""
        event = (self.fake.mention_event if mention else self.fake.message_event)(user, text, CHANNEL, thread_ts=thread_ts)
        await self.fake.wait_for_ack(await self.fake.push_event(event))
        return event

    async def plan_message(self, thread_ts: str, timeout: float = 60) -> SlackMessage:
        """The bot's message with Approve / Cancel buttons in `thread_ts`."""
        return await self.fake.wait_for_message(lambda m: m.thread_ts == thread_ts and buttons(m) != {}, timeout)

    async def click(self, user: str, message: SlackMessage, action: str = "Approve") -> str:
        """`user` clicks a button of `message`; returns the envelope id once acked."""
        action_id, value = buttons(message)[action]
        payload = self.fake.button_click(user, action_id, value, message_ts=message.ts, thread_ts=message.thread_ts)
        envelope_id = await self.fake.push_interactive(payload)
        await self.fake.wait_for_ack(envelope_id)
        return envelope_id

    def session_key(self, thread_ts: str) -> str:
        """The conversation key of a thread in the test channel."""
        return f"slack:T000FAKE:{CHANNEL}:{thread_ts}"


def buttons(message: SlackMessage) -> dict[str, tuple[str, str]]:
    """Button label -> (action_id, value) of a message's actions blocks."""
    return {element["text"]["text"]: (element["action_id"], element["value"])
            for block in message.blocks or [] if block.get("type") == "actions"
            for element in block.get("elements", [])}


@asynccontextmanager
async def slack_world(
    tmp_path: Path, script: str | None = None, *, slack: dict[str, Any] | None = None, approvers: list[str] | None = None,
) -> AsyncIterator[SlackWorld]:
    """FakeSlack, the scripted model, an orchestrator on the sample tree and a started `SlackChannel`
    (built by `from_settings`, so tokens come from the credentials file)."""
    async with FakeSlack(BOT_TOKEN, APP_TOKEN) as fake:
        root = write_tree(tmp_path, fake.api_url, slack=slack, approvers=approvers)
        loaded = load_settings(root / "orchestrator.yaml")
        async with ScriptedModelServer(parse_scenario(script or small())) as model, \
                Orchestrator(loaded, agent_env=model.env()) as orchestrator:
            channel = SlackChannel.from_settings(loaded, orchestrator, env={}, ping_interval=1)
            world = SlackWorld(root, loaded, fake, orchestrator, model, channel)
            orchestrator.add_listener(world._on_event)
            async with channel:
                await fake.wait_for_connections(1)
                yield world
