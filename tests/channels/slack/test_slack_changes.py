"""A request's changes in a Slack thread: Merge / Open PR / Discard buttons under the proposal, a
click by someone who may not decide refused, a double click decided once, no branch left after Discard."""

from __future__ import annotations

import json
from pathlib import Path

from claude_tunnels.events.changes import ChangesDecided, ChangesDiscarded
from tests.channels.slack.slack_world import ALICE, BOB, buttons, slack_world
from tests.e2e.scenarios import plan
from tests.e2e.test_worktrees import git_init, writes
from tests.git.repos import run

WS = "web-app/backend"


async def test_the_proposal_has_buttons_only_the_requester_decides_and_discard_leaves_nothing(tmp_path: Path) -> None:
    script = json.dumps({"scripts": [
        plan("pin", (WS, "pin v2", [])),
        writes(WS, {"requirements.txt": "shared-lib==2.0.0\n"}, summary="pinned v2", claims=["requirements.txt"]),
    ]})
    async with slack_world(tmp_path, script) as w:
        repo = w.root / "web-app"
        git_init(repo)
        root = (await w.say(ALICE, f"in {WS}: pin v2"))["ts"]
        await w.click(ALICE, await w.plan_message(root))
        proposal = await w.fake.wait_for_message(lambda m: m.thread_ts == root and "Merge" in buttons(m), 120)
        assert set(buttons(proposal)) == {"Merge", "Open PR", "Discard"} and "one branch per repository" in proposal.text
        request_id = next(e.request_id for e in w.of_type("changes.proposed"))  # type: ignore[attr-defined]
        assert buttons(proposal)["Merge"][1] == f"{request_id}:web-app"

        await w.click(BOB, proposal, "Merge")  # Bob may talk to the bot, not decide about Alice's request
        await w.fake.wait_for_message(lambda m: m.thread_ts == root and "Only u0alice or an approver can decide" in m.text, 30)
        assert not w.of_type("changes.decided")

        await w.click(ALICE, proposal, "Discard")
        await w.click(ALICE, proposal, "Discard")  # a double click
        await w.wait_event(lambda e: isinstance(e, ChangesDiscarded), 60)
        await w.settle()
        assert len([e for e in w.events if isinstance(e, ChangesDecided)]) == 1
        assert run(repo, "for-each-ref", "refs/heads/tunnels/").strip() == "" and not run(repo, "status", "--porcelain").strip()
        await w.fake.wait_for_message(lambda m: m.thread_ts == root and m.text.startswith("🗑 Discarded the changes"), 30)
        await w.fake.wait_for_message(lambda m: m.ts == proposal.ts and buttons(m) == {}, 30)  # decided: no buttons
