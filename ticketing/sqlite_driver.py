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
which is cheaper than waking another thread and being woken back. Nothing that can wait runs
there: `BEGIN IMMEDIATE` (which waits for the write lock, up to the busy timeout) and the
COMMIT of a write transaction (which may checkpoint the WAL) always take the hop; in WAL mode
the statements after `BEGIN IMMEDIATE` never wait for another connection, and readers never
wait for writers.
"""

from __future__ import annotations

import collections
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
            adapted.writing, inline = True, False
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


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("writing",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.writing = False  # in a transaction begun with BEGIN IMMEDIATE

    def commit(self) -> None:
        # A read transaction's COMMIT only lets go of its snapshot: no hop for that.
        writing, self.writing = self.writing, False
        if writing or not self._connection._connection:
            super().commit()
            return
        try:
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
