"""The core race through the GraphQL door: 50 concurrent addSeatToCart on one seat, each with its
own cart -> exactly one cart gets it, 49 get SEAT_NOT_AVAILABLE as user errors."""

from __future__ import annotations

import functools
import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.invariants import assert_invariants, violations
from tests.races import naive_claim_seat, postgres_activity, race
from ticketing.db import Database
from ticketing.settings import Settings

CLIENTS = 50
ROUNDS = 5

ADD = """
mutation Add($input: AddSeatToCartInput!) {
  addSeatToCart(input: $input) {
    cart { id items { seatId } }
    userErrors { code field }
  }
}
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Row locks may wait up to 30 s here. In loaded full-suite runs on PostgreSQL a round's winner
    was seen to hold its seat for over 5 s before committing, and the waiting losers then got
    SERVICE_BUSY (the retryable 503) instead of SEAT_NOT_AVAILABLE; the cause is not found yet
    (never reproduced alone). These tests are about who wins, so they wait it out."""
    return settings.model_copy(update={"lock_timeout_ms": 30_000})


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    return await make_event(db, now=clock.now, rows=2, seats_per_row=10)


async def test_fifty_graphql_clients_one_seat_exactly_one_wins(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    postgres = db.dialect == "postgresql"
    snapshot = functools.partial(postgres_activity, db) if postgres else None
    for round_number in range(ROUNDS):
        seat = event.seat_ids[round_number]

        async def attempt(_: int, seat: int = seat) -> str:
            variables = {
                "input": {
                    "cartId": str(uuid.uuid4()),
                    "eventId": str(event.event_id),
                    "seatId": str(seat),
                    "priceId": str(event.price_ids["Adult"]),
                }
            }
            response = await client.post("/graphql", json={"query": ADD, "variables": variables})
            if response.status_code != 200 or "errors" in response.json():
                return f"http {response.status_code}: {response.text[:200]}"
            payload = response.json()["data"]["addSeatToCart"]
            # Every outcome is returned, not asserted here: an assertion inside one of the racing
            # clients would end the test while the others still run, hiding the tally.
            if payload["userErrors"]:
                (error,) = payload["userErrors"]
                if error["field"] != ["input", "seatId"] or payload["cart"] is not None:
                    return f"unexpected {error} cart={payload['cart']}"
                return str(error["code"])
            if payload["cart"]["items"] != [{"seatId": str(seat)}]:
                return f"unexpected cart {payload['cart']}"
            return "ok"

        tally = await race(CLIENTS, attempt, snapshot=snapshot)
        assert tally == {"ok": 1, "SEAT_NOT_AVAILABLE": CLIENTS - 1}, (round_number, tally)
        await assert_invariants(db)


async def test_control_naive_claim_double_sells_under_the_same_race(
    app: FastAPI, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    seat = event.seat_ids[-1]

    async def attempt(_: int) -> str:
        return await naive_claim_seat(
            app.state.db.engine,
            event_id=event.event_id,
            seat_id=seat,
            cart_id=uuid.uuid4(),
            now=clock.now,
        )

    tally = await race(CLIENTS, attempt)
    assert tally["ok"] > 1, tally
    assert await violations(db) != {}
