"""Who may call the dashboard, where it may listen, and `tunnels dashboard` alone on a stream
(no orchestrator: an action is recorded as the chat's `message.received` and waits for one)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.loader import load_settings
from claude_tunnels.config.settings import DashboardSettings
from claude_tunnels.events.conversation import MessageReceived
from claude_tunnels.events.ids import SystemClock
from claude_tunnels.tunnels.bus.store import EventStore
from claude_tunnels.tunnels.cli import main
from claude_tunnels.tunnels.dashboard.auth import Auth, token_hash
from claude_tunnels.tunnels.dashboard.server import Dashboard
from claude_tunnels.tunnels.dashboard.service import StorePoster
from claude_tunnels.tunnels.errors import UserError


def test_a_bind_beyond_loopback_needs_users() -> None:
    with pytest.raises(UserError, match="not loopback and no dashboard.users"):
        Auth(DashboardSettings(bind="0.0.0.0:8470"))
    assert Auth(DashboardSettings(bind="0.0.0.0:8470", users={"slack:U1": token_hash("t")})).required
    assert not Auth(DashboardSettings(bind="localhost:0")).required
    assert not Auth(DashboardSettings(bind="[::1]:8470")).required


def test_settings_hold_a_hash_never_a_token(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.yaml"
    path.write_text('dashboard: {users: {"slack:U1": "a-plain-token"}}\n')
    with pytest.raises(ConfigError, match=r"dashboard.*sha256:<64 hex digits>.*tunnels dashboard token slack:U1"):
        load_settings(path)
    path.write_text(f'dashboard: {{users: {{"mallory": "{token_hash("t")}"}}}}\n')
    with pytest.raises(ConfigError, match="<channel>:<user id>"):
        load_settings(path)
    path.write_text("dashboard: {bind: '8470'}\n")
    with pytest.raises(ConfigError, match="host:port"):
        load_settings(path)


def test_the_token_command_prints_a_token_and_its_hash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "token", "slack:U012ABCDEF"]) == 0
    out = capsys.readouterr().out
    token = out.split("stored anywhere): ")[1].split()[0]
    assert f'"slack:U012ABCDEF": "{token_hash(token)}"' in out and len(token) >= 40
    assert main(["dashboard", "token", "nobody"]) == 2
    assert "<channel>:<user id>" in capsys.readouterr().err


async def test_alone_on_loopback_reads_are_open_and_actions_need_a_user(store: EventStore) -> None:
    clock = SystemClock()
    async with Dashboard(DashboardSettings(bind="127.0.0.1:0"), store, StorePoster(store, clock), clock) as web, aiohttp.ClientSession() as http:
        async with http.get(web.url + "/api/requests") as response:
            assert response.status == 200 and (await response.json())["requests"] == []
        async with http.get(web.url + "/") as response:
            assert response.status == 200 and "<svg" not in await response.text()  # the page draws, the server sends no markup of its own
        async with http.post(web.url + "/api/requests", json={"text": "hello"}) as response:
            assert response.status == 403 and "dashboard.users" in (await response.json())["error"]
        async with http.get(web.url + "/static/../auth.py") as response:
            assert response.status == 404
        # A page elsewhere whose name was re-pointed at 127.0.0.1 (DNS rebinding) reads nothing.
        for host in ("evil.example", "evil.example:8470", "127.0.0.1.evil.example"):
            async with http.get(web.url + "/api/requests", headers={"Host": host}) as response:
                assert response.status == 403 and "localhost" in (await response.json())["error"]
        for host in ("localhost:8470", "127.0.0.1", "[::1]:8470"):
            async with http.get(web.url + "/api/requests", headers={"Host": host}) as response:
                assert response.status == 200
    assert await store.read() == []  # nothing recorded


async def test_alone_an_action_is_recorded_as_the_chat_would_record_it(store: EventStore) -> None:
    clock = SystemClock()
    settings = DashboardSettings(bind="127.0.0.1:0", users={"slack:UBOB": token_hash("bob-secret")})
    jar = aiohttp.CookieJar(unsafe=True)  # keeps cookies of an IP address (127.0.0.1), as a browser does
    async with Dashboard(settings, store, StorePoster(store, clock), clock) as web, aiohttp.ClientSession(cookie_jar=jar) as http:
        web.service.outcome_wait_s = 0.2  # no orchestrator here: nothing will answer
        async with http.get(web.url + "/login?token=wrong") as response:
            assert response.status == 401
        async with http.get(web.url + "/login?token=bob-secret", allow_redirects=False) as response:
            assert response.status == 302 and response.cookies["tunnels_token"]["httponly"]
        async with http.get(web.url + "/api/me") as response:  # the cookie from the login
            assert (await response.json())["identity"] == "slack:UBOB"
        async with http.post(web.url + "/api/requests", json={"text": "deploy it", "conversation": "ops"}) as response:
            assert response.status == 202 and (await response.json())["outcome"] == "pending"
    [stored] = await store.read()
    message = stored.event
    assert isinstance(message, MessageReceived)
    assert (message.session_key, message.sender, message.channel, message.text) == ("api:slack:UBOB:ops", "slack:UBOB", "api", "deploy it")
