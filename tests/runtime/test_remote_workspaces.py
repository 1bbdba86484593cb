"""The orchestrator's judgement of remote agents: lost after `remote.lost_after_s` of silence; reports cut to size."""

from __future__ import annotations

from remote_agent.protocol import Presence
from tests.factories import Events
from tunnels.runtime.remote import InFlight, silent_tasks

LOST_AFTER_S = 10.0
EDGE, OTHER = "edge/worker", "edge/other"


class _NoHandle:
    """The lost-agent decision reads no handle: a stand-in that fails if one is used."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"silent_tasks used the handle ({name})")


def flight(workspace: str, since: float) -> InFlight:
    return InFlight(Events().dispatched("s", "r1", workspace), _NoHandle(), since)  # type: ignore[arg-type]


def seen(workspace: str, at: float) -> tuple[Presence, float]:
    presence = Presence(workspace=workspace, agent_id="a1", host="h", version="0", heartbeat_at=at)
    return presence, at


def test_a_task_is_lost_only_after_the_configured_silence() -> None:
    in_flight = {"t1": flight(EDGE, since=90.0)}
    presences = {EDGE: seen(EDGE, 100.0)}  # the last heartbeat, after the dispatch
    assert silent_tasks(in_flight, presences, 100.0 + LOST_AFTER_S, LOST_AFTER_S) == []
    assert silent_tasks(in_flight, presences, 100.0 + LOST_AFTER_S + 0.01, LOST_AFTER_S) == ["t1"]


def test_silence_counts_from_the_dispatch_when_the_heartbeat_is_older() -> None:
    in_flight = {"t1": flight(EDGE, since=200.0)}
    presences = {EDGE: seen(EDGE, 100.0)}
    assert silent_tasks(in_flight, presences, 200.0 + LOST_AFTER_S, LOST_AFTER_S) == []
    assert silent_tasks(in_flight, presences, 200.0 + LOST_AFTER_S + 0.01, LOST_AFTER_S) == ["t1"]


def test_each_workspace_is_judged_by_its_own_agent() -> None:
    in_flight = {"t1": flight(EDGE, since=0.0), "t2": flight(OTHER, since=0.0)}
    presences = {EDGE: seen(EDGE, 50.0)}  # OTHER's agent never announced itself (or its key was deleted)
    assert silent_tasks(in_flight, presences, 55.0, LOST_AFTER_S) == ["t2"]
    assert silent_tasks(in_flight, presences, 61.0, LOST_AFTER_S) == ["t1", "t2"]


def test_what_a_remote_agent_reports_is_cut_to_size_before_it_is_recorded() -> None:
    from events.execution import WorkspaceTaskFailed, WorkspaceTaskSucceeded
    from tests.clocks import ManualClock, SequentialIds
    from events.values import SUMMARY_CHARS, TaskResult
    from remote_agent.protocol import Finished
    from actors.envelopes import task_envelope
    from actors.task_recorder import end_event
    from tunnels.runtime.remote import finished_end

    clock = ManualClock(Events().clock.now())
    envelope = task_envelope(Events().dispatched("s", "r1", EDGE), clock, SequentialIds(clock))
    huge = Finished(task_id="t1", outcome="succeeded", result=TaskResult(summary="s" * 1_000_000))
    succeeded = end_event(finished_end(huge), envelope)
    assert isinstance(succeeded, WorkspaceTaskSucceeded) and len(succeeded.result.summary) == SUMMARY_CHARS
    failed = end_event(finished_end(Finished(task_id="t1", outcome="failed", error="e" * 1_000_000)), envelope)
    assert isinstance(failed, WorkspaceTaskFailed) and len(failed.error) == 1000
