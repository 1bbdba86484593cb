"""A request's changes in Telegram: Merge / Open PR / Discard per repository under the proposal;
a press by someone who may not decide is answered and not recorded; Merge moves the user's branch."""

from __future__ import annotations

import json
from pathlib import Path

from claude_tunnels.events.changes import ChangesAnswered, ChangesMerged, ChangesProposed
from tests.channels.telegram.telegram_world import ALICE, BOB, telegram_world
from tests.e2e.scenarios import plan
from tests.e2e.test_worktrees import git_init, writes
from tests.git.repos import run

WS = "web-app/backend"


async def test_merge_with_the_button_of_the_proposal(tmp_path: Path) -> None:
    script = json.dumps({"scripts": [
        plan("pin", (WS, "pin v2", [])),
        writes(WS, {"requirements.txt": "shared-lib==2.0.0\n"}, summary="pinned v2", claims=["requirements.txt"]),
    ]})
    async with telegram_world(tmp_path, script) as w:
        fake, repo = w.fake, w.root / "web-app"
        git_init(repo)
        await fake.push_message(ALICE, ALICE, f"in {WS}: pin v2")
        plan_message = await fake.wait_for_message(lambda m: m.reply_markup is not None and m.text.startswith("Plan"), timeout=90)
        await fake.push_callback(ALICE, ALICE, plan_message.message_id, plan_message.reply_markup["inline_keyboard"][0][0]["callback_data"])  # type: ignore[index]

        proposed = await w.wait_event(ChangesProposed, timeout=120)
        message = await fake.wait_for_message(lambda m: m.reply_markup is not None and "one branch per repository" in m.text, timeout=30)
        [row] = message.reply_markup["inline_keyboard"]  # type: ignore[index]
        rid = proposed.request_id
        assert [(b["text"], b["callback_data"]) for b in row] == [("Merge", f"merge:{rid}:0"), ("Open PR", f"pr:{rid}:0"), ("Discard", f"discard:{rid}:0")]

        await fake.push_callback(ALICE, BOB, message.message_id, f"merge:{rid}:0")  # Bob may use the bot, not decide
        await fake.wait_for(lambda: any("Only telegram:" in a["text"] and "decide" in a["text"] for a in fake.callback_answers))
        await fake.push_callback(ALICE, ALICE, message.message_id, f"merge:{rid}:0")
        merged = await w.wait_event(ChangesMerged, timeout=60)
        assert merged.by == f"telegram:{ALICE}" and merged.into == "main" and merged.fast_forward
        assert (repo / "backend" / "requirements.txt").read_text() == "shared-lib==2.0.0\n" and run(repo, "rev-parse", "main").strip() == merged.commit
        assert [a.by for a in await w.stored(ChangesAnswered)] == [f"telegram:{ALICE}"]  # Bob's press was never recorded
        await fake.wait_for(lambda: message.reply_markup is None, timeout=30)  # decided: the buttons are gone
        await fake.wait_for_message(lambda m: m.text.startswith("✓ Merged the changes of request"), timeout=30)
