"""Thin helpers over the REST routes, so tests read as the client's steps."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from tests.factories import EventFixture


def new_cart() -> str:
    return str(uuid.uuid4())


async def add_seat(
    client: httpx.AsyncClient, cart_id: str, *, event_id: int, seat_id: int, price_id: int
) -> httpx.Response:
    return await client.post(
        f"/orders/carts/{cart_id}",
        json={"event_id": event_id, "seat_id": seat_id, "price_id": price_id},
    )


async def remove_seat(
    client: httpx.AsyncClient, cart_id: str, *, event_id: int, seat_id: int
) -> httpx.Response:
    return await client.delete(f"/orders/carts/{cart_id}/events/{event_id}/seats/{seat_id}")


async def book(client: httpx.AsyncClient, cart_id: str) -> httpx.Response:
    return await client.put(f"/orders/carts/{cart_id}/book")


async def seat_status(
    client: httpx.AsyncClient, *, event_id: int, section_id: int, seat_id: int
) -> str:
    response = await client.get(f"/events/{event_id}/sections/{section_id}/seats")
    assert response.status_code == 200, response.text
    (seat,) = [s for s in response.json() if s["seat_id"] == seat_id]
    name: str = seat["status"]["name"]
    return name


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem with this status and code; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"].startswith("urn:ticketing:problem:")
    assert body["detail"]
    return body


def ts(value: str) -> datetime:
    """An instant as the API writes it (ISO 8601 with its offset)."""
    return datetime.fromisoformat(value)


def ok_json(response: httpx.Response) -> dict[str, Any]:
    """Assert a 200 answer; return its JSON body."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def hold(
    client: httpx.AsyncClient, cart_id: str, event: EventFixture, seat_id: int, level: str = "Adult"
) -> dict[str, Any]:
    """Hold a seat of `event` at a price level by name; return the cart."""
    response = await add_seat(
        client, cart_id, event_id=event.event_id, seat_id=seat_id, price_id=event.price_ids[level]
    )
    return ok_json(response)


async def booked_cart(
    client: httpx.AsyncClient, event: EventFixture, seats: Sequence[int | tuple[int, str]]
) -> dict[str, Any]:
    """A new cart holding `seats` (a seat id, held at Adult, or a (seat id, price level)),
    booked; returns the booking."""
    cart_id = new_cart()
    for seat in seats:
        seat_id, level = seat if isinstance(seat, tuple) else (seat, "Adult")
        await hold(client, cart_id, event, seat_id, level)
    return ok_json(await book(client, cart_id))


async def get_cart(client: httpx.AsyncClient, cart_id: str) -> dict[str, Any]:
    return ok_json(await client.get(f"/orders/carts/{cart_id}"))


async def get_payment(client: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    return ok_json(await client.get(f"/payments/{payment_id}"))


async def status_of(
    client: httpx.AsyncClient, event: EventFixture, seat_id: int, section: str = "Main"
) -> str:
    """The status name the seat map shows for a seat of `event`."""
    return await seat_status(
        client, event_id=event.event_id, section_id=event.section_ids[section], seat_id=seat_id
    )


async def available_counts(client: httpx.AsyncClient, event_id: int) -> dict[str, int]:
    """Available seats per section name, as the event's section list shows them."""
    response = await client.get(f"/events/{event_id}/sections")
    assert response.status_code == 200, response.text
    return {s["name"]: s["available_count"] for s in response.json()}
