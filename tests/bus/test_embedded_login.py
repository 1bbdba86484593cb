"""The embedded nats-server demands the store's nkey login; its files and its environment are private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from claude_tunnels.config.errors import CredentialsError
from claude_tunnels.tunnels.bus import ConnectOptions, EmbeddedNatsServer, EventStore, connect, running_server
from claude_tunnels.tunnels.bus.embedded_login import SEED_FILE, brings_own_authorization
from claude_tunnels.tunnels.bus.errors import BusError, LoginRefused, ServerStartFailed


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_client_that_knows_only_the_url_is_refused_and_the_orchestrator_login_connects(tmp_path: Path) -> None:
    state = tmp_path / ".tunnels"
    async with EmbeddedNatsServer(state) as server:
        url = (state / "nats" / "url").read_text().strip()
        assert url == server.url
        with pytest.raises(LoginRefused, match="authorization violation"):
            await connect(ConnectOptions(url=url, connect_timeout_s=2))
        with pytest.raises(LoginRefused):  # a made-up user and password are no better
            await connect(ConnectOptions(url=url, user="orchestrator", password="guess", connect_timeout_s=2))

        nc = await connect(server.connect_options("test"))
        try:
            store = EventStore(nc)
            await store.ensure()
            assert await store.last_seq() == 0
        finally:
            await nc.close()

        joined = running_server(state, name="reader")  # what `tunnels replay` / `events tail` use
        assert joined is not None and joined.url == server.url and joined.nkey_seed
        nc = await connect(joined)
        assert nc.is_connected
        await nc.close()


async def test_the_seed_is_private_reused_across_restarts_and_absent_from_the_config(tmp_path: Path) -> None:
    state = tmp_path / ".tunnels"
    (state / "nats").mkdir(parents=True, mode=0o755)  # as older versions left it
    async with EmbeddedNatsServer(state) as server:
        assert server.login is not None
        first_key = server.login.public_key
        seed = server.login.seed.reveal()
        nats_dir = state / "nats"
        assert mode(nats_dir) == 0o700
        for name in (SEED_FILE, "url", "server.pid", "embedded.conf"):
            assert mode(nats_dir / name) == 0o600, name
        assert (nats_dir / SEED_FILE).read_text().strip() == seed
        config = (nats_dir / "embedded.conf").read_text()
        assert first_key in config and seed not in config
        assert repr(server.connect_options()).count(seed) == 0  # the seed never shows in a repr

    async with EmbeddedNatsServer(state) as again:
        assert again.login is not None and again.login.public_key == first_key
        nc = await connect(again.connect_options())
        assert nc.is_connected
        await nc.close()


async def test_a_seed_file_others_can_read_is_refused_naming_the_fix(tmp_path: Path) -> None:
    state = tmp_path / ".tunnels"
    async with EmbeddedNatsServer(state):
        pass
    os.chmod(state / "nats" / SEED_FILE, 0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        await EmbeddedNatsServer(state).start()


async def test_nats_server_gets_none_of_the_orchestrator_secrets_in_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:telegram-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("LC_TIME", "C")
    async with EmbeddedNatsServer(tmp_path / ".tunnels") as server:
        assert server.pid is not None
        raw = Path(f"/proc/{server.pid}/environ").read_bytes()
    environ = dict(item.split(b"=", 1) for item in raw.split(b"\0") if item)
    assert b"SLACK_BOT_TOKEN" not in environ and b"xoxb-test" not in raw
    assert b"TELEGRAM_BOT_TOKEN" not in environ and b"ANTHROPIC_API_KEY" not in environ
    assert environ[b"PATH"] == os.environ["PATH"].encode() and environ[b"LC_TIME"] == b"C"
    assert set(environ) <= {b"PATH", b"LANG", b"LANGUAGE", b"TZ"} | {k for k in environ if k.startswith(b"LC_")}


async def test_a_caller_bringing_its_own_authorization_gets_no_generated_user(tmp_path: Path) -> None:
    own = "authorization {\n  users = [ { user: alice, password: alice-password } ]\n}\n"
    async with EmbeddedNatsServer(tmp_path / ".tunnels", extra_config=own) as server:
        assert server.login is None
        assert not (tmp_path / ".tunnels" / "nats" / SEED_FILE).exists()
        with pytest.raises(BusError, match="connect to server.url with the credentials"):
            server.connect_options()
        nc = await connect(ConnectOptions(url=server.url, user="alice", password="alice-password"))
        assert nc.is_connected
        await nc.close()
        with pytest.raises(LoginRefused):
            await connect(ConnectOptions(url=server.url, connect_timeout_s=2))


async def test_a_server_that_extra_config_reopens_to_everyone_is_not_started(tmp_path: Path) -> None:
    # An include is opaque to tunnels; the server's own greeting says whether it asks for a login.
    state = tmp_path / ".tunnels"
    (state / "nats").mkdir(parents=True)
    (state / "nats" / "open.conf").write_text("authorization {}\n")
    with pytest.raises(ServerStartFailed, match="does not ask clients to log in"):
        await EmbeddedNatsServer(state, extra_config="include open.conf").start()
    assert running_server(state) is None  # nothing left running, no URL published


@pytest.mark.parametrize(
    ("config", "own"),
    [
        ("", False),
        ("authorization { users = [ { user: a, password: b } ] }", True),
        ("  authorization {\n users = []\n}", True),
        ("operator: eyJhbGciOi\nresolver: MEMORY\n", True),
        ("accounts { A { users = [ { user: a, password: b } ] } }", True),
        ('leafnodes { listen: "127.0.0.1:-1", authorization { user: leaf, password: pw } }', False),
        ("leafnodes {\n  authorization {\n    user: leaf\n  }\n}\n", False),
        ('# authorization { users = [] }\nserver_name: "authorization"\n', False),
        ('tls { cert_file: "authorization.pem" }', False),
    ],
)
def test_which_extra_config_brings_its_own_authorization(config: str, own: bool) -> None:
    assert brings_own_authorization(config) is own

