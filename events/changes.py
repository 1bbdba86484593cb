"""Events of a request's changes once it has ended: the request branch of each git repository is
proposed, a person (or `git.on_success`) decides, and the decision's outcome is recorded.

A request whose local tasks changed files in git repositories ends with `changes.proposed`: per
repository one request branch at the request's base commit with every succeeded task branch merged
in, its diff and each task's declared tests, as git says (never the agent). Someone asks for a
decision (`changes.answered`, typed or a button); the gate records at most one `changes.decided` per
repository and attempt (its id derived from them, so a double click is stored once); the outcome is
`changes.merged`, `changes.pushed` (pushed, with the pull request when a token is configured),
`changes.discarded`, or `changes.refused` (nothing changed; the repository can be decided again).
Before a merge or a pull request, other requests' open branches that change the same files are told
to both conversations with `changes.overlapped`, which blocks nothing.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from claude_tunnels.events.base import RequestEvent, SessionEvent
from claude_tunnels.events.values import FileDiff

Decision = Literal["merge", "pr", "discard"]
DECISIONS: tuple[Decision, ...] = ("merge", "pr", "discard")


class ProposedTask(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One task's part of a request branch: its branch and commit, its declared test's outcome
    (`test_passed` None: no declared test), and `left_out` saying why its changes are not in the
    request branch (they conflict with an earlier task's), when they are not."""

    workspace: str
    branch: str
    commit: str
    test_command: str = ""
    test_passed: bool | None = None
    left_out: str = ""


class Overlap(msgspec.Struct, frozen=True, kw_only=True):
    """Another request's open branch in the same repository that changes some of the same files."""

    request_id: str
    branch: str
    files: list[str]


class RepoChanges(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A request's changes in one git repository (`repo`: its root, relative to the tree's root when
    inside it): the request branch `branch` at commit `head`, made at `base` (the request's pinned
    base commit) while the repository was on `base_branch` ("" on a detached head), the files it
    changes from `base`, and the tasks merged into it, in phase order."""

    repo: str
    branch: str
    base: str
    head: str
    base_branch: str = ""
    files: list[FileDiff] = []
    tasks: list[ProposedTask] = []
    overlaps: list[Overlap] = []


class ChangesProposed(RequestEvent, frozen=True, kw_only=True, tag="changes.proposed"):
    """The request ended; its changes wait in one request branch per repository. `automatic` is the
    decision `git.on_success` takes for every repository (a trusted channel, every task succeeded,
    every declared test passed), or None when a person decides."""

    repos: list[RepoChanges]
    automatic: Decision | None = None


class ChangesAnswered(SessionEvent, frozen=True, kw_only=True, tag="changes.answered"):
    """Someone asked to merge, open a pull request for, or discard `request_id`'s changes in `repo`
    ("" for every repository still waiting), typed or with a button; the gate checks who."""

    by: str
    decision: Decision
    message_id: str
    repo: str = ""


class ChangesDecided(RequestEvent, frozen=True, kw_only=True, tag="changes.decided"):
    """The decision for one repository (by a person, or `git.on_success`); `attempt` counts the
    decisions before it that were refused. Its id is derived from the request, the repository and
    the attempt: whoever records it first decides."""

    repo: str
    decision: Decision
    by: str
    attempt: int = 0


class ChangesMerged(RequestEvent, frozen=True, kw_only=True, tag="changes.merged"):
    """The request branch was merged into `into` (fast-forward or a merge commit); the branch now
    points at `commit`. `checkout` is the working tree where `into` was checked out and was updated
    ("" when it was checked out nowhere)."""

    repo: str
    branch: str
    into: str
    commit: str
    fast_forward: bool
    by: str
    checkout: str = ""


class ChangesRefused(RequestEvent, frozen=True, kw_only=True, tag="changes.refused"):
    """A decision could not be carried out and nothing changed (`files`: the conflicting or
    uncommitted files it names); the repository waits for a decision again."""

    repo: str
    decision: Decision
    reason: str
    files: list[str] = []
    by: str = ""


class ChangesPushed(RequestEvent, frozen=True, kw_only=True, tag="changes.pushed"):
    """The request branch was pushed to `remote`; `pr_url` is the pull request opened for it ("" when
    no GitHub token is configured: `note` says so, and `compare_url` opens one by hand)."""

    repo: str
    branch: str
    remote: str
    by: str
    pr_url: str = ""
    pr_number: int = 0
    compare_url: str = ""
    note: str = ""


class ChangesDiscarded(RequestEvent, frozen=True, kw_only=True, tag="changes.discarded"):
    """The request branch and every task branch of the request in `repo` were deleted."""

    repo: str
    branches: list[str]
    by: str


class ChangesOverlapped(RequestEvent, frozen=True, kw_only=True, tag="changes.overlapped"):
    """Before `decision` on `deciding_request`'s branch in `repo`: this request's and `other_request`'s
    open branches both change `files`. Recorded in each of the two conversations; nothing waits."""

    repo: str
    deciding_request: str
    decision: Decision
    other_request: str
    other_branch: str
    files: list[str]
