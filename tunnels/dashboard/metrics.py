"""`/metrics`: the dashboard's view in the Prometheus text format (version 0.0.4)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from claude_tunnels.projections.dashboard import DashboardView

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{sample}{_labels(**labels)} {value:g}" for sample, labels, value in samples]
    return lines


def render_metrics(view: DashboardView, presence: dict[str, Any] | None = None) -> str:
    """Every metric, from the view (and the live remote agents when known)."""
    lines: list[str] = []
    lines += _family("tunnels_requests", "gauge", "Requests by their current status.",
                     (("tunnels_requests", {"status": status}, count) for status, count in sorted(view.by_status().items())))
    lines += _family("tunnels_requests_ended", "counter", "Requests that ended, by outcome (completed, failed, cancelled, clarifying).",
                     (("tunnels_requests_ended_total", {"outcome": o}, n) for o, n in sorted(view.requests.count.items())))
    lines += _family("tunnels_request_duration_seconds", "summary", "From a request's opening to its end, by outcome.", (
        sample for o in sorted(view.requests.count) for sample in (
            ("tunnels_request_duration_seconds_count", {"outcome": o}, view.requests.count[o]),
            ("tunnels_request_duration_seconds_sum", {"outcome": o}, view.requests.seconds.get(o, 0.0)),
        )
    ))
    lines += _family("tunnels_tasks_ended", "counter", "Workspace tasks that ended, by outcome.",
                     (("tunnels_tasks_ended_total", {"outcome": o}, n) for o, n in sorted(view.tasks.count.items())))
    lines += _family("tunnels_task_duration_seconds", "summary", "From a task's start to its end, by outcome (tasks that started).", (
        sample for o in sorted(view.tasks.count) for sample in (
            ("tunnels_task_duration_seconds_count", {"outcome": o}, view.tasks.count[o]),
            ("tunnels_task_duration_seconds_sum", {"outcome": o}, view.tasks.seconds.get(o, 0.0)),
        )
    ))
    lines += _family("tunnels_tasks_running", "gauge", "Tasks dispatched or running now.", [("tunnels_tasks_running", {}, view.running_tasks())])
    lines += _family("tunnels_messages_queued", "gauge", "Messages waiting for their conversation's running request to end.",
                     [("tunnels_messages_queued", {}, view.queued_messages())])
    cost: dict[str, float] = {}
    for (project, _day), usd in view.cost_by_project_day.items():
        cost[project] = cost.get(project, 0.0) + usd
    lines += _family("tunnels_cost_usd", "counter", "Model cost of the workspace tasks, by project.",
                     (("tunnels_cost_usd_total", {"project": p}, round(usd, 6)) for p, usd in sorted(cost.items())))
    lines += _family("tunnels_requests_cost_usd", "counter", "Model cost of every request (routing, planning and tasks).",
                     [("tunnels_requests_cost_usd_total", {}, round(sum(r.cost_usd for r in view.rows.values()), 6))])
    if presence is not None:
        lines += _family("tunnels_agents_present", "gauge", "Remote workspace agents connected now (1 per live agent).",
                         (("tunnels_agents_present", {"workspace": w}, 1) for w in sorted(presence)))
    lines += _family("tunnels_events_position", "gauge", "The last stream sequence the dashboard folded.",
                     [("tunnels_events_position", {}, view.position)])
    return "\n".join(lines) + "\n"
