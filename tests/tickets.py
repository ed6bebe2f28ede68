"""Helpers: tickets bought through the REST door, their signed payloads, scans at the door."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import httpx
from fastapi import FastAPI

from tests.api import booked_cart, ok_json
from tests.factories import EventFixture
from ticketing.tickets import documents


async def bought(
    client: httpx.AsyncClient,
    event: EventFixture,
    seats: Sequence[int | tuple[int, str]],
    headers: dict[str, str] | None = None,
) -> str:
    """A completed payment for these seats (see `booked_cart`); its id. With `headers`, the
    signed-in customer's (the cart is bound to him by his first hold)."""
    if headers is None:
        booking = await booked_cart(client, event, seats)
    else:
        cart = str(uuid.uuid4())
        for seat in seats:
            seat_id, level = seat if isinstance(seat, tuple) else (seat, "Adult")
            held = await client.post(
                f"/orders/carts/{cart}",
                json={
                    "event_id": event.event_id,
                    "seat_id": seat_id,
                    "price_id": event.price_ids[level],
                },
                headers=headers,
            )
            ok_json(held)
        booking = ok_json(await client.put(f"/orders/carts/{cart}/book", headers=headers))
    payment_id: str = booking["payment_id"]
    ok_json(await client.post(f"/payments/{payment_id}/complete", headers=headers))
    return payment_id


async def payloads_of(app: FastAPI, payment_id: str) -> list[str]:
    """The QR payloads of an anonymous order's tickets, in print order (as its PDF has them)."""
    order = await documents.order_tickets(
        app.state.db,
        payment_id=uuid.UUID(payment_id),
        now=app.state.clock(),
        caller=None,
        keys=app.state.ticket_keys,
    )
    return [ticket.payload for ticket in order.tickets]


async def scan(
    client: httpx.AsyncClient, event_id: int, payload: str, headers: dict[str, str] | None
) -> httpx.Response:
    return await client.post(
        f"/events/{event_id}/checkins", json={"payload": payload}, headers=headers
    )
