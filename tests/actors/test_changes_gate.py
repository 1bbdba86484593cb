"""ChangesGate: a request's changes in git are proposed once it ends and decided once, by the right
person (or `git.on_success` on a trusted channel), with overlaps told to both conversations."""

from __future__ import annotations

from msgspec.structs import replace

from claude_tunnels.actors.changes import decision_id
from claude_tunnels.actors.changes_gate import ChangesGate, ResumeChanges
from claude_tunnels.actors.channel_session import ChannelSession
from claude_tunnels.actors.ports import Refusal
from claude_tunnels.config.settings import GitSettings, Settings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.changes import ChangesAnswered, ChangesDecided, ChangesOverlapped, ChangesProposed, Decision
from claude_tunnels.events.conversation import NoticeIssued
from claude_tunnels.events.execution import RequestCompleted, WorkspaceTaskFailed, WorkspaceTaskSucceeded
from claude_tunnels.events.values import FileDiff, TaskFacts, TaskResult, TestRun
from tests.actors.harness import ALICE, BOB, BOSS, World, running
from tests.actors.story import Has, Story, out, plan_of, shape

BACKEND, FRONTEND, API, CORE = "web-app/backend", "web-app/frontend", "api-service", "shared-lib/core"
PLAN = plan_of((BACKEND, []), (API, []), (CORE, []), (FRONTEND, [BACKEND]))


def facts(story: Story, workspace: str, *, passed: bool | None = True) -> TaskFacts:
    repo = workspace.split("/")[0]
    return TaskFacts(
        repo=repo, branch=f"tunnels/{story.request_id.lower()}/{workspace}", base="b" * 40, base_branch="main",
        commit=workspace.replace("/", "-").ljust(40, "0")[:40], files=[FileDiff(path=f"{workspace}/x", added=1, removed=0)],
        test=TestRun(command="pytest -q", passed=passed, exit_code=0 if passed else 1) if passed is not None else None,
    )


def ended(story: Story, *, failing_test: str = "", failed: str = "", remote: str = CORE) -> list[AnyEvent]:
    """The request ran every task (`remote` on a remote agent, `failed` failing) and completed."""
    events = [*story.up_to("executing")]
    for workspace in [w for phase in story.plan.phases for w in phase]:
        if workspace == failed:
            events.append(WorkspaceTaskFailed(task_id=story.task_id(workspace), workspace=workspace, error="boom", **story._req()))
            continue
        dispatched = story.dispatched(workspace)
        events.append(replace(dispatched, target="remote") if workspace == remote else dispatched)
        events.append(WorkspaceTaskSucceeded(
            task_id=story.task_id(workspace), workspace=workspace, result=TaskResult(summary=f"{workspace} done", test_result="pass"),
            facts=facts(story, workspace, passed=workspace != failing_test), **story._req(),
        ))
    return [*events, story.completed()]


def answer(story: Story, by: str, decision: Decision, repo: str = "") -> ChangesAnswered:
    return ChangesAnswered(by=by, decision=decision, message_id="M7", repo=repo, **story._req())


async def proposed(world: World, story: Story, **how: str) -> ChangesProposed:
    await world.given(*ended(story, **how))
    gate = world.start(ChangesGate)
    [event] = await world.deliver(gate, story.last("request.completed"))
    assert isinstance(event, ChangesProposed)
    return event


async def test_a_completed_request_proposes_one_branch_per_repository_of_its_local_tasks(world: World) -> None:
    story = Story(world, plan=PLAN)
    event = await proposed(world, story)

    assert [r.repo for r in event.repos] == ["api-service", "web-app"] and event.automatic is None  # shared-lib/core ran remotely
    web = event.repos[1]
    assert [t.workspace for t in web.tasks] == [BACKEND, FRONTEND]  # in phase order
    assert [(t.test_command, t.test_passed) for t in web.tasks] == [("pytest -q", True)] * 2
    assert world.integrator.work[1].base_branch == "main" and world.integrator.work[1].base == "b" * 40
    # Delivered again (a redelivery, a restart): proposed once.
    assert await world.deliver(world.start(ChangesGate), story.last("request.completed")) == []


async def test_only_the_requester_or_an_approver_decides_and_a_second_click_changes_nothing(world: World) -> None:
    story = Story(world, plan=PLAN)
    await proposed(world, story)
    gate = world.start(ChangesGate)

    refused = [out("notice.issued", level="warning", text=f"Only {ALICE} or an approver can decide what happens to the changes of request R1.")]
    assert shape(await world.deliver(gate, answer(story, BOB, "discard")), refused) == refused
    merge = [out("changes.decided", repo="web-app", decision="merge", by=ALICE, attempt=0)]
    decided = await world.deliver(gate, answer(story, ALICE, "merge", "web-app"))
    assert shape(decided, merge) == merge
    request = world.requests.get("R1")
    assert request is not None and decided[0].id == decision_id("R1", "web-app", 0, request.changes["web-app"].proposed_at)
    busy = [out("notice.issued", text="Nothing changed: web-app is being merged already.")]
    assert shape(await world.deliver(gate, answer(story, BOSS, "discard", "web-app")), busy) == busy
    assert world.integrator.calls == [("propose", "R1", "api-service"), ("propose", "R1", "web-app")]  # nothing carried out yet


async def test_a_decision_is_carried_out_once_and_a_refused_one_can_be_decided_again(world: World) -> None:
    story = Story(world, plan=PLAN)
    await proposed(world, story)
    gate = world.start(ChangesGate)
    world.integrator.outcomes.append(Refusal("main has moved and conflicts in web-app/backend/x", ["web-app/backend/x"]))
    [decided] = await world.deliver(gate, answer(story, BOSS, "merge", "web-app"))

    refused = [out("changes.refused", repo="web-app", decision="merge", files=["web-app/backend/x"], by=BOSS)]
    assert shape(await world.deliver(gate, decided), refused) == refused
    assert await world.deliver(gate, decided) == []  # redelivered: not carried out twice
    [pr] = await world.deliver(gate, answer(story, ALICE, "pr", "web-app"))
    assert isinstance(pr, ChangesDecided) and pr.attempt == 1 and pr.id != decided.id
    [pushed] = await world.deliver(gate, pr)
    assert pushed.type == "changes.pushed" and pushed.pr_url == "https://github.example/acme/web/pull/1"  # type: ignore[attr-defined]
    title, body = world.integrator.bodies[0]
    assert title == "upgrade (request R1)" and "tunnels replay R1" in body and "web-app/backend done" in body
    # Decide the rest at once: only api-service still waits.
    [discard] = await world.deliver(gate, answer(story, ALICE, "discard"))
    assert (discard.type, discard.repo) == ("changes.decided", "api-service")  # type: ignore[attr-defined]
    await world.deliver(gate, discard)
    request = world.requests.get("R1")
    assert request is not None and {k: s.status for k, s in request.changes.items()} == {"web-app": "pushed", "api-service": "discarded"}
    assert [call[0] for call in world.integrator.calls[2:]] == ["merge", "pr", "discard"]


async def test_overlapping_branches_are_told_to_both_conversations_before_a_merge() -> None:
    async with running(Settings(approvers=[BOSS])) as world:
        first, second = Story(world, plan=PLAN), Story(world, plan=PLAN, request_id="R2", session_key="slack:C2", requester=BOB)
        world.integrator.files = {BACKEND: ["backend/api.py", "backend/a.py"], API: ["one.py"]}
        await proposed(world, first)
        world.integrator.files = {BACKEND: ["backend/api.py"], FRONTEND: ["frontend/b.js"], API: ["two.py"]}
        later = {repo.repo: repo for repo in (await proposed(world, second)).repos}
        assert [(o.request_id, o.files) for o in later["web-app"].overlaps] == [("R1", ["backend/api.py"])]
        assert later["api-service"].overlaps == []

        events = await world.deliver(world.start(ChangesGate), answer(first, ALICE, "merge", "web-app"))
        told = [e for e in events if isinstance(e, ChangesOverlapped)]
        assert [(e.request_id, e.session_key, e.other_request, e.files) for e in told] == [
            ("R1", "slack:C1", "R2", ["backend/api.py"]), ("R2", "slack:C2", "R1", ["backend/api.py"])]
        assert all(e.deciding_request == "R1" and e.decision == "merge" for e in told)


async def test_git_on_success_decides_only_for_trusted_channels_when_everything_passed() -> None:
    trusting = Settings(approvers=[BOSS], git=GitSettings(on_success="merge", trusted_channels=["slack"]))
    async with running(trusting) as world:
        story = Story(world, plan=PLAN)
        event = await proposed(world, story)
        assert event.automatic == "merge"
        gate = world.start(ChangesGate)
        decisions = await world.deliver(gate, event)
        assert [(d.repo, d.by) for d in decisions] == [("api-service", "git.on_success"), ("web-app", "git.on_success")]  # type: ignore[attr-defined]
        [merged] = await world.deliver(gate, decisions[0])
        assert merged.type == "changes.merged" and merged.by == "git.on_success"  # type: ignore[attr-defined]
    async with running(trusting) as world:
        assert (await proposed(world, Story(world, plan=PLAN), failing_test=API)).automatic is None  # a declared test failed
    async with running(trusting) as world:
        assert (await proposed(world, Story(world, plan=PLAN), failed=API)).automatic is None  # a task failed
    untrusted = Settings(git=GitSettings(on_success="pr"))  # trusted: the terminal only
    async with running(untrusted) as world:
        assert (await proposed(world, Story(world, plan=PLAN))).automatic is None


async def test_after_a_restart_a_missing_proposal_is_made_and_a_decision_in_flight_carried_out(world: World) -> None:
    story = Story(world, plan=PLAN)
    await world.given(*ended(story))
    gate = world.start(ChangesGate)
    [event] = await world.ask(gate, ResumeChanges())
    assert isinstance(event, ChangesProposed)
    decided = await world.deliver(gate, answer(story, ALICE, "discard", "api-service"))
    restarted = world.start(ChangesGate)  # the decision was recorded; the orchestrator died before carrying it out
    [discarded] = await world.ask(restarted, ResumeChanges())
    assert discarded.type == "changes.discarded" and discarded.causation_id == decided[0].id
    assert isinstance(story.last("request.completed"), RequestCompleted)


async def test_merge_pr_discard_typed_or_pressed_in_the_conversation_name_the_request_and_repository(world: World) -> None:
    story = Story(world, plan=PLAN)
    session = world.start(ChannelSession, story.session_key)
    nothing = [out("notice.issued", text=Has("No changes are waiting"))]
    assert shape(await world.deliver(session, story.message("merge")), nothing) == nothing
    await proposed(world, story)

    def said(events: list[AnyEvent]) -> list[tuple[str, str, str, str]]:
        return [(e.type, getattr(e, "decision", ""), getattr(e, "repo", ""), getattr(e, "request_id", "") or "") for e in events]

    assert said(await world.deliver(session, story.message("merge"))) == [("changes.answered", "merge", "", "R1")]
    assert said(await world.deliver(session, story.message("open a PR for r1 web-app please"))) == [("changes.answered", "pr", "web-app", "R1")]
    pressed = story.message("", BOB, action="discard", request_id="R1", repo="api-service")
    assert said(await world.deliver(session, pressed)) == [("changes.answered", "discard", "api-service", "R1")]  # the gate checks who
    events = await world.deliver(session, story.message("merge the old parser into the new one, keep both APIs"))
    assert [e.type for e in events] == ["request.opened"]  # a longer message is a request, not a decision

    second = Story(world, plan=PLAN, request_id="R2")
    await proposed(world, second)
    [told] = await world.deliver(session, story.message("discard"))
    assert isinstance(told, NoticeIssued) and "R1 (api-service, web-app); R2 (api-service, web-app)" in told.text
    assert "discard R2" in told.text
