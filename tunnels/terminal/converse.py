"""Choose how `tunnels chat` reads: a line editor on a terminal, plain lines otherwise."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TextIO, cast

from claude_tunnels.channels.terminal import TerminalChannel
from claude_tunnels.tunnels.terminal.interrupts import Interrupts


def interactive() -> bool:
    """Whether the person types at a terminal (standard input and output are both one)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def terminal_output() -> TextIO:
    """Where the terminal channel prints: above the prompt on a terminal, standard output otherwise."""
    if not interactive():
        return sys.stdout
    from claude_tunnels.tunnels.terminal.editor import AbovePrompt

    return cast(TextIO, AbovePrompt())


async def converse(terminal: TerminalChannel, state_dir: Path) -> None:
    """Talk until the person leaves (see `editor`, `lines` and `interrupts`)."""
    loop = asyncio.get_running_loop()
    if interactive():
        from claude_tunnels.tunnels.terminal.editor import chat_history, run_editor, say_above

        interrupts = Interrupts(terminal, lambda text: say_above(text, "class:note"))
        loop.add_signal_handler(signal.SIGINT, interrupts.press)
        try:
            await run_editor(terminal, interrupts, chat_history(state_dir))
        finally:
            loop.remove_signal_handler(signal.SIGINT)
        return
    from claude_tunnels.tunnels.terminal.lines import run_lines

    def note(text: str) -> None:
        terminal.out.write(text + "\n")
        terminal.out.flush()

    interrupts = Interrupts(terminal, note)
    loop.add_signal_handler(signal.SIGINT, interrupts.press)
    try:
        await run_lines(terminal, interrupts)
    finally:
        loop.remove_signal_handler(signal.SIGINT)

