"""Who gets in, who may approve, and the same Slack message delivered more than once."""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec
import pytest

from claude_tunnels.channels.slack import SlackChannel
from tests.channels.slack.slack_world import ALICE, ALPHA, APP_TOKEN, BOB, BOT_TOKEN, CHANNEL, STRANGER, slack_world


async def test_an_unknown_user_is_refused_and_nothing_is_recorded(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        mention = await w.say(STRANGER, ALPHA)
        # Slack delivers the same message as a plain `message` too: still one refusal.
        plain = {**mention, "type": "message", "channel_type": "channel"}
        await w.fake.wait_for_ack(await w.fake.push_event(plain))
        dm = w.fake.message_event(STRANGER, "hello?", channel="D0STRANGER", channel_type="im")
        await w.fake.wait_for_ack(await w.fake.push_event(dm))

        # Events and clicks the bot does not handle are acknowledged all the same (else Slack retries).
        reaction = {"type": "reaction_added", "user": ALICE, "reaction": "eyes", "event_ts": w.fake.next_ts(),
                    "item": {"type": "message", "channel": CHANNEL, "ts": mention["ts"]}}
        await w.fake.wait_for_ack(await w.fake.push_event(reaction))
        other = w.fake.button_click(ALICE, "some_other_button", "x", message_ts=mention["ts"])
        await w.fake.wait_for_ack(await w.fake.push_interactive(other))

        await w.settle()
        assert not [e for e in w.events if e.type == "message.received"]
        refusals = [m for m in w.fake.messages if m.ephemeral_user == STRANGER]
        assert [(m.channel, m.thread_ts) for m in refusals] == [(CHANNEL, None), ("D0STRANGER", None)]
        assert all("not allowed" in m.text and STRANGER in m.text for m in refusals)
        assert [m for m in w.fake.messages if not m.ephemeral_user] == []


async def test_a_channel_outside_allowed_channels_is_refused(tmp_path: Path) -> None:
    async with slack_world(tmp_path, slack={"allowed_channels": ["C0OTHER"]}) as w:
        await w.say(ALICE, ALPHA)
        await w.settle()
        assert not w.of_type("message.received")
        [refusal] = w.fake.messages
        assert refusal.ephemeral_user == ALICE
        # The real reason: the channel, not the person (Alice is on the allowlist).
        assert f"does not answer in this channel ({CHANNEL})" in refusal.text and "allowed_channels" in refusal.text
        assert "user id" not in refusal.text


async def test_a_click_by_a_non_approver_is_refused_with_one_ephemeral_note(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        root = (await w.say(ALICE, ALPHA))["ts"]
        plan = await w.plan_message(root)
        await w.click(BOB, plan)  # on the allowlist, but neither the requester nor an approver
        await w.click(STRANGER, plan)  # not on the allowlist at all

        refused = await w.wait_event(lambda e: e.type == "confirmation.refused")
        assert refused.by == f"slack:{BOB}"  # type: ignore[attr-defined]
        await w.fake.wait_for_message(lambda m: m.ephemeral_user == BOB)
        # the note is confirmed like any reply, so it is never posted again
        await w.wait_event(lambda e: e.type == "reply.posted" and e.in_reply_to == refused.id)  # type: ignore[attr-defined]
        await w.fake.wait_for_message(lambda m: m.ephemeral_user == STRANGER)
        await w.settle()
        assert not w.of_type("plan.approved")
        assert [e.sender for e in w.of_type("message.received")] == [f"slack:{ALICE}", f"slack:{BOB}"]  # type: ignore[attr-defined]

        # The requester approves: it runs. By then everything about Bob's click was posted (one
        # outbox per thread, in order), so Bob saw exactly one note and the thread none.
        await w.click(ALICE, plan)
        await w.fake.wait_for_message(lambda m: m.thread_ts == root and m.text.startswith("Done"), 60)
        [note] = [m for m in w.fake.messages if m.ephemeral_user == BOB]
        assert note.thread_ts == root and "Not accepted" in note.text and len(note.text) < 200
        thread = [m.text for m in w.fake.messages_in(CHANNEL, root) if not m.ephemeral_user]
        assert not [t for t in thread if BOB in t or "Not accepted" in t]
        assert len(w.of_type("plan.approved")) == 1 and len(w.of_type("request.opened")) == 1


async def test_a_mention_delivered_as_message_and_app_mention_is_handled_once(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        mention = w.fake.mention_event(ALICE, ALPHA)
        plain = {**mention, "type": "message", "channel_type": "channel"}
        acks = [await w.fake.push_event(plain), await w.fake.push_event(mention)]
        for envelope_id in acks:
            await w.fake.wait_for_ack(envelope_id)

        plan = await w.plan_message(mention["ts"])
        await w.settle()
        assert len(w.of_type("message.received")) == 1 and len(w.of_type("request.opened")) == 1
        [received] = w.of_type("message.received")
        assert received.text == ALPHA and received.message_ref == f"{CHANNEL}:{mention['ts']}"  # type: ignore[attr-defined]
        assert [m.ts for m in w.fake.messages if m.blocks and len(m.blocks) > 1] == [plan.ts]


async def test_a_redelivered_envelope_is_handled_once_and_no_token_leaks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with slack_world(tmp_path) as w:
        event = w.fake.mention_event(ALICE, ALPHA)
        assert w.orchestrator.ctx is not None
        recorder, before = w.orchestrator.ctx.recorder, w.orchestrator.ctx.recorder.last_seq
        envelope_id = await w.fake.push_event(event)
        await w.fake.wait_for_ack(envelope_id)
        assert recorder.last_seq > before  # on the stream before Slack got its ack
        del w.fake.acks[envelope_id]  # so the wait below is for the new ack
        await w.fake.push_event(event, envelope_id=envelope_id, retry_attempt=1)  # as if the ack was lost
        await w.fake.wait_for_ack(envelope_id)
        await w.plan_message(event["ts"])
        # A reply in the thread without a mention still belongs to the conversation.
        await w.fake.wait_for_ack(await w.fake.push_event(w.fake.message_event(ALICE, "status", thread_ts=event["ts"])))
        await w.wait_event(lambda e: e.type == "notice.issued")

        await w.settle()
        assert len(w.of_type("request.opened")) == 1
        assert [e.text for e in w.of_type("message.received")] == [ALPHA, "status"]  # type: ignore[attr-defined]
        stored = b"".join(msgspec.json.encode(s.event) for s in await w.orchestrator.store.read())
        for token in (BOT_TOKEN, APP_TOKEN):
            assert token.encode() not in stored
            assert not [r for r in caplog.records if token in r.getMessage()]
        assert caplog.records  # the SDK did log at debug level


async def test_environment_tokens_win_over_the_credentials_file(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        env = {"SLACK_BOT_TOKEN": "xoxb-from-env", "SLACK_APP_TOKEN": "xapp-from-env"}
        channel = SlackChannel.from_settings(w.loaded, w.orchestrator, env=env)
        assert channel.client.token == "xoxb-from-env" and channel._app_token.reveal() == "xapp-from-env"
        assert "xapp-from-env" not in repr(vars(channel))
        assert w.channel.client.token == BOT_TOKEN
