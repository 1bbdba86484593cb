"""A keyed projection's checkpoint: one record per key in an SQLite file, written by difference.

The file holds the projection's position and one encoded record per key (a request, a session),
each marked live or settled. A write replaces the records that changed and the position in one
transaction, so the file is always a state the projection really had at that position: a crash
between writes loses only what the stream still holds (the projection catches up from the stored
position). Settled records (a finished request) need not be in memory: the file answers for them
(`get`), and a start loads only the live ones and the most recently written settled ones.

Every call opens its own connection: writes run on a worker thread, the load at start on the
caller's, and an SQLite connection belongs to the thread that opened it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import closing
from pathlib import Path

FORMAT = 2
"""Bumped when the records' layout changes: a file of another format is ignored (rebuilt from the stream)."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, value BLOB NOT NULL, live INTEGER NOT NULL)",
)


class RecordFile:
    """The SQLite file of one keyed projection's checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None)
        # WAL: a write appends its pages instead of rewriting the file; NORMAL: no fsync per
        # commit (a commit lost to a power cut is an older checkpoint, which the stream makes up).
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def read(self, *, settled: int | None = None) -> tuple[int, list[tuple[str, bytes]]] | None:
        """The stored position and the records, or None when there is no usable checkpoint.

        `settled`: how many settled records to include besides every live one, the most recently
        written first (None: every record)."""
        if not self.path.exists():
            return None
        with closing(self._connect()) as connection:
            try:
                meta = dict(connection.execute("SELECT name, value FROM meta").fetchall())
            except sqlite3.OperationalError:
                return None  # an empty or foreign file: no checkpoint
            if meta.get("format") != FORMAT or "position" not in meta:
                return None
            if settled is None:
                rows = connection.execute("SELECT key, value FROM records").fetchall()
            else:
                rows = connection.execute("SELECT key, value FROM records WHERE live = 1").fetchall()
                # A replaced row gets a new rowid: the highest are the most recently written.
                rows += connection.execute(
                    "SELECT key, value FROM records WHERE live = 0 ORDER BY rowid DESC LIMIT ?", (settled,)
                ).fetchall()
        return int(meta["position"]), [(str(key), bytes(value)) for key, value in rows]

    def _reader(self) -> sqlite3.Connection | None:
        """A read-only connection (None while the file does not exist or holds no records yet)."""
        if not self.path.exists():
            return None
        try:
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        except sqlite3.OperationalError:
            return None

    def get(self, key: str) -> bytes | None:
        """The stored record of `key`, if there is one (any thread)."""
        connection = self._reader()
        if connection is None:
            return None
        with closing(connection):
            try:
                row = connection.execute("SELECT value FROM records WHERE key = ?", (key,)).fetchone()
            except sqlite3.OperationalError:
                return None  # no records table yet
        return None if row is None else bytes(row[0])

    def items(self) -> Iterator[tuple[str, bytes]]:
        """Every stored record, live and settled, by key order (any thread)."""
        connection = self._reader()
        if connection is None:
            return
        with closing(connection):
            try:
                yield from ((str(key), bytes(value)) for key, value in connection.execute("SELECT key, value FROM records ORDER BY key"))
            except sqlite3.OperationalError:
                return

    def write(
        self, position: int, changed: Mapping[str, bytes], removed: Iterable[str] = (), *,
        whole: bool = False, settled: Collection[str] = (),
    ) -> None:
        """Store `changed` records, drop `removed` ones and set the position, in one transaction.

        `whole`: the records given are all there are (the others are deleted first). `settled`:
        the keys among `changed` whose records are settled (the others are stored live)."""
        with closing(self._connect()) as connection:
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute("BEGIN IMMEDIATE")
            try:
                if whole:
                    connection.execute("DELETE FROM records")
                connection.executemany("DELETE FROM records WHERE key = ?", ((key,) for key in removed))
                connection.executemany(
                    "INSERT OR REPLACE INTO records (key, value, live) VALUES (?, ?, ?)",
                    ((key, value, key not in settled) for key, value in changed.items()),
                )
                connection.executemany(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (("format", FORMAT), ("position", position))
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def delete(self) -> None:
        """Remove the file (and SQLite's side files)."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
