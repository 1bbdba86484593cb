"""The envelope of an event about a dispatched task (its outcome, progress, start)."""

from __future__ import annotations

from typing import Any

from claude_tunnels.events.execution import WorkspaceTaskDispatched
from claude_tunnels.events.ids import Clock, IdSource


def task_envelope(dispatched: WorkspaceTaskDispatched, clock: Clock, ids: IdSource) -> dict[str, Any]:
    """New id, now, and the task's session, request, id and workspace, caused by the dispatch."""
    return {
        "id": ids.new_id(), "at": clock.now(), "session_key": dispatched.session_key,
        "causation_id": dispatched.id, "request_id": dispatched.request_id,
        "task_id": dispatched.task_id, "workspace": dispatched.workspace,
    }
