"""`/metrics` parsed by the Prometheus client's own parser, its values checked against the stream."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from claude_tunnels.events.catalogue import REQUEST_ENDED, TASK_ENDED
from claude_tunnels.events.conversation import ConfirmationRequested
from claude_tunnels.events.execution import RequestCompleted, WorkspaceTaskSucceeded
from tests.dashboard.board import board


async def test_metrics_match_the_stream(tmp_path: Path) -> None:
    async with board(tmp_path, "metered", "dropped") as b:
        await b.w.ask("shared-lib: metered", lambda e: isinstance(e, ConfirmationRequested))
        assert isinstance(await b.w.run_to_end("yes"), RequestCompleted)
        await b.w.ask("shared-lib: dropped", lambda e: isinstance(e, ConfirmationRequested))
        await b.w.run_to_end("cancel")
        stored = await b.w.orchestrator.store.read()
        await b.dashboard.service.runner.wait(stored[-1].seq)
        async with b.http.get(b.url + "/metrics", headers=b.headers("slack:UCAROL")) as response:
            assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}
    events = [s.event for s in stored]
    succeeded = [e for e in events if isinstance(e, WorkspaceTaskSucceeded)]
    assert samples[("tunnels_tasks_ended_total", (("outcome", "succeeded"),))] == len(succeeded) == 2
    assert sum(v for (name, _), v in samples.items() if name == "tunnels_tasks_ended_total") == sum(isinstance(e, TASK_ENDED) for e in events)
    assert samples[("tunnels_requests_ended_total", (("outcome", "completed"),))] == 1
    assert samples[("tunnels_requests_ended_total", (("outcome", "cancelled"),))] == 1
    assert samples[("tunnels_requests", (("status", "completed"),))] == 1
    assert samples[("tunnels_request_duration_seconds_count", (("outcome", "completed"),))] == 1
    assert samples[("tunnels_request_duration_seconds_sum", (("outcome", "completed"),))] > 0
    assert samples[("tunnels_tasks_running", ())] == 0 and samples[("tunnels_messages_queued", ())] == 0
    cost = round(sum(e.usage.cost_usd for e in succeeded if e.usage), 6)
    assert cost > 0 and abs(samples[("tunnels_cost_usd_total", (("project", "shared-lib"),))] - cost) < 1e-6
    ends = [e for e in events if isinstance(e, REQUEST_ENDED)]  # each carries its request's total
    assert len(ends) == 2 and abs(samples[("tunnels_requests_cost_usd_total", ())] - sum(e.usage.cost_usd for e in ends)) < 1e-6
    assert samples[("tunnels_events_position", ())] == stored[-1].seq
    assert not [name for name, _ in samples if name == "tunnels_agents_present"]  # no remote agent connected
