"""The compact seat map: a whole stadium in one cheap answer, and what changed since. The layout
(fixed once the event exists) travels as one JSON value encoded once per process, the statuses as
one digit per seat: seats as GraphQL objects cost graphql-core work per field and per seat."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncGenerator
from typing import Annotated, NewType

import orjson
import strawberry

from schema.common import lookup_id
from schema.context import Info
from schema.shared_results import SharedMessage, SharedResults
from ticketing.catalog import live
from ticketing.catalog.seatmaps import EventSeatMap, SectionLayout, SectionState

LAYOUT_COLUMNS = ("seat_id", "row_id", "row", "number", "type", "price_set", "x", "y")

SeatMapLayoutJSON = NewType("SeatMapLayoutJSON", object)
SEAT_MAP_LAYOUT_SCALAR = strawberry.scalar(
    name="SeatMapLayoutJSON",
    description=(
        "The static layout of an event's seat map, as JSON: "
        '`{"seat_columns": [...], "focal_point": [x, y] | null, "sections": [{"id", "name", '
        '"kind", "capacity", "position", "outline": [[x, y], ...], "label": [x, y], '
        '"price_sets": [[{"price_id", "amount"}]], "seats": [[seat_id, row_id, row, number, '
        "type, price_set, x, y], ...]}]}`. A seat's `price_set` indexes its section's "
        "`price_sets` (0: not on sale); amounts are decimal strings in the event's currency. "
        "Positions are in venue units, x to the right and y downwards (null for "
        "general-admission places). It changes only when a manager edits the event (prices): "
        "cache it by `layoutVersion`."
    ),
    serialize=lambda value: value,
    parse_value=lambda value: value,
)


def _section_layout_json(layout: SectionLayout) -> bytes:
    encoded: bytes | None = layout.memo.get("gql_layout")
    if encoded is None:
        encoded = layout.memo["gql_layout"] = orjson.dumps(
            {
                "id": layout.id,
                "name": layout.name,
                "kind": layout.kind.name,
                "capacity": layout.capacity,
                "position": layout.position,
                "outline": layout.outline,
                "label": layout.label,
                "price_sets": [
                    [{"price_id": p.id, "amount": f"{p.amount:.2f}"} for p in offer]
                    for offer in layout.price_sets
                ],
                "seats": [
                    (s.seat_id, s.row_id, s.row, s.number, s.type.name, s.price_set, s.x, s.y)
                    for s in layout.seats
                ],
            }
        )
    return encoded


async def _layout_ahead(seat_map: EventSeatMap) -> None:
    """Encode the sections' layouts not encoded yet one per turn of the event loop: a whole
    stadium in one go would hold every other request."""
    if "gql_layout" in seat_map.memo:
        return
    for state in seat_map.sections:
        if "gql_layout" not in state.layout.memo:
            _section_layout_json(state.layout)
            await asyncio.sleep(0)


def _layout(seat_map: EventSeatMap) -> tuple[bytes, str]:
    cached: tuple[bytes, str] | None = seat_map.memo.get("gql_layout")
    if cached is None:
        encoded = (
            b'{"seat_columns":'
            + orjson.dumps(LAYOUT_COLUMNS)
            + b',"focal_point":'
            + orjson.dumps(seat_map.focal_point)
            + b',"sections":['
            + b",".join(_section_layout_json(s.layout) for s in seat_map.sections)
            + b"]}"
        )
        cached = seat_map.memo["gql_layout"] = (encoded, hashlib.sha256(encoded).hexdigest()[:24])
    return cached


def _statuses(state: SectionState) -> str:
    text: str | None = state.memo.get("gql_statuses")
    if text is None:
        text = state.memo["gql_statuses"] = state.statuses.decode("ascii")
    return text


@strawberry.type(description="The live part of one section of a seat map.")
class SeatMapSection:
    id: strawberry.ID = strawberry.field(description="The venue template's section id.")
    available_count: int = strawberry.field(description="Seats on sale right now.")
    statuses: str = strawberry.field(
        description="One digit per seat, in the order of the section's `seats` in the layout: "
        "1 available, 2 held, 3 booked, 4 sold."
    )

    @classmethod
    def of(cls, state: SectionState) -> SeatMapSection:
        return cls(
            id=strawberry.ID(str(state.layout.id)),
            available_count=state.available_count,
            statuses=_statuses(state),
        )


@strawberry.type(
    description="A whole event's seat map in compact form: a static layout and one digit of "
    "status per seat. Subscribe to `seatMapChanges(since: version)` (or poll `seatChanges`) "
    "to keep it live."
)
class SeatMap:
    event_id: strawberry.ID = strawberry.field(description="The event's id.")
    version: str = strawberry.field(
        description="Names this state of the statuses; pass it to `seatChanges(since:)`."
    )
    layout_version: str = strawberry.field(
        description="Names the layout; it stays the same for the life of the event."
    )
    layout: SeatMapLayoutJSON = strawberry.field(
        description="Sections, rows, seat numbers and price offers (see `SeatMapLayoutJSON`)."
    )
    sections: list[SeatMapSection] = strawberry.field(
        description="Every section's statuses, in the layout's order."
    )

    @classmethod
    def of(cls, seat_map: EventSeatMap) -> SeatMap:
        encoded, layout_version = _layout(seat_map)
        return cls(
            event_id=strawberry.ID(str(seat_map.event.id)),
            version=seat_map.version,
            layout_version=layout_version,
            layout=SeatMapLayoutJSON(orjson.Fragment(encoded)),
            sections=[SeatMapSection.of(s) for s in seat_map.sections],
        )


@strawberry.type(description="What changed in a seat map since a `version`.")
class SeatChanges:
    version: str = strawberry.field(description="The current version: pass it next time.")
    sections: list[SeatMapSection] = strawberry.field(
        description="Only the sections whose statuses changed (all their statuses, in order); "
        "empty when nothing changed."
    )

    @classmethod
    def of(cls, changes: EventSeatMap) -> SeatChanges:
        return cls(
            version=changes.version, sections=[SeatMapSection.of(s) for s in changes.sections]
        )


@strawberry.type
class SeatMapQuery:
    @strawberry.field(
        description="An event's whole seat map, compact: use this (not per-seat objects) to "
        "draw a large venue. Null when there is no such event."
    )
    async def seat_map(
        self,
        info: Info,
        event_id: Annotated[strawberry.ID, strawberry.argument(description="The event id.")],
    ) -> SeatMap | None:
        event = lookup_id(event_id)
        seat_map = None if event is None else await info.context.seat_map(event)
        if seat_map is None:
            return None
        await _layout_ahead(seat_map)
        return SeatMap.of(seat_map)

    @strawberry.field(
        description="The sections of an event's seat map whose statuses changed since `since` "
        "(a `version` from `seatMap` or an earlier `seatChanges`). Null when there is no such "
        "event."
    )
    async def seat_changes(
        self,
        info: Info,
        event_id: Annotated[strawberry.ID, strawberry.argument(description="The event id.")],
        since: Annotated[
            str, strawberry.argument(description="A `version` this API returned for the event.")
        ],
    ) -> SeatChanges | None:
        event = lookup_id(event_id)
        changes = None if event is None else await info.context.seat_map(event, since=since)
        return None if changes is None else SeatChanges.of(changes)


@strawberry.type(description="A section that changed, in a `seatMapChanges` message.")
class SeatMapSectionUpdate:
    id: strawberry.ID = strawberry.field(description="The venue template's section id.")
    available_count: int = strawberry.field(description="Seats on sale right now.")
    statuses: str | None = strawberry.field(
        description="The section's whole statuses (as in `SeatMapSection`), when they are sent "
        "whole; null when `seats` lists the seats that changed."
    )
    seats: list[int] | None = strawberry.field(
        description="The indexes, in the order of the section's `seats` in the layout, of the "
        "seats whose status changed; null when `statuses` is sent whole."
    )
    seat_statuses: str | None = strawberry.field(
        description="The new status of each seat in `seats`, one digit each, in that order."
    )

    @classmethod
    def of(cls, update: live.SectionUpdate) -> SeatMapSectionUpdate:
        made: SeatMapSectionUpdate | None = update.memo.get("gql")
        if made is None:
            state = update.state
            if update.seats is None:
                changed, seat_statuses, statuses = None, None, _statuses(state)
            else:
                changed = list(update.seats)
                seat_statuses = bytes(state.statuses[i] for i in update.seats).decode("ascii")
                statuses = None
            made = update.memo["gql"] = cls(
                id=strawberry.ID(str(state.layout.id)),
                available_count=state.available_count,
                statuses=statuses,
                seats=changed,
                seat_statuses=seat_statuses,
            )
        return made


@strawberry.type(description="A message of `seatMapChanges`.")
class SeatMapUpdate(SharedMessage):
    version: str = strawberry.field(
        description="The map's version once this message is applied: a client that reconnects "
        "subscribes again from it."
    )
    reload: bool = strawberry.field(
        description="True when the client's map can no longer be brought up to date (a manager "
        "changed the event's layout or prices): read `seatMap` again and subscribe from its "
        "version. The subscription ends after it."
    )
    sections: list[SeatMapSectionUpdate] = strawberry.field(
        description="The sections that changed since the message before (or since `since`)."
    )

    shared_results: strawberry.Private[SharedResults] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, update: live.SeatMapUpdate) -> SeatMapUpdate:
        """One object per message, whichever subscriber sends it: its result is shared."""
        made: SeatMapUpdate | None = update.memo.get("gql")
        if made is None:
            made = update.memo["gql"] = cls(
                version=update.version,
                reload=update.reload,
                sections=[SeatMapSectionUpdate.of(s) for s in update.sections],
            )
        return made


@strawberry.type
class SeatMapSubscription:
    @strawberry.subscription(
        description="The changes of an event's seat map after `since` (a `version` from "
        "`seatMap` or `seatChanges`), as they happen: first what changed since `since`, if "
        "anything, then the changes as they commit, a burst of them in one message, each "
        "relative to the message before; holds and payments that lapse arrive too. A slow "
        "client gets fewer, larger messages, never a backlog. Null, then the end, when there "
        "is no such event. Over a WebSocket (graphql-transport-ws); a signed-in client sends "
        'its token as `{"authorization": "Bearer <token>"}` in `connection_init`.'
    )
    async def seat_map_changes(
        self,
        info: Info,
        event_id: Annotated[strawberry.ID, strawberry.argument(description="The event id.")],
        since: Annotated[
            str, strawberry.argument(description="A `version` this API returned for the event.")
        ],
    ) -> AsyncGenerator[SeatMapUpdate | None, None]:
        event = lookup_id(event_id)
        if event is None:
            yield None
            return
        async for update in info.context.seat_map_changes(event, since=since):
            yield None if update is None else SeatMapUpdate.of(update)
