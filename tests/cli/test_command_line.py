"""The `tunnels` command line follows its ecosystem's conventions: help, version, options anywhere, pipes."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claude_tunnels.tunnels import cli
from claude_tunnels.tunnels.cli_support import BROKEN_PIPE_EXIT, OneLineFormatter
from claude_tunnels.tunnels.commands import setup_info

ROOT = Path(__file__).resolve().parents[2]


def tunnels(*args: str, cwd: Path = ROOT, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "claude_tunnels.tunnels.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, **kw)  # type: ignore[call-overload]


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(((*prefix, name), sub))
                found += subcommands(sub, (*prefix, name))
    return found


def test_bare_tunnels_prints_its_help_on_stdout_and_exits_1_like_git() -> None:
    bare = tunnels()
    assert bare.returncode == 1 and bare.stderr == ""
    assert bare.stdout.startswith("usage: tunnels") and "replay" in bare.stdout and "--version" in bare.stdout
    group = tunnels("events")  # a command group without its subcommand: its own help, no internal names
    assert group.returncode == 1 and group.stdout.startswith("usage: tunnels events") and "tail" in group.stdout
    assert "events_command" not in group.stdout + group.stderr
    version = tunnels("--version")
    assert version.returncode == 0 and version.stdout.strip() == "tunnels 0.1.0"


def test_every_command_has_a_description_and_takes_the_global_options(capsys: pytest.CaptureFixture[str]) -> None:
    commands = subcommands(cli._parser())
    assert {"replay", "events tail", "doctor", "config explain", "nats", "slack manifest", "init"} <= {" ".join(p) for p, _ in commands}
    for path, sub in commands:
        assert sub.description, f"`tunnels {' '.join(path)}` has no description"
        with pytest.raises(SystemExit) as exited:
            cli.main([*path, "--help"])
        assert exited.value.code == 0
        shown = capsys.readouterr().out
        assert sub.description.split()[0] in shown and "--root" in shown and "--debug" in shown
        assert "_command" not in shown, f"an internal name leaks into `tunnels {' '.join(path)} --help`"


def test_global_options_work_before_and_after_the_command(tmp_path: Path) -> None:
    before = tunnels("--root", str(tmp_path), "nats", "--json")
    after = tunnels("nats", "--json", "--root", str(tmp_path))
    assert before.returncode == after.returncode == 1  # nothing runs on that root: said, and exit 1
    assert before.stdout == after.stdout and str(tmp_path / ".tunnels" / "nats" / "orchestrator.nk") in after.stdout
    nested = tunnels("events", "tail", "--request", "01NOPE", "--root", str(tmp_path / "missing"))
    assert nested.returncode == 2 and "the projects root" in nested.stderr and str(tmp_path / "missing") in nested.stderr


def test_a_reader_that_went_away_ends_the_command_quietly(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # like `| head -1` once it has its line: nobody reads any more
    try:
        process = subprocess.run([sys.executable, "-m", "claude_tunnels.tunnels.cli", "config", "explain", "--json"],
                                 cwd=ROOT, stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write)
    assert process.returncode == BROKEN_PIPE_EXIT
    assert process.stderr == ""  # no BrokenPipeError, no "Exception ignored" at exit


def test_the_demo_stops_quietly_when_its_reader_goes_away_mid_run(tmp_path: Path) -> None:
    demo = subprocess.Popen([sys.executable, "-m", "claude_tunnels.tunnels.cli", "demo", "--dir", str(tmp_path / "demo")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        for line in demo.stdout:  # like `tunnels demo | head`: read the start, then stop reading
            if line.startswith("you> "):
                break
        demo.stdout.close()  # what comes next is written by the running orchestrator's terminal channel
        _, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == BROKEN_PIPE_EXIT and err == ""
    # The orchestrator it ran stopped with it: no nats-server or agent left on the demo's tree.
    left = [cmdline for cmdline in (p.read_bytes() for p in Path("/proc").glob("[0-9]*/cmdline") if p.exists())
            if str(tmp_path).encode() in cmdline]
    assert left == []


def test_a_bug_is_one_line_and_its_traceback_only_under_debug(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    async def broken(loaded: object, args: object) -> int:
        raise KeyError("boom")

    monkeypatch.setitem(setup_info.COMMANDS, "config", broken)
    assert cli.main(["config"]) == 1
    err = capsys.readouterr().err
    assert err == "tunnels: unexpected KeyError: 'boom' (run again with --debug for the traceback)\n"
    with pytest.raises(KeyError):
        cli.main(["config", "--debug"])


def test_logged_errors_are_one_line_without_their_traceback() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "could not deliver %s", ("it",), sys.exc_info())
    line = OneLineFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line == "ERROR x: could not deliver it (ValueError: bad thing; --debug shows the traceback)"
    assert record.exc_info is not None  # other handlers still see the exception
