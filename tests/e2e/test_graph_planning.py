"""Planning with the dependency graph, through the real planner path (the Claude Code CLI against
the scripted model): the message names one project, the plan needs its neighbours, and the
scripted planner only answers when its prompt lists them; the graph is in the prompt, the plan
message warns about a task running alongside what it uses, and the chat and the task log name
every project the plan touches. Then a generated tree of 1,000 workspaces plans with a prompt
under its budget."""

from __future__ import annotations

from pathlib import Path

from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted
from claude_tunnels.events.planning import PlanProposed, RouteDecided
from claude_tunnels.tunnels.demo.large_tree import lay_out_large
from claude_tunnels.tunnels.scripted_model.request_text import system_text
from tests.e2e.scenarios import scenario, succeeds
from tests.e2e.world import world

INFRA_LINE = "- infra [neighbour, 1 hop]: Deploys web-app to staging and production."
QA_LINE = "- qa [neighbour, 1 hop]: The end-to-end tests of web-app."


def planner(label: str, match: list[str], tasks: list[tuple[str, str, list[str]]]) -> dict[str, object]:
    return {"name": f"planner-{label}", "match": ["Plan the workspace tasks.", *match], "turns": [{"structured_output": {
        "label": label, "tasks": [{"workspace": w, "task": t, "depends_on": d} for w, t, d in tasks]}}]}


def with_dependencies(root: Path) -> None:
    """The sample tree's code says who uses whom; infra and qa say it in their front matter."""
    (root / "shared-lib/core/pyproject.toml").write_text('[project]\nname = "shared-lib"\n')  # backend's requirements name it
    (root / "web-app/frontend/package.json").write_text('{"name": "frontend", "dependencies": {"api": "file:../backend"}}')
    for name, about in (("infra", "Deploys web-app to staging and production."), ("qa", "The end-to-end tests of web-app.")):
        (root / name).mkdir()
        (root / name / "CLAUDE.md").write_text(f"---\ndepends_on: [web-app]\n---\n# {name}\n\n{about}\n")


async def test_a_message_naming_one_project_plans_its_neighbours_with_the_graph_and_a_warning(tmp_path: Path) -> None:
    script = scenario(
        # Answers only when the prompt lists infra and qa as neighbours: a real model could not plan
        # "deploy to staging" and "the integration tests" from web-app's workspaces alone.
        planner("ship", [INFRA_LINE, QA_LINE], [
            ("web-app/backend", "add the endpoint", []),
            ("web-app/frontend", "call the endpoint", []),  # alongside the backend it uses: warned about
            ("infra", "deploy to staging", ["web-app/backend", "web-app/frontend"]),
            ("qa", "run the integration tests", ["infra"]),
        ]),
        succeeds("web-app/backend"), succeeds("web-app/frontend"), succeeds("infra"), succeeds("qa"),
    )
    async with world(tmp_path, script) as w:
        with_dependencies(w.root)
        await w.ask("in web-app: add the endpoint to the backend and the frontend, deploy to staging, then run the integration tests",
                    lambda e: isinstance(e, ConfirmationRequested))
        [route] = w.of_type(RouteDecided)
        assert route.projects == ["web-app"]  # type: ignore[attr-defined]
        [proposed] = w.of_type(PlanProposed)
        assert proposed.plan.phases == [["web-app/backend", "web-app/frontend"], ["infra"], ["qa"]]  # type: ignore[attr-defined]

        [asked] = w.model.requests_for("planner-ship")
        prompt = asked.task_text
        graph = prompt.split("<dependency_graph>")[1].split("</dependency_graph>")[0]
        assert graph.strip().splitlines() == [
            "infra -> web-app/backend, web-app/frontend",
            "qa -> web-app/backend, web-app/frontend",
            "web-app/backend -> shared-lib/core",
            "web-app/frontend -> web-app/backend",
        ]
        assert "- shared-lib/core [neighbour, 1 hop]: The library code." in prompt
        assert "api-service" not in prompt  # another user of shared-lib: not a neighbour of web-app

        shown = w.out.getvalue()
        assert "Routed to web-app. Planning…" in shown
        assert "Projects: web-app, infra, qa\n" in shown  # what the plan touches
        assert "⚠ web-app/frontend depends on web-app/backend but runs in the same phase" in shown

        final = await w.run_to_end("yes")
        assert isinstance(final, RequestCompleted) and (final.succeeded, final.failed) == (4, 0), final
        log = w.orchestrator.task_log.path_of(final.request_id)
        assert log is not None
        text = log.read_text()
        assert "- Projects: web-app, infra, qa\n" in text
        assert "- ⚠ web-app/frontend depends on web-app/backend but runs in the same phase" in text


async def test_a_tree_of_1000_workspaces_plans_with_a_prompt_under_the_budget(tmp_path: Path) -> None:
    budget = 20000
    script = scenario(planner("big", ["- project-050/ws-03: The ws-03 component of project-050"], [
        ("project-050/ws-03", "bump it", []), ("project-051/ws-00", "follow it", ["project-050/ws-03"]),
    ]))
    async with world(tmp_path, script, limits={"planner_prompt_chars": budget}) as w:
        lay_out_large(w.root, 100, 10)
        await w.ask("in project-050: bump ws-03 and whatever uses it", lambda e: isinstance(e, ConfirmationRequested))
        [asked] = w.model.requests_for("planner-big")
        prompt = asked.task_text[len(system_text(asked.body)) + 1:]
        assert prompt.startswith("Workspaces you may plan for") and prompt.endswith("Plan the workspace tasks.")
        assert len(prompt) <= budget
        assert "more workspaces in scope, the farthest from the routed projects, left out" in prompt
        [proposed] = w.of_type(PlanProposed)
        assert proposed.plan.projects == ["project-050", "project-051"]  # type: ignore[attr-defined]
        await w.run_to_end("cancel")
