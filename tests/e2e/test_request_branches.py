"""The person decides at the end (real git repositories, the real CLI, the scripted model, real NATS):
one request branch per repository holds exactly the tasks' changes and the user's checkout is
untouched until Merge; Merge, Open PR (a local bare remote and a fake of GitHub's pulls endpoint)
and Discard from the terminal; a merge refused on a base that moved and conflicts; overlapping
branches of two requests told to both conversations; `git.on_success` on a trusted channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claude_tunnels.config.credentials import write_credentials
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.changes import (
    ChangesDiscarded,
    ChangesMerged,
    ChangesOverlapped,
    ChangesProposed,
    ChangesPushed,
    ChangesRefused,
)
from claude_tunnels.events.codec import encode
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted
from tests.e2e.scenarios import plan, router
from tests.e2e.test_worktrees import Watch, git_init, writes
from tests.e2e.world import World, world
from tests.fakes.github import FakeGitHub
from tests.git.repos import run

TOKEN = "ghp_token-of-the-test"


async def until(w: World, predicate: Callable[[AnyEvent], bool], timeout: float = 90) -> AnyEvent:
    """The first event of the terminal's conversation matching `predicate`, seen already or to come."""
    for event in w.terminal.events:
        if predicate(event):
            return event
    return await asyncio.wait_for(w.terminal.watch(predicate), timeout)


def ours(repo: Path) -> list[str]:
    """The branches the orchestrator made in `repo`."""
    return run(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/tunnels/").split()


async def test_request_branches_per_repository_then_merge_refuse_and_discard_from_the_terminal(tmp_path: Path) -> None:
    scenario = json.dumps({"scripts": [
        router(["web-app", "api-service"], "move to v2"),  # names are hints: the router settles the route
        plan("v2", ("web-app/backend", "pin v2", []), ("web-app/frontend", "use v2", ["web-app/backend"]), ("api-service", "pin v2", [])),
        writes("web-app/backend", {"requirements.txt": "shared-lib==2.0.0\n"}, summary="backend pins v2", claims=["requirements.txt"]),
        writes("web-app/frontend", {"package.json": '{"apiVersion": "2"}\n', "src/new.js": "v2()\n"}, summary="frontend on v2",
               claims=["package.json", "src/new.js"]),
        writes("api-service", {"requirements.txt": "shared-lib==2.0.0\n"}, summary="api pins v2", claims=["requirements.txt"]),
    ]})
    async with world(tmp_path, scenario) as w:
        web, api = w.root / "web-app", w.root / "api-service"
        git_init(web)  # a monorepo: two nested workspaces in one repository
        git_init(api)
        bases = {repo: run(repo, "rev-parse", "HEAD").strip() for repo in (web, api)}
        await w.ask("in web-app and api-service: move to v2", lambda e: isinstance(e, ConfirmationRequested))
        final = await w.run_to_end("yes")
        assert isinstance(final, RequestCompleted) and final.succeeded == 3
        proposed = await until(w, lambda e: isinstance(e, ChangesProposed))
        assert isinstance(proposed, ChangesProposed) and proposed.automatic is None  # a Slack-like decision: keep by default
        repos = {r.repo: r for r in proposed.repos}
        assert set(repos) == {"web-app", "api-service"}
        rid = final.request_id.lower()
        for label, repo in (("web-app", web), ("api-service", api)):
            changes = repos[label]
            assert changes.branch == f"tunnels/{rid}-result" and changes.base == bases[repo] and changes.base_branch == "main"
            # The recorded diff is git's, and the branch holds exactly the tasks' changes.
            numstat = sorted(tuple(line.split("\t")) for line in run(repo, "diff", "--numstat", f"{changes.base}..{changes.branch}").splitlines())
            assert sorted((str(f.added), str(f.removed), f.path) for f in changes.files) == numstat
            # Untouched until Merge: same commit, nothing uncommitted, the old file.
            assert run(repo, "rev-parse", "HEAD").strip() == bases[repo] and not run(repo, "status", "--porcelain").strip()
        assert [f.path for f in repos["web-app"].files] == ["backend/requirements.txt", "frontend/package.json", "frontend/src/new.js"]
        assert [t.workspace for t in repos["web-app"].tasks] == ["web-app/backend", "web-app/frontend"]
        assert (web / "backend" / "requirements.txt").read_text() == "shared-lib==1.4.0\n"
        assert f"branch tunnels/{rid}-result" in w.out.getvalue() and "Reply merge, pr" in w.out.getvalue()

        # Merge api-service from the terminal: its checked-out, clean main moves; the branches go.
        merged = await w.ask(f"merge {final.request_id} api-service", lambda e: isinstance(e, (ChangesMerged, ChangesRefused)))
        assert isinstance(merged, ChangesMerged) and merged.fast_forward and merged.into == "main"
        assert run(api, "rev-parse", "main").strip() == merged.commit == repos["api-service"].head
        assert (api / "requirements.txt").read_text() == "shared-lib==2.0.0\n" and ours(api) == []

        # web-app's main moved meanwhile, in a conflicting way: refused, naming the file; nothing changes.
        (web / "backend" / "requirements.txt").write_text("shared-lib==1.5.0\n")
        run(web, "commit", "--quiet", "-am", "someone pinned 1.5")
        moved = run(web, "rev-parse", "HEAD").strip()
        refused = await w.ask("merge", lambda e: isinstance(e, ChangesRefused))
        assert isinstance(refused, ChangesRefused) and refused.files == ["backend/requirements.txt"] and refused.repo == "web-app"
        assert "backend/requirements.txt" in w.out.getvalue().split("Not merged")[-1]
        assert run(web, "rev-parse", "HEAD").strip() == moved and not run(web, "status", "--porcelain").strip()

        # Discard: nothing of the request is left.
        discarded = await w.ask("discard", lambda e: isinstance(e, ChangesDiscarded))
        assert isinstance(discarded, ChangesDiscarded) and f"tunnels/{rid}-result" in discarded.branches
        assert ours(web) == [] and run(web, "worktree", "list").count("\n") == 1
        assert (web / "backend" / "requirements.txt").read_text() == "shared-lib==1.5.0\n"


async def test_on_success_merges_for_a_trusted_channel_and_a_failed_test_waits_for_a_pull_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    first = writes("web-app/backend", {"requirements.txt": "shared-lib==2.0.0\n"}, summary="pinned v2", claims=["requirements.txt"])
    first["name"], first["match"] = "backend-v2", [*first["match"], "V2 change"]
    second = writes("web-app/backend", {"requirements.txt": "shared-lib==3.0.0\n"}, summary="pinned v3", claims=["requirements.txt"])
    second["name"], second["match"] = "backend-v3", [*second["match"], "V3 change"]
    later = plan("v3", ("web-app/backend", "V3 change", []), match="V3 change")
    later["match"].append("the V3")  # the follow-up's planner also sees the first request in its history
    scenario = json.dumps({"scripts": [plan("v2", ("web-app/backend", "V2 change", []), match="V2 change"), later, first, second]})
    write_credentials(tmp_path / "tree" / "ARCHIVE" / "github" / "credentials", {"token": TOKEN})
    async with FakeGitHub(TOKEN) as github:
        settings = {"git": {"on_success": "merge", "github": {"api_url": github.api_url}}}  # the terminal is trusted by default
        async with world(tmp_path, scenario, settings=settings) as w:
            web = w.root / "web-app"
            (web / "backend" / "CLAUDE.md").write_text("---\ntest: grep -q 'shared-lib==2' requirements.txt\n---\n# backend\n")
            git_init(web)
            bare = tmp_path / "web-app.git"
            run(tmp_path, "init", "--quiet", "--bare", str(bare))
            run(web, "remote", "add", "origin", "git@github.com:acme/web-app.git")
            run(web, "remote", "set-url", "--push", "origin", str(bare))

            # Every declared test passed, in the terminal: merged without asking.
            await w.ask("in web-app/backend: the V2 change", lambda e: isinstance(e, ConfirmationRequested))
            merged = await w.ask("yes", lambda e: isinstance(e, ChangesMerged))
            assert isinstance(merged, ChangesMerged) and merged.by == "git.on_success"
            assert (web / "backend" / "requirements.txt").read_text() == "shared-lib==2.0.0\n" and ours(web) == []
            assert "git.on_success: merging them now" in w.out.getvalue()

            # Its declared test fails: it waits for a person, who opens a pull request.
            await w.ask("in web-app/backend: the V3 change", lambda e: isinstance(e, ConfirmationRequested))
            proposed = await w.ask("yes", lambda e: isinstance(e, ChangesProposed))
            assert isinstance(proposed, ChangesProposed) and proposed.automatic is None
            [changes] = proposed.repos
            assert changes.tasks[0].test_passed is False and changes.base == merged.commit
            pushed = await w.ask("pr", lambda e: isinstance(e, (ChangesPushed, ChangesRefused)))
            assert isinstance(pushed, ChangesPushed) and pushed.pr_url == "https://github.example/acme/web-app/pull/1"
            assert run(bare, "rev-parse", changes.branch).strip() == changes.head
            assert ours(web) == [changes.branch]  # the request branch stays for the pull request, the task's is gone
            [call] = github.opened()
            body: dict[str, Any] = call.body
            assert (call.owner, call.repo, body["head"], body["base"]) == ("acme", "web-app", changes.branch, "main")
            assert body["title"] == f"v3 (request {pushed.request_id})"
            for part in ("> in web-app/backend: the V3 change", "## Plan: v3", "`web-app/backend`: V3 change", "pinned v3",
                         "tests FAIL (`grep -q 'shared-lib==2' requirements.txt`)", "Cost: $", f"tunnels replay {pushed.request_id}"):
                assert part in body["body"], part
            stored = await w.orchestrator.store.read()
            assert not [s for s in stored if TOKEN.encode() in encode(s.event)] and TOKEN not in w.out.getvalue()


async def test_two_open_requests_changing_one_file_are_told_before_the_merge(tmp_path: Path) -> None:
    mine = writes("web-app/backend", {"requirements.txt": "shared-lib==2.0.0\n"}, summary="alice's", claims=["requirements.txt"])
    mine["name"], mine["match"] = "backend-alice", [*mine["match"], "ALICE"]
    theirs = writes("web-app/backend", {"requirements.txt": "shared-lib==2.1.0\n", "b.txt": "b\n"}, summary="bob's",
                    claims=["requirements.txt", "b.txt"])
    theirs["name"], theirs["match"] = "backend-bob", [*theirs["match"], "BOB"]
    scenario = json.dumps({"scripts": [
        plan("alice", ("web-app/backend", "ALICE change", []), match="ALICE"),
        plan("bob", ("web-app/backend", "BOB change", []), match="BOB"), mine, theirs,
    ]})
    async with world(tmp_path, scenario) as w:
        web = w.root / "web-app"
        git_init(web)
        events = Watch(w.orchestrator)
        bob = "terminal:bob"

        async def as_bob(text: str, ref: str, kind: type) -> AnyEvent:
            await w.orchestrator.post_message(session_key=bob, channel="terminal", sender=bob, text=text, message_ref=ref)
            return await events.until(lambda e: isinstance(e, kind) and e.session_key == bob, timeout=90)
        await w.ask("in web-app/backend: the ALICE change", lambda e: isinstance(e, ConfirmationRequested))
        alices = await w.ask("yes", lambda e: isinstance(e, ChangesProposed))
        await as_bob("in web-app/backend: the BOB change", "b1", ConfirmationRequested)
        bobs = await as_bob("yes", "b2", ChangesProposed)
        assert isinstance(bobs, ChangesProposed) and isinstance(alices, ChangesProposed)
        [overlap] = bobs.repos[0].overlaps  # known when Bob's branch was proposed
        assert overlap.request_id == alices.request_id and overlap.files == ["backend/requirements.txt"]

        merged = await w.ask("merge", lambda e: isinstance(e, ChangesMerged))
        [told_alice] = [e for e in w.terminal.events if isinstance(e, ChangesOverlapped)]
        told_bob = await events.until(lambda e: isinstance(e, ChangesOverlapped) and e.session_key == bob)
        assert (told_alice.request_id, told_alice.other_request, told_alice.files) == (alices.request_id, bobs.request_id, ["backend/requirements.txt"])
        assert (told_bob.request_id, told_bob.deciding_request) == (bobs.request_id, alices.request_id)
        assert w.terminal.events.index(told_alice) < w.terminal.events.index(merged)  # told before, never blocking
        # Bob's branch now conflicts with main: refused, naming the file.
        refused = await as_bob("merge", "b3", ChangesRefused)
        assert isinstance(refused, ChangesRefused) and refused.files == ["backend/requirements.txt"]
