"""The agent over mutual TLS: with its client certificate it serves; without one it is refused."""

from __future__ import annotations

import signal
from pathlib import Path

from claude_tunnels.tunnels.bus import ConnectOptions, EmbeddedNatsServer, connect
from tests.helpers.remote import (
    ORCH_PASSWORD,
    ORCH_USER,
    AgentIdentity,
    AgentProcess,
    StandInOrchestrator,
    agent_args,
    authorization,
    make_identity,
    make_tls_files,
)

API = "shop/api"


async def test_agent_connects_with_mutual_tls_and_is_refused_without_a_client_certificate(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    identity: AgentIdentity = make_identity(API, tmp_path / "keys")
    workspace = tmp_path / "api"
    workspace.mkdir()
    config = authorization(identity) + tls.server_block()
    async with EmbeddedNatsServer(tmp_path / "state", extra_config=config) as server:
        url = server.url.replace("nats://", "tls://")
        nc = await connect(ConnectOptions(url=url, user=ORCH_USER, password=ORCH_PASSWORD, tls_ca_file=tls.ca,
                                          tls_cert_file=tls.client_cert, tls_key_file=tls.client_key))
        async with StandInOrchestrator(nc) as stand_in:
            base = agent_args(url, API, workspace, identity.seed_file, tmp_path / "state-a", "--tls-ca", str(tls.ca))
            without_cert = await AgentProcess([*base, "--connect-timeout-s", "1"]).start()
            try:
                await without_cert.wait_for_line("no NATS server answered")
            finally:
                await without_cert.stop()
            agent = await AgentProcess([*base, "--tls-cert", str(tls.client_cert), "--tls-key", str(tls.client_key)]).start()
            try:
                presence = await stand_in.wait_presence(lambda p: p.workspace == API)
                assert presence.agent_id in "\n".join(agent.lines)
            finally:
                agent.signal(signal.SIGTERM)
                assert await agent.wait() == 0
        await nc.close()
