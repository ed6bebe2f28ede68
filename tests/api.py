"""Thin helpers over the REST routes, so tests read as the client's steps."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


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
