"""What a request's changes are and who decides about them: pure rules over the requests view.

- `repo_work`: per git repository, the succeeded local tasks (in phase order) whose commits make
  the request branch (remote workspaces' tasks keep working as they do: nothing to merge here).
- `automatic`: the decision `git.on_success` takes without asking, when it may.
- `overlaps`: other requests' open branches in a repository that change some of the same files.
- `typed_decision` / `waiting_here`: what `merge`, `pr`, `discard` typed in a conversation mean.
- Ids derived from the request, the repository and the attempt, so whoever records first decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from claude_tunnels.actors.ports import RepoWork
from claude_tunnels.config.settings import GitSettings
from claude_tunnels.events.changes import Decision, Overlap, ProposedTask, RepoChanges
from claude_tunnels.events.ids import derived_id
from claude_tunnels.projections.changes import UNMERGED
from claude_tunnels.projections.requests import RequestState
from claude_tunnels.projections.views import RequestsView

AUTO = "git.on_success"
"""Who decided when nobody was asked."""

_VERBS: tuple[tuple[tuple[str, ...], Decision], ...] = (
    (("open", "a", "pull", "request"), "pr"), (("open", "pull", "request"), "pr"), (("pull", "request"), "pr"),
    (("open", "a", "pr"), "pr"), (("open", "pr"), "pr"), (("pr",), "pr"), (("merge",), "merge"), (("discard",), "discard"),
)
_FILLERS = frozenset({"it", "them", "all", "please", "now", "the", "changes", "branch", "branches", "request", "for", "of", "in"})
MAX_TARGET_WORDS = 2
"""A decision names at most a request id and a repository; a longer message is a new request."""


def repo_work(request: RequestState) -> list[RepoWork]:
    """Per repository, the request's succeeded local tasks that committed changes, in phase order."""
    if request.plan is None:
        return []
    found: dict[str, RepoWork] = {}
    for key in request.plan.order():
        task = request.tasks.get(key)
        facts = task.facts if task is not None else None
        if task is None or facts is None or task.status != "succeeded" or task.target != "local":
            continue
        if not (facts.repo and facts.branch and facts.commit and facts.base):
            continue
        work = found.setdefault(facts.repo, RepoWork(repo=facts.repo, base=facts.base, base_branch=facts.base_branch, tasks=[]))
        test = facts.test
        work.tasks.append(ProposedTask(
            workspace=task.workspace, branch=facts.branch, commit=facts.commit,
            test_command=test.command if test else "", test_passed=test.passed if test else None,
        ))
    return list(found.values())


def automatic(request: RequestState, repos: list[RepoChanges], settings: GitSettings) -> Decision | None:
    """`git.on_success` when it applies: a trusted channel, every task succeeded, every declared
    test passed and every task's changes are in its request branch; else None (a person decides)."""
    if settings.on_success == "keep" or request.channel not in settings.trusted_channels or request.reason:
        return None
    if any(task.status != "succeeded" for task in request.tasks.values()):
        return None
    if any(task.facts is not None and task.facts.test is not None and not task.facts.test.passed for task in request.tasks.values()):
        return None
    if any(task.left_out for repo in repos for task in repo.tasks):
        return None
    return settings.on_success


def overlaps(requests: Iterable[RequestState], request_id: str, repo: str, files: Iterable[str]) -> list[Overlap]:
    """Other requests' branches in `repo`, not merged or discarded yet, that change some of `files`."""
    mine = set(files)
    found = []
    for other in requests:
        state = other.changes.get(repo) if other.request_id != request_id else None
        if state is None or state.status not in UNMERGED:
            continue
        common = sorted(mine & {f.path for f in state.proposal.files})
        if common:
            found.append(Overlap(request_id=other.request_id, branch=state.proposal.branch, files=common))
    return found


def typed_decision(text: str) -> tuple[Decision, list[str]] | None:
    """`merge`, `pr` (or `open pr`, `pull request`), `discard`, each optionally followed by a request
    id and a repository: the decision and those words; None for anything else."""
    words = [word.strip(".,!?;:`'\"") for word in text.split()]
    lowered = tuple(word.lower() for word in words)
    for verb, decision in _VERBS:
        if lowered[: len(verb)] == verb:
            rest = [word for word in words[len(verb):] if word and word.lower() not in _FILLERS]
            return (decision, rest) if len(rest) <= MAX_TARGET_WORDS else None
    return None


def waiting_here(requests: Iterable[RequestState], session_key: str) -> list[RequestState]:
    """The conversation's requests with changes no decision has settled, oldest first."""
    waiting = [r for r in requests if r.session_key == session_key and any(s.status == "open" for s in r.changes.values())]
    return sorted(waiting, key=lambda r: r.opened_at)


def typed_target(requests: RequestsView, session_key: str, decision: Decision, words: list[str]) -> tuple[RequestState | None, str, str]:
    """The request (named by its id, else this conversation's one with changes waiting) and the
    repository ("" for all) a typed decision is about; or why that cannot be told."""
    named: RequestState | None = None
    repo = ""
    for word in words:
        found = requests.get(word.upper()) if named is None else None
        if found is not None:
            named = found
        else:
            repo = word
    if named is not None:
        return named, repo, ""
    waiting = waiting_here(requests.requests.values(), session_key)
    if not waiting:
        return None, "", "No changes are waiting for merge, pr or discard in this conversation."
    if len(waiting) > 1:
        listed = "; ".join(f"{r.request_id} ({', '.join(r.changes)})" for r in waiting)
        return None, "", f"The changes of several requests are waiting: {listed}. Say which, e.g. `{decision} {waiting[-1].request_id}`."
    return waiting[0], repo, ""


def proposal_id(request_id: str, ended_at: datetime) -> str:
    """The id of a request's `changes.proposed` (the same for every writer and every attempt)."""
    return derived_id(ended_at, f"changes:{request_id}:proposed")


def decision_id(request_id: str, repo: str, attempt: int, proposed_at: datetime) -> str:
    """The id of a repository's `attempt`-th decision: two clicks at once record one."""
    return derived_id(proposed_at, f"changes:{request_id}:{repo}:decided:{attempt}")


def outcome_id(request_id: str, repo: str, attempt: int, proposed_at: datetime) -> str:
    """The id of what became of that decision (carried out again after a restart: stored once)."""
    return derived_id(proposed_at, f"changes:{request_id}:{repo}:outcome:{attempt}")


def overlap_id(deciding: str, repo: str, attempt: int, about: str, shown_in: str, proposed_at: datetime) -> str:
    """The id of one overlap notice of `deciding`'s `attempt`-th decision in `repo`: the one about
    request `about`, recorded under request `shown_in` (each of the two)."""
    return derived_id(proposed_at, f"changes:{deciding}:{repo}:overlap:{attempt}:{about}:{shown_in}")
