"""Live seat maps: per watched event and worker, one pump reads the map when told that seats
changed (or when a hold is due to lapse) and publishes it; each subscriber then sends what differs
from what it sent before, as the seats that changed or, when that is smaller, whole sections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ticketing.catalog.seatmaps import (
    EventSeatMap,
    Freshness,
    SeatMaps,
    SectionState,
    parse_version,
)
from ticketing.db import Database
from ticketing.domain import Principal
from ticketing.errors import ErrorCode, TicketingError
from ticketing.inventory.stamps import CHANNEL

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.1
"""At most one read of an event's map per worker in this time: a burst of changes is sent as one
message."""
RETRY_SECONDS = 1.0
"""A pump whose read failed (the database is away) tries again after this long."""
POLL_SECONDS = 0.25
"""On SQLite, how often a pump looks for other worker processes' changes, which no notification
announces (one cheap statement)."""
BACKSTOP_SECONDS = 2.0
"""On PostgreSQL, how often a pump looks anyway: a process that committed and died before it
announced its change (or whose announcement failed) is caught up with by then."""
SENDING_LIMIT_SECONDS = 2.0
"""How long a pump waits for its subscribers to send a reading before it reads again anyway."""
SUBSCRIPTIONS_PER_CONNECTION = 8
"""A page follows one event, maybe a few: a connection asking for more is refused."""
_CHANGED = re.compile(rb"[^\x00]")


@dataclass(frozen=True, slots=True)
class SectionUpdate:
    """A section in a message: `seats` are the indexes (in the layout's seat order) of the seats
    whose status changed, or None when the section's whole statuses are sent."""

    state: SectionState
    seats: tuple[int, ...] | None
    memo: dict[str, Any] = field(default_factory=dict, compare=False)
    """For adapters' encodings: one update is shared by every subscriber it is sent to."""


@dataclass(frozen=True, slots=True)
class SeatMapUpdate:
    """One message: the map's `version` after it, and the sections that changed. `reload`: the
    client's map can no longer be brought up to date (its layout changed); it must read it again."""

    version: str
    sections: tuple[SectionUpdate, ...] = ()
    reload: bool = False
    memo: dict[str, Any] = field(default_factory=dict, compare=False)
    """For adapters' encodings: one message is shared by every subscriber it is sent to."""


@dataclass(frozen=True, slots=True)
class Reading:
    """A pump's read: it answers every request made before it began (`answers`)."""

    answers: int
    freshness: Freshness | None
    """None when there is no such event."""
    seat_map: EventSeatMap | None
    messages: dict[tuple[int, ...], SeatMapUpdate] = field(default_factory=dict, compare=False)

    def message(self, sections: tuple[SectionUpdate, ...]) -> SeatMapUpdate:
        """The message of these sections (which a reading shares) at this reading: one object
        for every subscriber sent it, so that adapters encode it once."""
        assert self.seat_map is not None
        key = tuple(id(section) for section in sections)  # the message keeps them alive
        message = self.messages.get(key)
        if message is None:
            message = self.messages[key] = SeatMapUpdate(self.seat_map.version, sections)
        return message

    def repeats(self, other: Reading | None) -> bool:
        """True when `other` answered the same requests and found the same map."""

        def seen(reading: Reading) -> tuple[object, ...]:
            freshness, seat_map = reading.freshness, reading.seat_map
            return (
                reading.answers,
                None if freshness is None else (freshness.status, freshness.revision),
                None if seat_map is None else seat_map.version,
            )

        return other is not None and seen(self) == seen(other)


class EventPump:
    """Reads one event's map for the subscribers of this worker: on request (a notification, a new
    subscriber), at most once per COALESCE_SECONDS, and when the earliest hold or payment in the
    map lapses, which no statement announces."""

    def __init__(
        self,
        seat_maps: SeatMaps,
        event_id: int,
        clock: Callable[[], datetime],
        *,
        poll_seconds: float,
        sending_share: float,
    ) -> None:
        self.event_id = event_id
        self.subscribers = 0
        self.latest: Reading | None = None
        self._seat_maps = seat_maps
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._sending_share = sending_share
        self._requests = 0
        self._requested = asyncio.Event()
        self._published = asyncio.Event()
        self._taking = 0
        """Subscribers sending the latest reading now."""
        self._sent = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"seat-map pump {event_id}")

    def request(self) -> int:
        """Ask for a read that begins after this call; returns the request's number."""
        self._requests += 1
        self._requested.set()
        return self._requests

    async def after(self, seen: Reading | None, request: int) -> Reading:
        """The first reading newer than `seen` that answers `request`."""
        while True:
            latest = self.latest
            if latest is not None and latest is not seen and latest.answers >= request:
                self._taking += 1
                return latest
            await self._published.wait()

    def sent(self, reading: Reading) -> None:
        """A subscriber is done with a reading `after` gave it."""
        if reading is self.latest:
            self._taking -= 1
            if not self._taking:
                self._sent.set()

    def stop(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        while True:
            self._requested.clear()
            answers = self._requests
            try:
                freshness = await self._seat_maps.look(self.event_id)
                seat_map = None
                if freshness is not None:
                    seat_map = await self._seat_maps.event_map(
                        event_id=self.event_id, now=self._clock(), freshness=freshness
                    )
            except Exception:  # the subscribers wait; a later read brings them everything
                log.warning("reading the seat map of event %s failed", self.event_id, exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                self._requested.set()
                continue
            reading = Reading(answers, freshness, seat_map)
            sending = 0.0
            if not reading.repeats(self.latest):  # a poll that found nothing wakes nobody
                sending = await self._publish(reading)
            # at most `sending_share` of the time sending: spectators slow the map, not the sales
            await asyncio.sleep(max(COALESCE_SECONDS, sending * (1 / self._sending_share - 1)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._requested.wait(), self._until_next_read(seat_map))

    async def _publish(self, reading: Reading) -> float:
        """Hand `reading` to the subscribers; the seconds they took to send it."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.latest, self._taking = reading, 0
        self._sent.clear()
        published, self._published = self._published, asyncio.Event()
        published.set()
        await asyncio.sleep(0)  # the subscribers woken now take their turn first
        if self._taking:  # some are still sending it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent.wait(), SENDING_LIMIT_SECONDS)
        return loop.time() - started

    def _until_next_read(self, seat_map: EventSeatMap | None) -> float:
        """Seconds until the map's first hold or payment lapses, or until the next poll."""
        deadlines = [] if seat_map is None else [s.valid_until for s in seat_map.sections]
        soonest = min((d for d in deadlines if d is not None), default=None)
        lapse = None if soonest is None else max(0.0, (soonest - self._clock()).total_seconds())
        return self._poll_seconds if lapse is None else min(lapse, self._poll_seconds)


class SeatFeed:
    """Per app: a pump per event somebody follows. Notifications from every worker (PostgreSQL)
    or from this one (SQLite, whose pumps poll for other workers' changes) ask the event's pump
    for a read; a missed notification asks all."""

    def __init__(
        self,
        db: Database,
        seat_maps: SeatMaps,
        *,
        clock: Callable[[], datetime],
        max_followers: int,
        sending_share: float,
    ) -> None:
        self._db = db
        self._max_followers = max_followers
        self._sending_share = sending_share
        self._followers = 0
        self._seat_maps = seat_maps
        self._clock = clock
        self._pumps: dict[int, EventPump] = {}
        self._listening = False

    def _received(self, payload: str | None) -> None:
        if payload is None:
            pumps: Iterator[EventPump] = iter(list(self._pumps.values()))
        elif payload.isdigit() and (pump := self._pumps.get(int(payload))) is not None:
            pumps = iter((pump,))
        else:
            return
        for pump in pumps:
            pump.request()

    def watchers(self, event_id: int) -> int:
        """How many follow the event now (for tests and whoever watches the app)."""
        pump = self._pumps.get(event_id)
        return 0 if pump is None else pump.subscribers

    @contextlib.asynccontextmanager
    async def following(self, event_id: int) -> AsyncIterator[EventPump]:
        """The event's pump, kept running until the block ends (and its last follower leaves).
        SERVICE_BUSY when the worker follows as many as it may."""
        if self._followers >= self._max_followers:
            raise TicketingError(
                ErrorCode.SERVICE_BUSY,
                "This server follows as many seat maps as it may; subscribe again later.",
            )
        self._followers += 1  # counted before any wait, so that a burst cannot overshoot
        try:
            if not self._listening:  # from the first follower on: an app with none never listens
                self._db.notifications.listen(CHANNEL, self._received)
                self._listening = True
            await self._db.notifications.ready()
            pump = self._pumps.get(event_id)
            if pump is None:
                every_process = self._db.notifications.from_every_process
                poll = BACKSTOP_SECONDS if every_process else POLL_SECONDS
                pump = self._pumps[event_id] = EventPump(
                    self._seat_maps,
                    event_id,
                    self._clock,
                    poll_seconds=poll,
                    sending_share=self._sending_share,
                )
            pump.subscribers += 1
            try:
                yield pump
            finally:
                pump.subscribers -= 1
                if not pump.subscribers:
                    pump.stop()
                    del self._pumps[event_id]
        finally:
            self._followers -= 1

    def close(self) -> None:
        for pump in self._pumps.values():
            pump.stop()
        self._pumps.clear()


class ConnectionSubscriptions:
    """The subscriptions one connection (one client) runs at once."""

    def __init__(self) -> None:
        self.running = 0

    @contextlib.contextmanager
    def one_more(self) -> Iterator[None]:
        if self.running >= SUBSCRIPTIONS_PER_CONNECTION:
            raise TicketingError(
                ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                f"One connection runs at most {SUBSCRIPTIONS_PER_CONNECTION} subscriptions.",
            )
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1


async def seat_map_changes(
    feed: SeatFeed,
    *,
    event_id: int,
    since: str,
    viewer: Principal | None,
    connection: ConnectionSubscriptions,
) -> AsyncIterator[SeatMapUpdate | None]:
    """The changes of an event's seat map after `since` (a seat-map version), as they commit:
    each message what changed since the one before. None, then the end, when there is no such
    event (or a draft the viewer may not see); a reload message, then the end, when the layout
    changed. A subscriber that reads slowly is sent fewer, larger messages, never a backlog."""
    known = parse_version(since)  # a bad version is refused before anything is followed
    with connection.one_more():
        async for update in _follow(feed, event_id, known, viewer):
            yield update


async def _follow(
    feed: SeatFeed, event_id: int, known: dict[int, str], viewer: Principal | None
) -> AsyncIterator[SeatMapUpdate | None]:
    sent: dict[int, SectionState] = {}
    revision: int | None = None
    async with feed.following(event_id) as pump:
        # Follow first, then read: a change committed before the request is in the reading.
        request = pump.request()
        reading: Reading | None = None
        while True:
            reading = await pump.after(reading, request)
            try:
                freshness, seat_map = reading.freshness, reading.seat_map
                if freshness is None or seat_map is None or not freshness.visible_to(viewer):
                    yield None
                    return
                if revision is None:
                    revision = freshness.revision
                    prefix = f"{revision}_"
                    if any(not stamp.startswith(prefix) for stamp in known.values()):
                        yield SeatMapUpdate(version=seat_map.version, reload=True)
                        return
                elif freshness.revision != revision:
                    yield SeatMapUpdate(version=seat_map.version, reload=True)
                    return
                sections = _differences(seat_map, sent, known)
                if sections:
                    yield reading.message(sections)  # resumed once it is sent
            finally:
                pump.sent(reading)


def _differences(
    seat_map: EventSeatMap, sent: dict[int, SectionState], known: dict[int, str]
) -> tuple[SectionUpdate, ...]:
    """The sections of `seat_map` that differ from those `sent` (or, before anything was sent,
    from the stamps the client's version names); `sent` then holds the map's sections."""
    updates = []
    for state in seat_map.sections:
        section_id = state.layout.id
        before = sent.get(section_id)
        sent[section_id] = state
        if before is state:
            continue
        if before is None:
            if known.get(section_id) != state.stamp:
                updates.append(_whole(state))
        elif before.stamp != state.stamp:
            updates.append(_changed_since(before, state))
    return tuple(updates)


def _whole(state: SectionState) -> SectionUpdate:
    update: SectionUpdate | None = state.memo.get("update, whole")
    if update is None:
        update = state.memo["update, whole"] = SectionUpdate(state, None)
    return update


def _changed_since(before: SectionState, state: SectionState) -> SectionUpdate:
    """The seats that differ, shared by every subscriber that had `before`; the whole section
    when listing them would take more room."""
    key = f"update since {before.stamp}"
    update: SectionUpdate | None = state.memo.get(key)
    if update is None:
        old, new = before.statuses, state.statuses
        size = len(new)
        difference = (int.from_bytes(old) ^ int.from_bytes(new)).to_bytes(size)
        seats = tuple(m.start() for m in _CHANGED.finditer(difference))
        # an index takes its digits and a comma; its status, one digit
        listed = sum(len(str(seat)) + 2 for seat in seats)
        update = _whole(state) if listed >= size else SectionUpdate(state, seats)
        state.memo[key] = update
    return update
