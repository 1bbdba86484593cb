"""Scenario files: which scripted answers the model server plays, and for which requests.

A scenario is YAML::

    scripts:
      - name: write-hello
        match: ["TASK-42"]            # all must appear in the task text
        turns:                        # one entry per assistant turn, in order
          - text: "Writing the file."
            tool_uses:
              - name: Write
                input: {file_path: "{cwd}/hello.txt", content: "hi\\n"}
          - structured_output: {summary: "wrote hello.txt"}

Loading is strict: an unknown key, a wrong type or an impossible turn raises `ScenarioError`
naming the file and the key path (``$.scripts[0].turns[1].delay_s``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import msgspec
import yaml


class ScenarioError(ValueError):
    """A scenario file (or text) is not valid; the message names the source and the key path."""


class _Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ScriptedError(_Strict, frozen=True):
    """Answer a request with an HTTP error instead of a message."""

    status: int
    type: str = "api_error"
    message: str = "scripted error"


class ToolUse(_Strict, frozen=True):
    """One tool call of an assistant turn. `{cwd}` in string values becomes the session's cwd."""

    name: str
    input: dict[str, Any] = {}


class Turn(_Strict, frozen=True):
    """One assistant answer.

    Content goes out in this order: `text`, then each of `tool_uses`, then `structured_output` (as
    a call of the CLI's `StructuredOutput` tool). `delay_s` waits before answering; `error` and
    `hang` replace the answer.
    """

    text: str | None = None
    tool_uses: list[ToolUse] = []
    structured_output: Any = None
    delay_s: float = 0.0
    error: ScriptedError | None = None
    hang: bool = False

    @property
    def has_content(self) -> bool:
        """Whether the turn sends a message (rather than an error or nothing)."""
        return self.text is not None or bool(self.tool_uses) or self.structured_output is not None


class Script(_Strict, frozen=True):
    """A conversation played to requests whose task text contains every `match` string."""

    name: str
    match: list[str]
    turns: list[Turn] = []


class Scenario(_Strict, frozen=True):
    """All scripts of one scenario; the server picks one per request."""

    scripts: list[Script] = []


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse YAML `text` into a `Scenario`; `source` names it in errors."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ScenarioError(f"{source}: not valid YAML: {_one_line(str(err))}") from err
    if raw is None:
        raw = {}
    try:
        scenario = msgspec.convert(raw, Scenario)
    except msgspec.ValidationError as err:
        where = "" if " - at `" in str(err) else " - at `$`"  # msgspec omits the root path
        raise ScenarioError(f"{source}: {err}{where}") from err
    _check(scenario, source)
    return scenario


def load_scenario(path: Path | str) -> Scenario:
    """Read and parse the scenario file at `path` (`ScenarioError` if missing or invalid)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read scenario: {err.strerror}") from err
    return parse_scenario(text, str(path))


def _check(scenario: Scenario, source: str) -> None:
    names: set[str] = set()
    for i, script in enumerate(scenario.scripts):
        path = f"$.scripts[{i}]"
        if not script.name:
            _fail(source, f"{path}.name", "a script name must not be empty")
        if script.name in names:
            _fail(source, f"{path}.name", f"duplicate script name {script.name!r}")
        names.add(script.name)
        if not script.match or not all(script.match):
            _fail(source, f"{path}.match", "needs at least one non-empty string")
        for j, turn in enumerate(script.turns):
            _check_turn(turn, source, f"{path}.turns[{j}]")


def _check_turn(turn: Turn, source: str, path: str) -> None:
    if turn.delay_s < 0:
        _fail(source, f"{path}.delay_s", f"must be >= 0, got {turn.delay_s}")
    outcomes = sum((turn.has_content, turn.error is not None, turn.hang))
    if outcomes == 0:
        _fail(
            source, path, "a turn needs `text`, `tool_uses`, `structured_output`, `error` or `hang`"
        )
    if outcomes > 1:
        _fail(source, path, "`error` and `hang` cannot be combined with anything else")
    if turn.error is not None and not 400 <= turn.error.status <= 599:
        _fail(source, f"{path}.error.status", f"must be 400..599, got {turn.error.status}")
    for k, use in enumerate(turn.tool_uses):
        if not use.name:
            _fail(source, f"{path}.tool_uses[{k}].name", "a tool name must not be empty")


def _fail(source: str, path: str, message: str) -> NoReturn:
    # Same shape as msgspec's own errors: "<what> - at `$.path`".
    raise ScenarioError(f"{source}: {message} - at `{path}`")


def _one_line(text: str) -> str:
    return " ".join(text.split())
