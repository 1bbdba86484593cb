"""Projections: pure folds of the event stream, and the runner that keeps them current."""

from projections.base import Projection
from projections.requests import RequestState, TaskState
from projections.runner import ProjectionRunner, rebuild
from projections.sessions import SessionState
from projections.task_log import TaskLog
from projections.views import RequestsView, SessionsView

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
