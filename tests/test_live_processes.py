"""Live seat maps across processes: two `ticketing serve` processes on one database; a change
committed through either reaches the subscribers of both, within a second."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from httpx_ws import aconnect_ws

from tests.live_client import Subscriber, snapshot, start
from tests.server import seed, serving

DELIVERY_S = 1.0
"""The promise: a committed change reaches every subscriber within this time."""


@contextlib.asynccontextmanager
async def subscribed(
    base_url: str, event_id: int, version: str, statuses: dict[str, str]
) -> AsyncIterator[Subscriber]:
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        aconnect_ws("/graphql", http, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await start(ws, {"id": event_id, "since": version})
        yield Subscriber(ws, statuses)


async def _caught_up(subscriber: Subscriber, expected: dict[str, str], deadline: float) -> None:
    while subscriber.statuses != expected:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "a committed change did not reach a subscriber in time"
        await subscriber.next(wait_s=remaining)


@pytest.mark.slow
async def test_a_change_through_either_process_reaches_the_subscribers_of_both(
    database_url: str,
) -> None:
    seeded = await asyncio.to_thread(seed, database_url, seats=200)
    event_id = seeded["event_id"]
    with serving(database_url, workers=1) as one, serving(database_url, workers=1) as other:
        async with (
            httpx.AsyncClient(base_url=one, timeout=30) as http_one,
            httpx.AsyncClient(base_url=other, timeout=30) as http_other,
        ):
            sections = (await http_one.get(f"/events/{event_id}/sections")).json()
            seats = (
                await http_one.get(f"/events/{event_id}/sections/{sections[0]['id']}/seats")
            ).json()
            price_id = seats[0]["price_options"][0]["id"]
            version, statuses = await snapshot(http_one, event_id)
            async with (
                subscribed(one, event_id, version, statuses) as on_one,
                subscribed(other, event_id, version, statuses) as on_other,
            ):

                async def through(
                    writer: httpx.AsyncClient, method: str, url: str, seat: int | None = None
                ) -> dict[str, Any]:
                    """A step through `writer`; then both subscribers see the map it left."""
                    item = {"event_id": event_id, "seat_id": seat, "price_id": price_id}
                    answer = await writer.request(method, url, json=item if seat else None)
                    assert answer.status_code == 200, answer.text
                    deadline = time.monotonic() + DELIVERY_S
                    reader = http_other if writer is http_one else http_one
                    _, expected = await snapshot(reader, event_id)
                    await _caught_up(on_one, expected, deadline)
                    await _caught_up(on_other, expected, deadline)
                    done: dict[str, Any] = answer.json()
                    return done

                ids = [seat["seat_id"] for seat in seats]
                # holds through each process in turn
                for turn in range(4):
                    writer = http_one if turn % 2 else http_other
                    await through(writer, "POST", f"/orders/carts/{uuid.uuid4()}", ids[turn])
                # a cart booked through one process and paid through the other; one failed
                paid, failed = f"/orders/carts/{uuid.uuid4()}", f"/orders/carts/{uuid.uuid4()}"
                await through(http_one, "POST", paid, ids[4])
                await through(http_other, "POST", failed, ids[5])
                to_pay = (await through(http_other, "PUT", f"{paid}/book"))["payment_id"]
                to_fail = (await through(http_one, "PUT", f"{failed}/book"))["payment_id"]
                await through(http_one, "POST", f"/payments/{to_pay}/complete")
                await through(http_other, "POST", f"/payments/{to_fail}/failed")
                digits = "".join(on_one.statuses.values())
                assert (digits.count("4"), digits.count("2")) == (1, 4)  # one sold, four held
