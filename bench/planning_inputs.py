"""Planning inputs at 10, 100 and 1,000 workspaces: the planner prompt's size and discovery's time.

    .venv/bin/python bench/planning_inputs.py [ROUNDS]

A generated tree (`tunnels/demo/large_tree.py`): projects of 10 workspaces, each with an ordinary
CLAUDE.md of ~1.5 kB and one manifest (pyproject.toml, package.json, go.mod or Cargo.toml in turn),
chained so every project is a neighbour of the next. The request is routed to the middle project,
so every project is in the planner's scope. Printed, as medians over the rounds:

- discovery with the manifests (the dependency graph) and without, and `Tree.graph()`;
- the planner prompt at the default `limits.planner_prompt_chars` (60,000): characters, tokens
  at ~4 characters a token, the workspaces listed, and the time to build it;
- for comparison, the prompt as it was before the budget: every in-scope workspace's CLAUDE.md
  card (each cut at 3,000 characters).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _common  # noqa: F401  (first: puts the checkout on sys.path)

from claude_tunnels.actors import prompts
from claude_tunnels.actors.scope import planning_scope
from claude_tunnels.actors.tree import Tree
from claude_tunnels.actors.untrusted import wrap
from claude_tunnels.config.settings import LimitSettings
from claude_tunnels.tunnels.demo.large_tree import lay_out_large
from claude_tunnels.tunnels.discovery import discover

SIZES = (10, 100, 1000)
PER_PROJECT = 10
REQUEST = "Upgrade the shared client to v2 in this project and everything that uses it, then run their tests."


def timed(action: Callable[[], object], rounds: int) -> tuple[float, object]:
    """The median seconds of `rounds` calls, and the last result."""
    times = []
    result: object = None
    for _ in range(rounds):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def cards_prompt(tree: Tree, projects: set[str]) -> str:
    """The planner prompt before the budget: a CLAUDE.md card per workspace of `projects`."""
    cards = "\n\n".join(
        f"### {w.qualified}\n" + wrap("claude_md", w.claude_md, limit=3000, attrs={"workspace": w.qualified})
        for w in tree.workspaces() if w.project in projects
    )
    return f"Workspaces you may plan for:\n\n{cards}\n\n{wrap('user_message', REQUEST, limit=16000)}\n\nPlan the workspace tasks."


Figures = tuple[int, float, float, float, int, int, int, float, int]


def measure(size: int, rounds: int, limits: LimitSettings) -> Figures:
    """The figures of one tree of `size` workspaces."""
    with tempfile.TemporaryDirectory() as folder:
        root = lay_out_large(Path(folder), size // PER_PROJECT, PER_PROJECT)
        discovered, tree = timed(lambda: discover(root), rounds)
        bare, _ = timed(lambda: discover(root, manifests=False), rounds)
        assert isinstance(tree, Tree)
        graphed, _ = timed(tree.graph, rounds)
        scope = planning_scope(tree, [f"project-{size // PER_PROJECT // 2:03}"])
        built, prompt = timed(
            lambda: prompts.planner_prompt(REQUEST, [], [], tree, scope, limits.max_message_chars, limits.planner_prompt_chars),
            rounds,
        )
        assert isinstance(prompt, str)
        listed = prompt.split("<workspaces>")[1].split("</workspaces>")[0].count("\n- ")
        old = cards_prompt(tree, set(scope.distances))
        return size, discovered, bare, graphed, len(tree.graph().edges), len(prompt), listed, built, len(old)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    rows = [measure(size, rounds, LimitSettings()) for size in SIZES]
    print(f"\nplanning inputs: medians over {rounds} rounds; routed to the middle project, every project in scope")
    header = (
        f"{'workspaces':>10}  {'discovery':>10}  {'no manifests':>12}  {'graph()':>8}  {'edges':>5}  "
        f"{'planner prompt':>22}  {'listed':>6}  {'build':>7}  {'before the budget (cards)':>27}"
    )
    print(header)
    print("-" * len(header))
    for size, discovered, bare, graphed, edges, chars, listed, built, old in rows:
        print(
            f"{size:>10,}  {discovered * 1000:>8.0f} ms  {bare * 1000:>9.0f} ms  {graphed * 1000:>5.1f} ms  {edges:>5}  "
            f"{chars:>9,} ch ~{chars // 4:>7,} tok  {listed:>6}  {built * 1000:>4.0f} ms  {old:>10,} ch ~{old // 4:>8,} tok"
        )


if __name__ == "__main__":
    main()
