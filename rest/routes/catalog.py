"""Venues, events, sections and seat lists."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from rest.deps import (
    SIGN_IN_OPTIONAL,
    AsciiId,
    EventId,
    InstantText,
    SectionId,
    VenueId,
    service_call,
)
from rest.problems import problem_responses
from rest.schemas import EventOut, EventSectionOut, SeatMapOut, SeatOut, SectionOut, VenueOut
from rest.seatmaps import (
    cached_json,
    event_map_json,
    event_map_memo,
    gzip_ahead,
    map_etag,
    section_etag,
    section_seats_json,
)
from ticketing.catalog import queries as catalog
from ticketing.errors import ErrorCode
from ticketing.inputs import MAX_ID

router = APIRouter(tags=["catalog"])
seat_maps = APIRouter(tags=["catalog"])
"""The seat-map routes, the most requested of all: the app matches them first."""
NOT_FOUND = problem_responses(ErrorCode.NOT_FOUND)
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` ETag is still current."}
}


@router.get("/venues", summary="List venues")
async def list_venues(request: Request) -> list[VenueOut]:
    call = service_call(request)
    return [VenueOut.of(v) for v in await catalog.list_venues(call.db)]


@router.get("/venues/{venue_id}", summary="One venue", responses=NOT_FOUND)
async def get_venue(venue_id: VenueId, request: Request) -> VenueOut:
    call = service_call(request)
    return VenueOut.of(await catalog.get_venue(call.db, venue_id=venue_id))


@router.get("/venues/{venue_id}/sections", summary="A venue's sections", responses=NOT_FOUND)
async def list_venue_sections(venue_id: VenueId, request: Request) -> list[SectionOut]:
    call = service_call(request)
    sections = await catalog.list_venue_sections(call.db, venue_id=venue_id)
    return [SectionOut.of(s) for s in sections]


@router.get(
    "/events",
    summary="List events, soonest first",
    responses=problem_responses(),
    openapi_extra=SIGN_IN_OPTIONAL,
)
async def list_events(
    request: Request,
    venue_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only events at this venue."), AsciiId
    ] = None,
    starts_after: Annotated[
        AwareDatetime | None,
        Query(description="Only events starting at or after this instant (ISO 8601 with offset)."),
        InstantText,
    ] = None,
) -> list[EventOut]:
    call = service_call(request)
    events = await catalog.list_events(
        call.db, venue_id=venue_id, starts_after=starts_after, viewer=await call.viewer()
    )
    return [EventOut.of(e) for e in events]


@router.get(
    "/events/{event_id}",
    summary="One event",
    responses=NOT_FOUND,
    openapi_extra=SIGN_IN_OPTIONAL,
)
async def get_event(event_id: EventId, request: Request) -> EventOut:
    call = service_call(request)
    event = await catalog.get_event(call.db, event_id=event_id, viewer=await call.viewer())
    return EventOut.of(event)


@router.get(
    "/events/{event_id}/sections",
    summary="An event's sections with live availability",
    responses=NOT_FOUND,
    openapi_extra=SIGN_IN_OPTIONAL,
)
async def list_event_sections(event_id: EventId, request: Request) -> list[EventSectionOut]:
    call = service_call(request)
    sections = await catalog.list_event_sections(
        call.db, event_id=event_id, now=call.now, viewer=await call.viewer()
    )
    return [EventSectionOut.of_event(s) for s in sections]


@seat_maps.get(
    "/events/{event_id}/seats",
    summary="The whole seat map of an event, compact: per section, one row of values per seat",
    description="Served from memory, always fresh. Send the `ETag` back in `If-None-Match` to "
    "get `304 Not Modified` while nothing changed.",
    response_model=SeatMapOut,
    responses={**NOT_FOUND, **NOT_MODIFIED},
    openapi_extra=SIGN_IN_OPTIONAL,  # managers see drafts' maps
)
async def event_seat_map(event_id: EventId, request: Request) -> Response:
    call = service_call(request)
    freshness = await call.seat_maps.check(event_id, viewer=await call.viewer())
    seat_map = await call.seat_maps.event_map(event_id=event_id, now=call.now, freshness=freshness)
    memo = event_map_memo(seat_map)
    encoded: bytes | None = memo.get("json")
    if encoded is None:
        encoded = memo.setdefault("json", await event_map_json(seat_map))
    await gzip_ahead(request, memo, encoded)
    return cached_json(request, map_etag(seat_map), memo, lambda: encoded)


@seat_maps.get(
    "/events/{event_id}/sections/{section_id}/seats",
    summary="Seat map of one section: status and price options per seat",
    description="Served from memory, always fresh. Send the `ETag` back in `If-None-Match` to "
    "get `304 Not Modified` while nothing changed.",
    response_model=list[SeatOut],
    responses={**NOT_FOUND, **NOT_MODIFIED},
    openapi_extra=SIGN_IN_OPTIONAL,
)
async def list_section_seats(
    event_id: EventId, section_id: SectionId, request: Request
) -> Response:
    call = service_call(request)
    freshness = await call.seat_maps.check(event_id, viewer=await call.viewer())
    state = await call.seat_maps.section(
        event_id=event_id, section_id=section_id, now=call.now, freshness=freshness
    )
    memo = state.memo.setdefault("rest_list_http", {})
    return cached_json(request, section_etag(state), memo, lambda: section_seats_json(state))
