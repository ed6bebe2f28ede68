"""Per-request GraphQL context: one `now`, the app's database, DataLoaders made per request."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeVar

import strawberry
from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from schema.result_cache import ResultCache
from ticketing import idempotency
from ticketing.accounts import accounts
from ticketing.catalog import live
from ticketing.catalog import queries as catalog
from ticketing.catalog.queries import SectionKey
from ticketing.catalog.seatmaps import EventSeatMap, Freshness, SeatMaps, SectionState
from ticketing.db import Database
from ticketing.domain import (
    EventSectionView,
    EventSize,
    PaymentView,
    PriceLevelView,
    Principal,
    RowView,
    SeatView,
    SectionView,
    VenueView,
)
from ticketing.errors import ErrorCode, TicketingError
from ticketing.payments import payments
from ticketing.settings import CartPolicy, Settings
from ticketing.tickets.keys import TicketKeys

SEAT_TURN_SECONDS = 0.005
"""How long an operation completes seat objects before it lets the event loop serve others."""

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class Context(BaseContext):
    def __init__(
        self,
        *,
        db: Database,
        seat_maps: SeatMaps,
        settings: Settings,
        now: datetime,
        seat_feed: live.SeatFeed | None = None,
        result_cache: ResultCache | None = None,
        authorization: str | None = None,
        idempotency_key: str | None = None,
        client: accounts.Client,
        ticket_keys: TicketKeys | None = None,
    ) -> None:
        super().__init__()
        self.ticket_keys = ticket_keys
        """The key that signs tickets and verifies scanned ones (the app's, made at start-up)."""
        self.client = client
        """The caller's address and the app's throttle, for signIn and register."""
        self.authorization = authorization
        """The request's Authorization header (a bearer token), checked when first needed."""
        self.idempotency_key = idempotency_key
        """The request's Idempotency-Key header, for the mutation it carries."""
        self._viewer: asyncio.Future[Principal | None] | None = None
        self.db = db
        self.seat_maps = seat_maps
        self.result_cache = result_cache
        self.cacheable = True
        """False once the operation read anything a seat-map version does not cover."""
        self._checks: dict[int, asyncio.Future[Freshness]] = {}
        self.depends_on: dict[tuple[int, int], str] = {}
        """(event id, section id) -> the stamp of the section state this operation read;
        (event id, 0) -> the event's revision, for what a manager may change (name, prices)."""
        self.settings = settings
        self.now = now
        self.seat_feed = seat_feed
        self.subscriptions = live.ConnectionSubscriptions()
        """The subscriptions of this WebSocket (its context lives as long as the connection)."""
        self._turn = 0
        self._turn_started = 0.0
        self.venues = self._loader(self._venues)
        self.venue_sections = self._loader(self._venue_sections)
        self.event_sections = self._loader(self._event_sections)
        self.price_levels = self._loader(self._price_levels)
        self.section_rows = self._loader(self._section_rows)
        self.section_seats = self._loader(self._section_seats)
        self.payments = self._loader(self._payments)
        """Payments by id, as the viewer may see them (None: not found), for `Cart.payment`."""

    async def in_turns(self, items: Iterable[T]) -> AsyncIterator[T]:
        """`items` for graphql-core to complete one at a time, in turns of SEAT_TURN_SECONDS
        shared by the operation's lists: a list, once complete, would hold the loop for all of
        its items, and a row's list is one of many that complete side by side."""
        iterator = iter(items)  # an item is made only once its turn has come
        while True:
            if time.perf_counter() - self._turn_started > SEAT_TURN_SECONDS:
                await self._next_turn()
            try:
                item = next(iterator)
            except StopIteration:
                return
            yield item

    async def _next_turn(self) -> None:
        while True:
            turn = self._turn
            await asyncio.sleep(0)
            if self._turn == turn:  # the first list back begins the next turn
                self._turn += 1
                self._turn_started = time.perf_counter()
                return
            if time.perf_counter() - self._turn_started <= SEAT_TURN_SECONDS:
                return  # another list began a turn that is not over: go on in it

    @property
    def policy(self) -> CartPolicy:
        return self.settings.cart

    async def viewer(self) -> Principal | None:
        """The signed-in caller (None: anonymous), looked up once per operation; a bad token
        raises INVALID_TOKEN."""
        authorization = self.authorization
        if authorization is None and isinstance(self.connection_params, dict):
            # a browser's WebSocket sends no headers: the token comes in `connection_init`
            given = self.connection_params.get("authorization")
            authorization = given if isinstance(given, str) else None
        if authorization is None:
            return None
        if self._viewer is None:
            self._viewer = asyncio.ensure_future(
                accounts.viewer(self.db, authorization=authorization, now=self.now)
            )
        return await asyncio.shield(self._viewer)

    async def call(
        self,
        service: Callable[Concatenate[Database, P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run one service call (one transaction of its own: resolvers run concurrently).
        What it reads is not covered by seat-map freshness: the operation's result is not
        cached."""
        self.cacheable = False
        return await self.read_immutable(service, *args, **kwargs)

    async def read_immutable(
        self,
        service: Callable[Concatenate[Database, P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """A service call reading what never changes once it exists (an event's rows): an
        operation that reads only such data and seat maps can be cached."""
        return await service(self.db, *args, **kwargs)

    def _depend(self, state: SectionState) -> None:
        self.depends_on[(state.layout.event_id, state.layout.id)] = state.stamp

    async def freshness(self, event_id: int) -> Freshness:
        """The event's seat maps checked once per operation: every field of it sees one
        state of the seat map. NOT_FOUND for a draft the viewer may not see."""
        future = self._checks.get(event_id)
        if future is None:
            viewer = await self.viewer()
            future = self._checks.get(event_id)
            if future is None:
                future = self._checks[event_id] = asyncio.ensure_future(
                    self.seat_maps.check(event_id, viewer=viewer)
                )
        return await asyncio.shield(future)

    async def read_event(
        self,
        event_id: int,
        service: Callable[Concatenate[Database, P], Awaitable[R]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R | None:
        """A service call reading what only a manager's change to this event changes (the
        event, its price levels): the operation stays cacheable, depending on the event's
        revision. None when there is no such event (or it is a draft the viewer may not see)."""
        try:
            freshness = await self.freshness(event_id)
        except TicketingError as exc:
            if exc.code is not ErrorCode.NOT_FOUND:
                raise
            self.cacheable = False
            return None
        self.depends_on[(event_id, 0)] = f"r{freshness.revision}"
        return await self.read_immutable(service, *args, **kwargs)

    async def event_size(self, event_id: int, *, apart: bool = False) -> EventSize | None:
        """The event's section capacities and price levels (no seat loaded); None when there is
        no such event or it is a draft the viewer may not see (it resolves to null).

        `apart`: check the event without keeping it for the operation, as before a mutation,
        whose payload must see what the mutation changed."""
        try:
            if apart:
                freshness = await self.seat_maps.check(event_id, viewer=await self.viewer())
            else:
                freshness = await self.freshness(event_id)
        except TicketingError as exc:
            if exc.code is not ErrorCode.NOT_FOUND:
                raise
            return None
        return await self.seat_maps.size(event_id=event_id, freshness=freshness)

    async def seat_map(self, event_id: int, *, since: str | None = None) -> EventSeatMap | None:
        """The event's whole seat map (or what changed `since` a version); None when there is
        no such event."""
        try:
            freshness = await self.freshness(event_id)
        except TicketingError as exc:
            if exc.code is not ErrorCode.NOT_FOUND:
                raise
            self.cacheable = False
            return None
        whole = await self.seat_maps.event_map(event_id=event_id, now=self.now, freshness=freshness)
        for state in whole.sections:
            self._depend(state)
        if since is None:
            return whole
        return await self.seat_maps.changes(
            event_id=event_id, since=since, now=self.now, freshness=freshness
        )

    async def seat_map_changes(
        self, event_id: int, *, since: str
    ) -> AsyncIterator[live.SeatMapUpdate | None]:
        """What changes in the event's seat map after `since`, as it commits (see
        `ticketing.catalog.live.seat_map_changes`)."""
        assert self.seat_feed is not None, "subscriptions are served by the app's router"
        viewer = await self.viewer()
        async for update in live.seat_map_changes(
            self.seat_feed,
            event_id=event_id,
            since=since,
            viewer=viewer,
            connection=self.subscriptions,
        ):
            yield update

    async def event_section(self, event_id: int, section_id: int) -> SectionState | None:
        """One section's live state (None when the event has no such section)."""
        try:
            state = await self.seat_maps.section(
                event_id=event_id,
                section_id=section_id,
                now=self.now,
                freshness=await self.freshness(event_id),
            )
        except TicketingError as exc:
            if exc.code is not ErrorCode.NOT_FOUND:
                raise
            self.cacheable = False  # it may exist later
            return None
        self._depend(state)
        return state

    async def still_current(self, depends_on: dict[tuple[int, int], str]) -> bool:
        """True when every section state a cached result was made from is still the current one
        (checked against the database after this request arrived)."""
        by_event: dict[int, list[int]] = {}
        for event_id, section_id in depends_on:
            by_event.setdefault(event_id, []).append(section_id)
        for event_id, section_ids in by_event.items():
            try:
                freshness = await self.freshness(event_id)
                if 0 in section_ids:
                    section_ids.remove(0)
                    if depends_on[(event_id, 0)] != f"r{freshness.revision}":
                        return False
                states = await self.seat_maps.sections(
                    event_id=event_id, section_ids=section_ids, now=self.now, freshness=freshness
                )
            except TicketingError as exc:
                if exc.code is not ErrorCode.NOT_FOUND:
                    raise
                return False
            if any(depends_on[(event_id, s.layout.id)] != s.stamp for s in states):
                return False
        return True

    @staticmethod
    def _loader(
        load: Callable[[list[K]], Awaitable[dict[K, V]]],
    ) -> DataLoader[K, V]:
        async def batch(keys: Sequence[K]) -> list[V]:
            found = await load(list(keys))
            return [found[key] for key in keys]

        return DataLoader(load_fn=batch)

    # A manager's edit of a venue bumps the revision of its events: read through an event
    # (`depend_on_event`), a venue is cacheable; the top-level venue queries are not.
    async def _venues(self, ids: list[int]) -> dict[int, VenueView | None]:
        found = await self.read_immutable(catalog.load_venues, venue_ids=ids)
        return {venue_id: found.get(venue_id) for venue_id in ids}

    async def _venue_sections(self, ids: list[int]) -> dict[int, list[SectionView]]:
        return await self.read_immutable(catalog.load_venue_sections, venue_ids=ids)

    async def depend_on_event(self, event_id: int) -> None:
        """What this operation read changes only with the event's revision."""
        self.depends_on[(event_id, 0)] = f"r{(await self.freshness(event_id)).revision}"

    async def _event_sections(self, ids: list[int]) -> dict[int, list[EventSectionView]]:
        found: dict[int, list[EventSectionView]] = {}
        for event_id in ids:
            seat_map = await self.seat_map(event_id)
            if seat_map is None:
                found[event_id] = []
                continue
            found[event_id] = [
                EventSectionView(
                    id=s.layout.id,
                    event_id=event_id,
                    venue_id=seat_map.event.venue_id,
                    name=s.layout.name,
                    kind=s.layout.kind,
                    capacity=s.layout.capacity,
                    position=s.layout.position,
                    available_count=s.available_count,
                )
                for s in seat_map.sections
            ]
        return found

    async def _price_levels(self, ids: list[int]) -> dict[int, list[PriceLevelView]]:
        for event_id in ids:
            await self.depend_on_event(event_id)
        return await self.read_immutable(catalog.load_price_levels, event_ids=ids)

    async def _section_rows(self, keys: list[SectionKey]) -> dict[SectionKey, list[RowView]]:
        return await self.read_immutable(catalog.load_section_rows, keys=keys)

    async def _payments(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, PaymentView | None]:
        found = await self.call(
            payments.get_payments, payment_ids=ids, now=self.now, caller=await self.viewer()
        )
        return {payment_id: found.get(payment_id) for payment_id in ids}

    async def _section_seats(self, keys: list[SectionKey]) -> dict[SectionKey, list[SeatView]]:
        by_event: dict[int, list[int]] = {}
        for event_id, section_id in keys:
            by_event.setdefault(event_id, []).append(section_id)
        found: dict[SectionKey, list[SeatView]] = {}
        for event_id, section_ids in by_event.items():
            states = await self.seat_maps.sections(
                event_id=event_id,
                section_ids=section_ids,
                now=self.now,
                freshness=await self.freshness(event_id),
            )
            for state in states:
                self._depend(state)
                found[(event_id, state.layout.id)] = state.seat_views()
        return found


Info = strawberry.Info[Context, None]


def context_getter(
    result_cache: ResultCache,
) -> Callable[[HTTPConnection], Awaitable[Context]]:
    """The router's context getter, serving from and filling `result_cache`."""

    async def get_context(request: HTTPConnection) -> Context:
        """Built once per request (or WebSocket); `now` is taken here, once, for every field of
        the operation."""
        return _context(request, result_cache)

    return get_context


def _context(request: HTTPConnection, result_cache: ResultCache) -> Context:
    app = request.app
    return Context(
        db=app.state.db,
        seat_maps=app.state.seat_maps,
        settings=app.state.settings,
        now=app.state.clock(),
        seat_feed=app.state.seat_feed,
        result_cache=result_cache,
        authorization=request.headers.get("authorization"),
        idempotency_key=request.headers.get(idempotency.KEY_HEADER),
        client=accounts.Client(
            address=request.client.host if request.client else None,
            throttle=app.state.throttle,
        ),
        ticket_keys=app.state.ticket_keys,
    )
