"""Seat maps kept in memory and always fresh: the read path of a stadium on sale.

Each read asks the database which sections changed since the last check and reloads only those.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.catalog.queries import price_levels_of, require_event
from ticketing.db import Database, query
from ticketing.domain import (
    EventSize,
    EventStatus,
    EventView,
    PriceLevelView,
    PriceOptionView,
    Principal,
    Role,
    SeatStatus,
    SeatType,
    SeatView,
    SectionKind,
    sees_drafts,
)
from ticketing.errors import ErrorCode, TicketingError, not_found
from ticketing.geometry import Point
from ticketing.inventory.changes import changes_since, taken_seats
from ticketing.models import (
    event_seat_t,
    event_section_t,
    event_t,
    price_level_t,
    price_t,
    venue_t,
)

T = TypeVar("T")

STATUS_BYTES = {status: str(int(status)).encode() for status in SeatStatus}
"""One ASCII digit per seat: b"1" available, b"2" held, b"3" booked, b"4" sold, b"5" blocked."""
_AVAILABLE = ord("1")
_LAYOUT_BATCH = 16  # sections per layout query: a stadium loads in a few steps, not one
# rows of a layout query processed between two turns of the event loop, so that loading a
# stadium never holds the other requests for long
_ROWS_PER_TURN = 2_000
_EXPIRING = {int(SeatStatus.HELD), int(SeatStatus.BOOKED)}
# Layouts are loaded for every viewer; who may see a draft is decided per request.
_EVERYONE = Principal(user_id=0, email="", role=Role.MANAGER)


@dataclass(frozen=True, slots=True)
class LayoutSeat:
    seat_id: int
    row_id: int | None
    row: str | None
    number: str | None
    type: SeatType
    price_set: int
    """Index into the section's `price_sets`; 0 is the empty offer (the seat is not on sale)."""
    x: float | None
    y: float | None


@dataclass(eq=False, slots=True)
class SectionLayout:
    """What a section of an event looks like: changed only by a manager (a new revision).

    Seats are kept as columns of plain values: such tuples are not tracked by the cyclic garbage
    collector, whose full passes would otherwise walk one object per seat of every map in memory.
    """

    event_id: int
    revision: int
    id: int
    name: str
    kind: SectionKind
    capacity: int
    position: int
    seat_ids: tuple[int, ...]
    row_ids: tuple[int | None, ...]
    rows: tuple[str | None, ...]
    numbers: tuple[str | None, ...]
    seat_types: tuple[str, ...]
    seat_price_sets: tuple[int, ...]
    """Per seat, an index into `price_sets`; 0 is the empty offer (not on sale)."""
    xs: tuple[float | None, ...]
    ys: tuple[float | None, ...]
    """Per seat, its position in venue units (None for general-admission places)."""
    price_sets: tuple[tuple[PriceOptionView, ...], ...]
    outline: tuple[Point, ...] | None = None
    label: Point | None = None
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def seats(self) -> list[LayoutSeat]:
        """The seats as objects, made anew on each call: encoders memoise what they make."""
        types = _SEAT_TYPES
        return [
            LayoutSeat(seat_id, row_id, row, number, types[seat_type], price_set, x, y)
            for seat_id, row_id, row, number, seat_type, price_set, x, y in zip(
                self.seat_ids,
                self.row_ids,
                self.rows,
                self.numbers,
                self.seat_types,
                self.seat_price_sets,
                self.xs,
                self.ys,
                strict=True,
            )
        ]


_SEAT_TYPES = {t.value: t for t in SeatType}


@dataclass(eq=False, slots=True)
class SectionState:
    """A section's statuses as read, true until `valid_until` (a hold or payment lapses)."""

    layout: SectionLayout
    valid_until: datetime | None
    statuses: bytes
    available_count: int
    """Seats on sale (priced) and available."""
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def stamp(self) -> str:
        """Changes whenever what this section shows changes (its layout's revision, its
        statuses, or time passing a deadline in it). Used in ETags and seat-map versions."""
        stamp = self.memo.get("stamp")
        if stamp is None:
            digest = hashlib.blake2b(self.statuses, digest_size=8).hexdigest()
            stamp = f"{self.layout.revision}_{digest}"
            if self.valid_until is not None:
                stamp += f"~{int(self.valid_until.timestamp() * 1000)}"
            self.memo["stamp"] = stamp
        return str(stamp)

    def fresh(self, now: datetime) -> bool:
        return self.valid_until is None or now < self.valid_until

    def seat_views(self) -> list[SeatView]:
        """The section's seats as views (memoised: many readers share one state)."""
        views: list[SeatView] | None = self.memo.get("views")
        if views is None:
            layout = self.layout
            status = {48 + int(s): s for s in SeatStatus}
            views = self.memo["views"] = [
                SeatView(
                    event_id=layout.event_id,
                    section_id=layout.id,
                    row_id=seat.row_id,
                    seat_id=seat.seat_id,
                    row=seat.row,
                    number=seat.number,
                    type=seat.type,
                    status=status[code],
                    price_options=layout.price_sets[seat.price_set],
                    x=seat.x,
                    y=seat.y,
                )
                for seat, code in zip(layout.seats, self.statuses, strict=True)
            ]
        return views


@dataclass(frozen=True, slots=True)
class EventSeatMap:
    event: EventView
    price_levels: tuple[PriceLevelView, ...]
    sections: tuple[SectionState, ...]
    """In map order; from `changes`, only the sections that changed."""
    version: str
    """Token naming this state of the whole map: pass it to `changes` to get what changed since."""
    focal_point: Point | None = None
    """The venue's stage or pitch, in venue units, if given."""
    memo: dict[str, Any] = field(default_factory=dict)
    """For adapters' encodings of the event's layout (shared by every map of this event)."""


@dataclass(frozen=True, slots=True)
class Freshness:
    """What a check of an event found, after the request that asked arrived: the event's status
    and revision, and the mark of that moment (the cached sections were checked up to it)."""

    event_id: int
    status: EventStatus
    revision: int
    mark: str

    def visible_to(self, viewer: Principal | None) -> bool:
        """A draft event exists for those who see drafts only."""
        return self.status is not EventStatus.DRAFT or sees_drafts(viewer)


class _SharedRead(Generic[T]):
    """Readers that arrive while no read has started yet share the next one.

    A read starts only after every reader that joins it has arrived, so each of them sees every
    write acknowledged before it asked. One read runs at a time; the next gathers the readers
    that arrived meanwhile.
    """

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._next: asyncio.Future[T] | None = None
        self._turn = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self) -> T:
        future = self._next
        if future is None:
            future = self._next = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._run(future))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(future)

    async def _run(self, future: asyncio.Future[T]) -> None:
        await asyncio.sleep(0)  # one loop turn: requests already received join this read
        async with self._turn:
            self._next = None  # readers from now on wait for the read after this one
            try:
                future.set_result(await self._read())
            except BaseException as exc:  # handed to every reader of this read
                future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
            # nobody may be waiting any more (all cancelled): don't log "never retrieved"
            with contextlib.suppress(BaseException):
                future.exception()


# --- queries ----------------------------------------------------------------------------------


SectionHead = tuple[int, str, SectionKind, int, int, tuple[Point, ...] | None, Point | None]
"""(id, name, kind, capacity, position, outline, label) of an event's section."""


@dataclass(frozen=True, slots=True)
class _EventHead:
    revision: int
    event: EventView
    price_levels: tuple[PriceLevelView, ...]
    sections: tuple[SectionHead, ...]
    """In map order."""
    focal_point: Point | None


@query
async def _event_head(conn: AsyncConnection, *, event_id: int) -> _EventHead:
    head = (
        await conn.execute(
            sa.select(event_t.c.revision, venue_t.c.focal_x, venue_t.c.focal_y)
            .join(venue_t, venue_t.c.id == event_t.c.venue_id)
            .where(event_t.c.id == event_id)
        )
    ).one_or_none()
    event = await require_event(conn, event_id, _EVERYONE)  # NOT_FOUND when `head` is None
    assert head is not None
    levels = (await price_levels_of(conn, [event_id]))[event_id]
    sections = await conn.execute(
        sa.select(
            event_section_t.c.section_id,
            event_section_t.c.name,
            event_section_t.c.kind,
            event_section_t.c.capacity,
            event_section_t.c.position,
            event_section_t.c.outline,
            event_section_t.c.label_x,
            event_section_t.c.label_y,
        )
        .where(event_section_t.c.event_id == event_id)
        .order_by(event_section_t.c.position, event_section_t.c.section_id)
    )
    return _EventHead(
        revision=head.revision,
        event=event,
        price_levels=tuple(levels),
        sections=tuple(
            (
                r.section_id,
                r.name,
                SectionKind(r.kind),
                r.capacity,
                r.position,
                None if r.outline is None else tuple((x, y) for x, y in r.outline),
                _point(r.label_x, r.label_y),
            )
            for r in sections
        ),
        focal_point=_point(head.focal_x, head.focal_y),
    )


def _point(x: float | None, y: float | None) -> Point | None:
    return None if x is None or y is None else (x, y)


@query
async def _section_layouts(
    conn: AsyncConnection,
    *,
    event_id: int,
    revision: int,
    sections: Sequence[SectionHead],
) -> list[SectionLayout]:
    section_ids = [section[0] for section in sections]
    in_sections = sa.and_(
        event_seat_t.c.event_id == event_id, event_seat_t.c.section_id.in_(section_ids)
    )
    offers: dict[int, list[PriceOptionView]] = defaultdict(list)
    price_rows = await conn.execute(
        sa.select(price_t.c.seat_id, price_level_t.c.id, price_level_t.c.name, price_t.c.amount)
        .join(price_level_t, price_level_t.c.id == price_t.c.price_level_id)
        .join(
            event_seat_t,
            sa.and_(
                event_seat_t.c.event_id == price_t.c.event_id,
                event_seat_t.c.seat_id == price_t.c.seat_id,
            ),
        )
        .where(in_sections)
        .order_by(price_level_t.c.position, price_level_t.c.id)
    )
    interned: dict[tuple[int, str, Decimal], PriceOptionView] = {}
    for n, (seat_id, level_id, level_name, amount) in enumerate(price_rows, 1):
        if n % _ROWS_PER_TURN == 0:
            await asyncio.sleep(0)  # the loop serves others (see _ROWS_PER_TURN)
        key = (level_id, level_name, amount)
        option = interned.get(key)
        if option is None:
            option = interned[key] = PriceOptionView(id=level_id, name=level_name, amount=amount)
        offers[seat_id].append(option)
    seat_rows = await conn.execute(
        sa.select(
            event_seat_t.c.section_id,
            event_seat_t.c.seat_id,
            event_seat_t.c.row_id,
            event_seat_t.c.row_name,
            event_seat_t.c.number,
            event_seat_t.c.type,
            event_seat_t.c.x,
            event_seat_t.c.y,
        )
        .where(in_sections)
        .order_by(event_seat_t.c.section_id, event_seat_t.c.position, event_seat_t.c.seat_id)
    )
    price_sets: dict[int, dict[tuple[PriceOptionView, ...], int]] = {
        section_id: {(): 0} for section_id in section_ids
    }
    seats: dict[int, list[tuple[Any, ...]]] = {section_id: [] for section_id in section_ids}
    for n, (section_id, seat_id, row_id, row_name, number, seat_type, x, y) in enumerate(
        seat_rows, 1
    ):
        if n % _ROWS_PER_TURN == 0:
            await asyncio.sleep(0)
        sets = price_sets[section_id]
        price_set = sets.setdefault(tuple(offers.get(seat_id, ())), len(sets))
        seats[section_id].append((seat_id, row_id, row_name, number, seat_type, price_set, x, y))
    return [
        SectionLayout(
            event_id=event_id,
            revision=revision,
            id=section_id,
            name=name,
            kind=kind,
            capacity=capacity,
            position=position,
            **_columns(seats[section_id]),
            price_sets=tuple(price_sets[section_id]),
            outline=outline,
            label=label,
        )
        for section_id, name, kind, capacity, position, outline, label in sections
    ]


def _columns(seats: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Seat rows -> the layout's seat columns (tuples of ints, strings and None)."""
    names = ("seat_ids", "row_ids", "rows", "numbers", "seat_types", "seat_price_sets", "xs", "ys")
    if not seats:
        return dict.fromkeys(names, ())
    return dict(zip(names, (tuple(column) for column in zip(*seats, strict=True)), strict=True))


def _utc(value: datetime | str | None) -> datetime | None:
    """A deadline as the driver gives it: aware (asyncpg) or SQLite's naive UTC text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- the cache --------------------------------------------------------------------------------


class _EventEntry:
    """One event's cached map, for one revision. `mark`: every cached state was true at it.
    `generations`: a section's count of changes seen; a state read while it moved is dropped."""

    def __init__(self, head: _EventHead, mark: str) -> None:
        self.head = head
        self.mark = mark
        self.layouts: dict[int, SectionLayout] = {}
        self.indexes: dict[int, dict[int, int]] = {}
        self.states: dict[int, SectionState] = {}
        self.generations: dict[int, int] = defaultdict(int)
        self.refreshing = asyncio.Lock()
        self.memo: dict[str, Any] = {}

    def changed(self, section_ids: Iterable[int]) -> None:
        for section_id in section_ids:
            self.states.pop(section_id, None)
            self.generations[section_id] += 1


class SeatMaps:
    """Per-process cache of seat maps; one per application."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._events: dict[int, _EventEntry] = {}
        self._loading: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._checks: dict[int, _SharedRead[Freshness | None]] = {}

    async def check(self, event_id: int, *, viewer: Principal | None) -> Freshness:
        """Bring the event's cached sections up to date with what changed before this call
        (one read shared with the callers that arrived with it). Pass the result to the other
        methods to see one state. A draft event is NOT_FOUND unless the viewer may see drafts."""
        freshness = await self.look(event_id)
        if freshness is None or not freshness.visible_to(viewer):
            raise not_found("Event", event_id, field="event_id")
        return freshness

    async def look(self, event_id: int) -> Freshness | None:
        """`check` for any viewer: None when there is no such event."""
        shared = self._checks.get(event_id)
        if shared is None:
            shared = self._checks[event_id] = _SharedRead(lambda: self._check(event_id))
        return await shared.get()

    async def _check(self, event_id: int) -> Freshness | None:
        entry = self._events.get(event_id)
        changes = await changes_since(
            self._db, event_id=event_id, mark=None if entry is None else entry.mark
        )
        if changes is None:
            return None
        if entry is not None:
            entry.changed(changes.changed if changes.changed is not None else list(entry.states))
            entry.mark = changes.mark
        return Freshness(event_id, changes.status, changes.revision, changes.mark)

    async def _entry(self, event_id: int, freshness: Freshness) -> _EventEntry:
        entry = self._events.get(event_id)
        if entry is None or entry.head.revision < freshness.revision:
            async with self._loading[event_id]:
                entry = self._events.get(event_id)
                if entry is None or entry.head.revision < freshness.revision:
                    # new, or a manager changed the event: its layouts are read again
                    head = await _event_head(self._db, event_id=event_id)
                    entry = self._events[event_id] = _EventEntry(head, freshness.mark)
        return entry

    async def _layouts(self, entry: _EventEntry, section_ids: Sequence[int]) -> None:
        """Load the layouts not loaded yet, a batch of sections per query pair (the loop
        serves others between batches)."""
        sections = {s[0]: s for s in entry.head.sections}
        missing = [sections[s] for s in section_ids if s not in entry.layouts]
        for start in range(0, len(missing), _LAYOUT_BATCH):
            layouts = await _section_layouts(
                self._db,
                event_id=entry.head.event.id,
                revision=entry.head.revision,
                sections=missing[start : start + _LAYOUT_BATCH],
            )
            for layout in layouts:
                entry.indexes[layout.id] = {s: i for i, s in enumerate(layout.seat_ids)}
                entry.layouts[layout.id] = layout

    async def _states(
        self,
        event_id: int,
        section_ids: Sequence[int] | None,
        now: datetime,
        freshness: Freshness,
    ) -> tuple[_EventEntry, list[SectionState]]:
        entry = await self._entry(event_id, freshness)
        if section_ids is None:
            section_ids = [s[0] for s in entry.head.sections]
        while True:
            stale = [s for s in section_ids if not self._fresh(entry, s, now)]
            if not stale:
                return entry, [entry.states[s] for s in section_ids]
            async with entry.refreshing:
                # another reader may have refreshed them while we waited
                stale = [s for s in stale if not self._fresh(entry, s, now)]
                if stale:
                    await self._refresh(entry, stale, now)

    @staticmethod
    def _fresh(entry: _EventEntry, section_id: int, now: datetime) -> bool:
        state = entry.states.get(section_id)
        return state is not None and state.fresh(now)

    async def _refresh(self, entry: _EventEntry, section_ids: list[int], now: datetime) -> None:
        await self._layouts(entry, section_ids)
        # A state read while a check found its section changed is not kept: it may predate it.
        generations = {s: entry.generations[s] for s in section_ids}
        taken: dict[int, list[Any]] = {s: [] for s in section_ids}
        for start in range(0, len(section_ids), _SECTIONS_PER_READ):
            chunk = section_ids[start : start + _SECTIONS_PER_READ]
            for seat in await taken_seats(
                self._db, event_id=entry.head.event.id, section_ids=chunk
            ):
                taken[seat.section_id].append(seat)
        for section_id in section_ids:
            if entry.generations[section_id] != generations[section_id]:
                continue
            entry.states[section_id] = self._state(entry, section_id, taken[section_id], now)

    @staticmethod
    def _state(
        entry: _EventEntry, section_id: int, taken: list[Any], now: datetime
    ) -> SectionState:
        layout = entry.layouts[section_id]
        index = entry.indexes[section_id]
        statuses = bytearray(b"1" * len(layout.seat_ids))
        valid_until: datetime | None = None
        for seat in taken:
            expires_at = _utc(seat.expires_at)
            if seat.status in _EXPIRING and expires_at is not None:
                if expires_at <= now:
                    continue  # lapsed: reads as available
                if valid_until is None or expires_at < valid_until:
                    valid_until = expires_at
            statuses[index[seat.seat_id]] = 48 + seat.status
        available = sum(
            1
            for price_set, status in zip(layout.seat_price_sets, statuses, strict=True)
            if status == _AVAILABLE and price_set
        )
        return SectionState(
            layout=layout,
            valid_until=valid_until,
            statuses=bytes(statuses),
            available_count=available,
        )

    # --- public ---------------------------------------------------------------------------------

    async def size(self, *, event_id: int, freshness: Freshness) -> EventSize:
        """The event's sections (kinds, capacities) and price levels, from what is read once per
        revision: no seat is loaded."""
        head = (await self._entry(event_id, freshness)).head
        return EventSize(
            sections={s[0]: (s[2], s[3]) for s in head.sections},
            price_levels=len(head.price_levels),
        )

    async def section(
        self, *, event_id: int, section_id: int, now: datetime, freshness: Freshness
    ) -> SectionState:
        """One section of an event, fresh as of `freshness`."""
        (state,) = await self.sections(
            event_id=event_id, section_ids=[section_id], now=now, freshness=freshness
        )
        return state

    async def sections(
        self, *, event_id: int, section_ids: Sequence[int], now: datetime, freshness: Freshness
    ) -> list[SectionState]:
        """Several sections of one event, fresh as of `freshness`."""
        entry = await self._entry(event_id, freshness)
        known = {s[0] for s in entry.head.sections}
        missing = [s for s in section_ids if s not in known]
        if missing:
            raise not_found("Section", missing[0], field="section_id")
        _, states = await self._states(event_id, section_ids, now, freshness)
        return states

    async def event_map(
        self, *, event_id: int, now: datetime, freshness: Freshness
    ) -> EventSeatMap:
        """Every section of an event, fresh as of `freshness`."""
        entry, states = await self._states(event_id, None, now, freshness)
        return EventSeatMap(
            event=entry.head.event,
            price_levels=entry.head.price_levels,
            sections=tuple(states),
            version=_token(states),
            focal_point=entry.head.focal_point,
            memo=entry.memo,
        )

    async def changes(
        self, *, event_id: int, since: str, now: datetime, freshness: Freshness
    ) -> EventSeatMap:
        """The sections whose statuses differ from the map named by `since` (a `version`)."""
        previous = parse_version(since)
        current = await self.event_map(event_id=event_id, now=now, freshness=freshness)
        changed = tuple(s for s in current.sections if previous.get(s.layout.id) != s.stamp)
        return EventSeatMap(
            event=current.event,
            price_levels=current.price_levels,
            sections=changed,
            version=current.version,
            focal_point=current.focal_point,
        )

    def layouts_loaded(self) -> int:
        """Seats whose layout this process holds (for tests and benchmarks)."""
        return sum(len(lay.seat_ids) for e in self._events.values() for lay in e.layouts.values())


_SECTIONS_PER_READ = 500
_STAMP = re.compile(r"[0-9]+_[0-9a-f]{16}(?:~[0-9]+)?")


def _token(states: Sequence[SectionState]) -> str:
    return ".".join(f"{s.layout.id}-{s.stamp}" for s in states)


def parse_version(token: str) -> dict[int, str]:
    stamps: dict[int, str] = {}
    for part in token.split(".") if token else ():
        section, _, stamp = part.partition("-")
        if not (
            section.isascii() and section.isdigit() and len(section) < 11
        ) or not _STAMP.fullmatch(stamp):
            raise TicketingError(
                ErrorCode.VALIDATION_ERROR,
                "`since` must be a seat-map version as returned by seatMap or seatChanges.",
                field=("since",),
            )
        stamps[int(section)] = stamp
    return stamps
