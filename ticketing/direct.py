"""Hot statements straight on the driver: SQLAlchemy builds and compiles them, then steps aside.

Measured on this kind of machine, one prebuilt statement through `AsyncSession.execute` costs
about 180 us of CPU on either database; the same statement on asyncpg directly about 60 us, and
on sqlite3 directly about 10 us. A cart step runs 5-13 statements, so SQLAlchemy's per-statement
work (cache-key lookup, execution context, result metadata, the greenlet round trip) was most of
a step's CPU time and, on SQLite, most of the time the one write lock is held.

A `Direct` wraps a Core statement (select, insert, update with or without RETURNING). For each
dialect it is compiled once, with SQLAlchemy's own compiler, into the SQL string, the order of
its positional parameters, the values bound inside the statement, and SQLAlchemy's own bind and
result processors for every parameter and column (so types behave exactly as they do through
SQLAlchemy: UTC datetimes, money, UUIDs on SQLite). Execution then is: process the parameters,
one driver call on the session's connection inside the unit of work's transaction, process the
rows into named tuples.

Statements whose answer nobody reads (the inserts and updates that record a step: cart items,
audit rows, the payment, its cart's status) can be sent `later`: on PostgreSQL they wait in the
unit of work's transaction and travel with the next statement that needs an answer (or with
the COMMIT) in one round trip, as one simple-protocol query with their values written as SQL
literals (`_literal`: integers, booleans, NULL, and everything else as an escaped string
constant that PostgreSQL converts to the column's type). A statement built with `waits=True`
is prepared once by every pooled connection and waits as `EXECUTE name(values)`, which
PostgreSQL neither parses nor plans again; a row lock whose answer the next statement reads
(`SELECT ... FOR UPDATE`) can wait too, and so does a lean unit's BEGIN. Measured: an order
(hold + book) went from 18 round trips to 9. On SQLite, where a statement is a function call,
`later` runs the statement at once. Any statement of the transaction, direct or through
SQLAlchemy, first sends what waits, so a later read always sees the earlier writes.

What a `Direct` does not do: expanding `IN` parameters (use one row per statement, or
`execute_many`), Python-side column defaults (give every value), ORM entities.

Driver errors are wrapped the way SQLAlchemy wraps them (`sqlalchemy.exc.DBAPIError` and its
subclasses, with the driver's error as `.orig`), so the unit of work maps deadlocks, lock
timeouts and SQLite's busy errors as before; a broken connection is invalidated.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import logging
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only

from ticketing import sqlite_driver

# `echo=True` (TICKETING_SQL_ECHO) turns this logger on: direct statements are echoed with the rest.
_echo = logging.getLogger("sqlalchemy.engine.Engine")
_log = logging.getLogger(__name__)
_DRIVER = "ticketing_driver"  # session.info: the unit of work's driver connection
_INLINE = "ticketing_inline"  # session.info: SQLite statements may run on the loop's thread
_PG_NUMERIC_OID, _PG_FLOAT8_OID = 1700, 701
_ROWCOUNT = re.compile(r"(?:UPDATE|DELETE|INSERT \d+|SELECT) (\d+)")


# Statements sent `later`, by the name each pooled PostgreSQL connection prepares them under;
# and, per driver connection, the names it prepared when it was opened.
_WAITING: dict[str, Direct] = {}
_prepared_on: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # positional parameters, in order
    fixed: dict[str, Any]  # values bound in the statement itself
    processors: tuple[Callable[[Any], Any] | None, ...]
    row: type[Any] | None  # a named tuple class; None: the statement returns no rows
    columns: tuple[Callable[[Any], Any] | None, ...]
    # PostgreSQL, statements without rows: the SQL split around its placeholders, and the
    # 0-based position of each placeholder's parameter ($1 -> 0)
    pieces: tuple[str, ...] = ()
    slots: tuple[int, ...] = ()


class Direct:
    """A Core statement that runs on the driver directly (see the module's docstring).

    `waits=True`: a statement the services send `later`. On PostgreSQL every pooled connection
    prepares it once, when it is opened (`prepare_waiting`), and what waits is then
    `EXECUTE name(values)` instead of the whole statement: PostgreSQL parses and plans it once
    per connection instead of once per use (measured: ~40 us less of PostgreSQL's CPU per
    statement, a third of what a batch of them cost it).
    """

    __slots__ = ("_by_dialect", "prepared_as", "statement")

    def __init__(self, statement: sa.Executable, *, waits: bool = False) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}
        self.prepared_as: str | None = None
        if waits:
            self.prepared_as = f"ticketing_waits_{len(_WAITING)}"
            _WAITING[self.prepared_as] = self

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _compile(self.statement, dialect)
        return found

    def __repr__(self) -> str:
        return f"Direct({self.statement})"


def _compile(statement: sa.Executable, dialect: Dialect) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    if not compiled.positional:
        raise TypeError(f"{dialect.name}: a positional paramstyle is expected")
    names = tuple(compiled.positiontup)
    binds = compiled.binds
    for name in names:
        if binds[name].expanding:
            raise TypeError(f"expanding parameter {name!r} (an IN list) cannot run directly")
    fixed = {
        name: bind.effective_value
        for name, bind in binds.items()
        if not bind.required and name in names
    }
    processors = tuple(binds[name].type._cached_bind_processor(dialect) for name in names)
    result_columns = compiled._result_columns
    if not result_columns:
        pieces: tuple[str, ...] = ()
        slots: tuple[int, ...] = ()
        if dialect.name == "postgresql":
            with contextlib.suppress(TypeError):  # runs, but cannot wait (`_render` says so)
                pieces, slots = _split_placeholders(compiled.string, len(names))
        return _Compiled(compiled.string, names, fixed, processors, None, (), pieces, slots)
    row = collections.namedtuple(  # type: ignore[misc]
        "DirectRow", [column.keyname for column in result_columns], rename=True
    )
    columns = tuple(
        column.type._cached_result_processor(dialect, _coltype(column.type, dialect))
        for column in result_columns
    )
    pieces, slots = (), ()
    if dialect.name == "postgresql":  # a row lock nobody reads can wait too
        with contextlib.suppress(TypeError):
            pieces, slots = _split_placeholders(compiled.string, len(names))
    return _Compiled(compiled.string, names, fixed, processors, row, columns, pieces, slots)


_PLACEHOLDER = re.compile(r"\$(\d+)")


def _split_placeholders(sql: str, count: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """`sql` around its placeholders $1 .. $count, and the parameter of each (SQLAlchemy writes
    every value as a parameter, so the SQL holds no string constant in which a `$` could hide;
    a quote in it is refused all the same)."""
    pieces = _PLACEHOLDER.split(sql)
    slots = tuple(int(number) - 1 for number in pieces[1::2])
    if "'" in sql or set(slots) != set(range(count)):
        raise TypeError(f"cannot write literal values into {sql!r}")
    return tuple(pieces[0::2]), slots


def _literal(value: Any) -> str:
    """A driver-level value as a PostgreSQL literal: integers and booleans as such, anything else
    as an escape string constant (backslash and quote escaped, so nothing ends it early; the
    meaning does not depend on `standard_conforming_strings`) that the column's type reads."""
    if value is None:
        return "NULL"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, bytes | bytearray | memoryview | list | tuple | dict | float):
        raise TypeError(f"no SQL literal for a {type(value).__name__}")
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if "\x00" in text:
        raise ValueError("a NUL character cannot be sent to PostgreSQL")
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _render(compiled: _Compiled, arguments: Sequence[Any]) -> str:
    """The statement with its (processed) arguments written in, ending with `;`."""
    pieces = compiled.pieces
    if not pieces:
        raise TypeError(f"only PostgreSQL statements without quotes can wait: {compiled.sql!r}")
    out = [pieces[0]]
    for slot, piece in zip(compiled.slots, pieces[1:], strict=True):
        out.append(_literal(arguments[slot]))
        out.append(piece)
    out.append(";")
    return "".join(out)


def _render_execute(name: str, arguments: Sequence[Any]) -> str:
    """`EXECUTE name(values);` of a statement the connection prepared."""
    return f"EXECUTE {name}({','.join(_literal(value) for value in arguments)});"


def prepare_waiting(engine: Any) -> None:
    """PostgreSQL engines: each new pooled connection prepares the statements that wait
    (`Direct(..., waits=True)`) in one round trip, once for its lifetime."""

    @sa.event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dialect = engine.sync_engine.dialect
        names, statements = [], []
        for name, waiting in list(_WAITING.items()):
            compiled = waiting.compiled(dialect)
            if compiled.pieces:  # (one that cannot wait is not prepared either)
                names.append(name)
                statements.append(f"PREPARE {name} AS {compiled.sql};")
        if not statements:
            return
        driver = dbapi_connection._connection
        try:
            await_only(driver.execute("".join(statements)))
        except Exception as error:  # e.g. a database not migrated yet: they are sent in full
            _log.debug("statements that wait are not prepared on this connection: %s", error)
            return
        _prepared_on[driver] = frozenset(names)


def _coltype(type_: Any, dialect: Dialect) -> Any:
    """The driver's type code for a result column where a processor depends on it (asyncpg's
    numeric processors do); SQLite reports none."""
    if dialect.name != "postgresql":
        return None
    impl = type_.dialect_impl(dialect)
    impl = getattr(impl, "impl_instance", impl)
    if isinstance(impl, sa.Float):
        return _PG_FLOAT8_OID
    if isinstance(impl, sa.Numeric):
        return _PG_NUMERIC_OID
    return None


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    fixed = compiled.fixed
    out = []
    for name, process in zip(compiled.names, compiled.processors, strict=True):
        value = params[name] if name in params else fixed[name]
        out.append(value if process is None or value is None else process(value))
    return out


def _rows(compiled: _Compiled, raw: Sequence[Any]) -> list[Any]:
    make = compiled.row
    assert make is not None
    columns = compiled.columns
    if not any(columns):
        return [make(*values) for values in raw]
    return [
        make(
            *(
                value if process is None or value is None else process(value)
                for process, value in zip(columns, values, strict=True)
            )
        )
        for values in raw
    ]


class _Outcome(NamedTuple):
    rows: list[Any]
    rowcount: int


class _PostgresTransaction:
    """The transaction of a PostgreSQL unit of work, begun here with a plain BEGIN and held where
    SQLAlchemy's asyncpg adapter keeps asyncpg's `Transaction` (so that SQLAlchemy's statements,
    commit and rollback act on it as they would on asyncpg's).

    Unlike asyncpg's, it holds the statements sent `later` (as SQL text), and it can be ended by
    a COMMIT sent in the same round trip as the last statements (`commit_after`); SQLAlchemy's
    commit then has nothing left to send.
    """

    __slots__ = ("_driver", "ended", "waiting")

    def __init__(self, driver: Any) -> None:
        self._driver = driver
        self.ended = False
        self.waiting: list[str] = []

    def take_waiting(self) -> str:
        sql = "".join(self.waiting)
        self.waiting.clear()
        return sql

    async def commit(self) -> None:
        if self.ended:
            return
        statement = self.take_waiting() + "COMMIT;"
        _echo_sql(statement, ())
        try:
            await self._driver.execute(statement)
        except Exception:
            # A waiting statement failed: the transaction is open (aborted) and SQLAlchemy,
            # which forgets it now, would not roll it back. (The first error is the one raised.)
            if self._driver.is_in_transaction() and not self._driver.is_closed():
                with contextlib.suppress(Exception):
                    await self._driver.execute("ROLLBACK")
            raise
        finally:
            self.ended = True

    async def rollback(self) -> None:
        begun = not (self.waiting and self.waiting[0] is _BEGIN_WAITING)
        self.waiting.clear()
        if not begun:  # nothing was sent: there is no transaction to end
            self.ended = True
        if not self.ended:
            self.ended = True
            await self._driver.execute("ROLLBACK")


_BEGIN_POSTGRES = "BEGIN ISOLATION LEVEL READ COMMITTED"
_BEGIN_WAITING = _BEGIN_POSTGRES + ";"


async def bind(session: AsyncSession, connection: Any, *, inline: bool) -> None:
    """Called by the unit of work once its transaction is open: remember the driver connection.

    On PostgreSQL a write unit's transaction (which SQLAlchemy's asyncpg adapter would begin at
    its first statement) is begun here, so that direct statements run inside it."""
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    postgres = connection.dialect.name == "postgresql"
    if postgres and adapted._transaction is None and not adapted.autocommit:
        driver = adapted._connection
        try:
            await driver.execute(_BEGIN_POSTGRES)
        except Exception as error:
            await _raise_wrapped(connection, adapted, _BEGIN_POSTGRES, (), error)
        adapted._transaction = _PostgresTransaction(driver)
    session.info[_DRIVER] = (connection, adapted)
    session.info[_INLINE] = inline


async def commit_after(session: AsyncSession, sql: str) -> None:
    """PostgreSQL: send what waits, `sql` (statements without parameters) and COMMIT in one
    round trip; the unit of work's own commit then sends nothing."""
    connection, adapted = _bound(session)
    transaction = adapted._transaction
    if not isinstance(transaction, _PostgresTransaction) or transaction.ended:
        raise RuntimeError("commit_after needs the open transaction of a PostgreSQL unit of work")
    statement = f"{transaction.take_waiting()}{sql}COMMIT;"
    driver = adapted._connection
    _echo_sql(statement, ())
    try:
        await driver.execute(statement)
    except Exception as error:
        # A statement before the COMMIT failed: the transaction is open (aborted) and the
        # unit of work's rollback ends it. If the COMMIT itself failed, it ended it.
        transaction.ended = not driver.is_in_transaction()
        await _raise_wrapped(connection, adapted, statement, (), error)
    transaction.ended = True


def _waiting_in(adapted: Any) -> _PostgresTransaction | None:
    transaction = getattr(adapted, "_transaction", None)
    if isinstance(transaction, _PostgresTransaction) and transaction.waiting:
        return transaction
    return None


async def _send_waiting(connection: Any, adapted: Any, transaction: _PostgresTransaction) -> None:
    statement = transaction.take_waiting()
    _echo_sql(statement, ())
    try:
        await adapted._connection.execute(statement)
    except Exception as error:
        await _raise_wrapped(connection, adapted, statement, (), error)


def send_waiting_first(engine: Any) -> None:
    """PostgreSQL engines: a statement SQLAlchemy runs in a unit of work first sends the
    statements waiting there (`later`), so that it sees their writes."""

    @sa.event.listens_for(engine.sync_engine, "before_cursor_execute")
    def before(connection: Any, _cursor: Any, *_args: Any) -> None:
        adapted = connection.connection.dbapi_connection
        transaction = _waiting_in(adapted)
        if transaction is not None:
            await_only(_send_waiting(connection, adapted, transaction))


def bind_lean(
    session: AsyncSession, connection: Any, adapted: Any, *, write: bool
) -> _PostgresTransaction | None:
    """PostgreSQL, a short unit of work on a pooled connection without SQLAlchemy's session
    machinery (`ticketing.db`): a write unit's transaction is opened here (its BEGIN waits for
    the unit's first round trip); a read unit runs each statement on its own (autocommit), as a
    `query` does. `connection` is the SQLAlchemy
    `AsyncConnection` of the pooled connection (its dialect, and its invalidation when the
    driver reports the connection broken)."""
    transaction = None
    if write:
        # BEGIN waits too: it goes with the unit's first round trip
        transaction = adapted._transaction = _PostgresTransaction(adapted._connection)
        transaction.waiting.append(_BEGIN_WAITING)
    session.info[_DRIVER] = (connection, adapted)
    session.info[_INLINE] = True
    return transaction


async def commit_lean(connection: Any, adapted: Any, transaction: _PostgresTransaction) -> None:
    """End a lean unit's transaction: what waits and COMMIT in one round trip; a failure is
    raised as SQLAlchemy would raise it (`DBAPIError`, its SQLSTATE kept for the retry)."""
    try:
        await transaction.commit()
    except Exception as error:
        await _raise_wrapped(connection, adapted, "COMMIT", (), error)


def unbind(session: AsyncSession) -> None:
    session.info.pop(_DRIVER, None)
    session.info.pop(_INLINE, None)


def _bound(session: AsyncSession) -> tuple[Any, Any]:
    bound: tuple[Any, Any] | None = session.info.get(_DRIVER)
    if bound is None:
        raise RuntimeError("direct statements run inside a unit of work (ticketing.db)")
    return bound


async def _run(
    session: AsyncSession, direct: Direct, params: Any, *, many: bool = False
) -> _Outcome:
    connection, adapted = _bound(session)
    dialect = connection.dialect
    compiled = direct.compiled(dialect)
    arguments: Any = (
        [_arguments(compiled, p) for p in params] if many else _arguments(compiled, params)
    )
    waiting = _waiting_in(adapted)
    if waiting is not None:  # PostgreSQL: what waits goes first
        await _send_waiting(connection, adapted, waiting)
    _echo_sql(compiled.sql, arguments)
    try:
        if dialect.name == "postgresql":
            outcome = await _run_asyncpg(adapted._connection, compiled, arguments, many=many)
        else:
            outcome = await _run_sqlite(
                adapted, compiled, arguments, many=many, inline=session.info[_INLINE]
            )
    except Exception as error:
        await _raise_wrapped(connection, adapted, compiled.sql, arguments, error)
    return outcome


def _echo_sql(sql: str, arguments: Any) -> None:
    if _echo.isEnabledFor(logging.INFO):
        _echo.info("[direct] %s\n%r", sql, arguments)


async def _run_asyncpg(driver: Any, compiled: _Compiled, arguments: Any, *, many: bool) -> _Outcome:
    if many:
        await driver.executemany(compiled.sql, arguments)
        return _Outcome([], -1)
    if compiled.row is not None:
        return _Outcome(_rows(compiled, await driver.fetch(compiled.sql, *arguments)), -1)
    status = await driver.execute(compiled.sql, *arguments)
    matched = _ROWCOUNT.match(status or "")
    return _Outcome([], int(matched.group(1)) if matched else -1)


async def _run_sqlite(
    adapted: Any, compiled: _Compiled, arguments: Any, *, many: bool, inline: bool
) -> _Outcome:
    connection = adapted._connection  # aiosqlite's
    if inline:
        _, raw, rowcount, _ = sqlite_driver.run(
            connection._conn, compiled.sql, arguments, many=many
        )
    else:
        _, raw, rowcount, _ = await connection._execute(
            sqlite_driver.run, connection._conn, compiled.sql, arguments, many=many
        )
    rows = _rows(compiled, raw) if compiled.row is not None else []
    return _Outcome(rows, rowcount)


async def _raise_wrapped(
    connection: Any, adapted: Any, sql: str, arguments: Any, error: Exception
) -> NoReturn:
    """Raise `error` as SQLAlchemy would have: translated by the adapter, wrapped in
    `DBAPIError`; a connection the driver reports broken is invalidated."""
    dialect = connection.dialect
    try:
        adapted._handle_exception(error)
    except Exception as translated:
        error = translated
    if not isinstance(error, dialect.loaded_dbapi.Error):
        raise error
    disconnect = dialect.is_disconnect(error, adapted, None)
    if disconnect:
        await connection.invalidate(error)
    raise sa.exc.DBAPIError.instance(
        sql,
        arguments,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnect,
        dialect=dialect,
    ) from error


async def rows(session: AsyncSession, direct: Direct, params: Mapping[str, Any]) -> list[Any]:
    """Every row, as named tuples."""
    return (await _run(session, direct, params)).rows


async def one_or_none(session: AsyncSession, direct: Direct, params: Mapping[str, Any]) -> Any:
    found = (await _run(session, direct, params)).rows
    if len(found) > 1:
        raise sa.exc.MultipleResultsFound("more than one row where at most one was expected")
    return found[0] if found else None


async def one(session: AsyncSession, direct: Direct, params: Mapping[str, Any]) -> Any:
    found = await one_or_none(session, direct, params)
    if found is None:
        raise sa.exc.NoResultFound("no row where one was expected")
    return found


async def scalar(session: AsyncSession, direct: Direct, params: Mapping[str, Any]) -> Any:
    """The first column of the first row, or None."""
    found = (await _run(session, direct, params)).rows
    return found[0][0] if found else None


async def execute(session: AsyncSession, direct: Direct, params: Mapping[str, Any]) -> int:
    """Run a statement that returns no rows; the number of rows it changed."""
    return (await _run(session, direct, params)).rowcount


async def execute_many(
    session: AsyncSession, direct: Direct, params: Sequence[Mapping[str, Any]]
) -> None:
    """Run a statement once per parameter set, in one driver call."""
    if params:
        await _run(session, direct, params, many=True)


async def later(session: AsyncSession, direct: Direct, params: Mapping[str, Any]) -> None:
    """Run a statement whose answer nobody reads (no rows, no row count): on PostgreSQL it waits
    for the transaction's next round trip (see the module's docstring); on SQLite it runs now."""
    await later_many(session, direct, (params,))


async def later_many(
    session: AsyncSession, direct: Direct, params: Sequence[Mapping[str, Any]]
) -> None:
    """`later`, once per parameter set."""
    if not params:
        return
    connection, adapted = _bound(session)
    transaction = getattr(adapted, "_transaction", None)
    if not isinstance(transaction, _PostgresTransaction) or transaction.ended:
        if direct.compiled(connection.dialect).row is None:
            await _run(session, direct, params, many=True)
        else:  # a statement with rows (a row lock) runs once per parameter set
            for one in params:
                await _run(session, direct, one)
        return
    compiled = direct.compiled(connection.dialect)
    name = direct.prepared_as
    if name is not None and name in _prepared_on.get(adapted._connection, ()):
        transaction.waiting.extend(_render_execute(name, _arguments(compiled, p)) for p in params)
    else:
        transaction.waiting.extend(_render(compiled, _arguments(compiled, p)) for p in params)
