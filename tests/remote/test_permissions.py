"""An agent's credentials reach only its own workspace's subjects: the server refuses the rest.

The server is configured with the permission blocks `tunnels agent credentials` prints
(`remote_agent.credentials.permission_block`). Refusals of a publish or a subscription arrive
asynchronously through `error_cb` (collected in `ConnectOptions.errors`). The synchronisation
point is an allowed request sent after them on the same connection: the server sends each
refusal before it forwards that request, so every refusal is in when the answer is. (A first
`flush()` right after connecting is not one: nats-py can take an earlier PONG for its answer.)
"""

from __future__ import annotations

import pytest
from nats.js.errors import KeyNotFoundError

from claude_tunnels.events.subjects import Subjects
from claude_tunnels.remote_agent.protocol import ENCODER, PRESENCE_BUCKET, Presence, Started, consumer_name, inbox_prefix, kv_key
from claude_tunnels.tunnels.bus import ConnectOptions, EmbeddedNatsServer, connect
from tests.helpers.remote import AgentIdentity, StandInOrchestrator
from tests.remote.conftest import API, WEB

SUBJECTS = Subjects("tunnels")


def violations(errors: list[str]) -> list[str]:
    return [e.lower() for e in errors if "permissions violation" in e.lower()]


async def test_agent_cannot_reach_another_workspace(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
) -> None:
    await stand_in.ensure_consumer(API)
    await stand_in.ensure_consumer(WEB)
    errors: list[str] = []
    nc = await connect(ConnectOptions(
        url=auth_server.url, nkey_seed=api_identity.seed.reveal(), inbox_prefix=inbox_prefix(API), errors=errors,
    ))
    try:
        # Refused subscriptions: the other workspace's tasks and cancels, the event log, others' replies.
        for subject in (SUBJECTS.workspace_tasks(WEB), SUBJECTS.workspace_control(WEB), "tunnels.evt.>", "_INBOX.>"):
            await nc.subscribe(subject)
        # Refused publishes: a forged report and presence of the other workspace, a pull on its
        # consumer, an event appended to the log, and stream management.
        forged = Started(task_id="t-web", agent_id="intruder")
        await nc.publish(SUBJECTS.workspace_out(WEB), ENCODER.encode(forged))
        presence = Presence(workspace=WEB, agent_id="intruder", host="h", version="0", heartbeat_at=0.0)
        await nc.publish(f"$KV.{PRESENCE_BUCKET}.{kv_key(WEB)}", ENCODER.encode(presence))
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.TUNNELS_EVENTS_TASKS.{consumer_name(WEB)}", b'{"batch":1}',
                         reply=inbox_prefix(API) + ".x")
        await nc.publish("tunnels.evt.req.r1.request_opened", b"{}")
        await nc.publish("$JS.API.STREAM.DELETE.TUNNELS_EVENTS_TASKS", b"")
        # Its own report is answered (and a forged report, sent before it, would have arrived first).
        own = await nc.request(SUBJECTS.workspace_out(API), ENCODER.encode(Started(task_id="t-api", agent_id="a")))
        assert own.data == b"ok"
        assert [ws for ws, _ in stand_in.reports] == [API]
        refused = violations(errors)
        for expected in (
            f'subscription to "{SUBJECTS.workspace_tasks(WEB)}"',
            f'subscription to "{SUBJECTS.workspace_control(WEB)}"',
            'subscription to "tunnels.evt.>"',
            'subscription to "_inbox.>"',
            f'publish to "{SUBJECTS.workspace_out(WEB)}"',
            f'publish to "$kv.{PRESENCE_BUCKET}.{kv_key(WEB)}"',
            f'publish to "$js.api.consumer.msg.next.tunnels_events_tasks.{consumer_name(WEB)}"',
            'publish to "tunnels.evt.req.r1.request_opened"',
            'publish to "$js.api.stream.delete.tunnels_events_tasks"',
        ):
            assert any(expected.lower() in line for line in refused), (expected, refused)

        # Its own presence is stored.
        ack = await nc.request(f"$KV.{PRESENCE_BUCKET}.{kv_key(API)}", ENCODER.encode(
            Presence(workspace=API, agent_id="a", host="h", version="0", heartbeat_at=0.0)))
        assert b'"stream":"KV_TUNNELS_AGENTS"' in ack.data
        assert len(violations(errors)) == len(refused)  # the allowed calls raised nothing new
    finally:
        await nc.close()
    kv = await stand_in.js.key_value(PRESENCE_BUCKET)
    with pytest.raises(KeyNotFoundError):
        await kv.get(kv_key(WEB))
    assert (await kv.get(kv_key(API))).value is not None
