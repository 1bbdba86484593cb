"""The JSON API against a real orchestrator: open, approve, cancel, read and stream a request,
as the `api` channel end to end; unknown callers and people who may not approve are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from claude_tunnels.events.changes import ChangesDiscarded, ChangesProposed
from claude_tunnels.events.conversation import ConfirmationRequested
from tests.dashboard.board import Board, board
from tests.e2e.test_request_branches import until
from tests.e2e.test_worktrees import git_init


async def _call(b: Board, method: str, path: str, identity: str | None, body: Any = None) -> tuple[int, Any]:
    async with b.http.request(method, b.url + path, headers=b.headers(identity), json=body) as response:
        return response.status, await response.json()


async def _stream(b: Board, request_id: str, identity: str, until: str = "end") -> list[tuple[str, dict[str, Any]]]:
    """The request's SSE events (name, data) up to the first named `until`."""
    got: list[tuple[str, dict[str, Any]]] = []
    name = ""
    async with b.http.get(f"{b.url}/api/requests/{request_id}/events", headers=b.headers(identity)) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                got.append((name, json.loads(line[6:])))
                if name == until:
                    return got
    raise AssertionError(f"the stream ended before {until}: {[n for n, _ in got]}")


async def test_a_script_opens_approves_and_reads_a_request_through_the_api_channel(tmp_path: Path) -> None:
    async with board(tmp_path, "api note") as b:
        status, opened = await _call(b, "POST", "/api/requests", "api:ci", {"text": "shared-lib: api note", "conversation": "nightly"})
        assert status == 200 and opened["outcome"] == "request.opened", opened
        request_id, session_key = opened["request_id"], opened["session_key"]
        assert session_key == "api:api:ci:nightly"
        await _stream(b, request_id, "api:ci", until="confirmation.requested")

        # carol is a known user but neither the requester nor an approver: refused, by the same rule as in a chat.
        status, refused = await _call(b, "POST", f"/api/requests/{request_id}/approve", "slack:UCAROL")
        assert status == 403 and refused["refused"] and refused["outcome"] == "confirmation.refused", refused
        status, approved = await _call(b, "POST", f"/api/requests/{request_id}/approve", "api:ci")
        assert status == 200 and approved["outcome"] == "confirmation.given", approved

        events = await _stream(b, request_id, "api:ci")  # from the start: stored, then live, until it ends
        names = [name for name, _ in events]
        assert names[:2] == ["message.received", "request.opened"] and "confirmation.refused" in names and names[-2:] == ["request.completed", "end"]
        assert names.count("task.succeeded") == 2

        status, detail = await _call(b, "GET", f"/api/requests/{request_id}", "api:ci")
        assert status == 200 and detail["request"]["status"] == "completed" and detail["row"]["requester"] == "api:ci"
        assert {t["status"] for t in detail["request"]["tasks"].values()} == {"succeeded"}
        assert detail["request"]["plan"]["phases"] == [["shared-lib/core"], ["shared-lib/docs"]]

        # The api channel's replies: what a chat would have shown, read back from the stream.
        status, replies = await _call(b, "GET", "/api/conversations/nightly/replies", "api:ci")
        kinds = [r["type"] for r in replies["replies"]]
        assert status == 200 and kinds[0] == "request.opened" and "confirmation.requested" in kinds and kinds[-1] == "request.completed"
        assert [r for r in replies["replies"] if r["type"] == "confirmation.requested"][0]["approval_for"] == request_id
        later = replies["replies"][-2]["seq"]
        status, rest = await _call(b, "GET", f"/api/conversations/nightly/replies?after={later}", "api:ci")
        assert [r["type"] for r in rest["replies"]] == ["request.completed"]

        status, listed = await _call(b, "GET", "/api/requests?q=api+note", "api:ci")
        assert [r["request_id"] for r in listed["requests"]] == [request_id] and listed["requests"][0]["status"] == "completed"


async def test_cancel_by_the_requester_and_refusals_of_unknown_callers(tmp_path: Path) -> None:
    async with board(tmp_path, "to drop") as b:
        await b.w.ask("shared-lib: to drop", lambda e: isinstance(e, ConfirmationRequested))
        [row] = b.dashboard.service.view.rows.values()
        path = f"/api/requests/{row.request_id}"
        # No token, a wrong one: refused before anything is read or recorded.
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            async with b.http.post(b.url + path + "/cancel", headers=headers) as response:
                assert response.status == 401
            async with b.http.get(b.url + path, headers=headers) as response:
                assert response.status == 401
        async with b.http.get(b.url + "/metrics") as response:
            assert response.status == 401
        status, refused = await _call(b, "POST", path + "/cancel", "slack:UCAROL")
        assert status == 403 and refused["outcome"] == "confirmation.refused", refused
        status, cancelled = await _call(b, "POST", path + "/cancel", "terminal:alice")
        assert status == 200 and cancelled["outcome"] == "request.cancelled", cancelled
        status, detail = await _call(b, "GET", path, "terminal:alice")
        assert detail["request"]["status"] == "cancelled" and "terminal:alice" in detail["request"]["reason"]
        status, missing = await _call(b, "GET", "/api/requests/NOPE", "terminal:alice")
        assert status == 404
        status, bad = await _call(b, "POST", "/api/requests", "terminal:alice", {"text": "x", "conversation": "../up"})
        assert status == 400 and "conversation" in bad["error"]


async def test_the_changes_are_decided_by_the_requester_not_by_anyone(tmp_path: Path) -> None:
    async with board(tmp_path, "branch", writes="NOTE.txt") as b:
        git_init(b.w.root / "shared-lib")
        await b.w.ask("shared-lib: branch", lambda e: isinstance(e, ConfirmationRequested))
        await b.w.run_to_end("yes")
        await until(b.w, lambda e: isinstance(e, ChangesProposed))  # seen already, or to come
        [row] = b.dashboard.service.view.rows.values()
        path = f"/api/requests/{row.request_id}"
        status, detail = await _call(b, "GET", path, "terminal:alice")
        [(repo, state)] = detail["request"]["changes"].items()
        assert state["status"] == "open" and state["proposal"]["branch"].startswith("tunnels/")
        status, bad = await _call(b, "POST", path + "/changes", "terminal:alice", {"decision": "ship-it", "repo": repo})
        assert status == 400
        status, refused = await _call(b, "POST", path + "/changes", "slack:UCAROL", {"decision": "merge", "repo": repo})
        assert status == 403 and "Only terminal:alice or an approver" in refused["text"], refused
        status, decided = await _call(b, "POST", path + "/changes", "terminal:alice", {"decision": "discard", "repo": repo})
        assert status == 200 and decided["outcome"] == "changes.decided", decided
        await until(b.w, lambda e: isinstance(e, ChangesDiscarded))
        status, timeline = await _call(b, "GET", path + "/timeline", "terminal:alice")
        assert any("changes.discarded" in line for line in timeline["lines"]) and timeline["lines"][0].startswith("#")
        status, overview = await _call(b, "GET", "/api/overview", "terminal:alice")
        assert [c["project"] for c in overview["cost"]] == ["shared-lib"] and overview["agents"] == []
