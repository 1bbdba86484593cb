"""The orchestrator's own NATS login with an nkey (`nats.nkey_seed_file`), and its errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from claude_tunnels.config import load_settings
from claude_tunnels.config.errors import ConfigError, CredentialsError
from claude_tunnels.remote_agent.credentials import new_seed, public_key, write_secret_file
from claude_tunnels.tunnels.backbone import open_backbone
from claude_tunnels.tunnels.bus import EmbeddedNatsServer
from claude_tunnels.tunnels.bus.errors import LoginRefused


def settings_file(root: Path, nats: dict[str, object]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "orchestrator.yaml"
    path.write_text(yaml.safe_dump({"nats": nats}), encoding="utf-8")
    return path


async def test_the_orchestrator_logs_in_with_an_nkey_seed_file(tmp_path: Path) -> None:
    seed = new_seed()
    write_secret_file(tmp_path / "root" / "orchestrator.nk", seed)
    users = f"authorization {{ users = [ {{ nkey: {public_key(seed)} }} ] }}\n"
    async with EmbeddedNatsServer(tmp_path / "hub", extra_config=users) as server:
        nats = {"url": server.url, "nkey_seed_file": "orchestrator.nk", "connect_timeout_s": 2}
        loaded = load_settings(settings_file(tmp_path / "root", nats))
        async with open_backbone(loaded, role="owner") as backbone:
            assert backbone.nc.is_connected
            assert await backbone.store.last_seq() == 0  # the stream was created as this user

        # another key is refused by the server, in one clear line
        write_secret_file(tmp_path / "root" / "orchestrator.nk", new_seed())
        with pytest.raises(LoginRefused, match="refused the login"):
            async with open_backbone(loaded, role="owner"):
                pass

        # a seed file others can read is refused before connecting, naming the fix
        os.chmod(tmp_path / "root" / "orchestrator.nk", 0o644)
        with pytest.raises(CredentialsError, match="chmod 600"):
            async with open_backbone(loaded, role="owner"):
                pass


def test_one_way_to_log_in(tmp_path: Path) -> None:
    path = settings_file(tmp_path, {"url": "nats://h:4222", "user": "u", "password": "p", "nkey_seed_file": "x.nk"})
    with pytest.raises(ConfigError, match="nats.user: is set together with `nkey_seed_file`; choose one way to log in"):
        load_settings(path)
