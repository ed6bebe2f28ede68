"""Catalog queries: venues, events (a bounded, keyset-paged connection), one event."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

import strawberry

from schema.catalog.types import Event, EventConnection, EventEdge, PageInfo, Venue
from schema.common import lookup_id
from schema.context import Info
from ticketing import inputs
from ticketing.catalog import queries as catalog
from ticketing.errors import TicketingError
from ticketing.inputs import invalid

MAX_PAGE = 100


def encode_cursor(event: Event) -> str:
    raw = f"{event.starts_at.isoformat()}|{event.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (start, id) of a cursor from `encode_cursor`; VALIDATION_ERROR for anything else."""
    try:
        starts_at, event_id = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().split("|")
        instant, found_id = datetime.fromisoformat(starts_at), inputs.lookup_id(event_id)
    except (ValueError, binascii.Error) as exc:  # UnicodeError is a ValueError
        raise _bad_cursor() from exc
    if found_id is None or instant.tzinfo is None:
        raise _bad_cursor()
    return instant, found_id


def _bad_cursor() -> TicketingError:
    return invalid("`after` is not a cursor this API returned.", "after")


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="Every venue.")
    async def venues(self, info: Info) -> list[Venue]:
        return [Venue.of(v) for v in await info.context.call(catalog.list_venues)]

    @strawberry.field(description="One venue; null when there is none with this id.")
    async def venue(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The venue id.")],
    ) -> Venue | None:
        venue_id = lookup_id(id)
        info.context.cacheable = False  # managers edit venues
        if venue_id is None:
            return None
        view = await info.context.venues.load(venue_id)
        return None if view is None else Venue.of(view)

    @strawberry.field(
        description=f"Events soonest first, {MAX_PAGE} at most per page (`first`), after a cursor."
    )
    async def events(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to 100.")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="Cursor of the last event of the previous page."),
        ] = None,
        venue_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only events at this venue.")
        ] = None,
        starts_after: Annotated[
            datetime | None,
            strawberry.argument(description="Only events starting at or after this instant."),
        ] = None,
        starts_before: Annotated[
            datetime | None,
            strawberry.argument(description="Only events starting before this instant."),
        ] = None,
    ) -> EventConnection:
        if not 0 <= first <= MAX_PAGE:
            raise invalid(f"`first` must be between 0 and {MAX_PAGE}.", "first")
        venue = None if venue_id is None else lookup_id(venue_id)
        if venue_id is not None and venue is None:
            views = []
        else:
            views = await info.context.call(
                catalog.list_events,
                venue_id=venue,
                starts_after=starts_after,
                starts_before=starts_before,
                after=None if after is None else decode_cursor(after),
                limit=first + 1,
                viewer=await info.context.viewer(),
            )
        events = [Event.of(v) for v in views[:first]]
        edges = [EventEdge(cursor=encode_cursor(e), node=e) for e in events]
        return EventConnection(
            edges=edges,
            nodes=events,
            page_info=PageInfo(
                has_next_page=len(views) > first,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(description="One event; null when there is none with this id.")
    async def event(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The event id.")],
    ) -> Event | None:
        event_id = lookup_id(id)
        if event_id is None:
            return None
        context = info.context
        # visibility (drafts) is decided with the event's version read, before this call
        view = await context.read_event(
            event_id, catalog.get_event, event_id=event_id, viewer=await context.viewer()
        )
        return None if view is None else Event.of(view)
