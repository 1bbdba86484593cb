"""A task's facts (what the orchestrator found it did) in a few words, for the chat and the log."""

from __future__ import annotations

from claude_tunnels.events.values import TaskFacts, TaskResult


def diffstat(facts: TaskFacts) -> str:
    """`2 files +10 −3` (line counts only where known)."""
    count = len(facts.files)
    added = sum(f.added for f in facts.files if f.added >= 0)
    removed = sum(f.removed for f in facts.files if f.removed >= 0)
    known = any(f.added >= 0 for f in facts.files)
    files = f"{count} file{'s' if count != 1 else ''}" if count else "no change"
    return f"{files} +{added} −{removed}" if known else files


def tests_said(facts: TaskFacts | None, result: TaskResult) -> str:
    """The tests' outcome: the declared command's when it ran (the fact), else the agent's claim."""
    if facts is not None and facts.test is not None:
        return f"tests {'pass' if facts.test.passed else 'FAIL'} (`{facts.test.command}`)"
    return f"tests {result.test_result}, as the agent says"


def facts_line(facts: TaskFacts | None, result: TaskResult) -> str:
    """`branch tunnels/…/web, 2 files +10 −3; tests pass (`pytest -q`)`, with any mismatch flagged."""
    if facts is None:
        files = ", ".join(result.changed_files) or "no files"
        return f"{files}; tests {result.test_result}"
    where = f"branch {facts.branch}, " if facts.branch else ""
    line = f"{where}{diffstat(facts)}; {tests_said(facts, result)}"
    if facts.mismatches:
        line += f"; ⚠ {'; '.join(facts.mismatches)}"
    return line
