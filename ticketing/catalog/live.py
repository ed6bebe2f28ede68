"""Live seat maps: commands that change seat statuses say so on commit, and watchers of an
event are woken to send what changed since their version, a burst of changes at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime

from ticketing.catalog.seatmaps import EventSeatMap, SeatMaps
from ticketing.db import Database
from ticketing.domain import Principal
from ticketing.errors import ErrorCode, TicketingError
from ticketing.inventory.stamps import CHANNEL

COALESCE_SECONDS = 0.1
"""At most one message per event and watcher in this time: a burst of changes is sent as one."""


class SeatWatch:
    """Set when the watched event's seats may have changed since it was last cleared."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()


class SeatFeed:
    """Per app: who watches which event. Notifications from every worker (PostgreSQL) or from
    this one (SQLite) wake the event's watchers; a missed notification wakes them all."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._watches: dict[int, set[SeatWatch]] = defaultdict(set)
        self._listening = False

    def _received(self, payload: str | None) -> None:
        if payload is None:
            watches: Iterable[SeatWatch] = [w for ws in self._watches.values() for w in ws]
        elif payload.isdigit():
            watches = self._watches.get(int(payload), ())
        else:
            return
        for watch in watches:
            watch.changed.set()

    def watchers(self, event_id: int) -> int:
        """How many watch the event now (for tests and whoever watches the app)."""
        return len(self._watches.get(event_id, ()))

    @contextlib.asynccontextmanager
    async def watching(self, event_id: int) -> AsyncIterator[SeatWatch]:
        """A watch of the event, woken from when this returns until the block ends."""
        if not self._listening:  # from the first watch on: an app that serves none never listens
            self._db.notifications.listen(CHANNEL, self._received)
            self._listening = True
        await self._db.notifications.ready()
        watch = SeatWatch()
        self._watches[event_id].add(watch)
        try:
            yield watch
        finally:
            self._watches[event_id].discard(watch)
            if not self._watches[event_id]:
                del self._watches[event_id]


async def seat_map_changes(
    feed: SeatFeed,
    seat_maps: SeatMaps,
    *,
    event_id: int,
    since: str,
    viewer: Principal | None,
    clock: Callable[[], datetime],
) -> AsyncIterator[EventSeatMap | None]:
    """The changes of an event's seat map after `since` (a seat-map version), as they commit:
    each the sections that changed since the one before, at most one per COALESCE_SECONDS.
    None, then the end, when there is no such event (or a draft the viewer may not see)."""
    # Watch first, then read: a change committed between the two wakes the watch.
    async with feed.watching(event_id) as watch:
        version = since
        while True:
            watch.changed.clear()
            try:
                freshness = await seat_maps.check(event_id, viewer=viewer)
            except TicketingError as exc:
                if exc.code is not ErrorCode.NOT_FOUND:
                    raise
                yield None
                return
            changes = await seat_maps.changes(
                event_id=event_id, since=version, now=clock(), freshness=freshness
            )
            if changes.sections:
                version = changes.version
                yield changes
                await asyncio.sleep(COALESCE_SECONDS)
            await watch.changed.wait()
