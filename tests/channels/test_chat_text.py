"""The texts the chat channels share: a settled plan, people's names, each reply once, replay lines."""

from __future__ import annotations

import pytest

from claude_tunnels.channels.names import DisplayNames
from claude_tunnels.channels.render import plan_text, render, repeats_the_answer
from claude_tunnels.channels.settled import APPROVAL_QUESTION, outcome, settled
from claude_tunnels.channels.slack.mrkdwn import escape as mrkdwn
from claude_tunnels.channels.telegram.markup import escape as telegram_html
from claude_tunnels.channels.telegram.markup import to_html
from claude_tunnels.events.conversation import ConfirmationCancelled, ConfirmationGiven
from claude_tunnels.events.execution import RequestCancelled
from claude_tunnels.events.values import Usage
from claude_tunnels.projections.requests import open_request
from claude_tunnels.tunnels.timeline import line
from tests.factories import Events, two_phase_plan

KEY, RID = "slack:T1:C1:1.0", "01REQ00000000000000000001"


def test_a_settled_plan_keeps_the_plan_and_says_what_became_of_it() -> None:
    ev = Events()
    question = render(ev.asked(KEY, RID)) or ""
    assert question.startswith(APPROVAL_QUESTION)  # the line `settled` takes away is the one render writes
    posted = f"{plan_text(two_phase_plan(), RID)}\n\n{question}"
    given = ConfirmationGiven(request_id=RID, by="slack:U0ALICE", **ev.envelope(KEY))
    for escape in (mrkdwn, telegram_html):
        text = settled(escape(posted), outcome(given), escape)
        assert APPROVAL_QUESTION not in text and "Expires" not in text
        assert text == f"{escape(plan_text(two_phase_plan(), RID))}\n\n✓ Approved by slack:U0ALICE."
    assert outcome(ConfirmationCancelled(request_id=RID, by="x", **ev.envelope(KEY))) == "✗ Cancelled by x; nothing ran."


async def test_people_are_shown_by_name_once_asked_and_by_id_when_the_platform_has_none() -> None:
    asked: list[str] = []

    async def lookup(user_id: str) -> str | None:
        asked.append(user_id)
        if user_id == "U0BROKEN":
            raise RuntimeError("missing_scope")
        return {"U0ALICE": "Alice"}.get(user_id)

    names = DisplayNames("slack", lookup)
    assert await names.named("Approved by slack:U0ALICE; slack:U0BOB and slack:U0BROKEN may answer") == (
        "Approved by Alice; slack:U0BOB and slack:U0BROKEN may answer")
    assert await names.named("Only slack:U0ALICE, slack:U0BOB, slack:U0BROKEN") == "Only Alice, slack:U0BOB, slack:U0BROKEN"
    assert asked == ["U0ALICE", "U0BOB", "U0BROKEN"]  # each asked once, failures remembered too
    telegram = DisplayNames("telegram")
    telegram.learn("42", "Ann (@ann)")
    assert telegram.shown("Approved by telegram:42, not telegram:420") == "Approved by Ann (@ann), not telegram:420"


def test_a_direct_answers_completion_is_not_shown_again() -> None:
    ev = Events()
    request = open_request(ev.opened(KEY, RID, "what is this?"))
    completed = ev.completed(KEY, RID, "It is a tree of projects.")
    assert repeats_the_answer(completed, request)  # no plan: the answer.direct was the reply
    planned = type(request)(**{**{f: getattr(request, f) for f in request.__struct_fields__}, "plan": two_phase_plan()})
    assert not repeats_the_answer(completed, planned)
    assert render(ConfirmationCancelled(request_id=RID, by="x", **ev.envelope(KEY))) is None  # request.cancelled says it


@pytest.mark.parametrize(("text", "html"), [
    ("a `b<c>` d", "a <code>b&lt;c&gt;</code> d"),
    ("```\nx & y\n```", "<pre>x &amp; y</pre>"),
    ("```py\nif a<b: pass\n```", '<pre><code class="language-py">if a&lt;b: pass</code></pre>'),
    ("```\nnot closed", "```\nnot closed"),
    ("a ` lone backtick", "a ` lone backtick"),
])
def test_telegram_shows_code_as_code_and_escapes_the_rest(text: str, html: str) -> None:
    assert to_html(text) == html


def test_replay_shows_values_as_a_person_reads_them() -> None:
    ev = Events()
    cancelled = RequestCancelled(request_id=RID, by="terminal:alice", usage=Usage(input_tokens=1200, output_tokens=300, cost_usd=0.02),
                                 **ev.envelope(KEY))
    shown = line(7, cancelled)
    assert "by=terminal:alice" in shown and "usage=$0.0200 (1200 in / 300 out tokens" in shown
    assert "Usage(" not in shown and "None" not in shown
