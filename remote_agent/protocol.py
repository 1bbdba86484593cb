"""What the orchestrator and a remote workspace agent say to each other over NATS.

Subjects (with `<ws>` = `events.subjects.token(qualified workspace)`):

- `<prefix>.ws.<ws>.task`: `TaskCommand`s, on the JetStream work-queue stream `<stream>_TASKS`;
  each remote workspace has one durable pull consumer `agent_<key>` (created by the orchestrator),
  so a task goes to one agent only. The agent acknowledges a task when it starts it: a task is
  never run twice; if the agent dies, the orchestrator reports the task as "agent lost".
- `<prefix>.ws.<ws>.control`: `CancelCommand`s and `AnswerCommand`s (the answer to a question the
  agent relayed) (core NATS).
- `<prefix>.ws.<ws>.out`: `AgentReport`s, sent by the agent as requests; the orchestrator checks
  them, records the matching events (it is the only writer of the event log) and replies "ok".
- KV bucket `TUNNELS_AGENTS`, key `<key>` (`kv_key(workspace)`): the agent's `Presence`,
  rewritten every heartbeat.

An agent behind a NATS leaf node reaches the hub's JetStream through the hub's JetStream domain
(`jetstream { domain: hub }`): its pulls go to `$JS.<domain>.API.…` and its presence writes to
`$JS.<domain>.API.$KV.…`, which the hub maps onto its own API and KV subjects. Plain `$JS.API.…`
and `$KV.…` subjects stay inside one domain and never cross a leaf connection (nats-server 2.15).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from claude_tunnels.events.subjects import token
from claude_tunnels.events.values import TaskFacts, TaskResult, Usage

PRESENCE_BUCKET = "TUNNELS_AGENTS"
PROTOCOL_VERSION = 1


def kv_key(workspace: str) -> str:
    """The KV key (and consumer-name suffix) of a workspace: its subject token without `:`."""
    return token(workspace).replace(":", "=3A")


def consumer_name(workspace: str) -> str:
    """The durable consumer a workspace's agent pulls its tasks from."""
    return "agent_" + kv_key(workspace).replace("=", "_").replace(".", "_").replace("/", "_")


def js_api_prefix(js_domain: str | None) -> str:
    """The JetStream API prefix: `$JS.API`, or `$JS.<domain>.API` across a leaf node."""
    return f"$JS.{js_domain}.API" if js_domain else "$JS.API"


def next_task_subject(workspace: str, stream: str, js_domain: str | None = None) -> str:
    """Where the agent of `workspace` asks for its next task (a pull request on its consumer)."""
    return f"{js_api_prefix(js_domain)}.CONSUMER.MSG.NEXT.{stream}_TASKS.{consumer_name(workspace)}"


def ack_subjects(workspace: str, stream: str) -> str:
    """The subjects the agent acknowledges its tasks on (the same in every domain)."""
    return f"$JS.ACK.{stream}_TASKS.{consumer_name(workspace)}.>"


def presence_subject(workspace: str, js_domain: str | None = None) -> str:
    """Where the agent of `workspace` writes its presence key (a JetStream publish)."""
    subject = f"$KV.{PRESENCE_BUCKET}.{kv_key(workspace)}"
    return f"{js_api_prefix(js_domain)}.{subject}" if js_domain else subject


def inbox_prefix(workspace: str) -> str:
    """The reply-inbox prefix an agent uses, so its permissions can be narrowed to it."""
    return f"_INBOX_{consumer_name(workspace)}"


class UpstreamResult(msgspec.Struct, frozen=True, kw_only=True):
    """The result of a task this one depends on."""

    workspace: str
    result: TaskResult


class BashPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The Bash rules the agent enforces (same meaning as `permissions.bash` in the settings)."""

    mode: Literal["allowlist", "denylist", "allow_all", "deny_all"] = "allowlist"
    allow: list[str] | None = None
    deny: list[str] = []


class TaskCommand(msgspec.Struct, frozen=True, kw_only=True):
    """Run one task in the agent's workspace."""

    version: int = PROTOCOL_VERSION
    task_id: str
    request_id: str
    workspace: str
    task: str
    request_text: str
    upstream: list[UpstreamResult] = []
    timeout_s: float
    max_turns: int
    model: str | None = None
    bash: BashPolicy = BashPolicy()
    upstream_context_chars: int = 4000
    max_message_chars: int = 16000
    prompt: str = ""
    """The agent's whole prompt, made by the orchestrator (task, request, upstream results);
    empty from an orchestrator older than this field, whose fields above make it instead."""
    instructions: str = ""
    """Appended to Claude Code's system prompt (the orchestrator's workspace instructions)."""
    max_budget_usd: float | None = None
    """The session's cost budget in USD (`limits.max_cost_usd_per_task`); None: no budget.
    An agent older than this field ignores it (unknown fields are skipped when decoding)."""
    sandbox: bool = True
    """Run Bash in the OS sandbox (the orchestrator's `permissions.sandbox`); refused where it cannot run."""
    network_allow: list[str] = []
    relay: list[Literal["bash", "network"]] = []
    """Classes of action the agent asks the conversation about (`Asked`) instead of refusing."""
    relay_timeout_s: float = 300.0
    approved_by: str = ""
    """Who approved the plan this task belongs to (a child orchestrator records it as its authority)."""


class CancelCommand(msgspec.Struct, frozen=True, kw_only=True):
    """Stop the task if it runs."""

    task_id: str
    by: str


class AnswerCommand(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to the agent's `number`-th question of a task (decided by the orchestrator)."""

    task_id: str
    answer_to: int
    allowed: bool
    by: str
    reason: str = ""


class Presence(msgspec.Struct, frozen=True, kw_only=True):
    """An agent's announcement, rewritten every `heartbeat_s`."""

    workspace: str
    agent_id: str
    host: str
    version: str
    capacity: int = 1
    claude_md: str = ""
    heartbeat_s: float = 5.0
    heartbeat_at: float
    draining: bool = False
    kind: Literal["workspace", "orchestrator"] = "workspace"
    """`orchestrator`: a child orchestrator, whose `claude_md` is its description and a bounded
    summary of its projects; a task it takes becomes a request of its own."""


class Started(msgspec.Struct, frozen=True, kw_only=True, tag="started"):
    """The agent took the task and started its session (a child orchestrator: opened its request)."""

    task_id: str
    agent_id: str
    child_request_id: str = ""


class Progressed(msgspec.Struct, frozen=True, kw_only=True, tag="progress"):
    """What the agent's session is doing (already throttled by the agent)."""

    task_id: str
    kind: Literal["tool", "text"]
    detail: str


class Decided(msgspec.Struct, frozen=True, kw_only=True, tag="decided"):
    """A permission decision of the agent's own policy or sandbox (`by`: `policy` or `sandbox`)."""

    task_id: str
    tool: str
    detail: str
    allowed: bool
    reason: str
    rule: str = ""
    by: Literal["policy", "sandbox"] = "policy"


class Asked(msgspec.Struct, frozen=True, kw_only=True, tag="asked"):
    """The agent's `number`-th question of a task, to be put to the conversation; the answer
    comes back as an `AnswerCommand` on the control subject."""

    task_id: str
    number: int
    tool: str
    detail: str
    reason: str
    rule: str = ""


class Finished(msgspec.Struct, frozen=True, kw_only=True, tag="finished"):
    """How the task ended; `result` only when it succeeded."""

    task_id: str
    outcome: Literal["succeeded", "failed", "timed_out", "cancelled", "interrupted"]
    result: TaskResult | None = None
    error: str = ""
    usage: Usage = Usage()
    timeout_s: float = 0.0
    facts: TaskFacts | None = None
    """What the agent's own code (not the model) found on its host after a success: the files
    changed in the workspace (a manifest taken before and after) and the declared test's run."""


AgentReport = Started | Progressed | Decided | Asked | Finished
REPORTS = msgspec.json.Decoder(AgentReport)
ENCODER = msgspec.json.Encoder()
