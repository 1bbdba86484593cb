"""Who is calling: a token, mapped to a chat identity in `dashboard.users`, and where it may listen.

Tokens are never stored: the settings hold their SHA-256 (`sha256:<hex>`), which is what a
presented token is hashed to and looked up by. A browser presents its token once (`/login`) and
keeps it in an HttpOnly, SameSite=Strict cookie; a script sends `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import socket

from aiohttp import web

from claude_tunnels.config.settings import DashboardSettings
from claude_tunnels.tunnels.errors import UserError

COOKIE = "tunnels_token"


def token_hash(token: str) -> str:
    """What `dashboard.users` stores for `token`."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def split_bind(bind: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) as a host and a port."""
    host, _, port = bind.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    """Whether `host` only ever reaches this machine (a name is resolved: `localhost` is)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


class Auth:
    """The identities of the configured tokens, and the rule of what needs one."""

    def __init__(self, settings: DashboardSettings) -> None:
        self._identities = {token_hash: identity for identity, token_hash in settings.users.items()}
        host, _ = split_bind(settings.bind)
        if not self._identities and not is_loopback(host):
            raise UserError(
                f"dashboard.bind {settings.bind} is not loopback and no dashboard.users is set: anyone who reaches it "
                "could act; add a user (`tunnels dashboard token slack:U…`) or bind to 127.0.0.1"
            )

    @property
    def required(self) -> bool:
        """Whether every call needs a token (users are configured). Without users (loopback only),
        pages and reads are open and every action is refused."""
        return bool(self._identities)

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether a call naming `host_header` (its Host) may be answered. Without users the
        dashboard answers only calls addressed to a loopback name or address: a web page
        elsewhere that re-points its own name at 127.0.0.1 (DNS rebinding) gets nothing."""
        if self.required:
            return True
        if not host_header:
            return False
        host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        host = host.strip("[]").lower()
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def identity_of(self, token: str) -> str | None:
        """The chat identity `token` acts as, or None for an unknown token."""
        return self._identities.get(token_hash(token)) if token else None

    def identity(self, request: web.Request) -> str | None:
        """The caller's identity from its bearer token or its cookie (None: anonymous or unknown)."""
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        return self.identity_of(token)
