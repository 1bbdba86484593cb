"""Record the golden event streams and their expected folded state (run by hand, never by tests).

    .venv/bin/python tests/golden/record.py                     # record stories not recorded yet
    .venv/bin/python tests/golden/record.py --refresh-expected  # re-fold every recorded stream
    .venv/bin/python tests/golden/record.py --rerecord NAME     # overwrite one story (rarely right)

A recorded `stream.jsonl` is history: once committed it stays as it is, so that a schema change
which breaks old streams fails CI (the fix is an upcaster in `events/upcasting.py`). When a
projection changes on purpose, `--refresh-expected` re-folds the recorded streams with today's code
and rewrites only `sessions.json`, `requests.json` and `task_log/`; review that diff. To cover a new
event or field, add a new story here and run without arguments: existing folders are left alone.
Ids and times are fixed (`tests.factories.Events`), so recording twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: import the checkout

from claude_tunnels.events.base import Event  # noqa: E402
from claude_tunnels.events.changes import (  # noqa: E402
    ChangesAnswered,
    ChangesDecided,
    ChangesDiscarded,
    ChangesMerged,
    ChangesOverlapped,
    ChangesProposed,
    ChangesPushed,
    ChangesRefused,
    Overlap,
    ProposedTask,
    RepoChanges,
)
from claude_tunnels.events.codec import encode  # noqa: E402
from claude_tunnels.events.conversation import (  # noqa: E402
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
    Turn,
)
from claude_tunnels.events.execution import (  # noqa: E402
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
from claude_tunnels.events.planning import (  # noqa: E402
    ClarificationNeeded,
    DirectAnswerGiven,
    PlanApproved,
    PlanProposed,
    PlanRejected,
    RouteDecided,
)
from claude_tunnels.events.subjects import Subjects  # noqa: E402
from claude_tunnels.events.upcasting import SCHEMA_VERSION  # noqa: E402
from claude_tunnels.events.values import Delegation, FileDiff, Plan, PlannedTask, TaskFacts, TaskResult, TestRun, Usage  # noqa: E402
from tests.factories import T0, Events  # noqa: E402
from tests.golden.replay import (  # noqa: E402
    REQUESTS,
    SESSIONS,
    STREAM,
    TASK_LOG,
    Line,
    decode_event,
    encode_line,
    fold,
    read_stream,
)

GOLDEN = Path(__file__).resolve().parent
ROUTER = Usage(input_tokens=1500, output_tokens=120, cost_usd=0.0042, num_turns=1, duration_ms=1800)
PLANNER = Usage(input_tokens=6400, output_tokens=900, cost_usd=0.031, num_turns=2, duration_ms=9500)


def agent_usage(turns: int) -> Usage:
    return Usage(
        input_tokens=2000 * turns, output_tokens=300 * turns, cache_read_input_tokens=9000 * turns,
        cost_usd=round(0.015 * turns, 6), num_turns=turns, duration_ms=6000 * turns,
    )


class Story:
    """Builds one session's events with a fixed clock; `ev.envelope` moves it one second on."""

    def __init__(self, key: str, start_hours: int) -> None:
        self.key = key
        self.channel = key.split(":")[0]
        self.ev = Events(T0 + timedelta(hours=start_hours))
        self.events: list[Event] = []

    def new_id(self) -> str:
        return self.ev.ids.new_id()

    def add(self, cls: type[Event], **fields: object) -> Event:
        event = cls(**{**self.ev.envelope(self.key), **fields})
        self.events.append(event)
        return event

    def message(self, text: str, sender: str, **fields: object) -> MessageReceived:
        ref = f"{self.channel}-msg-{len(self.events) + 1}"
        return self.add(MessageReceived, channel=self.channel, sender=sender, text=text, message_ref=ref, **fields)  # type: ignore[return-value]

    def opened(self, rid: str, message: MessageReceived, history: list[Turn], text: str | None = None) -> RequestOpened:
        return self.add(  # type: ignore[return-value]
            RequestOpened, request_id=rid, text=text or message.text, requester=message.sender, channel=self.channel,
            message_id=message.id, history=history, causation_id=message.id,
        )

    def task(self, rid: str, workspace: str) -> str:
        return f"{rid}-{workspace.replace('/', '-')}"

    def dispatched(self, rid: str, plan: Plan, workspace: str, phase: int, **fields: object) -> None:
        planned = plan.task_for(workspace)
        upstream = [self.task(rid, name) for name in planned.depends_on]
        self.add(
            WorkspaceTaskDispatched, request_id=rid, task_id=self.task(rid, workspace), workspace=workspace,
            phase=phase, task=planned.task, upstream=upstream, **fields,
        )

    def started(self, rid: str, workspace: str, agent: str = "local") -> None:
        self.add(WorkspaceTaskStarted, request_id=rid, task_id=self.task(rid, workspace), workspace=workspace, agent=agent)

    def progress(self, rid: str, workspace: str, detail: str, kind: str = "tool") -> None:
        self.add(WorkspaceProgress, request_id=rid, task_id=self.task(rid, workspace), workspace=workspace, kind=kind, detail=detail)

    def succeeded(self, rid: str, workspace: str, result: TaskResult, turns: int) -> None:
        self.add(
            WorkspaceTaskSucceeded, request_id=rid, task_id=self.task(rid, workspace), workspace=workspace,
            result=result, usage=agent_usage(turns),
        )


def three_phase_request() -> list[Event]:
    """A three-phase plan: one task fails, its dependant is skipped; then a follow-up request."""
    s = Story("slack:T01/C02", start_hours=0)
    alice, bob = "slack:U01ALICE", "slack:U02BOB"
    r1, r2 = s.new_id(), s.new_id()
    plan = Plan(
        label="Upgrade core to v2",
        tasks=[
            PlannedTask(workspace="shared/core", task="Bump core to v2 and publish it"),
            PlannedTask(workspace="web/app", task="Use core v2 in the web app", depends_on=["shared/core"]),
            PlannedTask(workspace="mobile/app", task="Use core v2 in the mobile app", depends_on=["shared/core"]),
            PlannedTask(workspace="web/e2e", task="Run the end-to-end suite", depends_on=["web/app", "mobile/app"]),
        ],
        phases=[["shared/core"], ["web/app", "mobile/app"], ["web/e2e"]],
    )
    ask = s.message("Upgrade core to v2 everywhere, then run the e2e suite", alice)
    s.opened(r1, ask, [])
    s.add(RouteDecided, request_id=r1, projects=["shared", "web", "mobile"], method="agent", usage=ROUTER)
    s.add(PlanProposed, request_id=r1, plan=plan, usage=PLANNER)
    asked = s.add(ConfirmationRequested, request_id=r1, requester=alice, approvers=[alice, bob], expires_at=T0 + timedelta(minutes=30))
    yes = s.message("approve", bob, action="approve", causation_id=asked.id)
    s.add(ConfirmationAnswered, request_id=r1, by=bob, answer="approve", message_id=yes.id, causation_id=yes.id)
    s.add(ConfirmationGiven, request_id=r1, by=bob)
    s.add(PlanApproved, request_id=r1, by=bob)

    s.add(PhaseStarted, request_id=r1, phase=1, workspaces=["shared/core"])
    s.dispatched(r1, plan, "shared/core", 1)
    s.started(r1, "shared/core")
    s.progress(r1, "shared/core", "Edit pyproject.toml")
    s.add(PermissionRequested, request_id=r1, task_id=s.task(r1, "shared/core"), workspace="shared/core", tool="Bash", detail="git push origin v2")
    s.add(
        PermissionDecided, request_id=r1, task_id=s.task(r1, "shared/core"), workspace="shared/core", tool="Bash",
        allowed=False, reason="pushing is not allowed in a workspace task",
    )
    s.progress(r1, "shared/core", "Bumped the version; the test suite passes.", kind="text")
    s.succeeded(r1, "shared/core", TaskResult(
        summary="core is at v2.0.0; the changelog lists the breaking changes.",
        changed_files=["pyproject.toml", "CHANGELOG.md", "src/core/__init__.py"], test_result="pass",
        downstream_context="core v2 renames Client.fetch to Client.get",
    ), turns=6)
    s.add(PhaseCompleted, request_id=r1, phase=1, succeeded=["shared/core"])

    s.add(PhaseStarted, request_id=r1, phase=2, workspaces=["web/app", "mobile/app"])
    s.dispatched(r1, plan, "web/app", 2)
    s.dispatched(r1, plan, "mobile/app", 2, target="remote")
    s.started(r1, "web/app")
    s.started(r1, "mobile/app", agent="remote:builder-1")
    s.progress(r1, "web/app", "Grep 'Client.fetch'")
    s.succeeded(r1, "web/app", TaskResult(
        summary="The web app uses core v2 (Client.get in 14 places).",
        changed_files=["package.json", "src/api/client.ts"], test_result="pass",
    ), turns=9)
    s.add(
        WorkspaceTaskFailed, request_id=r1, task_id=s.task(r1, "mobile/app"), workspace="mobile/app",
        error="the release build failed: signing key missing", usage=agent_usage(4),
    )
    s.add(PhaseCompleted, request_id=r1, phase=2, succeeded=["web/app"], failed=["mobile/app"])

    s.add(PhaseStarted, request_id=r1, phase=3, workspaces=["web/e2e"])
    s.add(WorkspaceTaskSkipped, request_id=r1, task_id=s.task(r1, "web/e2e"), workspace="web/e2e", because=["mobile/app"])
    s.add(PhaseCompleted, request_id=r1, phase=3, skipped=["web/e2e"])
    summary = "core v2 is out and the web app uses it; the mobile build failed (signing key missing), so the e2e suite did not run."
    total = ROUTER + PLANNER + agent_usage(6) + agent_usage(9) + agent_usage(4)
    done = s.add(RequestCompleted, request_id=r1, summary=summary, succeeded=2, failed=1, skipped=1, usage=total)
    s.add(ReplyPosted, request_id=r1, channel="slack", in_reply_to=done.id, chat_ref="1790000000.000200")

    follow = s.message("Now update the docs for v2", alice)
    s.opened(r2, follow, [Turn(role="user", text=ask.text), Turn(role="assistant", text=summary)])
    s.add(RouteDecided, request_id=r2, projects=["docs"], method="explicit", usage=ROUTER)
    docs = Plan(label="Docs for core v2", tasks=[PlannedTask(workspace="docs/site", task="Document the v2 API")], phases=[["docs/site"]])
    s.add(PlanProposed, request_id=r2, plan=docs, usage=PLANNER)
    s.add(ConfirmationGiven, request_id=r2, by=alice, auto=True)
    s.add(PlanApproved, request_id=r2, by=alice, auto=True)
    s.add(PhaseStarted, request_id=r2, phase=1, workspaces=["docs/site"])
    s.dispatched(r2, docs, "docs/site", 1)
    s.started(r2, "docs/site")
    s.succeeded(r2, "docs/site", TaskResult(summary="The API reference covers v2.", changed_files=["docs/api.md"]), turns=3)
    s.add(PhaseCompleted, request_id=r2, phase=1, succeeded=["docs/site"])
    done = s.add(
        RequestCompleted, request_id=r2, summary="The docs describe core v2.", succeeded=1,
        usage=ROUTER + PLANNER + agent_usage(3),
    )
    s.add(ReplyPosted, request_id=r2, channel="slack", in_reply_to=done.id, chat_ref="1790000000.000300")
    return s.events


def conversation() -> list[Event]:
    """A clarification, a refused and a revised approval, a cancelled approval, a queued message."""
    s = Story("telegram:4242", start_hours=2)
    carol, dave = "telegram:4242", "telegram:9999"
    r1, r2, r3, r4 = s.new_id(), s.new_id(), s.new_id(), s.new_id()

    ask = s.message("fix the login", carol, sender_name="Carol")
    s.opened(r1, ask, [])
    question = "Which login do you mean: the web app or the mobile app?"
    s.add(ClarificationNeeded, request_id=r1, question=question, usage=ROUTER)
    answer = s.message("the web one", carol, sender_name="Carol")
    history = [Turn(role="user", text=ask.text), Turn(role="assistant", text=question)]
    s.opened(r2, answer, history, text="fix the login\n\nthe web one")
    s.add(RouteDecided, request_id=r2, projects=["web"], method="agent", usage=ROUTER)
    first = Plan(label="Fix the web login", tasks=[PlannedTask(workspace="web/app", task="Fix the login form")], phases=[["web/app"]])
    s.add(PlanProposed, request_id=r2, plan=first, usage=PLANNER)
    asked = s.add(ConfirmationRequested, request_id=r2, requester=carol, approvers=[carol], expires_at=T0 + timedelta(hours=3))
    stranger = s.message("approve", dave, action="approve", causation_id=asked.id)
    s.add(ConfirmationAnswered, request_id=r2, by=dave, answer="approve", message_id=stranger.id, causation_id=stranger.id)
    s.add(ConfirmationRefused, request_id=r2, by=dave, reason="telegram:9999 may not approve this plan")
    change = s.message("also add a regression test", carol)
    s.add(PlanRevised, request_id=r2, by=carol, text=change.text, message_id=change.id, causation_id=change.id)
    second = Plan(
        label="Fix the web login, with a test",
        tasks=[PlannedTask(workspace="web/app", task="Fix the login form and add a regression test")],
        phases=[["web/app"]],
    )
    s.add(PlanProposed, request_id=r2, plan=second, revision=1, usage=PLANNER)
    s.add(ConfirmationRequested, request_id=r2, requester=carol, approvers=[carol], expires_at=T0 + timedelta(hours=3), revision=1)
    cancel = s.message("cancel", carol, action="cancel")
    s.add(ConfirmationAnswered, request_id=r2, by=carol, answer="cancel", message_id=cancel.id, causation_id=cancel.id)
    s.add(ConfirmationCancelled, request_id=r2, by=carol)
    s.add(RequestCancelled, request_id=r2, by=carol, usage=ROUTER + PLANNER + PLANNER)
    s.add(NoticeIssued, request_id=r2, text="Cancelled: nothing was run.", reply_to=cancel.id)

    work = s.message("Raise the test coverage of the web login module", carol)
    s.opened(r3, work, [Turn(role="user", text="fix the login\n\nthe web one")])
    s.add(RouteDecided, request_id=r3, projects=["web"], method="single_project", usage=ROUTER)
    plan = Plan(label="Login test coverage", tasks=[PlannedTask(workspace="web/app", task="Cover the login module with tests")], phases=[["web/app"]])
    s.add(PlanProposed, request_id=r3, plan=plan, usage=PLANNER)
    s.add(ConfirmationGiven, request_id=r3, by=carol, auto=True)
    s.add(PlanApproved, request_id=r3, by=carol, auto=True)
    s.add(PhaseStarted, request_id=r3, phase=1, workspaces=["web/app"])
    s.dispatched(r3, plan, "web/app", 1)
    s.started(r3, "web/app")
    later = s.message("and how do deploys work here?", carol)
    s.add(MessageQueued, request_id=r3, message_id=later.id, text=later.text, sender=carol, causation_id=later.id)
    s.add(NoticeIssued, request_id=r3, text="Queued: I will answer once the current request ends.", reply_to=later.id)
    s.progress(r3, "web/app", "Bash pytest --cov=login")
    s.succeeded(r3, "web/app", TaskResult(
        summary="Login coverage went from 61% to 94%.", changed_files=["tests/test_login.py"], test_result="pass",
    ), turns=5)
    s.add(PhaseCompleted, request_id=r3, phase=1, succeeded=["web/app"])
    done = s.add(RequestCompleted, request_id=r3, summary="Login coverage is now 94%.", succeeded=1, usage=ROUTER + PLANNER + agent_usage(5))
    s.add(ReplyPosted, request_id=r3, channel="telegram", in_reply_to=done.id, chat_ref="tg-8812")

    s.add(
        RequestOpened, request_id=r4, text=later.text, requester=carol, channel="telegram", message_id=later.id,
        history=[Turn(role="user", text=work.text), Turn(role="assistant", text="Login coverage is now 94%.")],
        causation_id=later.id,
    )
    s.add(RouteDecided, request_id=r4, projects=[], method="agent", usage=ROUTER)
    reply = "Deploys run from CI: a tag on main builds and ships the web app."
    s.add(DirectAnswerGiven, request_id=r4, text=reply, usage=agent_usage(1))
    done = s.add(RequestCompleted, request_id=r4, summary=reply, usage=ROUTER + agent_usage(1))
    s.add(ReplyPosted, request_id=r4, channel="telegram", in_reply_to=done.id, chat_ref="tg-8813")
    return s.events


def stops_and_failures() -> list[Event]:
    """A rejected plan, an expired approval, a cancelled run with a timeout, an interrupted task."""
    s = Story("terminal:local", start_hours=4)
    me = "terminal:erin"
    r1, r2, r3, r4 = s.new_id(), s.new_id(), s.new_id(), s.new_id()

    ask = s.message("Rotate the production database password", me)
    s.opened(r1, ask, [])
    s.add(RouteDecided, request_id=r1, projects=["infra"], method="explicit", usage=ROUTER)
    s.add(PlanRejected, request_id=r1, reason="the plan names a sensitive workspace: infra/prod-secrets", usage=PLANNER)
    s.add(RequestFailed, request_id=r1, reason="the planner proposed a sensitive workspace", stage="planning")

    ask = s.message("Upgrade the CI runners", me)
    s.opened(r2, ask, [Turn(role="user", text="Rotate the production database password")])
    s.add(RouteDecided, request_id=r2, projects=["infra"], method="explicit", usage=ROUTER)
    ci = Plan(label="CI runners", tasks=[PlannedTask(workspace="infra/ci", task="Upgrade the runner images")], phases=[["infra/ci"]])
    s.add(PlanProposed, request_id=r2, plan=ci, usage=PLANNER)
    s.add(ConfirmationRequested, request_id=r2, requester=me, approvers=["terminal:ops"], expires_at=T0 + timedelta(hours=4, minutes=1))
    s.add(ConfirmationExpired, request_id=r2)
    s.add(RequestFailed, request_id=r2, reason="nobody approved the plan in time", stage="approval")

    ask = s.message("Reindex search and restart its API", me)
    s.opened(r3, ask, [])
    s.add(RouteDecided, request_id=r3, projects=["search"], method="single_project", usage=ROUTER)
    plan = Plan(
        label="Reindex search",
        tasks=[PlannedTask(workspace="search/index", task="Rebuild the index"), PlannedTask(workspace="search/api", task="Restart the API")],
        phases=[["search/index", "search/api"]],
    )
    s.add(PlanProposed, request_id=r3, plan=plan, usage=PLANNER)
    s.add(PlanApproved, request_id=r3, by=me)
    s.add(PhaseStarted, request_id=r3, phase=1, workspaces=["search/index", "search/api"])
    for workspace in ("search/index", "search/api"):
        s.dispatched(r3, plan, workspace, 1)
        s.started(r3, workspace)
    s.progress(r3, "search/index", "Bash make reindex")
    s.add(WorkspaceTaskTimedOut, request_id=r3, task_id=s.task(r3, "search/api"), workspace="search/api", timeout_s=900.0)
    stop = s.message("stop", me)
    s.add(CancelRequested, request_id=r3, by=me, causation_id=stop.id)
    s.add(WorkspaceTaskCancelled, request_id=r3, task_id=s.task(r3, "search/index"), workspace="search/index")
    s.add(RequestCancelled, request_id=r3, by=me, usage=ROUTER + PLANNER + agent_usage(2))

    ask = s.message("Add an invoice export to billing", me)
    s.opened(r4, ask, [])
    s.add(RouteDecided, request_id=r4, projects=["billing"], method="agent", usage=ROUTER)
    bill = Plan(label="Invoice export", tasks=[PlannedTask(workspace="billing/api", task="Add a CSV invoice export")], phases=[["billing/api"]])
    s.add(PlanProposed, request_id=r4, plan=bill, usage=PLANNER)
    s.add(PlanApproved, request_id=r4, by=me)
    s.add(PhaseStarted, request_id=r4, phase=1, workspaces=["billing/api"])
    s.dispatched(r4, bill, "billing/api", 1)
    s.started(r4, "billing/api")
    s.progress(r4, "billing/api", "Edit billing/export.py")
    s.add(
        WorkspaceTaskInterrupted, request_id=r4, task_id=s.task(r4, "billing/api"), workspace="billing/api",
        reason="the orchestrator restarted while the task ran",
    )
    s.add(RequestFailed, request_id=r4, reason="interrupted by a restart; send the request again", stage="recovery")
    s.add(NoticeIssued, request_id=r4, text="A restart interrupted your request; send it again.", level="warning")
    return s.events


def relayed_permissions() -> list[Event]:
    """A task whose agent is refused things by the policy and the sandbox, asks twice in the
    conversation (answered with a button, then left to expire), and ends with its refusals counted."""
    s = Story("slack:T1:C7:1700000000.000100", start_hours=6)
    me, ops = "slack:U1", "slack:U9"
    r1 = s.new_id()
    ask = s.message("Add left-pad to the web app and run its tests", me)
    s.opened(r1, ask, [])
    s.add(RouteDecided, request_id=r1, projects=["web"], method="explicit", usage=ROUTER)
    plan = Plan(label="left-pad", tasks=[PlannedTask(workspace="web/app", task="Add left-pad and run the tests")], phases=[["web/app"]])
    s.add(PlanProposed, request_id=r1, plan=plan, usage=PLANNER)
    s.add(PlanApproved, request_id=r1, by=me)
    s.add(PhaseStarted, request_id=r1, phase=1, workspaces=["web/app"])
    s.dispatched(r1, plan, "web/app", 1)
    s.started(r1, "web/app")
    task = s.task(r1, "web/app")
    s.add(PermissionDecided, request_id=r1, task_id=task, workspace="web/app", tool="Read", allowed=False,
          detail="../../ARCHIVE/slack/credentials", rule="read.outside_workspace",
          reason="../../ARCHIVE/slack/credentials is in a protected area outside the workspace")
    s.add(PermissionDecided, request_id=r1, task_id=task, workspace="web/app", tool="Bash", allowed=False, by="sandbox",
          detail="sort -o /srv/x in.txt", rule="sandbox",
          reason="write blocked by the sandbox (outside the workspace): sort: open failed: /srv/x: Read-only file system")
    first = s.add(PermissionRequested, request_id=r1, task_id=task, workspace="web/app", tool="Bash", detail="npm install left-pad",
                  permission_id="PERM-1", reason="Bash command `npm install left-pad` is not in the allowlist",
                  rule="bash.allowlist", expires_at=T0 + timedelta(hours=6, minutes=5), approvers=[me, ops])
    click = s.message("approve", ops, action="approve", request_id=r1, permission_id="PERM-1", causation_id=first.id)
    s.add(PermissionAnswered, request_id=r1, permission_id="PERM-1", by=ops, allowed=True, message_id=click.id, causation_id=click.id)
    s.add(PermissionDecided, request_id=r1, task_id=task, workspace="web/app", tool="Bash", allowed=True, by=ops,
          detail="npm install left-pad", rule="asked in the conversation", permission_id="PERM-1", reason=f"allowed by {ops}")
    s.add(PermissionRequested, request_id=r1, task_id=task, workspace="web/app", tool="SandboxNetworkAccess", detail="registry.npmjs.org",
          permission_id="PERM-2", reason="network access to registry.npmjs.org (not in permissions.network.allow)",
          rule="network.not_listed", expires_at=T0 + timedelta(hours=6, minutes=6), approvers=[me, ops])
    s.add(PermissionDecided, request_id=r1, task_id=task, workspace="web/app", tool="SandboxNetworkAccess", allowed=False,
          by="timeout", detail="registry.npmjs.org", rule="asked in the conversation", permission_id="PERM-2",
          reason="nobody answered within 5 minutes")
    s.succeeded(r1, "web/app", TaskResult(summary="left-pad could not be fetched: no network", test_result="skip"), turns=4)
    s.add(PhaseCompleted, request_id=r1, phase=1, succeeded=["web/app"])
    s.add(RequestCompleted, request_id=r1, summary="1 of 1 workspace tasks succeeded.\n✓ web/app: left-pad could not be fetched (3 actions refused)",
          succeeded=1, usage=ROUTER + PLANNER + agent_usage(4))
    return s.events


def stopped_by_budget() -> list[Event]:
    """Cost budgets: a task stopped at its own budget (what it spent kept on the failure), then the
    request's budget spent after phase 2, so phase 3 never starts and its tasks are not run."""
    s = Story("slack:T01/C09", start_hours=6)
    frank = "slack:U03FRANK"
    r1 = s.new_id()
    plan = Plan(
        label="Move to the structured logger",
        tasks=[
            PlannedTask(workspace="shared/log", task="Add the structured logger"),
            PlannedTask(workspace="web/app", task="Log through the structured logger", depends_on=["shared/log"]),
            PlannedTask(workspace="web/worker", task="Log through the structured logger", depends_on=["shared/log"]),
            PlannedTask(workspace="web/e2e", task="Check the log lines in the e2e suite", depends_on=["web/app"]),
            PlannedTask(workspace="ops/dashboards", task="Chart the new log fields", depends_on=["web/app"]),
        ],
        phases=[["shared/log"], ["web/app", "web/worker"], ["web/e2e", "ops/dashboards"]],
    )
    ask = s.message("Move every service to the structured logger", frank)
    s.opened(r1, ask, [])
    s.add(RouteDecided, request_id=r1, projects=["shared", "web", "ops"], method="agent", usage=ROUTER)
    s.add(PlanProposed, request_id=r1, plan=plan, usage=PLANNER)
    s.add(ConfirmationGiven, request_id=r1, by=frank, auto=True)
    s.add(PlanApproved, request_id=r1, by=frank, auto=True)

    s.add(PhaseStarted, request_id=r1, phase=1, workspaces=["shared/log"])
    s.dispatched(r1, plan, "shared/log", 1)
    s.started(r1, "shared/log")
    s.succeeded(r1, "shared/log", TaskResult(summary="shared/log has a structured logger.", changed_files=["log.py"], test_result="pass"), turns=4)
    s.add(PhaseCompleted, request_id=r1, phase=1, succeeded=["shared/log"])

    s.add(PhaseStarted, request_id=r1, phase=2, workspaces=["web/app", "web/worker"])
    for workspace in ("web/app", "web/worker"):
        s.dispatched(r1, plan, workspace, 2)
        s.started(r1, workspace)
    s.succeeded(r1, "web/app", TaskResult(summary="The web app logs structured lines.", changed_files=["app/log.py"], test_result="pass"), turns=6)
    worker = Usage(input_tokens=21000, output_tokens=2400, cost_usd=0.1043, num_turns=3, duration_ms=15000)
    s.add(
        WorkspaceTaskFailed, request_id=r1, task_id=s.task(r1, "web/worker"), workspace="web/worker",
        error="the task reached its cost budget of $0.10 (spent $0.1043)", usage=worker,
    )
    s.add(PhaseCompleted, request_id=r1, phase=2, succeeded=["web/app"], failed=["web/worker"])

    total = ROUTER + PLANNER + agent_usage(4) + agent_usage(6) + worker  # $0.2895, past the $0.25 budget
    reason = "the request's cost budget of $0.25 is spent ($0.2895 so far)"
    for workspace in ("web/e2e", "ops/dashboards"):
        s.add(WorkspaceTaskSkipped, request_id=r1, task_id=s.task(r1, workspace), workspace=workspace, because=[], reason=reason)
    stopped = f"stopped before phase 3: {reason}; not run: web/e2e, ops/dashboards"
    summary = "\n".join([
        "2 of 5 workspace tasks succeeded.",
        "✓ shared/log: shared/log has a structured logger.",
        "✓ web/app: The web app logs structured lines.",
        "✗ web/worker: the task reached its cost budget of $0.10 (spent $0.1043)",
        f"– web/e2e: not run: {reason}",
        f"– ops/dashboards: not run: {reason}",
    ])
    done = s.add(
        RequestCompleted, request_id=r1, summary=summary, succeeded=2, failed=1, skipped=2, usage=total, stopped=stopped,
    )
    s.add(ReplyPosted, request_id=r1, channel="slack", in_reply_to=done.id, chat_ref="1790000000.000900")
    return s.events


def worktree_facts() -> list[Event]:
    """Two tasks in one repository on their own branches, the second starting from the first's;
    the facts from git beside the agents' claims (a declared test that failed, a claim that did not hold)."""
    s = Story("terminal:local", start_hours=8)
    me = "terminal:gina"
    r1 = s.new_id()
    plan = Plan(
        label="API v2",
        tasks=[PlannedTask(workspace="web/backend", task="Serve API v2"),
               PlannedTask(workspace="web/frontend", task="Call API v2", depends_on=["web/backend"])],
        phases=[["web/backend"], ["web/frontend"]],
    )
    ask = s.message("Move web to API v2", me)
    s.opened(r1, ask, [])
    s.add(RouteDecided, request_id=r1, projects=["web"], method="explicit", usage=ROUTER)
    s.add(PlanProposed, request_id=r1, plan=plan, usage=PLANNER)
    s.add(PlanApproved, request_id=r1, by=me)
    base, start, one, two = "a" * 40, "a" * 40, "b" * 40, "c" * 40
    s.add(PhaseStarted, request_id=r1, phase=1, workspaces=["web/backend"])
    s.dispatched(r1, plan, "web/backend", 1)
    s.started(r1, "web/backend")
    backend = TaskFacts(
        repo="web", branch=f"tunnels/{r1.lower()}/web/backend", base=base, start=start, commit=one,
        files=[FileDiff(path="backend/api.py", added=12, removed=3)],
        test=TestRun(command="pytest -q", passed=False, exit_code=1, tail="1 failed"),
        mismatches=["the agent said tests pass; `pytest -q` failed", "claimed changed but unchanged: setup.py"],
    )
    s.add(WorkspaceTaskSucceeded, request_id=r1, task_id=s.task(r1, "web/backend"), workspace="web/backend",
          result=TaskResult(summary="API v2 served", changed_files=["api.py", "setup.py"], test_result="pass"),
          usage=agent_usage(3), facts=backend)
    s.add(PhaseCompleted, request_id=r1, phase=1, succeeded=["web/backend"])
    s.add(PhaseStarted, request_id=r1, phase=2, workspaces=["web/frontend"])
    s.dispatched(r1, plan, "web/frontend", 2)
    s.started(r1, "web/frontend")
    frontend = TaskFacts(repo="web", branch=f"tunnels/{r1.lower()}/web/frontend", base=base, start=one, commit=two,
                         files=[FileDiff(path="frontend/client.js", added=4, removed=4)])
    s.add(WorkspaceTaskSucceeded, request_id=r1, task_id=s.task(r1, "web/frontend"), workspace="web/frontend",
          result=TaskResult(summary="client on v2", changed_files=["client.js"]), usage=agent_usage(2), facts=frontend)
    s.add(PhaseCompleted, request_id=r1, phase=2, succeeded=["web/frontend"])
    s.add(RequestCompleted, request_id=r1, summary="2 of 2 workspace tasks succeeded.", succeeded=2,
          usage=ROUTER + PLANNER + agent_usage(3) + agent_usage(2))
    return s.events


def neighbour_plan() -> list[Event]:
    """A request routed to one project whose plan also touches its neighbours in the dependency
    graph (the library it uses, the project that deploys it) and carries the graph's warning."""
    s = Story("telegram:-100200", start_hours=10)
    me = "telegram:4242"
    r1 = s.new_id()
    warning = "⚠ web/frontend depends on web/backend but runs in the same phase"
    plan = Plan(
        label="Ship the search page",
        tasks=[PlannedTask(workspace="shared/core", task="Add the search helper"),
               PlannedTask(workspace="web/backend", task="Serve /search", depends_on=["shared/core"]),
               PlannedTask(workspace="web/frontend", task="Add the search page", depends_on=["shared/core"]),
               PlannedTask(workspace="infra", task="Deploy web to staging", depends_on=["web/backend", "web/frontend"])],
        phases=[["shared/core"], ["web/backend", "web/frontend"], ["infra"]],
        warnings=[warning],
    )
    ask = s.message("In web: ship the search page, then deploy it to staging", me)
    s.opened(r1, ask, [])
    s.add(RouteDecided, request_id=r1, projects=["web"], method="explicit")
    s.add(PlanProposed, request_id=r1, plan=plan, usage=PLANNER)
    s.add(PlanApproved, request_id=r1, by=me)
    for phase, workspaces in enumerate(plan.phases, start=1):
        s.add(PhaseStarted, request_id=r1, phase=phase, workspaces=workspaces)
        for workspace in workspaces:
            s.dispatched(r1, plan, workspace, phase)
            s.started(r1, workspace)
            s.succeeded(r1, workspace, TaskResult(summary=f"{workspace}: done", test_result="pass"), turns=1)
        s.add(PhaseCompleted, request_id=r1, phase=phase, succeeded=workspaces)
    s.add(RequestCompleted, request_id=r1, summary="4 of 4 workspace tasks succeeded.", succeeded=4,
          usage=PLANNER + agent_usage(1) + agent_usage(1) + agent_usage(1) + agent_usage(1))
    return s.events


def resumed_after_restart() -> list[Event]:
    """Two restarts: one while a request was being routed (routed again), one while a plan ran: a
    task in a git worktree runs again (attempt 2), one outside git is reported interrupted and its
    dependant skipped; the request finishes with failures, told once."""
    s = Story("telegram:42", start_hours=9)
    me = "telegram:42"
    r1, r2 = s.new_id(), s.new_id()
    ask = s.message("in docs: fix the typo", me)
    s.opened(r1, ask, [])
    s.add(RequestResumed, request_id=r1, stage="routing")
    s.add(RouteDecided, request_id=r1, projects=["docs"], method="explicit")
    s.add(DirectAnswerGiven, request_id=r1, text="Fixed nothing: there is no typo.", usage=PLANNER)
    s.add(RequestCompleted, request_id=r1, summary="Fixed nothing: there is no typo.", usage=PLANNER)
    plan = Plan(
        label="Release notes",
        tasks=[PlannedTask(workspace="web/backend", task="Add the changelog entry"),
               PlannedTask(workspace="docs", task="Write the release notes"),
               PlannedTask(workspace="site", task="Publish the notes", depends_on=["docs"])],
        phases=[["docs", "web/backend"], ["site"]],
    )
    ask = s.message("in web, docs and site: the release notes", me)
    s.opened(r2, ask, [])
    s.add(RouteDecided, request_id=r2, projects=["docs", "site", "web"], method="explicit", usage=ROUTER)
    s.add(PlanProposed, request_id=r2, plan=plan, usage=PLANNER)
    s.add(PlanApproved, request_id=r2, by=me)
    s.add(PhaseStarted, request_id=r2, phase=1, workspaces=["docs", "web/backend"])
    for workspace in ("docs", "web/backend"):
        s.dispatched(r2, plan, workspace, 1)
        s.started(r2, workspace)
    s.progress(r2, "web/backend", "Edit CHANGELOG.md")
    resumed = s.add(RequestResumed, request_id=r2, stage="execution", rerun=["web/backend"], interrupted=["docs"])
    s.add(WorkspaceTaskInterrupted, request_id=r2, task_id=s.task(r2, "docs"), workspace="docs", causation_id=resumed.id,
          reason="the orchestrator restarted while this task ran; its workspace is not in git, so it is not run again")
    s.dispatched(r2, plan, "web/backend", 1, attempt=2, causation_id=resumed.id)
    s.started(r2, "web/backend")
    s.add(ReplyPosted, request_id=r2, channel="telegram", in_reply_to=resumed.id, chat_ref="42:17")
    s.succeeded(r2, "web/backend", TaskResult(summary="changelog entry added", changed_files=["CHANGELOG.md"]), turns=2)
    s.add(PhaseCompleted, request_id=r2, phase=1, succeeded=["web/backend"], failed=["docs"])
    s.add(PhaseStarted, request_id=r2, phase=2, workspaces=[])
    s.add(WorkspaceTaskSkipped, request_id=r2, task_id=s.task(r2, "site"), workspace="site", because=["docs"])
    s.add(PhaseCompleted, request_id=r2, phase=2, skipped=["site"])
    s.add(RequestCompleted, request_id=r2, summary="1 of 3 workspace tasks succeeded.", succeeded=1, failed=1, skipped=1,
          usage=ROUTER + PLANNER + agent_usage(2))
    return s.events


def request_branches() -> list[Event]:
    """Three requests on one repository end with their request branches: the first's merge is
    refused (its base moved and conflicts) and it becomes a pull request, after an overlap with the
    second was told to both; the second is discarded, after someone who may not decide was refused;
    the third is merged automatically (`git.on_success`)."""
    s = Story("terminal:local", start_hours=10)
    me, stranger = "terminal:gina", "terminal:mallory"
    r1, r2, r3 = s.new_id(), s.new_id(), s.new_id()
    base = "a" * 40

    def request(rid: str, text: str, workspace: str, commit: str, files: list[FileDiff], passed: bool) -> TaskFacts:
        plan = Plan(label=text, tasks=[PlannedTask(workspace=workspace, task=text)], phases=[[workspace]])
        s.opened(rid, s.message(text, me), [])
        s.add(RouteDecided, request_id=rid, projects=["web"], method="explicit", usage=ROUTER)
        s.add(PlanProposed, request_id=rid, plan=plan, usage=PLANNER)
        s.add(PlanApproved, request_id=rid, by=me)
        s.add(PhaseStarted, request_id=rid, phase=1, workspaces=[workspace])
        s.dispatched(rid, plan, workspace, 1)
        s.started(rid, workspace)
        facts = TaskFacts(
            repo="web", branch=f"tunnels/{rid.lower()}/{workspace}", base=base, base_branch="main", start=base, commit=commit,
            files=files, test=TestRun(command="pytest -q", passed=passed, exit_code=0 if passed else 1),
        )
        s.add(WorkspaceTaskSucceeded, request_id=rid, task_id=s.task(rid, workspace), workspace=workspace,
              result=TaskResult(summary=text, changed_files=[f.path.split("/", 1)[1] for f in files], test_result="pass"),
              usage=agent_usage(2), facts=facts)
        s.add(PhaseCompleted, request_id=rid, phase=1, succeeded=[workspace])
        s.add(RequestCompleted, request_id=rid, summary=f"1 of 1 workspace tasks succeeded.\n✓ {workspace}: {text}", succeeded=1,
              usage=ROUTER + PLANNER + agent_usage(2))
        return facts

    def repo(rid: str, facts: TaskFacts, head: str, overlaps: list[Overlap]) -> RepoChanges:
        task = ProposedTask(workspace=facts.branch.split("/", 2)[2], branch=facts.branch, commit=facts.commit,
                            test_command="pytest -q", test_passed=facts.test.passed if facts.test else None)
        return RepoChanges(repo="web", branch=f"tunnels/{rid.lower()}-result", base=base, head=head, base_branch="main",
                           files=facts.files, tasks=[task], overlaps=overlaps)

    api = [FileDiff(path="backend/api.py", added=12, removed=3)]
    one = request(r1, "Serve API v2", "web/backend", "b" * 40, api, True)
    s.add(ChangesProposed, request_id=r1, repos=[repo(r1, one, "b" * 40, [])])
    two = request(r2, "Rename the API module", "web/backend", "c" * 40, [*api, FileDiff(path="backend/setup.py", added=1, removed=1)], False)
    s.add(ChangesProposed, request_id=r2, repos=[repo(r2, two, "c" * 40, [Overlap(request_id=r1, branch=f"tunnels/{r1.lower()}-result",
                                                                                files=["backend/api.py"])])])
    # The first: merge refused (main moved and conflicts), told about the overlap; then a pull request.
    ask = s.message("merge", me)
    answered = s.add(ChangesAnswered, request_id=r1, by=me, decision="merge", message_id=ask.id, causation_id=ask.id)
    merge = s.add(ChangesDecided, request_id=r1, repo="web", decision="merge", by=me, causation_id=answered.id)
    for shown_in, about, branch in ((r1, r2, f"tunnels/{r2.lower()}-result"), (r2, r1, f"tunnels/{r1.lower()}-result")):
        s.add(ChangesOverlapped, request_id=shown_in, repo="web", deciding_request=r1, decision="merge", other_request=about,
              other_branch=branch, files=["backend/api.py"], causation_id=merge.id)
    s.add(ChangesRefused, request_id=r1, repo="web", decision="merge", by=me, files=["backend/api.py"], causation_id=merge.id,
          reason="main has moved since the request started and conflicts with its changes in backend/api.py")
    ask = s.message(f"pr {r1}", me)
    answered = s.add(ChangesAnswered, request_id=r1, by=me, decision="pr", message_id=ask.id, causation_id=ask.id)
    pr = s.add(ChangesDecided, request_id=r1, repo="web", decision="pr", by=me, attempt=1, causation_id=answered.id)
    s.add(ChangesPushed, request_id=r1, repo="web", branch=f"tunnels/{r1.lower()}-result", remote="origin", by=me,
          pr_url="https://github.com/acme/web/pull/7", pr_number=7, compare_url="https://github.com/acme/web/compare/main...x",
          causation_id=pr.id)
    # The second: someone who may not decide is refused; the requester discards it.
    ask = s.message(f"discard {r2}", stranger)
    answered = s.add(ChangesAnswered, request_id=r2, by=stranger, decision="discard", message_id=ask.id, causation_id=ask.id)
    s.add(NoticeIssued, request_id=r2, level="warning", reply_to=answered.id, causation_id=answered.id,
          text=f"Only {me} or an approver can decide what happens to the changes of request {r2}.")
    ask = s.message(f"discard {r2} web", me)
    answered = s.add(ChangesAnswered, request_id=r2, by=me, decision="discard", repo="web", message_id=ask.id, causation_id=ask.id)
    gone = s.add(ChangesDecided, request_id=r2, repo="web", decision="discard", by=me, causation_id=answered.id)
    s.add(ChangesDiscarded, request_id=r2, repo="web", by=me, causation_id=gone.id,
          branches=[f"tunnels/{r2.lower()}-result", f"tunnels/{r2.lower()}/web/backend"])
    # The third: every test passed in a trusted channel: merged without asking.
    three = request(r3, "Document API v2", "web/docs", "d" * 40, [FileDiff(path="docs/api.md", added=30, removed=0)], True)
    proposed = s.add(ChangesProposed, request_id=r3, repos=[repo(r3, three, "d" * 40, [])], automatic="merge")
    auto = s.add(ChangesDecided, request_id=r3, repo="web", decision="merge", by="git.on_success", causation_id=proposed.id)
    s.add(ChangesMerged, request_id=r3, repo="web", branch=f"tunnels/{r3.lower()}-result", into="main", commit="e" * 40,
          fast_forward=False, by="git.on_success", checkout="/home/gina/web", causation_id=auto.id)
    return s.events


def routing_and_retries() -> list[Event]:
    """Every call counted, a plan planned again, a revision that drops a project, a "done":
    the router adds the project that deploys what the message names; the first plan is refused
    and planned again (both calls cost); a revision drops infra (its task-log copy goes) and adds
    docs; "done" drops the plan. Then an unknown project asked about with the closest one, the
    answer routed on the person's words, and a routing failure whose call still counts."""
    s = Story("slack:T1:D1:1790000000.000100", start_hours=12)
    erin = "slack:UERIN"
    r1, r2, r3 = s.new_id(), s.new_id(), s.new_id()
    ask = s.message("ship the search page in web and deploy it", erin)
    s.opened(r1, ask, [])
    s.add(RouteDecided, request_id=r1, projects=["web", "infra"], method="agent", usage=ROUTER)
    s.add(PlanRejected, request_id=r1, reason="the plan names 'web/serch', which is not a workspace here", usage=PLANNER)
    first = Plan(
        label="Ship and deploy search",
        tasks=[PlannedTask(workspace="web/search", task="Add the search page"),
               PlannedTask(workspace="infra", task="Deploy web to staging", depends_on=["web/search"])],
        phases=[["web/search"], ["infra"]],
    )
    s.add(PlanProposed, request_id=r1, plan=first, usage=PLANNER)
    s.add(ConfirmationRequested, request_id=r1, requester=erin, approvers=[erin], expires_at=T0 + timedelta(hours=13))
    change = s.message("don't deploy yet; document it instead", erin)
    s.add(PlanRevised, request_id=r1, by=erin, text=change.text, message_id=change.id, causation_id=change.id)
    second = Plan(
        label="Ship and document search",
        tasks=[PlannedTask(workspace="web/search", task="Add the search page"),
               PlannedTask(workspace="docs/site", task="Document the search page", depends_on=["web/search"])],
        phases=[["web/search"], ["docs/site"]],
    )
    s.add(PlanProposed, request_id=r1, plan=second, revision=1, usage=PLANNER)
    s.add(ConfirmationRequested, request_id=r1, requester=erin, approvers=[erin], expires_at=T0 + timedelta(hours=13), revision=1)
    done = s.message("done", erin)
    s.add(ConfirmationAnswered, request_id=r1, by=erin, answer="cancel", message_id=done.id, causation_id=done.id)
    s.add(ConfirmationCancelled, request_id=r1, by=erin)
    s.add(RequestCancelled, request_id=r1, by=erin, usage=ROUTER + PLANNER + PLANNER + PLANNER)

    zeta = s.message("deploy zeta", erin)
    s.opened(r2, zeta, [])
    question = "zeta is not a project here; did you mean: beta? Which do you mean?"
    s.add(ClarificationNeeded, request_id=r2, question=question, usage=ROUTER)
    beta = s.message("beta", erin)
    s.opened(r3, beta, [Turn(role="assistant", text=question)], text="deploy zeta\n\nbeta")
    s.add(RequestFailed, request_id=r3, stage="routing", reason="routing failed: no answer within 180 s", usage=ROUTER)
    return s.events


def two_tasks_one_workspace() -> list[Event]:
    """Tasks, not workspaces, are the unit of a plan: the library has two tasks ("release v2", then,
    once its users are updated, "run the whole suite"), each with an id; the events name tasks by
    the product's `<request>-<n>` ids. One user fails, so the library's second task is skipped
    while its first stays succeeded, each on its own branch."""
    s = Story("terminal:local", start_hours=14)
    me = "terminal:hana"
    r1 = s.new_id()
    plan = Plan(
        label="Library v2 and its users",
        tasks=[
            PlannedTask(id="t1", workspace="shared/core", task="Release v2"),
            PlannedTask(id="t2", workspace="web/app", task="Move to core v2", depends_on=["t1"]),
            PlannedTask(id="t3", workspace="api", task="Move to core v2", depends_on=["t1"]),
            PlannedTask(id="t4", workspace="shared/core", task="Run the whole suite against both users", depends_on=["t2", "t3"]),
        ],
        phases=[["t1"], ["t3", "t2"], ["t4"]],
    )
    ask = s.message("Release core v2, move web and api to it, then run the core suite against both", me)
    s.opened(r1, ask, [])
    s.add(RouteDecided, request_id=r1, projects=["shared", "web", "api"], method="agent", usage=ROUTER)
    s.add(PlanProposed, request_id=r1, plan=plan, usage=PLANNER)
    s.add(PlanApproved, request_id=r1, by=me)

    def run(key: str, phase: int) -> str:
        planned, task_id = plan.task_for(key), plan.run_id(r1, key)
        s.add(WorkspaceTaskDispatched, request_id=r1, task_id=task_id, workspace=planned.workspace, phase=phase, task=planned.task,
              upstream=list(planned.depends_on))
        s.add(WorkspaceTaskStarted, request_id=r1, task_id=task_id, workspace=planned.workspace, agent="local")
        return task_id

    s.add(PhaseStarted, request_id=r1, phase=1, workspaces=["shared/core [t1]"])
    one = run("t1", 1)
    s.add(WorkspaceTaskSucceeded, request_id=r1, task_id=one, workspace="shared/core",
          result=TaskResult(summary="core 2.0.0 released", changed_files=["VERSION"], test_result="pass"), usage=agent_usage(2),
          facts=TaskFacts(repo="shared", branch=f"tunnels/{r1.lower()}/shared/core", base="a" * 40, start="a" * 40, commit="b" * 40,
                          files=[FileDiff(path="core/VERSION", added=1, removed=1)]))
    s.add(PhaseCompleted, request_id=r1, phase=1, succeeded=["shared/core [t1]"])
    s.add(PhaseStarted, request_id=r1, phase=2, workspaces=["api [t3]", "web/app [t2]"])
    three, two = run("t3", 2), run("t2", 2)
    s.add(WorkspaceTaskSucceeded, request_id=r1, task_id=two, workspace="web/app",
          result=TaskResult(summary="web pins core 2.0.0", changed_files=["requirements.txt"], test_result="pass"), usage=agent_usage(1))
    s.add(WorkspaceTaskFailed, request_id=r1, task_id=three, workspace="api", error="api tests fail on core 2.0.0", usage=agent_usage(1))
    s.add(PhaseCompleted, request_id=r1, phase=2, succeeded=["web/app [t2]"], failed=["api [t3]"])
    s.add(PhaseStarted, request_id=r1, phase=3, workspaces=[])
    s.add(WorkspaceTaskSkipped, request_id=r1, task_id=plan.run_id(r1, "t4"), workspace="shared/core", because=["api [t3]"])
    s.add(PhaseCompleted, request_id=r1, phase=3, skipped=["shared/core [t4]"])
    summary = (
        "2 of 4 workspace tasks succeeded.\n✓ shared/core [t1]: core 2.0.0 released\n✗ api [t3]: api tests fail on core 2.0.0\n"
        "✓ web/app [t2]: web pins core 2.0.0\n– shared/core [t4]: skipped: api [t3] did not succeed"
    )
    s.add(RequestCompleted, request_id=r1, summary=summary, succeeded=2, failed=1, skipped=1,
          usage=ROUTER + PLANNER + agent_usage(2) + agent_usage(1) + agent_usage(1))
    return s.events


def delegated_request() -> list[Event]:
    """Orchestrators of orchestrators, both ends. At the parent: a plan whose task is taken by the
    child orchestrator `ml/platform` (its `task.started` names the child's request). At the child:
    the parent's task arrives as a message of channel `parent` with its delegation, becomes a
    request authorised by the parent's approved plan (no second approval), and runs."""
    s = Story("telegram:-100300", start_hours=11)
    me = "telegram:4242"
    parent, child = s.new_id(), s.new_id()
    plan = Plan(label="Retrain", tasks=[PlannedTask(workspace="ml/platform", task="Retrain the model")], phases=[["ml/platform"]])
    s.opened(parent, s.message("retrain the recommendation model on the ML platform", me), [])
    s.add(RouteDecided, request_id=parent, projects=["ml"], method="explicit")
    s.add(PlanProposed, request_id=parent, plan=plan, usage=PLANNER)
    s.add(PlanApproved, request_id=parent, by=me)
    s.add(PhaseStarted, request_id=parent, phase=1, workspaces=["ml/platform"])
    s.dispatched(parent, plan, "ml/platform", 1)
    s.add(WorkspaceTaskStarted, request_id=parent, task_id=s.task(parent, "ml/platform"), workspace="ml/platform",
          agent="orchestrator ml/platform", child_request_id=child)
    for line in ("routed to trainer", "planned 1 task(s) in 1 phase(s): trainer", "  ml/platform/sub: phase 1: deep"):
        # The child's lines, nested under its task (the last one a grandchild's, passed up indented).
        s.add(WorkspaceProgress, request_id=parent, task_id=s.task(parent, "ml/platform"), workspace="ml/platform", kind="text", detail=line)
    s.succeeded(parent, "ml/platform", TaskResult(summary="retrained: 1 of 1 workspace tasks succeeded", test_result="pass"), turns=1)
    s.add(PhaseCompleted, request_id=parent, phase=1, succeeded=["ml/platform"])
    s.add(RequestCompleted, request_id=parent, summary="1 of 1 workspace tasks succeeded.", succeeded=1, usage=PLANNER + agent_usage(1))

    c = Story("parent:ml/platform", start_hours=12)
    delegation = Delegation(parent="ml/platform", request_id=parent, task_id=s.task(parent, "ml/platform"), approved_by=me)
    local = Plan(label="Retrain", tasks=[PlannedTask(workspace="trainer", task="Run the training job")], phases=[["trainer"]])
    ask = c.message("Retrain the model", f"parent:{parent}", delegation=delegation)
    c.add(RequestOpened, request_id=child, text=ask.text, requester=ask.sender, channel="parent", message_id=ask.id,
          causation_id=ask.id, delegation=delegation)
    c.add(RouteDecided, request_id=child, projects=["trainer"], method="single_project")
    c.add(PlanProposed, request_id=child, plan=local, usage=PLANNER)
    by = f"{me} (parent request {parent})"
    c.add(ConfirmationGiven, request_id=child, by=by, auto=True)
    c.add(PlanApproved, request_id=child, by=by, auto=True)
    c.add(PhaseStarted, request_id=child, phase=1, workspaces=["trainer"])
    c.dispatched(child, local, "trainer", 1)
    c.started(child, "trainer")
    c.succeeded(child, "trainer", TaskResult(summary="model retrained", test_result="pass"), turns=1)
    c.add(PhaseCompleted, request_id=child, phase=1, succeeded=["trainer"])
    c.add(RequestCompleted, request_id=child, summary="1 of 1 workspace tasks succeeded.", succeeded=1, usage=PLANNER + agent_usage(1))
    return s.events + c.events


STORIES: dict[str, Callable[[], list[Event]]] = {
    "three_phase_request": three_phase_request,
    "conversation": conversation,
    "stops_and_failures": stops_and_failures,
    "relayed_permissions": relayed_permissions,
    "stopped_by_budget": stopped_by_budget,
    "worktree_facts": worktree_facts,
    "neighbour_plan": neighbour_plan,
    "resumed_after_restart": resumed_after_restart,
    "request_branches": request_branches,
    "routing_and_retries": routing_and_retries,
    "delegated_request": delegated_request,
    "two_tasks_one_workspace": two_tasks_one_workspace,
}


def write_expected(folder: Path) -> None:
    """Fold the recorded stream with today's code; rewrite the expectations (never the stream)."""
    shutil.rmtree(folder / TASK_LOG, ignore_errors=True)
    lines = read_stream(folder)
    folded = fold([(line.seq, decode_event(line)) for line in lines], folder / TASK_LOG)
    (folder / SESSIONS).write_bytes(folded.sessions)
    (folder / REQUESTS).write_bytes(folded.requests)


def record(name: str, events: list[Event]) -> None:
    """Write a story's stream and its expectations."""
    folder = GOLDEN / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subjects = Subjects()
    with open(folder / STREAM, "wb") as out:
        for seq, event in enumerate(events, start=1):
            line = Line(seq=seq, schema=SCHEMA_VERSION, subject=subjects.for_event(event), event=msgspec.Raw(encode(event)))
            assert decode_event(line) == event, f"{name}: {event.type} does not survive a round trip"
            out.write(encode_line(line))
    write_expected(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh-expected", action="store_true", help="re-fold every recorded stream, rewrite only the expectations")
    parser.add_argument("--rerecord", metavar="NAME", action="append", default=[], help="overwrite this story's stream (history!)")
    args = parser.parse_args()
    unknown = set(args.rerecord) - set(STORIES)
    if unknown:
        parser.error(f"unknown stories {sorted(unknown)}; known: {sorted(STORIES)}")
    for name, build in STORIES.items():
        if not (GOLDEN / name / STREAM).exists() or name in args.rerecord:
            record(name, build())
            print(f"recorded {name}")
    if args.refresh_expected:
        for stream in sorted(GOLDEN.glob(f"*/{STREAM}")):
            write_expected(stream.parent)
            print(f"re-folded {stream.parent.name}")


if __name__ == "__main__":
    main()
