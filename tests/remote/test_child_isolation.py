"""A child orchestrator's login at its parent's server reaches only its own subjects.

Two sibling children, `us/ml` and `kr/product`, get their logins from the real `tunnels agent
credentials NAME --child-orchestrator`; a nats-server runs with the blocks it printed (and the
parent's own unrestricted user). As `us/ml`: the parent's event log, its stream, the sibling's
tasks, cancels, reports and presence are refused; its own subjects are not. (Its own children
are on its own server: no login here at all.) Refusals arrive asynchronously; an allowed request
sent after them is the synchronisation point (see tests/remote/test_permissions.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from claude_tunnels.events.subjects import Subjects
from claude_tunnels.remote_agent.credentials import instance_name, read_seed
from claude_tunnels.remote_agent.protocol import ENCODER, PRESENCE_BUCKET, Presence, Started, consumer_name, inbox_prefix, kv_key
from claude_tunnels.tunnels.bus import ConnectOptions, EmbeddedNatsServer, connect
from tests.helpers.remote import ORCH_PASSWORD, ORCH_USER, StandInOrchestrator, orchestrator_connection
from tests.remote.test_permissions import violations

US, KR = "us/ml", "kr/product"
SUBJECTS = Subjects("tunnels")


def child_login(tmp_path: Path, name: str) -> tuple[str, Path, str]:
    """`tunnels agent credentials NAME --child-orchestrator`: its printed block, seed file and advice."""
    done = subprocess.run(
        [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(tmp_path), "agent", "credentials", name,
         "--child-orchestrator", "--out", str(tmp_path / "logins")],
        capture_output=True, text=True, timeout=60, check=True,
    )
    seed = tmp_path / "logins" / f"{instance_name(name)}.nk"
    return done.stdout, seed, done.stderr


async def test_a_child_cannot_read_its_parents_other_subjects_nor_a_siblings(tmp_path: Path) -> None:
    us_block, us_seed, advice = child_login(tmp_path, US)
    kr_block, _, _ = child_login(tmp_path, KR)
    assert us_block.startswith(f"# The child orchestrator {US}") and "tunnels.evt" not in us_block
    assert f"--parent-name {US} --parent-seed {us_seed.name}" in advice and f"name: {US}" in advice
    users = f"authorization {{\n  users = [\n{{ user: {ORCH_USER}, password: {ORCH_PASSWORD} }}\n{us_block}\n{kr_block}\n  ]\n}}\n"
    async with EmbeddedNatsServer(tmp_path / "hub", extra_config=users) as hub:
        parent, _ = await orchestrator_connection(hub.url)
        try:
            async with StandInOrchestrator(parent) as stand_in:
                await stand_in.ensure_consumer(US)
                await stand_in.ensure_consumer(KR)
                await parent.jetstream().add_stream(name="TUNNELS_EVENTS", subjects=["tunnels.evt.>"])
                errors: list[str] = []
                nc = await connect(ConnectOptions(
                    url=hub.url, nkey_seed=read_seed(us_seed).reveal(), inbox_prefix=inbox_prefix(US), errors=errors,
                ))
                try:
                    # The parent's other subjects and the sibling's: refused.
                    for subject in ("tunnels.evt.>", SUBJECTS.workspace_tasks(KR), SUBJECTS.workspace_control(KR),
                                    SUBJECTS.workspace_out(KR), f"$KV.{PRESENCE_BUCKET}.>", "_INBOX.>", f"{inbox_prefix(KR)}.>"):
                        await nc.subscribe(subject)
                    await nc.publish("$JS.API.STREAM.INFO.TUNNELS_EVENTS", b"", reply=inbox_prefix(US) + ".info")
                    await nc.publish(f"$JS.API.DIRECT.GET.KV_{PRESENCE_BUCKET}", b"", reply=inbox_prefix(US) + ".get")
                    await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.TUNNELS_EVENTS_TASKS.{consumer_name(KR)}", b'{"batch":1}',
                                     reply=inbox_prefix(US) + ".next")
                    await nc.publish(SUBJECTS.workspace_out(KR), ENCODER.encode(Started(task_id="t-kr", agent_id="intruder")))
                    await nc.publish(f"$KV.{PRESENCE_BUCKET}.{kv_key(KR)}", ENCODER.encode(
                        Presence(workspace=KR, agent_id="intruder", host="h", version="0", heartbeat_at=0.0)))
                    await nc.publish("tunnels.evt.req.r1.request_opened", b"{}")
                    # Its own subjects: allowed (its report is answered; its cancels can be heard).
                    await nc.subscribe(SUBJECTS.workspace_control(US))
                    own = await nc.request(SUBJECTS.workspace_out(US), ENCODER.encode(Started(task_id="t-us", agent_id="a")))
                    assert own.data == b"ok"
                    assert [ws for ws, _ in stand_in.reports] == [US]
                    refused = violations(errors)
                    for expected in (
                        'subscription to "tunnels.evt.>"', f'subscription to "{SUBJECTS.workspace_tasks(KR)}"',
                        f'subscription to "{SUBJECTS.workspace_control(KR)}"', f'subscription to "{SUBJECTS.workspace_out(KR)}"',
                        f'subscription to "$kv.{PRESENCE_BUCKET}.>"', 'subscription to "_inbox.>"',
                        f'subscription to "{inbox_prefix(KR)}.>"',
                        'publish to "$js.api.stream.info.tunnels_events"', f'publish to "$js.api.direct.get.kv_{PRESENCE_BUCKET}"',
                        f'publish to "$js.api.consumer.msg.next.tunnels_events_tasks.{consumer_name(KR)}"',
                        f'publish to "{SUBJECTS.workspace_out(KR)}"', f'publish to "$kv.{PRESENCE_BUCKET}.{kv_key(KR)}"',
                        'publish to "tunnels.evt.req.r1.request_opened"',
                    ):
                        assert any(expected.lower() in line for line in refused), (expected, refused)
                    assert not any(f'"{SUBJECTS.workspace_control(US)}"'.lower() in line for line in refused)
                finally:
                    await nc.close()
        finally:
            await parent.close()


pytestmark = pytest.mark.cli
