"""The task log: file names, content, retention by date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from claude_tunnels.events.base import Event
from claude_tunnels.projections.task_log import TaskLog
from tests.factories import Events, two_phase_plan

KEY = "terminal:alice"


def run(log: TaskLog, events: list[Event]) -> None:
    for seq, event in enumerate(events, start=log.position + 1):
        log.apply(seq, event)
    log.write_outputs()


def full_request(ev: Events, rid: str, text: str) -> list[Event]:
    return [
        ev.opened(KEY, rid, text), ev.routed(KEY, rid, ["shared"]), ev.proposed(KEY, rid, two_phase_plan()),
        ev.approved(KEY, rid), ev.dispatched(KEY, rid, "shared/core"), ev.succeeded(KEY, rid, "shared/core", "bumped to v2"),
        ev.failed(KEY, rid, "web/app", "tests failed"), ev.completed(KEY, rid, "core upgraded; app failed"),
    ]


def test_one_file_per_request_with_plan_results_usage_and_answer(tmp_path: Path) -> None:
    log = TaskLog(tmp_path / ".tasks")
    run(log, full_request(Events(), "01REQ00000000000000000001", "Upgrade core to v2"))
    files = list((tmp_path / ".tasks").rglob("*.md"))
    assert len(files) == 1
    path = files[0]
    assert path.relative_to(tmp_path / ".tasks").parts[:2] == ("2026-11-21", "shared")
    text = path.read_text()
    for expected in ["# upgrade core", "Upgrade core to v2", "Phase 1:", "- `web/app` (after shared/core): use v2",
                     "### shared/core (phase 1): succeeded", "bumped to v2", "- Tests (the agent's claim): pass", "- Error: tests failed",
                     "**completed**", "core upgraded; app failed", "$0.0300"]:
        assert expected in text, expected


@pytest.mark.parametrize("label", ["a/b/../../etc/passwd", "", "   ", "ünïcødé ✓ 日本語", ".", "..", "x" * 500, "con:aux*?<>|"])
def test_any_label_gives_a_safe_file_inside_the_day_and_project_folder(tmp_path: Path, label: str) -> None:
    log = TaskLog(tmp_path / ".tasks")
    run(log, full_request(Events(), "01REQ00000000000000000001", label))
    [path] = list((tmp_path / ".tasks").rglob("*.md"))
    assert path.parent == tmp_path / ".tasks" / "2026-11-21" / "shared"
    assert len(path.name) < 120


def test_two_requests_in_the_same_second_with_the_same_label_never_collide(tmp_path: Path) -> None:
    log = TaskLog(tmp_path / ".tasks")
    first, second = Events(), Events()  # same clock: same times, same label
    run(log, full_request(first, "01REQ00000000000000000001", "same"))
    run(log, full_request(second, "01REQ00000000000000000002", "same"))
    assert len(list((tmp_path / ".tasks").rglob("*.md"))) == 2


def test_a_request_without_a_route_waits_for_its_folder(tmp_path: Path) -> None:
    log = TaskLog(tmp_path / ".tasks")
    ev = Events()
    run(log, [ev.opened(KEY, "01REQ00000000000000000001", "hello")])
    assert not list(tmp_path.rglob("*.md"))
    run(log, [ev.routed(KEY, "01REQ00000000000000000001", ["web"])])
    assert [p.parent.name for p in tmp_path.rglob("*.md")] == ["web"]


def test_retention_is_by_date_not_by_count(tmp_path: Path) -> None:
    directory = tmp_path / ".tasks"
    for day in ["2026-09-01", "2026-10-21", "2026-10-22", "2026-11-20", "notes"]:
        (directory / day).mkdir(parents=True)
    removed = TaskLog(directory).prune(date(2026, 11, 21), retention_days=30)
    assert sorted(p.name for p in removed) == ["2026-09-01", "2026-10-21"]
    assert sorted(p.name for p in directory.iterdir()) == ["2026-10-22", "2026-11-20", "notes"]
