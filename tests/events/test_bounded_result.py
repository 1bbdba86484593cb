"""A task result is cut to the bounds a chat message, an event and a dependant's prompt can carry."""

from __future__ import annotations

from claude_tunnels.events.values import CONTEXT_CHARS, MAX_CHANGED_FILES, PATH_CHARS, SUMMARY_CHARS, TaskResult, bounded_result


def test_a_result_within_bounds_is_kept_as_it_is() -> None:
    result = TaskResult(summary="done", changed_files=["a.py"], test_result="pass", downstream_context="api v2")
    assert bounded_result(result) is result


def test_a_runaway_result_is_cut_field_by_field() -> None:
    result = TaskResult(
        summary="s" * 100_000, changed_files=[f"f{n}.py" for n in range(MAX_CHANGED_FILES + 7)] + ["p" * 1000],
        test_result="fail", downstream_context="c" * 100_000,
    )
    cut = bounded_result(result)
    assert len(cut.summary) == SUMMARY_CHARS and cut.summary.endswith("…")
    assert len(cut.downstream_context) == CONTEXT_CHARS
    assert cut.changed_files[:3] == ["f0.py", "f1.py", "f2.py"]
    assert len(cut.changed_files) == MAX_CHANGED_FILES + 1 and cut.changed_files[-1] == "… and 8 more"
    assert all(len(path) <= PATH_CHARS for path in cut.changed_files)
    assert cut.test_result == "fail"
