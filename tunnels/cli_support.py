"""The conventions of the `tunnels` command line, applied to the whole parser tree at once.

`finish(parser)` runs after every command is declared (including ones added by other modules),
so each command gets them without repeating itself:

- every subcommand's one-line `help` is also its `description` (`tunnels X --help` says what it does);
- the global options (`--root`, `--config`, `--debug`) are accepted before or after the subcommand;
- a command group called without its subcommand (`tunnels`, `tunnels events`) prints its help
  instead of argparse's `required: <internal name>` error (see `Incomplete`).

`OneLineFormatter` keeps tracebacks out of the terminal (`--debug` shows them), and
`exit_on_broken_pipe` is the Python convention for a reader that went away (`| head -1`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from claude_tunnels.config.loader import LoadedSettings

Command = Callable[[LoadedSettings, argparse.Namespace], Coroutine[Any, Any, int]]
"""What runs one `tunnels` command: the settings and the parsed arguments in, the exit code out."""

INCOMPLETE = "_incomplete"
"""The namespace attribute holding the command group whose subcommand is missing (or None). A
group that runs alone when no subcommand is given sets it to False before `finish`."""

BROKEN_PIPE_EXIT = 141
"""What a shell reports for a process ended by SIGPIPE (128 + 13), as `cat` or `grep` would be."""


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """`--config`, `--root`, `--debug` on `parser`; with `suppress`, a subcommand's copy sets a
    value only when given, so the one before the subcommand is kept otherwise."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--config", type=Path, default=default, help="orchestrator.yaml (default: ./orchestrator.yaml if present)")
    parser.add_argument("--root", type=Path, default=default, help="the project tree's root (overrides the config's root)")
    parser.add_argument("--debug", action="store_true", default=default if suppress else False, help="verbose logs and full tracebacks")


def finish(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Apply the conventions above to `parser` and every subcommand under it; return `parser`."""
    for sub, summary, has_commands in _tree(parser):
        if sub is not parser:
            if summary and not sub.description:
                sub.description = summary
            add_global_options(sub, suppress=True)
        if has_commands and sub.get_default(INCOMPLETE) is None:
            sub.set_defaults(**{INCOMPLETE: sub})
        elif not has_commands:
            sub.set_defaults(**{INCOMPLETE: None})  # a chosen leaf overrides its group's default
    return parser


def _tree(parser: argparse.ArgumentParser, summary: str = "") -> Iterator[tuple[argparse.ArgumentParser, str, bool]]:
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    yield parser, summary, bool(groups)
    for group in groups:
        group.required = False  # a missing subcommand prints the group's help (`Incomplete`)
        if group.metavar is None:
            group.metavar = "COMMAND"
        helps = {choice.dest: choice.help or "" for choice in group._choices_actions}
        for name, sub in group.choices.items():
            if sub is not parser:
                yield from _tree(sub, helps.get(name, ""))


def incomplete(args: argparse.Namespace) -> argparse.ArgumentParser | None:
    """The command group named without a subcommand (to print its help), or None."""
    group = getattr(args, INCOMPLETE, None)
    return group if isinstance(group, argparse.ArgumentParser) else None


class OneLineFormatter(logging.Formatter):
    """Log records as one line each: an exception is named (`KeyError: 'x'`), its traceback left out."""

    def format(self, record: logging.LogRecord) -> str:
        if not record.exc_info:
            return super().format(record)
        error = record.exc_info[1]
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text = saved
        if error is not None:
            line += f" ({type(error).__name__}: {one_line(str(error))}; --debug shows the traceback)"
        return line


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def configure_logging(debug: bool) -> None:
    """Warnings and errors on stderr, one line each; everything, with tracebacks, under `--debug`."""
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt) if debug else OneLineFormatter(fmt))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler], force=True)


def exit_on_broken_pipe() -> int:
    """The reader of our standard output went away: stop quietly.

    Standard output is pointed at /dev/null so the interpreter's final flush does not raise
    again (the recipe of Python's `signal` documentation); SIGPIPE stays ignored, as Python sets
    it, because the orchestrator's own sockets must never kill it.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return BROKEN_PIPE_EXIT
