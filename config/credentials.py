"""Chat credentials: ``ARCHIVE/<channel>/credentials`` files of ``key : value`` lines.

The format is the original's: one ``key : value`` per line (spaces around the colon optional,
the value may itself contain ``:``), ``#`` comments and blank lines ignored. Environment
variables win over the file. A file that its group or others may read or write is refused.
Values are ``Secret``s: they print as ``***`` and no error message ever holds one.
"""

from __future__ import annotations

import hmac
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from claude_tunnels.config.errors import CredentialsError

FILE_NAME = "credentials"
_CHANNEL = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class Secret:
    """A secret string that does not show itself: ``repr`` and ``str`` are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: call this only where it is handed to the library that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


class Credentials(Mapping[str, Secret]):
    """The credentials of one channel: key -> ``Secret``, plus where they were read from."""

    def __init__(
        self, channel: str, path: Path, values: Mapping[str, Secret], env_keys: Mapping[str, str]
    ) -> None:
        self.channel = channel
        self.path = path
        self._values = dict(values)
        self._env_keys = dict(env_keys)

    def __getitem__(self, key: str) -> Secret:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def require(self, key: str) -> Secret:
        """The value of ``key``, or a ``CredentialsError`` saying where to put it."""
        if key in self._values:
            return self._values[key]
        env = self._env_keys.get(key)
        hint = f"set {env} or add" if env else "add"
        raise CredentialsError(
            f"missing `{key}` for the {self.channel} channel",
            file=self.path,
            fix=f"{hint} a `{key} : <value>` line to {self.path} (chmod 600)",
        )

    def __repr__(self) -> str:
        return f"Credentials(channel={self.channel!r}, keys={sorted(self._values)!r})"


def credentials_path(archive_dir: Path, channel: str) -> Path:
    """``<archive_dir>/<channel>/credentials``, after checking ``channel`` is a plain name."""
    if not _CHANNEL.fullmatch(channel):
        raise CredentialsError(
            f"invalid channel name {channel!r}", fix="use lowercase letters, digits, `-` or `_`"
        )
    return archive_dir / channel / FILE_NAME


def load_credentials(
    archive_dir: Path,
    channel: str,
    *,
    env: Mapping[str, str],
    env_keys: Mapping[str, str],
) -> Credentials:
    """Read ``channel``'s credentials; ``env[env_keys[key]]``, when set and non-empty, wins.

    A missing file is not an error (the environment may hold everything); ``Credentials.require``
    reports a missing key. Raises ``CredentialsError`` for a malformed file or one with a mode
    that lets group or others in.
    """
    path = credentials_path(archive_dir, channel)
    values = _read_file(path)
    for key, variable in env_keys.items():
        if env.get(variable):
            values[key] = Secret(env[variable])
    return Credentials(channel, path, values, env_keys)


def parse_credentials(text: str, *, path: Path) -> dict[str, Secret]:
    """Parse ``key : value`` lines (``path`` only names the file in errors)."""
    values: dict[str, Secret] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        # Only line numbers and key names go into errors: the line may be a secret.
        if not sep or not _KEY.fullmatch(key):
            raise CredentialsError(
                "not a `key : value` line",
                file=path,
                line=number,
                fix="write `name : value` with a name of letters, digits, `_`, `-` or `.`",
            )
        if not value:
            # Not naming the key: a bare secret followed by `:` would be one.
            raise CredentialsError(
                "nothing after `:`", file=path, line=number, fix="give a value or delete the line"
            )
        if key in values:
            raise CredentialsError(
                f"`{key}` is given twice", file=path, line=number, fix="keep only one line for it"
            )
        values[key] = Secret(value)
    return values


def write_credentials(path: Path, mapping: Mapping[str, str | Secret]) -> None:
    """Write ``mapping`` to ``path`` atomically with mode 0600 (the folder is created 0700)."""
    lines = []
    for key, value in mapping.items():
        text = value.reveal() if isinstance(value, Secret) else value
        if not _KEY.fullmatch(key):
            raise CredentialsError(
                f"invalid credential name {key!r}",
                file=path,
                fix="use letters, digits, `_`, `-` or `.`",
            )
        if not text.strip() or "\n" in text or "\r" in text or text != text.strip():
            raise CredentialsError(
                f"the value of `{key}` is empty, spans lines or has surrounding spaces",
                file=path,
                fix="give a one-line value without surrounding spaces",
            )
        lines.append(f"{key} : {text}\n")
    _make_private_dirs(path.parent)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_file(path: Path) -> dict[str, Secret]:
    try:
        # O_NONBLOCK: a FIFO planted as `credentials` must not hang the start-up.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, encoding="utf-8-sig") as handle:
            _check_mode(path, os.fstat(fd).st_mode)  # the opened file itself: no race
            text = handle.read()
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise CredentialsError("is not UTF-8 text", file=path, fix="save it as UTF-8") from None
    except OSError as err:
        raise CredentialsError(
            f"cannot be read ({err.strerror})", file=path, fix="check the file and its folder"
        ) from None
    return parse_credentials(text, path=path)


def read_secret_file(path: Path) -> Secret:
    """The one secret held in `path` (surrounding whitespace removed); the file must be private."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, encoding="utf-8") as handle:
            _check_mode(path, os.fstat(fd).st_mode)
            text = handle.read().strip()
    except UnicodeDecodeError:
        raise CredentialsError("is not UTF-8 text", file=path, fix="save it as UTF-8") from None
    except OSError as err:
        raise CredentialsError(f"cannot be read ({err.strerror})", file=path, fix="check the file and its folder") from None
    if not text:
        raise CredentialsError("is empty", file=path, fix="write the secret into it")
    return Secret(text)


def _check_mode(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise CredentialsError("is not a regular file", file=path, fix="make it a file")
    if mode & 0o077:
        raise CredentialsError(
            f"readable or writable by group or others (mode {stat.S_IMODE(mode):03o})",
            file=path,
            fix=f"chmod 600 {path}",
        )


def _make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents with mode 0700 (``mkdir(parents=True)``
    gives the parents the default mode, and the archive holds every channel's secrets)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir(mode=0o700, exist_ok=True)
