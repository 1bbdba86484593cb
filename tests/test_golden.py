"""Golden replays: recorded event streams must still decode, re-encode and fold to the recorded state.

Each folder of `tests/golden/` is a stream recorded by an earlier version (`stream.jsonl`) with the
state today's projections must fold it into. A schema change that breaks an old stream fails
here; the fix is an upcaster in `events/upcasting.py`, never a re-recorded stream.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from claude_tunnels.events.catalogue import BY_TAG, AnyEvent
from claude_tunnels.events.codec import EventDecodeError, encode
from claude_tunnels.events.subjects import Subjects
from claude_tunnels.projections import rebuild
from claude_tunnels.tunnels.bus import EventStore
from tests.golden.replay import (
    REQUESTS,
    SESSIONS,
    TASK_LOG,
    Folded,
    Line,
    decode_event,
    fold,
    outputs,
    read_stream,
    task_log_files,
    views,
)

GOLDEN = Path(__file__).parent / "golden"
FOLDERS = sorted(stream.parent for stream in GOLDEN.glob("*/stream.jsonl"))

ADDED_FIELDS: dict[str, frozenset[str]] = {
    "message.received": frozenset({"permission_id", "repo", "delegation"}),  # repo: a Merge / Open PR / Discard button's repository
    "request.opened": frozenset({"delegation"}),  # a parent orchestrator's task (delegated_request)
    "task.started": frozenset({"child_request_id"}),  # the request a child orchestrator opened for the task
    "permission.requested": frozenset({"permission_id", "reason", "rule", "expires_at", "approvers"}),
    "permission.decided": frozenset({"detail", "rule", "permission_id"}),
    "task.skipped": frozenset({"reason"}),  # cost budgets: why a task was not run
    "request.completed": frozenset({"stopped"}),
    "task.succeeded": frozenset({"facts"}),  # what the orchestrator found the task did (git, manifest, tests)  # cost budgets: why the plan stopped early
    "task.dispatched": frozenset({"attempt"}),  # a task run again after a restart (resumed_after_restart)
    "request.failed": frozenset({"usage"}),  # what a failed routing or planning call cost
}
"""Fields added with a default after a golden stream was recorded, by event tag: `{"task.started": frozenset({"host"})}`.

Old events lack them and decode with the default; listing a field here says that was meant.
"""

REFRESH = (
    "If this change of the folded state is intended (a projection changed), run "
    "`.venv/bin/python tests/golden/record.py --refresh-expected`: it re-folds the recorded streams "
    "with today's code and rewrites only sessions.json, requests.json and task_log/ (never "
    "stream.jsonl); review that diff before committing. If it is not intended, today's code folds "
    "old events differently: fix the fold, or upcast the old shape in events/upcasting.py."
)

golden = pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])


def where(folder: Path, line: Line) -> str:
    return f"tests/golden/{folder.name}/stream.jsonl seq {line.seq}"


def decoded(folder: Path) -> list[tuple[int, AnyEvent]]:
    """`(seq, event)` for every line, or a failure that says how to fix an old stream."""
    out: list[tuple[int, AnyEvent]] = []
    for line in read_stream(folder):
        try:
            out.append((line.seq, decode_event(line)))
        except EventDecodeError as err:
            tag = msgspec.json.decode(line.event).get("type")
            pytest.fail(
                f"{where(folder, line)} ({tag}, schema {line.schema}) no longer decodes: {err}. "
                "Recorded streams are history and are never rewritten: bump SCHEMA_VERSION in "
                f"events/upcasting.py and register an upcaster from version {line.schema} that "
                "rewrites the old JSON into today's shape.",
                pytrace=False,
            )
    return out


def diff(name: str, expected: bytes, actual: bytes) -> str:
    lines = difflib.unified_diff(
        expected.decode().splitlines(), actual.decode().splitlines(), f"expected {name}", f"today's {name}", lineterm=""
    )
    return "\n".join(list(lines)[:60])


def assert_same_outputs(folder: Path, folded: Folded) -> None:
    for name, actual in ((SESSIONS, folded.sessions), (REQUESTS, folded.requests)):
        expected = (folder / name).read_bytes()
        assert actual == expected, f"{folder.name}/{name} differs from today's fold.\n{REFRESH}\n{diff(name, expected, actual)}"
    expected_files = task_log_files(folder / TASK_LOG)
    actual_files = task_log_files(folded.task_log_dir)
    assert sorted(actual_files) == sorted(expected_files), (
        f"{folder.name}: the task log files differ (expected {sorted(expected_files)}, today {sorted(actual_files)}).\n{REFRESH}"
    )
    for name, expected in expected_files.items():
        assert actual_files[name] == expected, f"{folder.name}/task_log/{name} differs.\n{REFRESH}\n{diff(name, expected, actual_files[name])}"


def test_there_are_golden_streams_to_replay() -> None:
    assert len(FOLDERS) >= 2, f"no golden streams under {GOLDEN}: run `.venv/bin/python tests/golden/record.py`"


def test_the_golden_streams_cover_every_event_type() -> None:
    seen = {msgspec.json.decode(line.event)["type"] for folder in FOLDERS for line in read_stream(folder)}
    missing = sorted(set(BY_TAG) - seen)
    assert not missing, (
        f"no golden stream holds {missing}: add a story using them to tests/golden/record.py and run "
        "`.venv/bin/python tests/golden/record.py` (it records only the new story)"
    )


@golden
def test_the_stream_is_numbered_from_one_with_unique_ids(folder: Path) -> None:
    lines = read_stream(folder)
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
    ids = [event.id for _, event in decoded(folder)]
    assert len(set(ids)) == len(ids)


@golden
def test_every_recorded_event_still_decodes_and_lives_under_its_subject(folder: Path) -> None:
    subjects = Subjects()
    for line, (_, event) in zip(read_stream(folder), decoded(folder), strict=True):
        assert subjects.for_event(event) == line.subject, (
            f"{where(folder, line)}: today's code stores {event.type} under {subjects.for_event(event)!r}, the "
            f"recorded stream has it under {line.subject!r}. Stored subjects never move: per-session and "
            "per-request reads of old streams would miss it. Keep the subject scheme, or migrate on read."
        )


def _reencode_problem(folder: Path, line: Line, event: AnyEvent) -> str | None:
    """None if today's encoder writes the recorded bytes again; else what differs and what to do."""
    recorded, today = bytes(line.event), encode(event)
    if today == recorded:
        return None
    old: dict[str, Any] = msgspec.json.decode(recorded)
    new: dict[str, Any] = msgspec.json.decode(today)
    tag = str(old.get("type"))
    acknowledged = (set(new) - set(old)) & ADDED_FIELDS.get(tag, frozenset())
    added = sorted(set(new) - set(old) - acknowledged)
    changed = sorted(key for key in old if key not in new or old[key] != new[key])
    head = f"{where(folder, line)} ({tag}) re-encodes differently"
    if changed:
        details = "; ".join(f"{key}: recorded {old[key]!r}, today {new.get(key, '<absent>')!r}" for key in changed)
        return (
            f"{head}: {details}. Today's code reads this old event into another shape. Stored events "
            "are never rewritten: keep the field's name and meaning, or bump SCHEMA_VERSION in "
            f"events/upcasting.py and register an upcaster from version {line.schema} that rewrites the old JSON."
        )
    if added:
        defaults = {key: new[key] for key in added}
        return (
            f"{head}: today's encoder writes field(s) {defaults} that the recorded event lacks. If you added "
            "them with a default, that is a compatible change: the old event still decodes (it gets the "
            "default), so no upcaster is needed, and the recorded stream must stay as it is (never "
            f"re-record it). Say it was meant: add {tag!r}: frozenset({set(added)!r}) to ADDED_FIELDS in "
            "tests/test_golden.py, and add a story using the new field to tests/golden/record.py (then "
            "run it) so the new shape is recorded too. A field without a default breaks old streams: "
            "give it one, or bump SCHEMA_VERSION and register an upcaster in events/upcasting.py."
        )
    if acknowledged:
        return None  # only fields listed in ADDED_FIELDS are new; everything recorded is unchanged
    return (
        f"{head}: the same fields and values, other bytes (field order or number format). Keep the "
        "encoding stable: do not reorder the fields of an event or change how values are written."
    )


@golden
def test_every_recorded_event_re_encodes_to_the_same_json(folder: Path) -> None:
    problems = [
        problem
        for line, (_, event) in zip(read_stream(folder), decoded(folder), strict=True)
        if (problem := _reencode_problem(folder, line, event)) is not None
    ]
    assert not problems, "\n\n".join(problems[:5]) + (f"\n\n... and {len(problems) - 5} more" if len(problems) > 5 else "")


@golden
def test_folding_the_stream_gives_the_recorded_state_byte_for_byte(folder: Path, tmp_path: Path) -> None:
    assert_same_outputs(folder, fold(decoded(folder), tmp_path / TASK_LOG))


@golden
async def test_the_stream_through_a_real_nats_server_rebuilds_the_same_task_log(
    folder: Path, store: EventStore, tmp_path: Path
) -> None:
    for seq, event in decoded(folder):
        appended = await store.append(event)
        assert (appended.seq, appended.duplicate) == (seq, False)
    projections = views(tmp_path / TASK_LOG)
    assert await rebuild(store, projections) == len(read_stream(folder))
    assert_same_outputs(folder, outputs(*projections))
