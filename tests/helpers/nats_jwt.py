"""NATS decentralized auth for tests: an operator, an account and users as signed JWTs, and `.creds` files.

What `nsc` would make, built with `nkeys` (ed25519-nkey JWTs): the operator signs the account, the
account signs each user; users carry their publish/subscribe permissions in their JWT. The server
runs in operator mode with the account preloaded (`resolver: MEMORY`).
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import nkeys

from claude_tunnels.config.credentials import Secret
from claude_tunnels.remote_agent.credentials import Permissions, write_secret_file


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True)
class Key:
    """An nkey pair of one kind (operator, account or user)."""

    seed: bytes

    @classmethod
    def new(cls, prefix: int) -> Key:
        return cls(nkeys.encode_seed(os.urandom(32), prefix))

    @property
    def public(self) -> str:
        return nkeys.from_seed(self.seed).public_key.decode()

    def sign_jwt(self, subject: str, name: str, nats: dict[str, object]) -> str:
        header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
        claims = {"jti": uuid.uuid4().hex.upper(), "iat": int(time.time()), "iss": self.public, "name": name,
                  "sub": subject, "nats": {**nats, "version": 2}}
        payload = _b64(json.dumps(claims).encode())
        signature = nkeys.from_seed(self.seed).sign(f"{header}.{payload}".encode())
        return f"{header}.{payload}.{_b64(signature)}"


UNLIMITED = {"subs": -1, "data": -1, "payload": -1}


class OperatorMode:
    """One operator, a system account, and one account (JetStream enabled) that issues users."""

    def __init__(self) -> None:
        self.operator = Key.new(nkeys.PREFIX_BYTE_OPERATOR)
        self.account = Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
        self.system = Key.new(nkeys.PREFIX_BYTE_ACCOUNT)  # the server's own account (JetStream needs one)
        self.operator_jwt = self.operator.sign_jwt(
            self.operator.public, "tunnels-test", {"type": "operator", "system_account": self.system.public}
        )
        self.system_jwt = self.operator.sign_jwt(self.system.public, "SYS", {"type": "account"})
        limits = {**UNLIMITED, "imports": -1, "exports": -1, "wildcards": True, "conn": -1, "leaf": -1,
                  "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
        self.account_jwt = self.operator.sign_jwt(self.account.public, "tunnels", {"type": "account", "limits": limits})

    def server_config(self) -> str:
        """Config text for nats-server: operator mode, this account preloaded."""
        return (
            f"operator: {self.operator_jwt}\n"
            f"system_account: {self.system.public}\n"
            "resolver: MEMORY\n"
            f"resolver_preload: {{\n  {self.account.public}: {self.account_jwt}\n  {self.system.public}: {self.system_jwt}\n}}\n"
        )

    def user_creds(self, path: Path, name: str, permissions: Permissions | None = None) -> Path:
        """Write a `.creds` file (mode 0600) for a new user; without `permissions` it may do anything."""
        user = Key.new(nkeys.PREFIX_BYTE_USER)
        claims: dict[str, object] = {"type": "user", **UNLIMITED}
        if permissions is not None:
            claims["pub"] = {"allow": list(permissions.publish)}
            claims["sub"] = {"allow": list(permissions.subscribe)}
        token = self.account.sign_jwt(user.public, name, claims)
        text = (
            f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{user.seed.decode()}\n------END USER NKEY SEED------\n"
        )
        write_secret_file(path, Secret(text))
        return path
