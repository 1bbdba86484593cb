"""A remote agent's facts are what its own code found on its host; the orchestrator takes them
cut to size, without git fields it could not act on, and works out the mismatches itself."""

from __future__ import annotations

from claude_tunnels.events.values import FileDiff, TaskFacts, TaskResult, TestRun
from claude_tunnels.remote_agent.protocol import Finished
from claude_tunnels.tunnels.runtime.remote import finished_end, host_facts

CLAIMS = TaskResult(summary="done", changed_files=["a.py"], test_result="pass")


def test_a_hostile_host_cannot_pass_git_fields_huge_lists_or_its_own_verdict() -> None:
    reported = TaskFacts(
        repo="../../etc", branch="main", base="a" * 40, base_branch="main", start="a" * 40, commit="b" * 40,
        files=[FileDiff(path="a.py", added=1, removed=0), FileDiff(path="x" * 5_000), *(FileDiff(path=f"f{i}") for i in range(10_000))],
        test=TestRun(command="c" * 10_000, passed=True, exit_code=0, tail="t" * 100_000),
        mismatches=[],  # the host says all is well
    )

    facts = host_facts(reported, CLAIMS)

    assert facts is not None
    assert (facts.repo, facts.branch, facts.base, facts.commit, facts.base_branch, facts.start) == ("", "", "", "", "", "")
    assert len(facts.files) == 500 and facts.files[0] == FileDiff(path="a.py") and len(facts.files[1].path) == 300
    assert facts.test is not None and len(facts.test.command) == 500 and len(facts.test.tail) == 2000
    assert facts.mismatches and facts.mismatches[0].startswith("changed but not claimed: f0, f1")


def test_the_claims_checked_against_the_hosts_findings() -> None:
    failed_test = TaskFacts(files=[FileDiff(path="b.py")], test=TestRun(command="pytest", passed=False, exit_code=1))

    facts = host_facts(failed_test, CLAIMS)

    assert facts is not None and facts.mismatches == [
        "claimed changed but unchanged: a.py", "changed but not claimed: b.py", "the agent said tests pass; `pytest` failed",
    ]
    assert host_facts(None, CLAIMS) is None


def test_a_succeeded_report_carries_the_facts_to_the_task_end() -> None:
    report = Finished(task_id="t", outcome="succeeded", result=CLAIMS, facts=TaskFacts(files=[FileDiff(path="a.py")]))

    end = finished_end(report)

    assert getattr(end, "facts", None) == TaskFacts(files=[FileDiff(path="a.py")])
