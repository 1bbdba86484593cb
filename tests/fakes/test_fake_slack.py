"""The real slack-bolt (AsyncApp + AsyncSocketModeHandler) against FakeSlack: no mocks, no sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.say.async_say import AsyncSay
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import BOT_ID, BOT_USER_ID, FakeSlack

HUMAN = "U0HUMAN"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A running FakeSlack."""
    async with FakeSlack() as fake:
        yield fake


def build_app(slack: FakeSlack, *, bot_token: str | None = None) -> AsyncApp:
    """An AsyncApp that echoes messages into their thread and turns an `approve` click into an edit."""
    client = AsyncWebClient(token=bot_token or slack.bot_token, base_url=slack.api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    app = AsyncApp(client=client)

    @app.message("")
    async def echo(message: dict[str, Any], say: AsyncSay) -> None:
        await say(text=f"echo: {message['text']}", thread_ts=message.get("thread_ts") or message["ts"])

    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], say: AsyncSay) -> None:
        await say(text=f"at your service: {event['text']}", thread_ts=event.get("thread_ts") or event["ts"])

    @app.action("approve")
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        value = body["actions"][0]["value"]
        await client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"],
                                 text=f"{value} by <@{body['user']['id']}>")

    return app


@pytest.fixture
async def bolt(slack: FakeSlack) -> AsyncIterator[AsyncApp]:
    """The app connected over Socket Mode (the handler must be built inside the running loop)."""
    app = build_app(slack)
    handler = AsyncSocketModeHandler(app, app_token=slack.app_token, ping_interval=1)
    await handler.connect_async()
    yield app
    await handler.close_async()


async def test_pushed_message_is_acked_and_answered_in_its_thread(slack: FakeSlack, bolt: AsyncApp) -> None:
    event = slack.message_event(HUMAN, "hello bot")
    envelope_id = await slack.push_event(event)

    assert await slack.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
    reply = await slack.wait_for_message(lambda m: m.text == "echo: hello bot")
    assert (reply.channel, reply.thread_ts) == ("C0FAKE", event["ts"])
    assert slack.messages_in("C0FAKE", thread_ts=event["ts"]) == [reply]
    assert slack.calls_to("chat.postMessage")[0]["team_id"] == "T000FAKE"  # Bolt adds team_id to every call
    assert len(slack.calls_to("auth.test")) == 1  # lazily, on the first event


async def test_reply_inside_a_thread_and_in_a_dm(slack: FakeSlack, bolt: AsyncApp) -> None:
    await slack.push_event(slack.message_event(HUMAN, "in thread", thread_ts="1699999999.000001"))
    await slack.push_event(slack.message_event(HUMAN, "in dm", channel="D0HUMAN", channel_type="im"))

    threaded = await slack.wait_for_message(lambda m: m.text == "echo: in thread")
    direct = await slack.wait_for_message(lambda m: m.text == "echo: in dm")
    assert threaded.thread_ts == "1699999999.000001"
    assert direct.channel == "D0HUMAN"


async def test_mention_reaches_the_app_mention_listener(slack: FakeSlack, bolt: AsyncApp) -> None:
    mention = slack.mention_event(HUMAN, "status?")
    await slack.wait_for_ack(await slack.push_event(mention))

    reply = await slack.wait_for_message(lambda m: m.text.startswith("at your service"))
    assert (reply.text, reply.thread_ts) == ("at your service: <@U0BOTFAKE> status?", mention["ts"])


async def test_bot_own_message_is_acked_without_running_the_listener(slack: FakeSlack, bolt: AsyncApp) -> None:
    own = {**slack.message_event(BOT_USER_ID, "my own words"), "bot_id": BOT_ID}
    await slack.wait_for_ack(await slack.push_event(own))
    await slack.wait_for_ack(await slack.push_event(slack.message_event(HUMAN, "after")))
    await slack.wait_for_message(lambda m: m.text == "echo: after")
    assert [m.text for m in slack.messages] == ["echo: after"]


async def test_chat_update_edits_in_place_and_refuses_unknown_or_foreign(slack: FakeSlack, bolt: AsyncApp) -> None:
    posted = await bolt.client.chat_postMessage(channel="C0FAKE", text="working…")
    await bolt.client.chat_update(channel="C0FAKE", ts=posted["ts"], text="done")

    (message,) = slack.messages
    assert (message.text, message.history) == ("done", ["working…"])
    with pytest.raises(SlackApiError) as unknown:
        await bolt.client.chat_update(channel="C0FAKE", ts="1.000001", text="x")
    assert unknown.value.response["error"] == "message_not_found"
    human = slack.message_event(HUMAN, "mine")
    await slack.wait_for_ack(await slack.push_event(human))
    with pytest.raises(SlackApiError) as foreign:
        await bolt.client.chat_update(channel="C0FAKE", ts=human["ts"], text="x")
    assert foreign.value.response["error"] == "cant_update_message"


async def test_rate_limited_post_is_retried_by_the_retry_handler(slack: FakeSlack, bolt: AsyncApp) -> None:
    slack.add_fault("chat.postMessage", status=429, retry_after=0)
    await slack.push_event(slack.message_event(HUMAN, "busy?"))

    await slack.wait_for_message(lambda m: m.text == "echo: busy?")
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_rate_limit_without_retry_handler_raises_with_retry_after(slack: FakeSlack) -> None:
    slack.add_fault("chat.postMessage", status=429, retry_after=7)
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C0FAKE", text="hi")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"


async def test_disconnect_frame_makes_the_client_reconnect(slack: FakeSlack, bolt: AsyncApp) -> None:
    await slack.wait_for_connections(1)
    opened = slack.open_calls
    await slack.send_disconnect("refresh_requested")

    await slack.wait_for_connections(2)
    assert slack.open_calls == opened + 1
    await slack.push_event(slack.message_event(HUMAN, "still there?"))
    await slack.wait_for_message(lambda m: m.text == "echo: still there?")


async def test_server_side_close_makes_the_client_reconnect(slack: FakeSlack, bolt: AsyncApp) -> None:
    await slack.wait_for_connections(1)
    await slack.drop_sockets()

    await slack.wait_for_connections(2)
    assert slack.open_calls == 2
    await slack.push_event(slack.message_event(HUMAN, "back?"))
    await slack.wait_for_message(lambda m: m.text == "echo: back?")


async def test_limits_are_enforced(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as too_long:
        await client.chat_postMessage(channel="C0FAKE", text="x" * 40_001)
    assert too_long.value.response["error"] == "msg_too_long"
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3_001}}
    with pytest.raises(SlackApiError) as bad_blocks:
        await client.chat_postMessage(channel="C0FAKE", text="t", blocks=[section])
    assert bad_blocks.value.response["error"] == "invalid_blocks"
    divider = {"type": "divider"}
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C0FAKE", text="t", blocks=[divider] * 51)
    await client.chat_postMessage(channel="C0FAKE", text="x" * 40_000, blocks=[divider] * 50)
    assert len(slack.messages) == 1


async def test_lookups_answer_minimally(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    channel = await client.conversations_info(channel="D0HUMAN")
    user = await client.users_info(user=HUMAN)
    assert (channel["channel"]["id"], channel["channel"]["is_im"]) == ("D0HUMAN", True)
    assert (user["user"]["id"], user["user"]["is_bot"]) == (HUMAN, False)
    with pytest.raises(SlackApiError) as wrong:
        await AsyncWebClient(token="xoxb-other", base_url=slack.api_url).auth_test()
    assert wrong.value.response["error"] == "invalid_auth"


async def test_button_click_reaches_the_action_handler(slack: FakeSlack, bolt: AsyncApp) -> None:
    button = {"type": "button", "action_id": "approve", "value": "approved",
              "text": {"type": "plain_text", "text": "OK"}}
    posted = await bolt.client.chat_postMessage(
        channel="C0FAKE", text="Deploy?", blocks=[{"type": "actions", "block_id": "actions", "elements": [button]}]
    )
    click = slack.button_click(HUMAN, "approve", "approved", message_ts=posted["ts"])
    envelope_id = await slack.push_interactive(click)

    await slack.wait_for_ack(envelope_id)
    edited = await slack.wait_for_message(lambda m: m.ts == posted["ts"] and m.text.startswith("approved"))
    assert edited.text == f"approved by <@{HUMAN}>"


async def test_wrong_bot_token_runs_no_listener(slack: FakeSlack) -> None:
    app = build_app(slack, bot_token="xoxb-wrong")
    handler = AsyncSocketModeHandler(app, app_token=slack.app_token, ping_interval=1)
    await handler.connect_async()
    try:
        ack = await slack.wait_for_ack(await slack.push_event(slack.message_event(HUMAN, "hi")))
    finally:
        await handler.close_async()
    assert "reinstall" in ack["payload"]["text"]
    assert slack.messages == []
