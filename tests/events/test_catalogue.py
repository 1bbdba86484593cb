"""The catalogue: every event round-trips through JSON, tags are explicit and unique."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any, Literal, get_args, get_origin

import msgspec
import pytest

from claude_tunnels.events import ALL_EVENT_TYPES, BY_TAG, EVENTS, EventDecodeError, Subjects, encode
from claude_tunnels.events.base import Event
from claude_tunnels.events.changes import Overlap, ProposedTask, RepoChanges
from claude_tunnels.events.codec import REQUEST_EVENTS, SESSION_EVENTS
from claude_tunnels.events.conversation import Turn
from claude_tunnels.events.values import Delegation, FileDiff, Plan, PlannedTask, TaskFacts, TaskResult, TestRun, Usage

AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def sample_value(annotation: Any) -> Any:
    """A non-default value of the annotated type, so a round trip checks every field."""
    origin = get_origin(annotation)
    if origin is Literal:
        return get_args(annotation)[-1]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return sample_value(next(a for a in get_args(annotation) if a is not type(None)))
    if origin is list:
        return [sample_value(get_args(annotation)[0])]
    if origin is dict:
        return {"k": sample_value(get_args(annotation)[1])}
    return {
        str: "värde </x> \"q\"",
        int: 7,
        float: 1.5,
        bool: True,
        datetime: AT,
        Usage: Usage(input_tokens=3, output_tokens=4, cost_usd=0.25, num_turns=2),
        Delegation: Delegation(parent="ml/platform", request_id="01PARENT", task_id="01TASK", approved_by="terminal:alice"),
        TaskResult: TaskResult(summary="s", changed_files=["a"], test_result="fail", downstream_context="d"),
        Plan: Plan(label="l", tasks=[PlannedTask(workspace="p/w", task="t")], phases=[["p/w"]], warnings=["⚠ w"]),
        Turn: Turn(role="assistant", text="earlier"),
        TaskFacts: TaskFacts(
            repo="web", branch="tunnels/r/web", base="b" * 40, base_branch="main", start="s" * 40, commit="c" * 40,
            files=[FileDiff(path="a.py", added=2, removed=1)],
            test=TestRun(command="make test", passed=False, exit_code=2, tail="1 failed"),
            mismatches=["claimed tests passed"],
        ),
        RepoChanges: RepoChanges(
            repo="web", branch="tunnels/r-result", base="b" * 40, head="h" * 40, base_branch="main",
            files=[FileDiff(path="a.py", added=2, removed=1)],
            tasks=[ProposedTask(workspace="web/api", branch="tunnels/r/web/api", commit="c" * 40, test_command="make test",
                                test_passed=False, left_out="conflicts in a.py")],
            overlaps=[Overlap(request_id="01OTHER", branch="tunnels/o-result", files=["a.py"])],
        ),
    }[annotation]


def sample(cls: type[Event]) -> Event:
    hints = typing.get_type_hints(cls)
    values = {name: sample_value(hints[name]) for name in cls.__struct_fields__}
    values["id"] = "01JD0000000000000000000000"
    return cls(**values)


@pytest.mark.parametrize("cls", ALL_EVENT_TYPES, ids=lambda cls: cls.__struct_config__.tag)
def test_every_event_round_trips_and_is_documented(cls: type[Event]) -> None:
    event = sample(cls)
    assert EVENTS.decode(encode(event)) == event
    family_decoder = SESSION_EVENTS if cls.family == "session" else REQUEST_EVENTS
    assert family_decoder.decode(encode(event)) == event
    assert (cls.__doc__ or "").strip(), f"{cls.__name__} needs a one-line docstring"


def test_tags_are_explicit_dotted_and_unique() -> None:
    tags = [cls.__struct_config__.tag for cls in ALL_EVENT_TYPES]
    assert len(tags) == len(set(tags)) == len(BY_TAG)
    for cls, tag in zip(ALL_EVENT_TYPES, tags, strict=True):
        assert tag != cls.__name__ and "." in tag and tag == tag.lower()


def test_wire_format_is_plain_json_with_a_type_field() -> None:
    event = sample(BY_TAG["request.opened"])
    data = msgspec.json.decode(encode(event))
    assert data["type"] == "request.opened"
    assert data["at"] == "2026-01-02T03:04:05.678000Z"


def test_every_session_and_request_event_has_its_context_key() -> None:
    subjects = Subjects("t")
    for cls in ALL_EVENT_TYPES:
        event = sample(cls)
        subject = subjects.for_event(event)
        if cls.family == "request":
            assert subject.startswith(f"t.evt.req.{event.request_id}.")  # type: ignore[attr-defined]
        else:
            assert subject.startswith("t.evt.session.")
        assert subject.endswith(event.type.replace(".", "_"))


@pytest.mark.parametrize(
    "data, why",
    [
        (b'{"type":"no.such","id":"x"}', "not a known event"),
        (b'{"type":"message.received","id":"x"}', "not a known event"),
        (b"\xff not json", "not JSON"),
    ],
)
def test_undecodable_messages_raise_one_clear_error(data: bytes, why: str) -> None:
    with pytest.raises(EventDecodeError, match=why):
        EVENTS.decode(data)
