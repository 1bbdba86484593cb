"""Projections: pure folds of the event stream, and the runner that keeps them current."""

from claude_tunnels.projections.base import Projection
from claude_tunnels.projections.requests import RequestState, TaskState
from claude_tunnels.projections.runner import ProjectionRunner, rebuild
from claude_tunnels.projections.sessions import SessionState
from claude_tunnels.projections.task_log import TaskLog
from claude_tunnels.projections.views import RequestsView, SessionsView

__all__ = [
    "Projection",
    "ProjectionRunner",
    "RequestState",
    "RequestsView",
    "SessionState",
    "SessionsView",
    "TaskLog",
    "TaskState",
    "rebuild",
]
