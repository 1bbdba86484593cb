"""Subject tokens: any session key becomes one safe, reversible token."""

from __future__ import annotations

import pytest

from claude_tunnels.events.subjects import Subjects, token, untoken


@pytest.mark.parametrize(
    "key",
    ["terminal:local", "slack:T1:C1:1700000000.000100", "telegram:-100123:42", "", "a b*c>d", "ünï/cødé 👍", "=3D", ".."],
)
def test_token_is_a_single_safe_subject_token_and_reversible(key: str) -> None:
    written = token(key)
    assert written and not any(char in written for char in ".*> \t\n")
    assert untoken(written) == key


def test_distinct_keys_give_distinct_tokens() -> None:
    keys = ["a.b", "a=2Eb", "a b", "a_b", "a-b"]
    assert len({token(k) for k in keys}) == len(keys)


def test_filters_for_one_session_and_one_request() -> None:
    subjects = Subjects("tunnels")
    assert subjects.session("slack:T1:C1:17.1") == "tunnels.evt.session.slack:T1:C1:17=2E1.>"
    assert subjects.request("01ABC") == "tunnels.evt.req.01ABC.>"
    assert subjects.all_of_type("task.succeeded") == "tunnels.evt.req.*.task_succeeded"
    assert subjects.all_of_type("message.received") == "tunnels.evt.session.*.message_received"
