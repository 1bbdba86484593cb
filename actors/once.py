"""Ids of the facts that happen once: the same for every writer, so the store keeps only the first.

An event's id is its JetStream `Nats-Msg-Id`, and the store drops an append whose id it already
holds (within `nats.duplicate_window_s`, a day by default). The facts below are derived from what
they are about, not drawn at random, so whoever records one again (a redelivered event handled a
second time, a restarted orchestrator taking a request up, two paths racing to end a request)
records nothing new:

- a request's end: `request.completed`, `request.failed` and `request.cancelled` share one id, so
  a request has exactly one outcome, whichever path came first;
- a phase's start and end, a task's dispatch per attempt, a task skipped;
- the approval a person's answer gives (`confirmation.given`, `plan.approved`, ...).

Derived ids carry the request's opening time (or the cause's), not the moment of the write.
"""

from __future__ import annotations

from datetime import datetime

from claude_tunnels.events.ids import derived_id


def request_end_id(request_id: str, opened_at: datetime) -> str:
    """The id of the request's one end, whichever it is (completed, failed, cancelled)."""
    return derived_id(opened_at, f"{request_id}:ended")


def phase_id(request_id: str, opened_at: datetime, phase: int, what: str) -> str:
    """The id of a phase's `started` or `completed`."""
    return derived_id(opened_at, f"{request_id}:phase:{phase}:{what}")


def task_id_of(request_id: str, opened_at: datetime, task_id: str, what: str) -> str:
    """The id of a once-per-task fact (`dispatched:<attempt>`, `skipped`, `cancelled`)."""
    return derived_id(opened_at, f"{request_id}:task:{task_id}:{what}")


def reaction_id(cause_id: str, cause_at: datetime, what: str) -> str:
    """The id of the one `what` a given event causes (the approval of a person's answer)."""
    return derived_id(cause_at, f"{cause_id}:{what}")
