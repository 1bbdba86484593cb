"""A real OpenSSH server on a loopback port, for testing `tunnels deploy ssh` against a live host.

It logs in only the current user, only with a key made for the test, and gives the session a
home of its own under the test's folder (sshd's `SetEnv`), so nothing is installed into the real
home. `ssh_options()` are the client options that reach it (`--ssh-option` of `tunnels deploy ssh`).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from types import TracebackType

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None)
_LISTENING = re.compile(rb"Server listening on 127\.0\.0\.1 port (\d+)")


def sshd_missing() -> str | None:
    """Why a live sshd cannot run here (None when it can)."""
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "openssh-server/client not installed (`make test` installs them where apt-get is available)"
    if not Path("/run/sshd").is_dir() and os.geteuid() != 0:
        return "sshd's privilege-separation folder /run/sshd is missing and we are not root"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalSshd:
    """`async with LocalSshd(folder, env={...}) as sshd:` runs sshd; `sshd.destination`, `sshd.home`."""

    def __init__(self, folder: Path, *, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.home = folder / "home"
        """The HOME of every session (set by sshd, over the user's own)."""
        self.env = env or {}
        self.destination = f"{getpass.getuser()}@127.0.0.1"
        self.port = 0
        self.log: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    def ssh_options(self) -> list[str]:
        """Client options for this server (one argv element each)."""
        return [
            f"-p{self.port}", f"-i{self.folder / 'client_key'}", "-oBatchMode=yes", "-oIdentitiesOnly=yes",
            "-oStrictHostKeyChecking=no", "-oUserKnownHostsFile=/dev/null", "-oLogLevel=ERROR",
        ]

    async def __aenter__(self) -> LocalSshd:
        self.home.mkdir(parents=True, exist_ok=True)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # what the package's service would create
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.folder / name)], check=True)
        (self.folder / "authorized_keys").write_text((self.folder / "client_key.pub").read_text())
        set_env = " ".join(f'"{k}={v}"' for k, v in {"HOME": str(self.home), **self.env}.items())
        config = self.folder / "sshd_config"
        config.write_text(
            f"Port {_free_port()}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {self.folder / 'host_key'}\n"
            f"AuthorizedKeysFile {self.folder / 'authorized_keys'}\n"
            f"PidFile {self.folder / 'sshd.pid'}\n"
            f"AllowUsers {getpass.getuser()}\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "StrictModes no\n"
            f"SetEnv {set_env}\n"
        )
        assert SSHD is not None
        self._process = await asyncio.create_subprocess_exec(
            SSHD, "-D", "-e", "-f", str(config),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        assert self._process.stderr is not None
        async with asyncio.timeout(15):
            while True:
                line = await self._process.stderr.readline()
                if not line:
                    raise RuntimeError(f"sshd exited with {await self._process.wait()}: {' | '.join(self.log)}")
                self.log.append(line.decode(errors="replace").rstrip())
                if match := _LISTENING.search(line):
                    self.port = int(match.group(1))
                    break
        self._drain = asyncio.create_task(self._read_rest())
        return self

    async def _read_rest(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        while line := await self._process.stderr.readline():
            self.log.append(line.decode(errors="replace").rstrip())

    async def __aexit__(self, *exc: object | TracebackType) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()
        if self._drain is not None:
            await asyncio.gather(self._drain, return_exceptions=True)
