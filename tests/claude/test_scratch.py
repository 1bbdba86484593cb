"""A session's temporary folder stays (emptied) while a session that started beside it lives."""

from __future__ import annotations

from pathlib import Path

from claude_tunnels.tunnels.claude import scratch


def folder(tmp_path: Path, name: str) -> Path:
    made = tmp_path / name
    (made / "inside").mkdir(parents=True)
    (made / "socket-like").write_text("x")
    return made


def test_an_ended_sessions_folder_waits_for_the_sessions_that_started_beside_it(tmp_path: Path) -> None:
    with scratch.live_session():  # started while `first` existed: it may name it
        first = folder(tmp_path, "first")
        scratch.retire(first)
        assert first.is_dir() and not any(first.iterdir())  # emptied at once, kept
        with scratch.live_session():  # started after: does not name `first`, does not hold it
            pass
        assert first.is_dir()
    assert not first.exists() and first not in scratch.waiting()


def test_with_no_session_live_a_folder_goes_at_once(tmp_path: Path) -> None:
    alone = folder(tmp_path, "alone")
    scratch.retire(alone)
    assert not alone.exists()


def test_a_session_started_after_a_folder_went_does_not_keep_it(tmp_path: Path) -> None:
    with scratch.live_session():
        early = folder(tmp_path, "early")
        with scratch.live_session():
            pass
        scratch.retire(early)
    with scratch.live_session():
        assert not early.exists()
