"""Seat maps kept in memory and always fresh: the read path of a stadium on sale.

A seat map has a static part, the layout (seats, rows, numbers, price offers), which changes only
when a manager edits the event (which bumps `event.revision`), and a live part, the status of each
seat. The layout of a section is loaded once per process and revision. The statuses of a section
are kept as one byte per seat together with the section's `version` (bumped by every transaction
that changes a status there, see `ticketing.db.sections_changed`) and the earliest hold or
payment deadline among its seats.

Every read first learns the current versions of the event's sections from the database, with a
read that *starts after the request arrived*; concurrent readers share one such read. A section
is then served from memory when its version is current and no deadline in it has passed, and
re-read otherwise. So an answer never shows a seat as available once the write that took it was
acknowledged, in whichever worker process it ran, and a busy map costs one small query per batch
of readers instead of one per seat.

Adapters memoise their own encodings (REST JSON, GraphQL's compact layout) on the immutable
`SectionLayout` and `SectionState` objects through their `memo` dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.db import busy_error, query
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
from ticketing.models import event_seat_t, event_section_t, event_t, price_level_t, price_t
from ticketing.services.catalog import _price_levels, _require_event

T = TypeVar("T")

STATUS_BYTES = {status: str(int(status)).encode() for status in SeatStatus}
"""One ASCII digit per seat: b"1" available, b"2" held, b"3" booked, b"4" sold, b"5" blocked."""
_AVAILABLE = ord("1")
_LAYOUT_BATCH = 16  # sections per layout query: a stadium loads in a few steps, not one
# rows of a layout query processed between two turns of the event loop: a batch of sections is
# ~50,000 price and seat rows, ~150 ms of CPU in one go (measured), ~15 ms per this many
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


@dataclass(eq=False, slots=True)
class SectionLayout:
    """What a section of an event looks like: changed only by a manager (a new revision).

    The seats are kept as columns of plain values (ids, rows, numbers, types, price sets):
    tuples of such values are not tracked by the cyclic garbage collector, whose full passes
    would otherwise walk one object per seat of every map in memory (~25 ms per 50,000 seats,
    measured, with the event loop serving nobody meanwhile).
    """

    event_id: int
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
    price_sets: tuple[tuple[PriceOptionView, ...], ...]
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def seats(self) -> list[LayoutSeat]:
        """The seats as objects, made anew on each call: encoders memoise what they make."""
        types = _SEAT_TYPES
        return [
            LayoutSeat(seat_id, row_id, row, number, types[seat_type], price_set)
            for seat_id, row_id, row, number, seat_type, price_set in zip(
                self.seat_ids,
                self.row_ids,
                self.rows,
                self.numbers,
                self.seat_types,
                self.seat_price_sets,
                strict=True,
            )
        ]


_SEAT_TYPES = {t.value: t for t in SeatType}


@dataclass(eq=False, slots=True)
class SectionState:
    """A section's statuses as of `version`, true until `valid_until` (a hold or payment lapses)."""

    layout: SectionLayout
    version: int
    valid_until: datetime | None
    statuses: bytes
    available_count: int
    """Seats on sale (priced) and available."""
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def stamp(self) -> str:
        """Changes whenever what this section shows changes (its version, or time passing a
        deadline in it). Used in ETags and in seat-map version tokens."""
        if self.valid_until is None:
            return str(self.version)
        return f"{self.version}~{int(self.valid_until.timestamp() * 1000)}"

    def fresh(self, version: int, now: datetime) -> bool:
        return self.version >= version and (self.valid_until is None or now < self.valid_until)

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
    memo: dict[str, Any] = field(default_factory=dict)
    """For adapters' encodings of the event's layout (shared by every map of this event)."""


class SectionVersions(dict[int, int]):
    """{section id: version} of one event, with the event's status and revision, as read
    together in one statement."""

    def __init__(self, versions: dict[int, int], *, status: EventStatus, revision: int) -> None:
        super().__init__(versions)
        self.status = status
        self.revision = revision


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


@dataclass(frozen=True, slots=True)
class _EventHead:
    revision: int
    event: EventView
    price_levels: tuple[PriceLevelView, ...]
    sections: tuple[tuple[int, str, SectionKind, int, int], ...]
    """(id, name, kind, capacity, position) in map order."""


@query
async def _event_head(session: AsyncSession, *, event_id: int) -> _EventHead:
    revision = await session.scalar(sa.select(event_t.c.revision).where(event_t.c.id == event_id))
    event = await _require_event(session, event_id, _EVERYONE)
    levels = (await _price_levels(session, [event_id]))[event_id]
    sections = await session.execute(
        sa.select(
            event_section_t.c.section_id,
            event_section_t.c.name,
            event_section_t.c.kind,
            event_section_t.c.capacity,
            event_section_t.c.position,
        )
        .where(event_section_t.c.event_id == event_id)
        .order_by(event_section_t.c.position, event_section_t.c.section_id)
    )
    return _EventHead(
        revision=revision or 0,
        event=event,
        price_levels=tuple(levels),
        sections=tuple((r[0], r[1], SectionKind(r[2]), r[3], r[4]) for r in sections),
    )


@query
async def _section_layouts(
    session: AsyncSession,
    *,
    event_id: int,
    sections: Sequence[tuple[int, str, SectionKind, int, int]],
) -> list[SectionLayout]:
    section_ids = [section[0] for section in sections]
    in_sections = sa.and_(
        event_seat_t.c.event_id == event_id, event_seat_t.c.section_id.in_(section_ids)
    )
    offers: dict[int, list[PriceOptionView]] = defaultdict(list)
    price_rows = await session.execute(
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
    seat_rows = await session.execute(
        sa.select(
            event_seat_t.c.section_id,
            event_seat_t.c.seat_id,
            event_seat_t.c.row_id,
            event_seat_t.c.row_name,
            event_seat_t.c.number,
            event_seat_t.c.type,
        )
        .where(in_sections)
        .order_by(event_seat_t.c.section_id, event_seat_t.c.position, event_seat_t.c.seat_id)
    )
    price_sets: dict[int, dict[tuple[PriceOptionView, ...], int]] = {
        section_id: {(): 0} for section_id in section_ids
    }
    seats: dict[int, list[tuple[Any, ...]]] = {section_id: [] for section_id in section_ids}
    for n, (section_id, seat_id, row_id, row_name, number, seat_type) in enumerate(seat_rows, 1):
        if n % _ROWS_PER_TURN == 0:
            await asyncio.sleep(0)
        sets = price_sets[section_id]
        price_set = sets.setdefault(tuple(offers.get(seat_id, ())), len(sets))
        seats[section_id].append((seat_id, row_id, row_name, number, seat_type, price_set))
    return [
        SectionLayout(
            event_id=event_id,
            id=section_id,
            name=name,
            kind=kind,
            capacity=capacity,
            position=position,
            **_columns(seats[section_id]),
            price_sets=tuple(price_sets[section_id]),
        )
        for section_id, name, kind, capacity, position in sections
    ]


def _columns(seats: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Seat rows -> the layout's seat columns (tuples of ints, strings and None)."""
    names = ("seat_ids", "row_ids", "rows", "numbers", "seat_types", "seat_price_sets")
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


class _VersionReader:
    """Reads section versions (and the statuses of sections that moved) on a connection of its
    own, outside the pool and without the ORM: these reads run for every batch of seat-map
    readers and for every change of a busy section, so each is kept to one driver call.

    One read at a time per connection (asyncpg allows no more); the connection is reopened after
    any failure, which is passed to the readers (a failed read is never taken for fresh).
    """

    _SQL = (
        "SELECT e.status, e.revision, s.section_id, s.version FROM event e "
        "LEFT JOIN event_section s ON s.event_id = e.id WHERE e.id = {param}"
    )

    def __init__(self, database_url: str, timeout_s: float) -> None:
        url = make_url(database_url)
        self._backend = url.get_backend_name()
        self._url = url
        self._timeout_s = timeout_s
        self._connection: Any = None
        self._turn = asyncio.Lock()

    async def _connect(self) -> Any:
        if self._backend == "sqlite":
            import aiosqlite

            pending = aiosqlite.connect(self._url.database or ":memory:", isolation_level=None)
            # as SQLAlchemy does for its own: a connection never closed (a worker stopped
            # mid-request) must not keep the process from exiting
            pending._thread.daemon = True
            connection = await pending
            await connection.execute(f"PRAGMA busy_timeout={int(self._timeout_s * 1000)}")
            return connection
        import asyncpg

        dsn = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
        return await asyncpg.connect(dsn, timeout=self._timeout_s)

    async def _fetch(self, sql: str, *params: Any) -> list[Any]:
        """`sql` with `{p1}`, `{p2}`... placeholders for the parameters."""
        async with self._turn:
            try:
                if self._connection is None:
                    self._connection = await self._connect()
                if self._backend == "sqlite":
                    marks = {f"p{i}": "?" for i in range(1, len(params) + 1)}
                    async with self._connection.execute(sql.format(**marks), params) as cursor:
                        rows: list[Any] = list(await cursor.fetchall())
                        return rows
                marks = {f"p{i}": f"${i}" for i in range(1, len(params) + 1)}
                found: list[Any] = await self._connection.fetch(
                    sql.format(**marks), *params, timeout=self._timeout_s
                )
                return found
            except TimeoutError as exc:
                await self.close()
                raise busy_error() from exc
            except BaseException:
                await self.close()
                raise

    async def read(self, event_id: int) -> SectionVersions | None:
        rows = await self._fetch(self._SQL.format(param="{p1}"), event_id)
        if not rows:
            return None
        return SectionVersions(
            {row[2]: row[3] for row in rows if row[2] is not None},
            status=EventStatus(rows[0][0]),
            revision=rows[0][1],
        )

    async def taken(
        self, event_id: int, section_ids: Sequence[int]
    ) -> dict[int, list[tuple[int, int, datetime | None]]]:
        """(seat id, status, deadline) of every seat not plainly available, per section."""
        taken: dict[int, list[tuple[int, int, datetime | None]]] = {s: [] for s in section_ids}
        for start in range(0, len(section_ids), 500):
            chunk = list(section_ids[start : start + 500])
            if self._backend == "sqlite":  # no arrays: one placeholder per id
                marks = ",".join(f"{{p{i}}}" for i in range(2, len(chunk) + 2))
                where = f"section_id IN ({marks})"
                params: tuple[Any, ...] = (event_id, *chunk)
            else:
                where, params = "section_id = ANY({p2})", (event_id, chunk)
            rows = await self._fetch(
                # only placeholders are formatted in; every value is a bound parameter
                "SELECT section_id, seat_id, status, expires_at FROM event_seat "  # noqa: S608
                f"WHERE event_id = {{p1}} AND {where} AND status <> 1",
                *params,
            )
            for section_id, seat_id, status, expires_at in rows:
                taken[section_id].append((seat_id, status, _utc(expires_at)))
        return taken

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


# --- the cache --------------------------------------------------------------------------------


class _EventEntry:
    def __init__(self, head: _EventHead) -> None:
        self.head = head
        self.layouts: dict[int, SectionLayout] = {}
        self.indexes: dict[int, dict[int, int]] = {}
        self.states: dict[int, SectionState] = {}
        self.refreshing = asyncio.Lock()
        self.memo: dict[str, Any] = {}


class SeatMaps:
    """Per-process cache of seat maps; one per application (it holds the engine's sessions)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        database_url: str,
        timeout_s: float = 5.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._reader = _VersionReader(database_url, timeout_s)
        self._events: dict[int, _EventEntry] = {}
        self._loading: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._version_reads: dict[int, _SharedRead[SectionVersions | None]] = {}

    async def _call(self, fn: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        async with self._sessionmaker() as session:
            return await fn(session, **kwargs)

    async def versions(self, event_id: int, *, viewer: Principal | None) -> SectionVersions:
        """{section id: version} of the event, read after this call started (shared with the
        callers that arrived with it). Pass it to the other methods to see one state.
        A draft event is NOT_FOUND unless the viewer may see drafts."""
        shared = self._version_reads.get(event_id)
        if shared is None:
            shared = self._version_reads[event_id] = _SharedRead(
                lambda: self._reader.read(event_id)
            )
        versions = await shared.get()
        if versions is None or (versions.status is EventStatus.DRAFT and not sees_drafts(viewer)):
            raise not_found("Event", event_id, field="event_id")
        return versions

    async def _entry(self, event_id: int, versions: SectionVersions) -> _EventEntry:
        entry = self._events.get(event_id)
        if entry is None or entry.head.revision < versions.revision:
            async with self._loading[event_id]:
                entry = self._events.get(event_id)
                if entry is None or entry.head.revision < versions.revision:
                    # a manager changed the event: its layouts are read again
                    head = await self._call(_event_head, event_id=event_id)
                    entry = self._events[event_id] = _EventEntry(head)
        return entry

    async def _layouts(self, entry: _EventEntry, section_ids: Sequence[int]) -> None:
        """Load the layouts not loaded yet, a batch of sections per query pair (the loop
        serves others between batches)."""
        sections = {s[0]: s for s in entry.head.sections}
        missing = [sections[s] for s in section_ids if s not in entry.layouts]
        for start in range(0, len(missing), _LAYOUT_BATCH):
            layouts = await self._call(
                _section_layouts,
                event_id=entry.head.event.id,
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
        versions: SectionVersions,
    ) -> tuple[_EventEntry, list[SectionState]]:
        entry = await self._entry(event_id, versions)
        if section_ids is None:
            section_ids = [s[0] for s in entry.head.sections]
        stale = [s for s in section_ids if not self._fresh(entry, s, versions, now)]
        if stale:
            async with entry.refreshing:
                # another reader may have refreshed them while we waited
                stale = [s for s in stale if not self._fresh(entry, s, versions, now)]
                if stale:
                    await self._refresh(entry, stale, versions, now)
        return entry, [entry.states[s] for s in section_ids]

    @staticmethod
    def _fresh(
        entry: _EventEntry, section_id: int, versions: dict[int, int], now: datetime
    ) -> bool:
        state = entry.states.get(section_id)
        return state is not None and state.fresh(versions[section_id], now)

    async def _refresh(
        self,
        entry: _EventEntry,
        section_ids: list[int],
        versions: SectionVersions,
        now: datetime,
    ) -> None:
        await self._layouts(entry, section_ids)
        # Read after the versions: what we read is at least as new as the version we file it under.
        taken = await self._reader.taken(entry.head.event.id, section_ids)
        for section_id in section_ids:
            layout = entry.layouts[section_id]
            index = entry.indexes[section_id]
            statuses = bytearray(b"1" * len(layout.seat_ids))
            valid_until: datetime | None = None
            for seat_id, status, expires_at in taken[section_id]:
                if status in _EXPIRING and expires_at is not None:
                    if expires_at <= now:
                        continue  # lapsed: reads as available
                    if valid_until is None or expires_at < valid_until:
                        valid_until = expires_at
                statuses[index[seat_id]] = 48 + status
            available = sum(
                1
                for price_set, status in zip(layout.seat_price_sets, statuses, strict=True)
                if status == _AVAILABLE and price_set
            )
            entry.states[section_id] = SectionState(
                layout=layout,
                version=versions[section_id],
                valid_until=valid_until,
                statuses=bytes(statuses),
                available_count=available,
            )

    # --- public ---------------------------------------------------------------------------------

    async def size(self, *, event_id: int, versions: SectionVersions) -> EventSize:
        """The event's sections (kinds, capacities) and price levels as of `versions`, from
        what is read once per revision: no seat is loaded."""
        head = (await self._entry(event_id, versions)).head
        return EventSize(
            sections={s[0]: (s[2], s[3]) for s in head.sections},
            price_levels=len(head.price_levels),
        )

    async def section(
        self,
        *,
        event_id: int,
        section_id: int,
        now: datetime,
        viewer: Principal | None = None,
        versions: SectionVersions | None = None,
    ) -> SectionState:
        """One section of an event, fresh as of this call (or as of `versions`)."""
        if versions is None:
            versions = await self.versions(event_id, viewer=viewer)
        if section_id not in versions:
            raise not_found("Section", section_id, field="section_id")
        _, (state,) = await self._states(event_id, [section_id], now, versions)
        return state

    async def sections(
        self,
        *,
        event_id: int,
        section_ids: Sequence[int],
        now: datetime,
        viewer: Principal | None = None,
        versions: SectionVersions | None = None,
    ) -> list[SectionState]:
        """Several sections of one event, fresh as of this call (or as of `versions`)."""
        if versions is None:
            versions = await self.versions(event_id, viewer=viewer)
        missing = [s for s in section_ids if s not in versions]
        if missing:
            raise not_found("Section", missing[0], field="section_id")
        _, states = await self._states(event_id, section_ids, now, versions)
        return states

    async def event_map(
        self,
        *,
        event_id: int,
        now: datetime,
        viewer: Principal | None = None,
        versions: SectionVersions | None = None,
    ) -> EventSeatMap:
        """Every section of an event, fresh as of this call (or as of `versions`)."""
        if versions is None:
            versions = await self.versions(event_id, viewer=viewer)
        entry, states = await self._states(event_id, None, now, versions)
        return EventSeatMap(
            event=entry.head.event,
            price_levels=entry.head.price_levels,
            sections=tuple(states),
            version=_token(states),
            memo=entry.memo,
        )

    async def changes(
        self,
        *,
        event_id: int,
        since: str,
        now: datetime,
        viewer: Principal | None = None,
        versions: SectionVersions | None = None,
    ) -> EventSeatMap:
        """The sections whose statuses differ from the map named by `since` (a `version`)."""
        previous = _parse_token(since)
        current = await self.event_map(event_id=event_id, now=now, viewer=viewer, versions=versions)
        changed = tuple(s for s in current.sections if previous.get(s.layout.id) != s.stamp)
        return EventSeatMap(
            event=current.event,
            price_levels=current.price_levels,
            sections=changed,
            version=current.version,
        )

    async def aclose(self) -> None:
        await self._reader.close()

    def layouts_loaded(self) -> int:
        """Seats whose layout this process holds (for tests and benchmarks)."""
        return sum(len(lay.seat_ids) for e in self._events.values() for lay in e.layouts.values())


def _token(states: Sequence[SectionState]) -> str:
    return ".".join(f"{s.layout.id}-{s.stamp}" for s in states)


def _parse_token(token: str) -> dict[int, str]:
    stamps: dict[int, str] = {}
    try:
        for part in token.split(".") if token else ():
            section, _, stamp = part.partition("-")
            version, _, until = stamp.partition("~")
            int(version), int(until or 0)  # validates the shape
            stamps[int(section)] = stamp
    except ValueError:
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR,
            "`since` must be a seat-map version as returned by seatMap or seatChanges.",
            field=("since",),
        ) from None
    return stamps
