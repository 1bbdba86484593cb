"""The task log: file names, content, retention by date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from claude_tunnels.events.base import Event
from claude_tunnels.events.values import Plan, PlannedTask
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


def test_one_file_per_request_under_each_project_it_touches_with_plan_results_usage_and_answer(tmp_path: Path) -> None:
    log = TaskLog(tmp_path / ".tasks")
    run(log, full_request(Events(), "01REQ00000000000000000001", "Upgrade core to v2"))
    # Routed to shared, planned across shared and web: the same file in both project folders.
    files = sorted((tmp_path / ".tasks").rglob("*.md"))
    assert [path.relative_to(tmp_path / ".tasks").parts[:2] for path in files] == [("2026-11-21", "shared"), ("2026-11-21", "web")]
    assert files[0].name == files[1].name and files[0].read_bytes() == files[1].read_bytes()
    assert log.paths_of("01REQ00000000000000000001") == files and log.path_of("01REQ00000000000000000001") == files[0]
    text = files[0].read_text()
    for expected in ["# upgrade core", "Upgrade core to v2", "- Projects: shared, web", "Phase 1:", "- `web/app` (after shared/core): use v2",
                     "### shared/core (phase 1): succeeded", "bumped to v2", "- Tests (the agent's claim): pass", "- Error: tests failed",
                     "**completed**", "core upgraded; app failed", "$0.0300"]:
        assert expected in text, expected


def test_a_copy_under_a_project_the_plan_no_longer_touches_is_removed(tmp_path: Path) -> None:
    log, ev, rid = TaskLog(tmp_path / ".tasks"), Events(), "01REQ00000000000000000001"
    only_web = Plan(label="web only", tasks=[PlannedTask(workspace="web/app", task="use v2")], phases=[["web/app"]])
    run(log, [ev.opened(KEY, rid, "upgrade"), ev.routed(KEY, rid, ["shared"])])
    assert folders(tmp_path) == ["shared"]  # before a plan: the route
    run(log, [ev.proposed(KEY, rid, two_phase_plan())])
    assert folders(tmp_path) == ["shared", "web"]
    run(log, [ev.revised(KEY, rid, "leave shared alone"), ev.proposed(KEY, rid, only_web, revision=1)])
    assert folders(tmp_path) == ["web"]  # neither the route nor the earlier plan keeps a copy
    run(log, [ev.revised(KEY, rid, "do shared after all"), ev.proposed(KEY, rid, two_phase_plan(), revision=2)])
    assert folders(tmp_path) == ["shared", "web"]
    # Rebuilt from the stream, the same files.
    rebuilt = TaskLog(tmp_path / "again")
    run(rebuilt, [ev.opened(KEY, rid, "upgrade"), ev.routed(KEY, rid, ["shared"]), ev.proposed(KEY, rid, two_phase_plan())])
    assert sorted(p.parent.name for p in (tmp_path / "again").rglob("*.md")) == ["shared", "web"]


def folders(root: Path) -> list[str]:
    return sorted(path.parent.name for path in (root / ".tasks").rglob("*.md"))


@pytest.mark.parametrize("label", ["a/b/../../etc/passwd", "", "   ", "ünïcødé ✓ 日本語", ".", "..", "x" * 500, "con:aux*?<>|"])
def test_any_label_gives_a_safe_file_inside_the_day_and_project_folder(tmp_path: Path, label: str) -> None:
    log = TaskLog(tmp_path / ".tasks")
    run(log, full_request(Events(), "01REQ00000000000000000001", label))
    paths = sorted((tmp_path / ".tasks").rglob("*.md"))
    assert [path.parent for path in paths] == [tmp_path / ".tasks" / "2026-11-21" / name for name in ("shared", "web")]
    assert all(len(path.name) < 120 for path in paths)


def test_two_requests_in_the_same_second_with_the_same_label_never_collide(tmp_path: Path) -> None:
    log = TaskLog(tmp_path / ".tasks")
    first, second = Events(), Events()  # same clock: same times, same label
    run(log, full_request(first, "01REQ00000000000000000001", "same"))
    run(log, full_request(second, "01REQ00000000000000000002", "same"))
    assert len(list((tmp_path / ".tasks").rglob("*.md"))) == 4  # two requests, each under two projects


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
