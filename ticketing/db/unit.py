"""The unit of work: a service command or query is one transaction on a connection of its own."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ticketing.db.engine import STATEMENTWISE_OPTION, WRITE_OPTION, create_engine
from ticketing.db.notify import Notifications, take_notes
from ticketing.errors import ErrorCode, TicketingError
from ticketing.settings import Settings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_MAX_ATTEMPTS = 4
# PostgreSQL: deadlock_detected, serialization_failure; both are safe to retry from the start.
_RETRYABLE_SQLSTATES = {"40P01", "40001"}
# PostgreSQL: lock_not_available (lock_timeout), query_canceled (statement_timeout).
_BUSY_SQLSTATES = {"55P03", "57014"}
_SQLITE_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (and their extended codes' low byte)


CHECK_SLOTS = 2
"""Units of the `check` lane a process runs at once, besides `concurrency` others: the pool is
sized for both (ticketing.settings)."""


class Database:
    """An app's engine and the admission to it: at most `concurrency` units of work of this
    process at once, the others waiting in order (a unit admitted runs to its end quickly
    instead of waiting for the event loop between statements while holding its locks)."""

    def __init__(
        self, engine: AsyncEngine, *, concurrency: int, timeout_s: float, lock_timeout_s: float
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._concurrency = concurrency
        self._timeout_s = timeout_s
        self._lock_timeout_s = lock_timeout_s
        self._slots: asyncio.Semaphore | None = None
        self._check_slots: asyncio.Semaphore | None = None
        self._sqlite_writer: asyncio.Lock | None = None
        self.notifications = Notifications(engine)
        """Listeners of what units of work notify (`ticketing.db.notify.notify`) on commit."""

    @classmethod
    def of(cls, settings: Settings) -> Database:
        return cls(
            create_engine(settings),
            concurrency=settings.db_concurrency,
            timeout_s=settings.pool_timeout_ms / 1000,
            lock_timeout_s=settings.lock_timeout_ms / 1000,
        )

    @contextlib.asynccontextmanager
    async def admitted(self, *, write: bool, check: bool = False) -> AsyncIterator[None]:
        if _IN_UNIT.get():  # a unit run from inside another one has its slot already
            yield
            return
        if self._slots is None or self._check_slots is None:  # made on the loop that uses them
            self._slots = asyncio.Semaphore(self._concurrency)
            self._check_slots = asyncio.Semaphore(CHECK_SLOTS)
            self._sqlite_writer = asyncio.Lock()
        async with self._slot(self._check_slots if check else self._slots):
            if write and self.dialect == "sqlite":
                # A writer waiting for the write lock keeps its slot: the slots' line is the
                # order of service (a writer holding the lock while waiting for a slot would
                # stall every writer behind it).
                async with self._queued_for_sqlite_write_lock():
                    yield
            else:
                yield

    @contextlib.asynccontextmanager
    async def _slot(self, slots: asyncio.Semaphore) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self._timeout_s):
                await slots.acquire()
        except TimeoutError as exc:
            raise busy_error() from exc
        token = _IN_UNIT.set(True)
        try:
            yield
        finally:
            _IN_UNIT.reset(token)
            slots.release()

    @contextlib.asynccontextmanager
    async def _queued_for_sqlite_write_lock(self) -> AsyncIterator[None]:
        # SQLite has one write lock, and a writer that finds it taken sleeps in its busy handler
        # in growing steps: this process's writers queue here instead and take it in turn.
        # Other processes still meet the busy handler; the database stays the only guard.
        assert self._sqlite_writer is not None
        try:
            async with asyncio.timeout(self._lock_timeout_s):
                await self._sqlite_writer.acquire()
        except TimeoutError as exc:
            raise busy_error() from exc
        try:
            yield
        finally:
            self._sqlite_writer.release()

    async def dispose(self) -> None:
        await self.notifications.close()
        await self.engine.dispose()


_IN_UNIT: contextvars.ContextVar[bool] = contextvars.ContextVar("ticketing_in_unit", default=False)


class KeptRefusal(Exception):  # noqa: N818 (not an error: a refusal whose writes stand)
    """Raised by a command that refuses, yet whose transaction must commit what it wrote (the
    refusal kept for an idempotency key): the unit commits, then raises `refusal`."""

    def __init__(self, refusal: TicketingError) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def busy_error() -> TicketingError:
    return TicketingError(
        ErrorCode.SERVICE_BUSY,
        "The service is busy with other orders; retry in a moment.",
        context={"retry_after": 1},
    )


def _sqlstate(exc: DBAPIError) -> str | None:
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(exc.orig, attribute, None)
        if isinstance(value, str):
            return value
    return None


def _is_sqlite_busy(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_CODES
    return "database is locked" in str(exc.orig)


def _unit(
    *, write: bool, check: bool = False
) -> Callable[
    [Callable[Concatenate[AsyncConnection, P], Awaitable[R]]],
    Callable[Concatenate[Database, P], Awaitable[R]],
]:
    def decorate(
        fn: Callable[Concatenate[AsyncConnection, P], Awaitable[R]],
    ) -> Callable[Concatenate[Database, P], Awaitable[R]]:
        @functools.wraps(fn)
        async def unit(db: Database, /, *args: P.args, **kwargs: P.kwargs) -> R:
            async with db.admitted(write=write, check=check):
                for attempt in range(1, _MAX_ATTEMPTS + 1):
                    try:
                        return await _transaction(db, fn, write, args, kwargs)
                    except sa.exc.TimeoutError as exc:
                        # every pooled connection is in use for longer than we wait: overloaded
                        raise busy_error() from exc
                    except DBAPIError as exc:
                        sqlstate = _sqlstate(exc)
                        if sqlstate in _RETRYABLE_SQLSTATES and attempt < _MAX_ATTEMPTS:
                            log.info("retrying %s after %s", fn.__name__, sqlstate)
                            await asyncio.sleep(0.005 * attempt)
                            continue
                        if sqlstate in _BUSY_SQLSTATES or sqlstate in _RETRYABLE_SQLSTATES:
                            raise busy_error() from exc
                        if _is_sqlite_busy(exc):
                            raise busy_error() from exc
                        raise
            raise AssertionError("unreachable")  # pragma: no cover

        return unit

    return decorate


async def _transaction(
    db: Database,
    fn: Callable[..., Awaitable[R]],
    write: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> R:
    async with db.engine.connect() as connection:
        if not write:
            # Each statement of a query reads the latest committed data (PostgreSQL at READ
            # COMMITTED does so in a transaction too): a BEGIN would be a round trip for nothing.
            if db.dialect == "postgresql":
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            else:
                await connection.execution_options(**{STATEMENTWISE_OPTION: True})
            return await fn(connection, *args, **kwargs)
        await connection.execution_options(**{WRITE_OPTION: write})
        refusal: TicketingError | None = None
        try:
            async with connection.begin():
                try:
                    result = await fn(connection, *args, **kwargs)
                except KeptRefusal as kept:
                    refusal = kept.refusal
                notes = take_notes(connection)
        finally:
            take_notes(connection)  # a rolled-back transaction's notes are dropped
        db.notifications.deliver(notes)
        if refusal is not None:
            raise refusal
        return result


command = _unit(write=True)
"""A service command: one write transaction on a connection of its own, committed when the
function returns, rolled back when it raises, run again after a deadlock."""

query = _unit(write=False)
"""A service query: reads only, each statement the latest committed data, on both databases."""

check = _unit(write=False, check=True)
"""A query of one indexed statement that many readers wait on (a seat map's freshness check, and
the refresh of the sections it found changed): it runs in a lane of its own (CHECK_SLOTS wide),
never in line behind commands."""
