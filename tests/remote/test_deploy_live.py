"""`tunnels deploy ssh` against a live host: a real sshd on a loopback port.

The deploy copies the nkey seed, the env file and a wheel of this project built for the test,
creates the host's virtualenv, installs the wheel and starts the agent under a supervisor. This
machine has no systemd user session, so the supervisor is `supervise.sh`; the systemd path is
covered by the golden test of the install script. The host resolves the wheel's dependencies from
this test environment (PYTHONPATH, `PIP_NO_INDEX`): nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import psutil
import pytest

from claude_tunnels.remote_agent.protocol import Finished
from claude_tunnels.tunnels.bus import EmbeddedNatsServer
from claude_tunnels.tunnels.scripted_model import ScriptedModelServer, parse_scenario
from tests.e2e.scenarios import scenario, succeeds
from tests.helpers.remote import AgentIdentity, StandInOrchestrator, task, write_env_file
from tests.helpers.sshd import LocalSshd, sshd_missing
from tests.remote.conftest import API

pytestmark = [pytest.mark.cli, pytest.mark.skipif(sshd_missing() is not None, reason=str(sshd_missing()))]

ROOT = Path(__file__).resolve().parents[2]
TUNNELS = Path(sys.executable).parent / "tunnels"


def build_wheel(folder: Path) -> Path:
    """A wheel of this checkout (built from a copy, offline, with this environment's setuptools)."""
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".tunnels", "tests", "bench"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(folder), str(source)],
        check=True, capture_output=True, timeout=120,
    )
    (wheel,) = folder.glob("claude_tunnels-*.whl")
    return wheel


def host_environment() -> dict[str, str]:
    """What sshd gives each session: this Python first on PATH, and its packages for the deps."""
    base_python_dir = Path(getattr(sys, "_base_executable", sys.executable)).parent
    return {
        "PATH": f"{base_python_dir}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def running(*needle: str) -> list[psutil.Process]:
    """Live processes whose command line contains every string of `needle` as one argument."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] != psutil.STATUS_ZOMBIE and all(n in cmdline for n in needle):
            found.append(proc)
    return found


async def deploy(argv: list[str], cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        str(TUNNELS), *argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode == 0, f"deploy failed ({process.returncode}): {err.decode()}"
    return out.decode() + err.decode()


async def test_deploy_over_ssh_installs_supervises_and_replaces_one_agent(
    auth_server: EmbeddedNatsServer, stand_in: StandInOrchestrator, api_identity: AgentIdentity,
    workspace_dir: Path, scripted_model: ScriptedModelServer, tmp_path: Path,
) -> None:
    wheel = build_wheel(tmp_path / "wheel")
    env_file = write_env_file(tmp_path / "agent.env", scripted_model.env())
    async with LocalSshd(tmp_path / "sshd", env=host_environment()) as sshd:
        base = sshd.home / ".tunnels-agent" / "shop_2Fapi"
        agent_exe = str(base / "venv" / "bin" / "tunnels-agent")
        supervisor = str(base / "supervise.sh")
        argv = [
            "deploy", "ssh", sshd.destination, "--workspace", API, "--path", str(workspace_dir),
            "--nats", auth_server.url, "--seed-file", str(api_identity.seed_file), "--env-file", str(env_file),
            "--wheel", str(wheel), "--drain-timeout-s", "5", *(f"--ssh-option={o}" for o in sshd.ssh_options()),
        ]
        try:
            said = await deploy(argv, tmp_path)
            assert "no systemd user session here" in said
            first = await stand_in.wait_presence(lambda p: p.workspace == API, timeout=60)

            # installed from the wheel into the host's own virtualenv, secrets readable by the owner only
            assert (base / "venv" / "share" / "claude-tunnels" / "nats" / "jetstream.yaml").is_file()
            for secret in ("seed.nk", "agent.env"):
                assert stat.S_IMODE((base / secret).stat().st_mode) == 0o600
            assert (base / "seed.nk").read_text().strip() == api_identity.seed.reveal()
            (agent,) = running(agent_exe)
            assert len(running(supervisor)) == 1

            # it serves: a task runs in the workspace folder on the host
            scripted_model.load(parse_scenario(scenario(succeeds(API, "deployed and working", writes="src/deployed.py"))))
            await stand_in.ensure_consumer(API)
            await stand_in.send(task(API, "t1"))
            report = await stand_in.wait_report(lambda _, r: isinstance(r, Finished) and r.task_id == "t1")
            assert isinstance(report, Finished) and report.outcome == "succeeded", report
            assert (workspace_dir / "src" / "deployed.py").read_text() == "x\n"

            # deploying again replaces the agent: still exactly one, a new process
            await deploy(argv, tmp_path)
            second = await stand_in.wait_presence(lambda p: p.workspace == API and p.agent_id != first.agent_id, timeout=60)
            assert not agent.is_running()
            (replacement,) = running(agent_exe)
            assert len(running(supervisor)) == 1

            # the supervisor starts an agent again when it dies
            replacement.kill()
            await stand_in.wait_presence(
                lambda p: p.workspace == API and p.agent_id not in (first.agent_id, second.agent_id), timeout=60
            )
            assert len(running(agent_exe)) == 1
        finally:
            for proc in running(supervisor):
                proc.send_signal(signal.SIGTERM)  # it stops its agent (which drains) and exits
            gone, alive = psutil.wait_procs(running(supervisor) + running(agent_exe), timeout=30)
            for proc in alive:
                proc.kill()
    assert not os.path.exists(base / "supervise.pid")  # the supervisor cleaned up after itself
