"""NATS subject names for events and workspace commands.

Event log (one stream, `<prefix>.evt.>`):

- `<prefix>.evt.session.<session>.<type>`: facts of a conversation (`SessionEvent`s)
- `<prefix>.evt.req.<request_id>.<type>`: facts of one request (`RequestEvent`s)

`<type>` is the event tag with `.` written `_` (`request.opened` -> `request_opened`), so one kind
across all requests is `<prefix>.evt.req.*.task_succeeded`. Session keys may hold any character;
they are written as a subject token by `token()` (a reversible escape).
"""

from __future__ import annotations

import re

from claude_tunnels.events.base import Event

DEFAULT_PREFIX = "tunnels"
_SAFE = re.compile(r"[A-Za-z0-9_\-:]")


def token(value: str) -> str:
    """Write any string as one subject token: unsafe characters become `=XX` (UTF-8 hex)."""
    if not value:
        return "="
    out = []
    for char in value:
        if _SAFE.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"={byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def untoken(value: str) -> str:
    """The inverse of `token()`."""
    if value == "=":
        return ""
    raw = bytearray()
    i = 0
    while i < len(value):
        if value[i] == "=":
            raw.append(int(value[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(value[i].encode("ascii"))
            i += 1
    return raw.decode("utf-8")


def type_token(tag: str) -> str:
    """`request.opened` -> `request_opened`."""
    return tag.replace(".", "_")


class Subjects:
    """Subject names under one prefix (so tests and tenants can share a server)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self.events = f"{prefix}.evt.>"

    def for_event(self, event: Event) -> str:
        """The subject an event is stored under."""
        kind = type_token(event.type)
        if event.family == "session":
            return f"{self.prefix}.evt.session.{token(event.session_key)}.{kind}"
        return f"{self.prefix}.evt.req.{event.request_id}.{kind}"  # type: ignore[attr-defined]

    @property
    def term(self) -> str:
        """The term markers of the active orchestrator (in the event stream, not events)."""
        return f"{self.prefix}.term"

    def session(self, session_key: str) -> str:
        """Filter for every conversation fact of one session."""
        return f"{self.prefix}.evt.session.{token(session_key)}.>"

    def request(self, request_id: str) -> str:
        """Filter for every fact of one request's execution."""
        return f"{self.prefix}.evt.req.{request_id}.>"

    def all_of_type(self, tag: str) -> str:
        """Filter for one event type across all sessions or requests."""
        from claude_tunnels.events.catalogue import BY_TAG

        family = "session" if BY_TAG[tag].family == "session" else "req"
        return f"{self.prefix}.evt.{family}.*.{type_token(tag)}"

    def workspace_tasks(self, qualified_workspace: str) -> str:
        """Where tasks for one workspace actor (local or remote) are sent."""
        return f"{self.prefix}.ws.{token(qualified_workspace)}.task"

    def workspace_control(self, qualified_workspace: str) -> str:
        """Where cancel commands for one workspace actor are sent."""
        return f"{self.prefix}.ws.{token(qualified_workspace)}.control"

    def workspace_out(self, qualified_workspace: str) -> str:
        """Where a workspace actor publishes what happened (the orchestrator validates and records it)."""
        return f"{self.prefix}.ws.{token(qualified_workspace)}.out"

