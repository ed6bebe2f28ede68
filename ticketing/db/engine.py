"""An app's engine: SQLite in WAL mode with writers that queue, or PostgreSQL at READ COMMITTED."""

from __future__ import annotations

import os
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ticketing.settings import Settings

WRITE_OPTION = "ticketing_write"
"""Execution option of a write unit: on SQLite its transaction starts with BEGIN IMMEDIATE."""
STATEMENTWISE_OPTION = "ticketing_statementwise"
"""Execution option of a query unit on SQLite: no BEGIN, each statement reads on its own."""

_IDLE_BEFORE_PING_S = 5.0


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    pool = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.pool_timeout_ms / 1000,
    }
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            echo=settings.sql_echo,
            connect_args={"timeout": settings.lock_timeout_ms / 1000},
            **pool,
        )
        _configure_sqlite(engine, busy_timeout_ms=settings.lock_timeout_ms)
        return engine
    engine = create_async_engine(
        url,
        echo=settings.sql_echo,
        connect_args={
            "server_settings": {
                "application_name": f"ticketing-{os.getpid()}",
                "lock_timeout": f"{settings.lock_timeout_ms}ms",
            }
        },
        **pool,
    )
    _ping_when_idle(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @sa.event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands, so that writers can begin IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        # A writer takes SQLite's one write lock at BEGIN: writers queue for it (busy timeout)
        # instead of failing later on a snapshot another writer made stale.
        options = conn.get_execution_options()
        if options.get(STATEMENTWISE_OPTION, False):
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION, False) else "BEGIN")


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only when it sat idle for a while (the server may
    have closed it meanwhile): `pool_pre_ping` would ping before every transaction."""

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
