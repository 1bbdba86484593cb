"""SIGKILL the orchestrator after it recorded a Telegram message but before Telegram heard so; restart it.
The request it had opened is routed again by the restarted orchestrator (nothing had run)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from claude_tunnels.channels.telegram import TelegramChannel
from claude_tunnels.config.credentials import write_credentials
from claude_tunnels.config.loader import load_settings
from claude_tunnels.tunnels.demo.run import REQUEST, demo_scenario_text
from claude_tunnels.tunnels.demo.sample_tree import lay_out
from claude_tunnels.tunnels.runtime.orchestrator import Orchestrator
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.channels.telegram.telegram_world import ALICE, FAST, write_settings
from tests.fakes.telegram import FakeTelegram

REPO = Path(__file__).resolve().parents[3]


async def expect(process: asyncio.subprocess.Process, prefix: str, timeout: float = 120) -> str:
    """The process's next output line starting with `prefix` (earlier lines are skipped)."""
    assert process.stdout is not None
    stdout = process.stdout

    async def read() -> str:
        while line := (await stdout.readline()).decode():
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"the process ended (code {await process.wait()}) before printing {prefix}")

    return await asyncio.wait_for(read(), timeout)


async def test_a_message_recorded_before_a_crash_is_handled_exactly_once(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "tree")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(demo_scenario_text())
    async with FakeTelegram() as fake:
        loaded = load_settings(write_settings(root, fake.base_url))
        write_credentials(loaded.archive_dir / "telegram" / "credentials", {"bot_token": fake.token})
        # It polls 30 s at a time and, once a poll fails, waits 30 s before the next: the test acts in between.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.helpers.telegram_orchestrator", str(root), str(scenario), "--poll", "30",
            "--backoff", "30", cwd=REPO, env={k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        try:
            await expect(process, "READY")
            await fake.wait_for(lambda: len(fake.calls_to("getUpdates")) == 1)  # its first long poll waits
            update_id = await fake.push_message(ALICE, ALICE, REQUEST)
            # That waiting poll delivers the message (it is past the fault check); the next one, which
            # would confirm it, fails.
            fake.add_fault("getUpdates", status=502)
            assert await expect(process, "RECEIVED") == f"RECEIVED {ALICE}:1"
            await expect(process, "OPENED")
            await fake.wait_for(lambda: any(c.get("offset") == str(update_id + 1) for c in fake.calls_to("getUpdates")))
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        assert not [offset for offset in fake.offsets if offset > update_id]  # Telegram never heard it arrived

        # A new orchestrator on the same stream, its channel attached as `tunnels serve` does it:
        # Telegram delivers the message again.
        async with ScriptedModelServer(parse_scenario(demo_scenario_text())) as model, Orchestrator(
            loaded, agent_env=model.env(),
            channels=lambda o: [TelegramChannel.from_settings(loaded, o, env={}, polling_timeout=1, backoff=FAST)],
        ) as orchestrator:
            await fake.wait_for_confirmed(update_id, timeout=30)  # recorded (again) before it was confirmed
            # The request the crash cut short is routed again (nothing had run), and Alice is told so once;
            # its plan then comes to be approved.
            told = await fake.wait_for_message(lambda m: "routed again" in m.text, timeout=30)
            assert told.chat_id == ALICE and "nothing had run" in told.text
            await fake.wait_for_message(lambda m: m.reply_markup is not None, timeout=90)
            stored = await orchestrator.store.read()

    counts = Counter(s.event.type for s in stored if s.event.session_key == f"telegram:{ALICE}")
    assert (counts["message.received"], counts["request.opened"], counts["request.resumed"]) == (1, 1, 1)
    assert (counts["route.decided"], counts["plan.proposed"], counts["request.failed"]) == (1, 1, 0)


async def test_replies_telegram_refused_are_posted_once_by_the_next_run(tmp_path: Path) -> None:
    root = lay_out(tmp_path / "tree")
    async with FakeTelegram() as fake:
        loaded = load_settings(write_settings(root, fake.base_url))

        def channels(orchestrator: Orchestrator) -> list[TelegramChannel]:
            return [TelegramChannel(orchestrator, loaded.settings.channels.telegram, token=fake.token,
                                    approvers=loaded.settings.approvers, polling_timeout=1, backoff=FAST)]

        def sent(prefix: str) -> list[str]:
            return [m.text for m in fake.messages_in(ALICE) if m.text.startswith(prefix)]

        async with ScriptedModelServer(parse_scenario(demo_scenario_text())) as model:
            async with Orchestrator(loaded, agent_env=model.env(), channels=channels) as orchestrator:
                await fake.push_message(ALICE, ALICE, REQUEST)
                plan = await fake.wait_for_message(lambda m: m.reply_markup is not None, timeout=90)
                # From now on Telegram refuses every new message: what follows is recorded, not sent.
                fake.add_fault("sendMessage", status=500, times=10_000)
                approve = plan.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
                await fake.push_callback(ALICE, ALICE, plan.message_id, approve)
                await fake.wait_for(lambda: any("Done (request" in c.get("text", "") for c in fake.calls_to("sendMessage")),
                                    timeout=120)
            assert sent("Done") == [] and sent("Approved by") == []

            fake.clear_faults()
            async with Orchestrator(loaded, agent_env=model.env(), channels=channels) as orchestrator:
                confirmations: asyncio.Queue[str] = asyncio.Queue()
                orchestrator.add_listener(
                    lambda seq, event: confirmations.put_nowait(event.in_reply_to) if event.type == "reply.posted" else None
                )
                # (the channel may have posted and confirmed before this body ran: read after listening)
                stored = await orchestrator.store.read()
                [completed] = [s.event for s in stored if s.event.type == "request.completed"]
                done = await fake.wait_for_message(lambda m: m.text.startswith("Done"), timeout=60)
                if completed.id not in [s.event.in_reply_to for s in stored if s.event.type == "reply.posted"]:  # type: ignore[attr-defined]
                    while await asyncio.wait_for(confirmations.get(), 30) != completed.id:
                        pass  # the final answer's posting is confirmed in the stream
                stored = await orchestrator.store.read()

    assert "request" in done.text and done.chat_id == ALICE
    texts = [m.text for m in fake.messages_in(ALICE)]
    assert len(sent("Approved by")) == 1 and len(sent("Done")) == 1 and len(sent("Working on it")) == 1
    assert texts.index(sent("Approved by")[0]) < texts.index(done.text)
    assert sum(m.reply_markup is not None for m in fake.messages_in(ALICE)) == 1  # the plan is not asked again
    posted = [s.event.in_reply_to for s in stored if s.event.type == "reply.posted"]  # type: ignore[attr-defined]
    assert posted.count(completed.id) == 1
