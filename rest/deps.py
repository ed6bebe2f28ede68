"""FastAPI dependencies: a session per request, the command's `now`, the configured policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.services.seatmaps import SeatMaps
from ticketing.settings import CartPolicy


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


# Dependencies are `async def`: FastAPI runs a plain `def` one in a worker thread, a thread hop
# per request for nothing.


async def get_now(request: Request) -> datetime:
    """Taken once per request and passed down, so that one command sees one instant."""
    now: datetime = request.app.state.clock()
    return now


async def get_policy(request: Request) -> CartPolicy:
    policy: CartPolicy = request.app.state.settings.cart_policy
    return policy


async def get_seat_maps(request: Request) -> SeatMaps:
    seat_maps: SeatMaps = request.app.state.seat_maps
    return seat_maps


SessionDep = Annotated[AsyncSession, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
PolicyDep = Annotated[CartPolicy, Depends(get_policy)]
SeatMapsDep = Annotated[SeatMaps, Depends(get_seat_maps)]

# Ids are 32-bit in the database; anything outside is a client error, never a database error.
MAX_ID = 2_147_483_647
VenueId = Annotated[int, Path(ge=1, le=MAX_ID, description="Venue id.")]
EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="Event id.")]
SectionId = Annotated[
    int,
    Path(ge=1, le=MAX_ID, description="Section id of the venue template (same in every event)."),
]
SeatId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="Seat id of the venue template, scoped by the event.")
]
