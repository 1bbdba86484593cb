"""The closed unions of every event type, and lookups by tag."""

from __future__ import annotations

from typing import Union

from claude_tunnels.events.base import Event
from claude_tunnels.events.changes import (
    ChangesAnswered,
    ChangesDecided,
    ChangesDiscarded,
    ChangesMerged,
    ChangesOverlapped,
    ChangesProposed,
    ChangesPushed,
    ChangesRefused,
)
from claude_tunnels.events.conversation import (
    CancelRequested,
    ConfirmationAnswered,
    ConfirmationCancelled,
    ConfirmationExpired,
    ConfirmationGiven,
    ConfirmationRefused,
    ConfirmationRequested,
    MessageQueued,
    MessageReceived,
    NoticeIssued,
    PermissionAnswered,
    PlanRevised,
    ReplyPosted,
    RequestOpened,
)
from claude_tunnels.events.execution import (
    PermissionDecided,
    PermissionRequested,
    PhaseCompleted,
    PhaseStarted,
    RequestCancelled,
    RequestCompleted,
    RequestFailed,
    RequestResumed,
    WorkspaceProgress,
    WorkspaceTaskCancelled,
    WorkspaceTaskDispatched,
    WorkspaceTaskFailed,
    WorkspaceTaskInterrupted,
    WorkspaceTaskSkipped,
    WorkspaceTaskStarted,
    WorkspaceTaskSucceeded,
    WorkspaceTaskTimedOut,
)
from claude_tunnels.events.planning import (
    ClarificationNeeded,
    DirectAnswerGiven,
    PlanApproved,
    PlanProposed,
    PlanRejected,
    RouteDecided,
)

SessionFamily = Union[
    MessageReceived,
    RequestOpened,
    MessageQueued,
    NoticeIssued,
    ConfirmationRequested,
    ConfirmationAnswered,
    ConfirmationGiven,
    ConfirmationRefused,
    ConfirmationCancelled,
    ConfirmationExpired,
    PlanRevised,
    CancelRequested,
    ReplyPosted,
    PermissionAnswered,
    ChangesAnswered,
]

RequestFamily = Union[
    RouteDecided,
    ClarificationNeeded,
    DirectAnswerGiven,
    PlanProposed,
    PlanApproved,
    PlanRejected,
    PhaseStarted,
    WorkspaceTaskDispatched,
    WorkspaceTaskStarted,
    WorkspaceProgress,
    PermissionRequested,
    PermissionDecided,
    WorkspaceTaskSucceeded,
    WorkspaceTaskFailed,
    WorkspaceTaskCancelled,
    WorkspaceTaskTimedOut,
    WorkspaceTaskSkipped,
    WorkspaceTaskInterrupted,
    PhaseCompleted,
    RequestResumed,
    RequestCompleted,
    RequestFailed,
    RequestCancelled,
    ChangesProposed,
    ChangesDecided,
    ChangesMerged,
    ChangesRefused,
    ChangesPushed,
    ChangesDiscarded,
    ChangesOverlapped,
]

AnyEvent = Union[SessionFamily, RequestFamily]

TaskEnded = Union[
    WorkspaceTaskSucceeded,
    WorkspaceTaskFailed,
    WorkspaceTaskCancelled,
    WorkspaceTaskTimedOut,
    WorkspaceTaskSkipped,
    WorkspaceTaskInterrupted,
]
TASK_ENDED: tuple[type[Event], ...] = TaskEnded.__args__  # type: ignore[attr-defined]

RequestEnded = Union[RequestCompleted, RequestFailed, RequestCancelled]
REQUEST_ENDED: tuple[type[Event], ...] = RequestEnded.__args__  # type: ignore[attr-defined]

ALL_EVENT_TYPES: tuple[type[Event], ...] = AnyEvent.__args__  # type: ignore[attr-defined]
BY_TAG: dict[str, type[Event]] = {cls.__struct_config__.tag: cls for cls in ALL_EVENT_TYPES}  # type: ignore[misc]

ChatReply = Union[
    RequestOpened,
    RouteDecided,
    ClarificationNeeded,
    DirectAnswerGiven,
    ConfirmationRequested,
    ConfirmationGiven,
    ConfirmationRefused,
    ConfirmationCancelled,
    PlanRevised,
    MessageQueued,
    NoticeIssued,
    PermissionRequested,
    RequestResumed,
    RequestCompleted,
    RequestFailed,
    RequestCancelled,
    ChangesProposed,
    ChangesMerged,
    ChangesRefused,
    ChangesPushed,
    ChangesDiscarded,
    ChangesOverlapped,
]
CHAT_REPLIES: tuple[type[Event], ...] = ChatReply.__args__  # type: ignore[attr-defined]
"""What a chat channel posts as a message of its own (task progress only edits the status message).
A channel confirms each with `reply.posted`; the ones without are posted again after a restart."""
