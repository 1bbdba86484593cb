"""`tunnels chat` on a terminal: a prompt_toolkit line editor.

A prompt with the person's name, line editing and history (kept in the state folder, private to
this OS user), and everything the orchestrator says printed above the prompt, so it never lands
in the middle of what is being typed. Colour where the terminal has it (prompt_toolkit reads
TERM and NO_COLOR). The terminal is in raw mode while the prompt runs, so Ctrl-C reaches the
chat as a key, not as a signal to every process of the terminal (see `interrupts`).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.shortcuts import print_formatted_text
from prompt_toolkit.styles import Style

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.tunnels.terminal.interrupts import Interrupts

STYLE = Style.from_dict({"prompt": "ansicyan bold", "note": "ansibrightblack", "problem": "ansired", "done": "ansigreen"})
QUIT = ("/quit", "/exit")


def _style_of(text: str) -> str:
    head = text.lstrip()[:12].lower()
    if head.startswith(("❌", "⚠", "failed", "something went wrong")):
        return "class:problem"
    if head.startswith(("✅", "done")):
        return "class:done"
    return ""


def say_above(text: str, style: str = "") -> None:
    """Print `text` above the prompt (its own lines if the prompt is not running)."""
    print_formatted_text(FormattedText([(style or _style_of(text), text)]), style=STYLE)


class AbovePrompt:
    """A text stream for `TerminalChannel(out=...)`: each finished line is printed above the prompt."""

    def __init__(self) -> None:
        self._partial = ""

    def write(self, text: str) -> int:
        """Print the finished lines of `text` (a line without its end waits for it)."""
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        if lines:
            say_above("\n".join(lines))
        return len(text)

    def flush(self) -> None:
        """Lines are printed as they end."""


def chat_history(state_dir: Path) -> History:
    """What was typed before, kept in `<state>/chat_history` (mode 600); in memory if that cannot be written."""
    path = state_dir / "chat_history"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


async def run_editor(terminal: TerminalChannel, interrupts: Interrupts, history: History) -> None:
    """Read lines at a prompt until `/quit`, Ctrl-D at an empty prompt, or two Ctrl-C in a row."""
    session: PromptSession[str] = PromptSession(history=history, style=STYLE, enable_history_search=False)

    async def end_prompt() -> None:  # a second Ctrl-C sent as a signal (between two prompts) leaves too
        await interrupts.leave.wait()
        if session.app.is_running:
            session.app.exit(exception=EOFError())

    watcher = asyncio.ensure_future(end_prompt())
    try:
        await _prompt_loop(terminal, interrupts, session)
    finally:
        watcher.cancel()


async def _prompt_loop(terminal: TerminalChannel, interrupts: Interrupts, session: PromptSession[str]) -> None:
    prompt = FormattedText([("class:prompt", f"{terminal.user}> ")])
    with patch_stdout(raw=True):  # log lines, too, go above the prompt
        interrupts.note(f"claude-tunnels: talking as {terminal.user}. Type a request; Ctrl-C cancels what runs; Ctrl-D or /quit leaves.")
        while not interrupts.leave.is_set():
            try:
                text = await session.prompt_async(prompt)
            except KeyboardInterrupt:
                if interrupts.press():
                    return
                continue
            except EOFError:  # Ctrl-D at an empty prompt
                return
            interrupts.reset()
            if text.strip() in QUIT:
                return
            if text.strip():
                await terminal.say(text)
