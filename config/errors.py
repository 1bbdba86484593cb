"""The configuration errors: one base, each message a single line saying what to do."""

from __future__ import annotations

import re
from pathlib import Path

_BREAKS = re.compile(r"\s*[\r\n]+\s*")


class ConfigError(Exception):
    """A setting, a configuration file or a credentials file is unusable.

    Not retryable: the file (or the environment) has to be fixed. The structured fields let a
    caller point at the spot; ``str()`` is one line naming the file, the key, the problem and
    the fix.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: Path | None = None,
        key: str | None = None,
        fix: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.key = key
        self.fix = fix
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where = str(self.file) if self.file is not None else "settings"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        parts = [where]
        if self.key:
            parts.append(self.key)
        text = ": ".join(parts) + ": " + self.problem
        if self.fix:
            text += "; " + self.fix
        return _BREAKS.sub(" ", text)  # one line, whatever the pieces held


class CredentialsError(ConfigError):
    """A credentials file is missing a key, malformed or readable by others.

    Its message never holds a secret value: only file names, key names and line numbers.
    """
