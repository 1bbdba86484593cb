"""What became of a request's changes, per repository: a pure fold of the `changes.*` events.

A repository's changes are `open` once proposed, `deciding` while a decision is carried out, then
`merged`, `pushed` (to the remote, with its pull request) or `discarded`; a refused decision makes
them `open` again (the next decision is another attempt).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from msgspec.structs import replace

from claude_tunnels.events.changes import (
    ChangesDecided,
    ChangesDiscarded,
    ChangesMerged,
    ChangesProposed,
    ChangesPushed,
    ChangesRefused,
    RepoChanges,
)

ChangesStatus = Literal["open", "deciding", "merged", "pushed", "discarded"]
WAITING: frozenset[str] = frozenset({"open", "deciding"})
"""Changes no decision has settled yet."""
UNMERGED: frozenset[str] = frozenset({"open", "deciding", "pushed"})
"""Changes whose branch is still open: neither merged here nor discarded (a pushed branch backs a pull request)."""

ChangesEvent = ChangesProposed | ChangesDecided | ChangesMerged | ChangesRefused | ChangesPushed | ChangesDiscarded


class RepoState(msgspec.Struct, frozen=True, kw_only=True):
    """One repository's changes of a request, and what became of them."""

    proposal: RepoChanges
    proposed_at: datetime
    status: ChangesStatus = "open"
    decision: str = ""
    """The decision being carried out or carried out (`merge`, `pr`, `discard`)."""
    by: str = ""
    attempts: int = 0
    """Decisions recorded so far (a refused one counts)."""
    outcome: str = ""
    """The merged commit, the pull request (or the pushed branch's compare page), or why the last decision was refused."""


def changes_after(changes: dict[str, RepoState], event: ChangesEvent) -> dict[str, RepoState]:
    """The repositories' states after `event`. Pure."""
    if isinstance(event, ChangesProposed):
        if changes:
            return changes  # proposed once (a second proposal would be a redelivery)
        return {repo.repo: RepoState(proposal=repo, proposed_at=event.at) for repo in event.repos}
    current = changes.get(event.repo)
    if current is None:
        return changes
    match event:
        case ChangesDecided() if current.status == "open" and event.attempt == current.attempts:
            updated = replace(current, status="deciding", decision=event.decision, by=event.by, attempts=current.attempts + 1)
        case ChangesMerged() if current.status == "deciding":
            updated = replace(current, status="merged", outcome=event.commit)
        case ChangesPushed() if current.status == "deciding":
            updated = replace(current, status="pushed", outcome=event.pr_url or event.compare_url or f"{event.remote}/{event.branch}")
        case ChangesDiscarded() if current.status == "deciding":
            updated = replace(current, status="discarded", outcome="")
        case ChangesRefused() if current.status == "deciding":
            updated = replace(current, status="open", outcome=event.reason)
        case _:
            return changes  # out of turn (a late duplicate): the first outcome counts
    return {**changes, event.repo: updated}
