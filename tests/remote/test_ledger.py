"""The on-disk task ledger: started and finished tasks survive a restart; the file stays bounded."""

from __future__ import annotations

from pathlib import Path

from claude_tunnels.remote_agent import ledger as ledger_module
from claude_tunnels.remote_agent.ledger import TaskLedger


def test_started_and_finished_tasks_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "tasks.log"
    ledger = TaskLedger(path)
    ledger.start("t1")
    ledger.start("t2")
    ledger.finish("t1")
    ledger.finish("unknown")  # ignored
    again = TaskLedger(path)
    assert "t1" in again and "t2" in again and "t3" not in again
    assert again.unfinished() == ["t2"]
    again.finish("t2")
    assert TaskLedger(path).unfinished() == []


def test_the_file_is_compacted_to_the_newest_tasks(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ledger_module, "_KEEP", 3)
    path = tmp_path / "tasks.log"
    ledger = TaskLedger(path)
    for number in range(5):
        ledger.start(f"t{number}")
        ledger.finish(f"t{number}")
    ledger.start("t5")
    compacted = TaskLedger(path)
    assert "t2" not in compacted and "t3" in compacted and compacted.unfinished() == ["t5"]
    assert path.read_text().splitlines() == ["start t3", "end t3", "start t4", "end t4", "start t5"]
