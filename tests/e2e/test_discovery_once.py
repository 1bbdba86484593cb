"""The tree through a whole orchestrator: the folders are never walked on the event loop (at
start-up in a worker thread, per request on the router's thread, and the tasks read the kept
tree), and a project added between two requests is routed to by the second."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from claude_tunnels.actors.tree import Tree
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted
from claude_tunnels.events.planning import RouteDecided
from claude_tunnels.tunnels import tree_source
from tests.e2e.scenarios import plan, scenario, succeeds
from tests.e2e.world import world


async def test_discovery_stays_off_the_event_loop_and_a_new_project_is_seen_by_the_next_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    walked_on: list[str] = []
    real = tree_source.discover

    def discover(*args: Any, **kwargs: Any) -> Tree:
        try:
            asyncio.get_running_loop()
            walked_on.append("the event loop")
        except RuntimeError:
            walked_on.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(tree_source, "discover", discover)
    script = scenario(
        plan("infra", ("infra", "deploy it", []), match="deploy it"),  # first: the 2nd prompt holds the 1st request too
        plan("backend", ("web-app/backend", "add the endpoint", []), match="the endpoint"),
        succeeds("web-app/backend"),
    )
    async with world(tmp_path, script) as w:
        assert walked_on, "the tree is walked at start-up"
        await w.ask("in web-app: add the endpoint to the backend", lambda e: isinstance(e, ConfirmationRequested))
        final = await w.run_to_end("yes")
        assert isinstance(final, RequestCompleted) and final.succeeded == 1, final

        (w.root / "infra").mkdir()
        (w.root / "infra" / "CLAUDE.md").write_text("# infra\nDeploys web-app.\n")
        try:
            await w.ask("infra: deploy it", lambda e: isinstance(e, ConfirmationRequested), timeout=20)
        except TimeoutError:
            raise AssertionError(w.out.getvalue()) from None
        assert [route.projects for route in w.of_type(RouteDecided)] == [["web-app"], ["infra"]]  # type: ignore[attr-defined]
        await w.run_to_end("cancel")
    assert "the event loop" not in walked_on, walked_on
