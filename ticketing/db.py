"""Engine construction and the unit of work: one transaction per service call, on either database.

SQLite runs in WAL mode with a busy timeout; write transactions start with `BEGIN IMMEDIATE` so
that concurrent writers queue for the lock instead of failing on a stale snapshot. PostgreSQL runs
at READ COMMITTED, where conditional UPDATEs re-check their WHERE clause after waiting for a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

from ticketing import direct, sqlite_driver
from ticketing.errors import ErrorCode, TicketingError
from ticketing.models import event_section_t
from ticketing.settings import Settings

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's busy timeout alone queues the processes
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_WRITE_OPTION = "ticketing_write"
_SHORT_OPTION = "ticketing_short"
_MAX_ATTEMPTS = 4
# PostgreSQL: deadlock_detected, serialization_failure; both are safe to retry from the start.
_RETRYABLE_SQLSTATES = {"40P01", "40001"}
# PostgreSQL: lock_not_available (lock_timeout), query_canceled (statement_timeout).
_BUSY_SQLSTATES = {"55P03", "57014"}
_SQLITE_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (and their extended codes' low byte)

P = ParamSpec("P")
R = TypeVar("R")


def create_engine(settings: Settings) -> AsyncEngine:
    engine = _create_engine(settings)
    _unit_slots[engine.sync_engine] = _UnitSlots(
        settings.db_concurrency, timeout_s=settings.pool_timeout_ms / 1000
    )
    return engine


def _create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            echo=settings.sql_echo,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.pool_timeout_ms / 1000,
            # check_same_thread: short statements run on the loop's thread (sqlite_driver)
            connect_args={"timeout": settings.lock_timeout_ms / 1000, "check_same_thread": False},
            module=sqlite_driver.dbapi(),
        )
        _configure_sqlite(engine, busy_timeout_ms=settings.lock_timeout_ms)
        file_database = url.database and url.database != ":memory:" and not url.query.get("mode")
        if fcntl is not None and file_database:
            _sqlite_writer_files[engine.sync_engine] = _WriterFile(
                f"{url.database}.writer-lock", timeout_s=settings.lock_timeout_ms / 1000
            )
        return engine
    engine = create_async_engine(
        url,
        echo=settings.sql_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.pool_timeout_ms / 1000,
        connect_args={
            "server_settings": {
                "application_name": f"ticketing-{os.getpid()}",
                "lock_timeout": f"{settings.lock_timeout_ms}ms",
            }
        },
    )
    _ping_when_idle(engine)
    direct.send_waiting_first(engine)
    direct.prepare_waiting(engine)
    return engine


_IDLE_BEFORE_PING_S = 5.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only when it sat idle for a while (the server may
    have closed it meanwhile). SQLAlchemy's pool_pre_ping pings on every checkout: a round trip
    per transaction, about a quarter of a short command's time, for connections in constant use.
    """

    @sa.event.listens_for(engine.sync_engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine.sync_engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < _IDLE_BEFORE_PING_S:
            return
        try:
            alive = engine.sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool drops this connection and checks out another
            raise sa.exc.DisconnectionError(f"idle connection failed its ping: {exc}") from exc
        if not alive:
            raise sa.exc.DisconnectionError("idle connection failed its ping")


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @sa.event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands, so that we can choose IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # commits run on the event loop's thread: checkpoints are done apart (sqlite_driver)
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()
        dbapi_connection.busy_timeout_ms = busy_timeout_ms

    @sa.event.listens_for(engine.sync_engine, "before_cursor_execute")
    def inline_when_short(
        _conn: sa.Connection, cursor: Any, _sql: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if context is not None:
            cursor.inline = bool(context.execution_options.get(_SHORT_OPTION, False))

    @sa.event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# SQLite has one writer at a time. Writers of one process queue here, in order and without
# sleeping; across processes they queue on a file lock (`_WriterFile`) before they begin.
_sqlite_write_locks: weakref.WeakKeyDictionary[sa.Engine, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


class _WriterFile:
    """A lock file next to the database that this service's processes take before a write
    transaction (`flock`, released by the kernel if a process dies).

    SQLite's own lock decides who writes; this only queues our writers. A connection that finds
    SQLite's write lock taken sleeps and polls (1, 2, 5, 10 ... ms, up to the busy timeout),
    and with two worker processes that backoff, not the work, set the pace of writes; a process
    waiting here is woken by the kernel the moment the lock is let go. It also lets a short
    command's `BEGIN IMMEDIATE` run on the event loop's thread (see `ticketing.sqlite_driver`).
    """

    def __init__(self, path: str, *, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._fd: int | None = None

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            weakref.finalize(self, os.close, self._fd)
        return self._fd

    async def acquire(self) -> None:
        fd = self._descriptor()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            await asyncio.wait_for(asyncio.shield(waiting), self.timeout_s)
        except BaseException:
            # timed out or cancelled: let go of the lock once the thread gets it
            waiting.add_done_callback(self._release_after)
            raise

    def _release_after(self, waiting: asyncio.Future[None]) -> None:
        if not waiting.cancelled() and waiting.exception() is None:
            self.release()

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


_sqlite_writer_files: weakref.WeakKeyDictionary[sa.Engine, _WriterFile] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def _writer_slot(session: AsyncSession, *, write: bool) -> AsyncIterator[None]:
    bind = session.bind
    engine = bind.sync_engine if isinstance(bind, AsyncEngine) else None
    if not write or engine is None or engine.dialect.name != "sqlite":
        yield
        return
    lock = _sqlite_write_locks.setdefault(engine, asyncio.Lock())
    writer_file = _sqlite_writer_files.get(engine)
    async with lock:
        if writer_file is None:
            yield
            return
        try:
            await writer_file.acquire()
        except TimeoutError as exc:
            raise busy_error() from exc
        try:
            yield
        finally:
            writer_file.release()


class _UnitSlots:
    """Admission to the database, per worker process: at most `size` units of work at once,
    the others waiting in order (FIFO), for at most `timeout_s`.

    With hundreds of requests in a worker (an on-sale rush), a transaction waited for the event
    loop between each of its statements behind everything else that was ready, its connection
    idle in transaction and its row locks held meanwhile: measured on PostgreSQL, 50-60 of 80
    connections idle in transaction at any moment and a p99 of 7 s for every cart step at a p50
    of 0.2-0.6 s. Admitted units run to their end quickly; the queue is in front of them.
    """

    def __init__(self, size: int, *, timeout_s: float) -> None:
        self.size = size
        self.timeout_s = timeout_s
        self._semaphore: asyncio.Semaphore | None = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if _IN_UNIT.get():  # a unit called from inside another one already has its slot
            yield
            return
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.size)
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._semaphore.acquire()
        except TimeoutError as exc:
            raise busy_error() from exc
        token = _IN_UNIT.set(True)
        try:
            yield
        finally:
            _IN_UNIT.reset(token)
            self._semaphore.release()


_IN_UNIT: contextvars.ContextVar[bool] = contextvars.ContextVar("ticketing_in_unit", default=False)
_unit_slots: weakref.WeakKeyDictionary[sa.Engine, _UnitSlots] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def _admitted(session: AsyncSession) -> AsyncIterator[None]:
    bind = session.bind
    slots = _unit_slots.get(bind.sync_engine) if isinstance(bind, AsyncEngine) else None
    if slots is None:
        yield
        return
    async with slots.slot():
        yield


_CHANGED_SECTIONS = "ticketing_changed_sections"


def sections_changed(session: AsyncSession, event_id: int, section_ids: Iterable[int]) -> None:
    """Record that this transaction changed what seats of these sections show (their status).

    The unit of work bumps each such section's `version` at commit; seat-map caches in every
    worker compare that version. Every transaction that changes a section's seats takes that
    section's row lock, so the lock must be held as briefly as possible: on PostgreSQL the bumps
    and the COMMIT travel in one round trip (the lock is held only while the server commits,
    never while the worker is busy elsewhere); on SQLite they are the last statements before the
    commit (SQLite's one write lock is held for the whole transaction anyway).
    """
    changed: set[tuple[int, int]] = session.info.setdefault(_CHANGED_SECTIONS, set())
    changed.update((event_id, section_id) for section_id in section_ids)


_BUMP_VERSION = direct.Direct(  # built once: it runs in every transaction that changes a seat
    sa.update(event_section_t)
    .where(
        event_section_t.c.event_id == sa.bindparam("the_event"),
        event_section_t.c.section_id == sa.bindparam("the_section"),
    )
    .values(version=event_section_t.c.version + 1),
    waits=True,
)


async def _bump_section_versions(session: AsyncSession) -> None:
    """Bump the changed sections' versions; on PostgreSQL, commit in the same round trip."""
    changed: set[tuple[int, int]] | None = session.info.pop(_CHANGED_SECTIONS, None)
    if not changed:
        return
    # One statement per section, in key order: concurrent transactions lock them in one order.
    in_order = sorted(changed)
    if await dialect_name(session) == "postgresql":
        await _bump_and_commit_postgres(session, in_order)
        return
    await direct.execute_many(
        session,
        _BUMP_VERSION,
        [{"the_event": event_id, "the_section": section_id} for event_id, section_id in in_order],
    )


async def _bump_and_commit_postgres(session: AsyncSession, changed: list[tuple[int, int]]) -> None:
    """The bumps wait (`direct.later`) and go with the COMMIT in one round trip.

    While the worker waited for a separate bump's answer and then sent COMMIT, every other
    writer of the section queued behind its row lock: in an on-sale rush with hundreds of
    requests per worker, that wait was most of every write's time.
    """
    await direct.later_many(
        session,
        _BUMP_VERSION,
        [{"the_event": event_id, "the_section": section_id} for event_id, section_id in changed],
    )
    await direct.commit_after(session, "")


async def dialect_name(session: AsyncSession) -> str:
    # the engine the session was made for, or the connection a lean unit lent it: no checkout
    bind = session.sync_session.bind
    if bind is not None:
        return bind.dialect.name
    return (await session.connection()).dialect.name


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@contextlib.asynccontextmanager
async def session_of(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for one request's service calls, closed at the end when it holds anything.

    Units of work end their transactions themselves; a session whose units all ran lean (see
    `_lean_unit`) holds neither a connection nor an object, and closing it anyway costs ~70 us
    of CPU (a hop to SQLAlchemy's greenlet and the identity map's teardown) per request.
    """
    session = sessionmaker()
    try:
        yield session
    finally:
        sync_session = session.sync_session
        if sync_session.in_transaction() or sync_session.identity_map:
            await session.close()


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(orig, attribute, None)
        if isinstance(value, str):
            return value
    return None


def _is_sqlite_busy(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_CODES
    return "database is locked" in str(exc.orig)


def busy_error() -> TicketingError:
    return TicketingError(
        ErrorCode.SERVICE_BUSY,
        "The service is busy with other orders; retry in a moment.",
        context={"retry_after": 1},
    )


def _transaction(
    *, write: bool, short: bool = False
) -> Callable[
    [Callable[Concatenate[AsyncSession, P], Awaitable[R]]],
    Callable[Concatenate[AsyncSession, P], Awaitable[R]],
]:
    def decorate(
        fn: Callable[Concatenate[AsyncSession, P], Awaitable[R]],
    ) -> Callable[Concatenate[AsyncSession, P], Awaitable[R]]:
        @functools.wraps(fn)
        async def run(session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> R:
            async with _admitted(session):
                return await attempts(session, *args, **kwargs)

        async def attempts(session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, _MAX_ATTEMPTS + 1):
                try:
                    session.info.pop(_CHANGED_SECTIONS, None)
                    if short and _runs_lean(session):
                        return await _lean_unit(session, fn, args, kwargs, write=write)
                    async with _writer_slot(session, write=write), session.begin():
                        options = await _options(session, write=write, short=short)
                        connection = await session.connection(execution_options=options)
                        await direct.bind(
                            session, connection, inline=bool(options.get(_SHORT_OPTION))
                        )
                        try:
                            result = await fn(session, *args, **kwargs)
                            await _bump_section_versions(session)
                        finally:
                            direct.unbind(session)
                        return result
                except sa.exc.TimeoutError as exc:
                    # Every pooled connection is in use for longer than we wait: overloaded.
                    raise busy_error() from exc
                except DBAPIError as exc:
                    sqlstate = _sqlstate(exc)
                    if sqlstate in _RETRYABLE_SQLSTATES and attempt < _MAX_ATTEMPTS:
                        log.info(
                            "retrying %s after %s (attempt %d)", fn.__name__, sqlstate, attempt
                        )
                        await asyncio.sleep(0.005 * attempt)
                        continue
                    if sqlstate in _BUSY_SQLSTATES or sqlstate in _RETRYABLE_SQLSTATES:
                        raise busy_error() from exc
                    if _is_sqlite_busy(exc):
                        raise busy_error() from exc
                    raise
            raise AssertionError("unreachable")  # pragma: no cover

        return run

    return decorate


def _runs_lean(session: AsyncSession) -> bool:
    """A short unit on PostgreSQL, on a session not in a transaction already."""
    bind = session.bind
    return (
        isinstance(bind, AsyncEngine)
        and bind.dialect.name == "postgresql"
        and not session.sync_session.in_transaction()
    )


async def _lean_unit(
    session: AsyncSession,
    fn: Callable[..., Awaitable[R]],
    args: Any,
    kwargs: Any,
    *,
    write: bool,
) -> R:
    """A short unit of work on PostgreSQL without the session's transaction machinery.

    The session's own begin / connection / commit / close cost about 430 us of CPU per unit
    (measured: a unit of one statement 660 us, the same three round trips on a pooled connection
    240 us); a cart step is one or two units. Here the unit checks a connection out of the same
    pool (its checkout and checkin events run as usual), begins and ends the transaction itself
    (`direct.bind_lean`: its BEGIN goes with the unit's first round trip, what waits with the
    COMMIT) and
    lends the connection to the session for the unit's length, so that a statement the service
    runs through SQLAlchemy joins the same transaction (SQLAlchemy's commit or rollback then ends
    it, as in the full unit of work).
    """
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    sync_connection = await greenlet_spawn(engine.sync_engine.connect)
    adapted: Any = sync_connection.connection.dbapi_connection
    sync_session = session.sync_session
    lent_from = sync_session.bind
    ended = False
    try:
        if not write:
            adapted.autocommit = True  # each statement on its own, as a `query`'s on PostgreSQL
        sync_session.bind = sync_connection
        connection = AsyncConnection(engine, sync_connection)
        transaction = direct.bind_lean(session, connection, adapted, write=write)
        try:
            result = await fn(session, *args, **kwargs)
            await _bump_section_versions(session)
            if sync_session.in_transaction():
                await session.commit()
            elif transaction is not None:
                await direct.commit_lean(connection, adapted, transaction)
            ended = True
        except BaseException:
            ended = await _roll_back(session, transaction)
            raise
        finally:
            direct.unbind(session)
        return result
    finally:
        sync_session.bind = lent_from
        if ended and not adapted._connection.is_in_transaction():
            adapted._transaction = None
            adapted.autocommit = False
            sync_connection.close()  # back to the pool: nothing left for its reset to await
        else:  # the transaction's end is unknown (a rollback failed): the pool drops it
            await greenlet_spawn(_discard, sync_connection)


async def _roll_back(session: AsyncSession, transaction: Any) -> bool:
    """Roll a lean unit's transaction back; False if that failed (the error that ended the
    unit is the one raised, not this one)."""
    try:
        if session.sync_session.in_transaction():
            await session.rollback()
        elif transaction is not None:
            await transaction.rollback()
    except Exception:
        return False
    return True


def _discard(connection: sa.Connection) -> None:
    connection.invalidate()
    connection.close()


async def _options(session: AsyncSession, *, write: bool, short: bool) -> dict[str, Any]:
    if not write and await dialect_name(session) == "postgresql":
        # At READ COMMITTED every statement reads its own snapshot, in a transaction or not: a
        # BEGIN and a ROLLBACK around a query's statements are two round trips that change
        # nothing, so a query's statements run on their own.
        return {_WRITE_OPTION: False, "isolation_level": "AUTOCOMMIT"}
    return {_WRITE_OPTION: write, _SHORT_OPTION: short}


command = _transaction(write=True)
"""A service command: one write transaction, rolled back on any exception, retried on deadlock."""

short_command = _transaction(write=True, short=True)
"""A `command` of a few statements on a handful of rows each (a cart or payment step): on SQLite
they run on the event loop's thread instead of a round trip to aiosqlite's (see
`ticketing.sqlite_driver`). Never for statements whose size grows with the data."""

short_query = _transaction(write=False, short=True)
"""A `query` of a few statements on a handful of rows each (see `short_command`)."""

query = _transaction(write=False)
"""A service query: reads only. On SQLite one read transaction (one snapshot); on PostgreSQL,
at READ COMMITTED, each statement reads the latest committed data, as it would in a transaction."""
