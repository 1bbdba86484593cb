"""The example server configs in nats/ are valid for nats-server, and agree with the generator."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from claude_tunnels.remote_agent.credentials import agent_permissions
from claude_tunnels.tunnels.bus.server import find_nats_server
from tests.remote.test_deploy import SEED

NATS_DIR = Path(__file__).resolve().parents[2] / "nats"
ENV = {"TUNNELS_ORCHESTRATOR_PASSWORD": "x", "TUNNELS_NODE": "n1", "TUNNELS_ROUTE_PASSWORD": "y",
       "TUNNELS_LEAF_SEED": SEED.reveal(), "TUNNELS_LISTEN": "127.0.0.1:4222", "TUNNELS_CLUSTER_LISTEN": "127.0.0.1:6222",
       "TUNNELS_STORE_DIR": "/tmp/unused", **{f"TUNNELS_ROUTE_{i}": f"nats-route://route:y@n{i}:6222" for i in (1, 2, 3)}}


@pytest.mark.parametrize("name", ["permissions.example.conf", "leafnode.example.conf", "cluster.example.conf"])
def test_example_config_is_valid(name: str) -> None:
    checked = subprocess.run([find_nats_server(), "-t", "-c", str(NATS_DIR / name)], capture_output=True, text=True,
                             env={**os.environ, **ENV}, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "is valid" in checked.stdout + checked.stderr


@pytest.mark.parametrize(("name", "js_domain"), [("permissions.example.conf", None), ("leafnode.example.conf", "hub")])
def test_example_agent_block_is_what_the_generator_makes(name: str, js_domain: str | None) -> None:
    text = (NATS_DIR / name).read_text(encoding="utf-8")
    quoted = set(re.findall(r'^\s+"([^"]+)",$', text, flags=re.MULTILINE))
    allowed = agent_permissions("shop/api", js_domain=js_domain)
    assert quoted == set(allowed.publish) | set(allowed.subscribe)
