"""SQLAlchemy's aiosqlite adapter with one thread hop per statement instead of four.

aiosqlite runs every call of the sqlite3 module in a thread of its own and hands each result back
to the event loop. SQLAlchemy's adapter makes four such calls per statement (open a cursor, enter
it, execute, fetch all rows) and a fifth to close it; on this kind of machine a hop costs about
150 us (measured: a `BEGIN IMMEDIATE` alone), more than most of our statements take in SQLite.
While a write transaction waits for its hops it holds SQLite's one write lock, so every hop also
lengthens every other writer's wait.

Here a statement is one call that runs in aiosqlite's thread: create a sqlite3 cursor, execute,
fetch every row, close. What SQLAlchemy reads afterwards (description, rowcount, lastrowid, rows)
was taken in that same call. Everything else (connections, transactions, errors) is SQLAlchemy's
own adapter, unchanged.

Short statements skip the hop altogether when the cursor is marked `inline` (the unit of work
marks the statements of short commands and queries: a cart or payment step, a handful of
single-row statements that take SQLite 10-50 us each). They run on the event loop's thread,
which is cheaper than waking another thread and being woken back. Nothing runs there that can
wait for another connection:
- `BEGIN IMMEDIATE` of a short command is tried on the loop's thread with a busy timeout of
  zero; only if another connection holds the write lock does it go to aiosqlite's thread and
  wait there (up to the busy timeout). The unit of work queues this service's writers, across
  processes, before they begin (`ticketing.db`), so the first try nearly always succeeds.
- A write's COMMIT never waits in WAL mode (it appends to the WAL, no fsync at
  `synchronous=NORMAL`), except when it checkpoints the WAL. The connections do not checkpoint
  on commit (`wal_autocheckpoint=0`); every `CHECKPOINT_EVERY`-th write commit of the process
  goes to aiosqlite's thread and runs a passive checkpoint there.
In WAL mode the statements after `BEGIN IMMEDIATE` never wait for another connection, and
readers never wait for writers.
"""

from __future__ import annotations

import collections
import itertools
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, list[Any], int, int | None]
_SQLITE_BUSY = 5
CHECKPOINT_EVERY = 200
"""Write commits (per process) between two passive checkpoints of the WAL."""
_write_commits = itertools.count(1)


def run(connection: sqlite3.Connection, operation: str, parameters: Any, *, many: bool) -> _Outcome:
    """In aiosqlite's thread: the whole statement, rows included."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose every statement is one call in aiosqlite's thread, or none (`inline`)."""

    __slots__ = ("_description", "_lastrowid", "_rowcount", "inline")

    def __init__(self, adapt_connection: Any) -> None:
        # no aiosqlite cursor: nothing to open, enter or close in the thread
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized: Any = {}
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self.inline = False  # set per statement by the engine (see ticketing.db)

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    def _call(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: Any = self._connection  # an aiosqlite.Connection
        adapted: Any = self._adapt_connection  # a OneHopConnection
        inline = self.inline
        if operation.startswith(_WAITS):
            adapted.writing, adapted.short_write = True, inline
            if inline:
                begun = _begin_without_waiting(adapted, operation)
                if begun is not None:
                    self._description, _, self._rowcount, self._lastrowid = begun
                    self._rows = collections.deque()
                    return
            inline = False
        try:
            if inline:
                outcome = run(connection._conn, operation, parameters, many=many)
            else:
                outcome = await_(
                    connection._execute(run, connection._conn, operation, parameters, many=many)
                )
        except Exception as error:
            adapted._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._call(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._call(operation, seq_of_parameters, many=True)

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        return None  # nothing open in the thread: the rows are already here


_WAITS = ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")


def _begin_without_waiting(adapted: Any, operation: str) -> _Outcome | None:
    """Take the write lock on the loop's thread if it is free; None if another connection has
    it (the caller then waits for it in aiosqlite's thread)."""
    connection: sqlite3.Connection = adapted._connection._conn
    connection.execute("PRAGMA busy_timeout=0")
    try:
        return run(connection, operation, None, many=False)
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY:
            return None
        adapted._handle_exception(error)
        raise  # pragma: no cover (_handle_exception raises)
    finally:
        connection.execute(f"PRAGMA busy_timeout={int(adapted.busy_timeout_ms)}")


def _commit(connection: sqlite3.Connection) -> None:
    connection.commit()


def _commit_and_checkpoint(connection: sqlite3.Connection) -> None:
    """In aiosqlite's thread: commit, then copy the WAL back into the database where no reader
    needs it any more (PASSIVE: waits for nobody)."""
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("busy_timeout_ms", "short_write", "writing")
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.writing = False  # in a transaction begun with BEGIN IMMEDIATE
        self.short_write = False  # ... by a short command (a few rows: its COMMIT is quick)
        self.busy_timeout_ms = 5000  # set by the engine's connect hook (ticketing.db)

    def commit(self) -> None:
        # A COMMIT never waits for another connection in WAL mode. A short command's COMMIT
        # runs on the loop's thread; a long one (which may write many pages) and every
        # CHECKPOINT_EVERY-th write commit, which also checkpoints, take the hop.
        writing, self.writing = self.writing, False
        if not self._connection._connection:
            super().commit()
            return
        try:
            checkpoint = writing and next(_write_commits) % CHECKPOINT_EVERY == 0
            if checkpoint or (writing and not self.short_write):
                connection = self._connection
                step = _commit_and_checkpoint if checkpoint else _commit
                await_(connection._execute(step, connection._conn))
            else:
                self._connection._conn.commit()
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        # A rollback never waits for another connection.
        self.writing = False
        if not self._connection._connection:
            return
        try:
            self._connection._conn.rollback()
        except Exception as error:
            self._handle_exception(error)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass as `module=` to `create_async_engine` for a `sqlite+aiosqlite` URL."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)
