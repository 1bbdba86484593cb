"""Escaping and splitting outbound text for Slack (pure functions), and the fake accepting every part."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from claude_tunnels.channels.slack.mrkdwn import SECTION_LIMIT, TEXT_LIMIT, escape, split, to_mrkdwn_parts, unescape
from tests.channels.slack.slack_world import ALICE, ALPHA, CHANNEL, slack_world

FENCE = "```"


def fences_balanced(part: str) -> bool:
    return sum(line.count(FENCE) for line in part.split("\n")) % 2 == 0


def test_the_three_control_characters_are_escaped_and_nothing_else() -> None:
    text = "if a < b && c > d: ping <@U0ALICE> or <!channel> *bold* _it_"
    assert escape(text) == "if a &lt; b &amp;&amp; c &gt; d: ping &lt;@U0ALICE&gt; or &lt;!channel&gt; *bold* _it_"
    assert unescape(escape(text)) == text
    assert escape("&amp;") == "&amp;amp;"  # already-escaped-looking text is shown as typed
    assert to_mrkdwn_parts("x <y> & z") == ["x &lt;y&gt; &amp; z"]


def test_short_text_is_one_part_and_blank_text_none() -> None:
    assert split("one\ntwo") == ["one\ntwo"]
    assert split("") == [] and split("\n \n") == []


def test_parts_are_cut_at_line_boundaries_within_the_limit() -> None:
    lines = [f"line {i:03d} " + "x" * 90 for i in range(100)]
    parts = split("\n".join(lines), 1000)
    assert len(parts) > 1 and all(len(p) <= 1000 for p in parts)
    assert [line for p in parts for line in p.split("\n")] == lines  # nothing lost, nothing cut


def test_a_code_block_that_fits_moves_whole_to_the_next_part() -> None:
    prose = ["p" * 70] * 10  # 710 characters
    code = [FENCE, *[f"print({i})" for i in range(40)], FENCE]  # ~400 characters
    parts = split("\n".join([*prose, *code, "after"]), 1000)
    assert parts[0] == "\n".join(prose)
    assert parts[1] == "\n".join([*code, "after"])


def test_a_code_block_longer_than_a_part_is_closed_and_reopened() -> None:
    code = [f"    value_{i} = compute({i}) & mask < limit" for i in range(200)]
    text = "Result:\n" + "\n".join(["```python", *code, FENCE]) + "\nThe end."
    parts = to_mrkdwn_parts(text, 1000)
    assert len(parts) > 5 and all(len(p) <= 1000 and fences_balanced(p) for p in parts)
    inner = [line for p in parts for line in p.split("\n") if FENCE not in line and line not in ("Result:", "The end.")]
    assert inner == [escape(line) for line in code]
    assert parts[0].startswith("Result:") and "```python" in parts[0] and parts[-1].endswith("The end.")
    assert all(p.lstrip("Result:\n").startswith(FENCE) for p in parts[:-1])


def test_an_unclosed_code_block_is_closed() -> None:
    parts = split("see:\n```\nno end", 100)
    assert parts == ["see:\n```\nno end\n```"]


def test_an_overlong_line_is_cut_but_never_inside_an_entity() -> None:
    parts = to_mrkdwn_parts("<&>" * 2000, 1000)
    assert len(parts) >= 12 and all(len(p) <= 1000 for p in parts)
    assert all(re.fullmatch(r"(&lt;|&amp;|&gt;)+", p) for p in parts)
    assert unescape("".join(parts)) == "<&>" * 2000


@pytest.mark.parametrize("seed", range(20))
def test_random_markup_heavy_text_keeps_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["<b>", "&", "```", "```js", "a" * rng.randint(1, 5000), "*x*", ">quote", "", "• item", "`tick`"]
    text = "\n".join("".join(rng.choice(pieces) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 400)))
    for limit in (SECTION_LIMIT, TEXT_LIMIT, 200):
        parts = to_mrkdwn_parts(text, limit)
        assert all(0 < len(p) <= limit and fences_balanced(p) for p in parts)
        assert not any(re.search(r"[<>]|&(?!amp;|lt;|gt;)", p) for p in parts)


def test_too_small_a_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        split("x", 20)


async def test_long_markup_heavy_posts_fit_the_fake_slack_limits(tmp_path: Path) -> None:
    long_result = "\n".join(["Summary <of> changes & more:", "```", *[f"diff --git a/f{i} b/f{i} <{i}>" for i in range(600)],
                             "```", *[f"- note {i} & <tag>" for i in range(300)]])
    async with slack_world(tmp_path) as w:
        root = (await w.say(ALICE, ALPHA))["ts"]
        await w.plan_message(root)
        key = w.session_key(root)
        before = len(w.fake.messages)
        first = await w.channel.post(key, long_result)
        await w.channel.post(key, long_result, approval_for="01TESTREQUEST")

        posted = w.fake.messages[before:]
        assert posted[0].ts == first and all(m.thread_ts == root and m.channel == CHANNEL for m in posted)
        assert all(len(m.text) <= TEXT_LIMIT and fences_balanced(m.text) for m in posted)
        sections = [b["text"]["text"] for m in posted for b in m.blocks or [] if b["type"] == "section"]
        assert len(sections) == 1 and len(sections[0]) <= SECTION_LIMIT
        buttons = [m for m in posted if m.blocks]
        assert buttons == [posted[-1]]  # only the last part of the plan carries the buttons
        shown = unescape("\n".join(m.text for m in posted))
        assert shown.count("diff --git a/f599 b/f599 <599>") == 2 and shown.count("- note 299 & <tag>") == 2
