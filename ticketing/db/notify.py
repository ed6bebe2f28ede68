"""Notifications on commit: a unit of work's notes go to this process's listeners at once and, on
PostgreSQL, to every other process by NOTIFY, sent after the commit in a batch of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

Listener = Callable[[str | None], None]
"""Called with a notification's payload, or None when some may have been missed (the listening
connection was lost): the listener must then look at everything it follows."""

PING_INTERVAL_S = 30.0
"""How often an idle listening connection is checked: a network that drops it silently closes
nothing, and only a statement finds out."""
_NOTES = "ticketing_notes"
# NOTIFY inside a writer's transaction would take PostgreSQL's notification-queue lock at its
# commit, making every writer of the database commit one after the other: the notes are sent
# after the commit instead, in one statement per batch, without waiting for the disk.
_ANNOUNCE = sa.text(
    "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)) "
    "SELECT pg_notify(note.channel, note.payload) FROM quick, "
    "unnest(CAST(:channels AS text[]), CAST(:payloads AS text[])) AS note(channel, payload)"
)
ANNOUNCING = "ticketing_announcing"
"""The execution option that marks the connection announcing notes (for who counts statements)."""


def notify(conn: AsyncConnection, channel: str, payload: str) -> None:
    """Deliver `payload` on `channel` to the listeners once this unit of work commits (nothing if
    it rolls back); the same note made twice in a transaction is sent once."""
    conn.info.setdefault(_NOTES, set()).add((channel, payload))


def take_notes(conn: AsyncConnection) -> set[tuple[str, str]]:
    """The notes of the connection's transaction, forgotten by the connection (it is pooled)."""
    notes: set[tuple[str, str]] = conn.info.pop(_NOTES, set())
    return notes


class Notifications:
    """This process's listeners, per channel. On PostgreSQL one connection of the engine
    listens (from the first `listen` on), and is made again when lost."""

    def __init__(self, engine: AsyncEngine, *, ping_interval_s: float = PING_INTERVAL_S) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._ping_interval_s = ping_interval_s
        self._listeners: dict[str, set[Listener]] = defaultdict(set)
        self._listening: asyncio.Task[None] | None = None
        self._connected: asyncio.Event | None = None
        self._unannounced: set[tuple[str, str]] = set()
        self._announcing: asyncio.Task[None] | None = None

    @property
    def from_every_process(self) -> bool:
        """True when listeners hear commits of every process (PostgreSQL); SQLite's notes come
        from this process only, and other processes' commits must be looked for."""
        return self._postgres

    def listen(self, channel: str, listener: Listener) -> Callable[[], None]:
        """Call `listener` for every notification on `channel`; returns what stops it."""
        new_channel = channel not in self._listeners
        self._listeners[channel].add(listener)
        if self._postgres and (self._listening is None or new_channel):
            if self._listening is not None:  # connect again, listening to this channel too
                self._listening.cancel()
            self._connected = asyncio.Event()
            self._listening = asyncio.create_task(self._listen_forever())
        return lambda: self._listeners[channel].discard(listener)

    async def ready(self) -> None:
        """Wait until the listening connection listens (at once on SQLite)."""
        if self._connected is not None:
            await self._connected.wait()

    def deliver(self, notes: set[tuple[str, str]]) -> None:
        """Hand committed notes to this process's listeners, and on PostgreSQL to the others'."""
        for channel, payload in notes:
            self._deliver(channel, payload)
        if self._postgres and notes:
            self._unannounced |= notes
            if self._announcing is None:
                self._announcing = asyncio.create_task(self._announce())

    async def _announce(self) -> None:
        """NOTIFY what committed, a batch at a time: the notes that arrive while a batch is sent
        go in the next. A batch that fails is lost to other processes (they look again at their
        next poll), never retried in a loop against a database that is away."""
        try:
            while self._unannounced:
                batch, self._unannounced = self._unannounced, set()
                try:
                    async with self._engine.connect() as conn:
                        await conn.execution_options(**{ANNOUNCING: True})
                        await conn.execute(
                            _ANNOUNCE,
                            {
                                "channels": [channel for channel, _ in batch],
                                "payloads": [payload for _, payload in batch],
                            },
                        )
                        await conn.commit()
                except Exception:
                    log.warning("could not announce %d notes", len(batch), exc_info=True)
        finally:
            self._announcing = None

    def _deliver(self, channel: str, payload: str | None) -> None:
        for listener in list(self._listeners.get(channel, ())):
            try:
                listener(payload)
            except Exception:  # one listener's bug must not starve the others
                log.exception("listener of %s failed", channel)

    async def _listen_forever(self) -> None:
        assert self._connected is not None
        retry_s = 0.1
        while True:
            try:
                async with self._engine.connect() as conn:
                    try:
                        await self._listen_on(conn)
                    finally:
                        # LISTEN and the callbacks stay with the driver's connection: never
                        # hand it back to the pool
                        with contextlib.suppress(Exception):
                            await conn.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("lost the connection listening for notifications", exc_info=True)
            self._connected.clear()
            await asyncio.sleep(retry_s)
            retry_s = min(retry_s * 2, self._ping_interval_s)

    async def _listen_on(self, conn: AsyncConnection) -> None:
        assert self._connected is not None
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None, "a checked-out connection has its driver's connection"
        lost = asyncio.Event()
        raw.add_termination_listener(lambda _connection: lost.set())

        def received(_connection: Any, _pid: int, channel: str, payload: str) -> None:
            self._deliver(channel, payload)

        for channel in list(self._listeners):
            await raw.add_listener(channel, received)
        self._connected.set()
        # Anything sent while no connection listened was missed: every listener looks again.
        for channel in list(self._listeners):
            self._deliver(channel, None)
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._ping_interval_s)
            if not lost.is_set():
                await conn.execute(sa.select(1))
        raise ConnectionError("the listening connection was closed")

    async def close(self) -> None:
        if self._announcing is not None:
            with contextlib.suppress(Exception):
                await self._announcing
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
            self._listening = None
