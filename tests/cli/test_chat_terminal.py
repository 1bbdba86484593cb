"""`tunnels chat` as a person uses it: in a real pseudo-terminal (pexpect), and with piped input.

Everything waits on what the chat prints (pexpect's `expect`), never on time passing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import psutil

from claude_tunnels.tunnels.demo.sample_tree import lay_out
from tests.e2e.scenarios import hangs, plan, scenario, succeeds

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 120
UP, LEFT = "\x1b[A", "\x1b[D"


def _tree(tmp_path: Path, *scripts: dict[str, object]) -> tuple[Path, Path]:
    root = lay_out(tmp_path / "tree")
    (root / "orchestrator.yaml").write_text(json.dumps({"claude": {"isolate_home": True}}))
    model = tmp_path / "scenario.yaml"
    model.write_text(scenario(*scripts))
    return root, model


def _chat_args(root: Path, model: Path) -> list[str]:
    return ["-m", "claude_tunnels.tunnels.cli", "--root", str(root), "chat", "--user", "ann", "--scripted-model", str(model)]


def _spawn(root: Path, model: Path) -> pexpect.spawn:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root.parent), "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    return pexpect.spawn(
        sys.executable, _chat_args(root, model), cwd=str(ROOT), env=env, encoding="utf-8", timeout=WAIT_S, dimensions=(40, 200),
    )


def _servers_of(root: Path) -> list[psutil.Process]:
    """nats-server processes still running on this tree's store (there must be none after the chat)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "nats-server" in cmdline and str(root) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def _end(child: pexpect.spawn) -> str:
    """Wait for the chat to exit by itself; what it printed since the last match."""
    child.expect(pexpect.EOF)
    child.close()
    return child.before or ""


def test_the_prompt_edits_recalls_and_leaves_on_ctrl_d(tmp_path: Path) -> None:
    root, model = _tree(tmp_path, plan("one", ("api-service", "bump", [])))
    child = _spawn(root, model)
    try:
        child.expect("talking as ann")
        child.expect("ann> ")
        child.send("statxs" + LEFT + "\x7f" + "u" + "\r")  # typo mended with the arrow keys
        child.expect("Nothing is running")
        child.expect("ann> ")
        child.send(UP)  # the line typed before, recalled
        child.expect("status")
        child.send("\r")
        child.expect("Nothing is running")
        child.expect("ann> ")
        child.send("\x04")  # Ctrl-D at an empty prompt
        rest = _end(child)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, rest
    assert "Traceback" not in rest
    assert not _servers_of(root)
    assert "status" in (root / ".tunnels" / "chat_history").read_text()


def test_ctrl_c_cancels_the_running_request_and_a_second_one_leaves(tmp_path: Path) -> None:
    root, model = _tree(tmp_path, plan("one", ("api-service", "bump", [])), hangs("api-service"))
    child = _spawn(root, model)
    try:
        child.expect("ann> ")
        child.send("in api-service: bump it\r")
        child.expect("Reply yes to run it")
        child.send("yes\r")
        child.expect("api-service started")
        child.send("\x03")
        child.expect(r"cancelling request (\S+)…")
        request_id = child.match.group(1)
        child.expect(f"Request {re.escape(request_id)} cancelled by terminal:ann")
        seen = child.before or ""
        child.send("\x03")
        rest = _end(child)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, rest
    assert "Traceback" not in seen + rest and "AppendConflict" not in seen + rest
    assert not _servers_of(root)
    replay = subprocess.run(
        [sys.executable, "-m", "claude_tunnels.tunnels.cli", "--root", str(root), "replay", "--json", request_id],
        cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S, check=True,
    )
    types = [json.loads(line)["type"] for line in replay.stdout.splitlines()]
    assert "task.cancelled" in types and "request.cancelled" in types, types


def test_piped_input_waits_for_the_request_it_started(tmp_path: Path) -> None:
    root, model = _tree(tmp_path, plan("one", ("api-service", "bump", [])), succeeds("api-service", "bumped it", writes="NOTE"))
    done = subprocess.run(
        [sys.executable, *_chat_args(root, model)], input="in api-service: bump it\nyes\n", cwd=ROOT,
        capture_output=True, text=True, timeout=WAIT_S,
    )
    assert done.returncode == 0, done.stderr
    assert "Reply yes to run it" in done.stdout and "Done (request" in done.stdout and "api-service: bumped it" in done.stdout
    assert "Traceback" not in done.stderr
    assert (root / "api-service" / "NOTE").read_text() == "x\n"
    assert not _servers_of(root)
