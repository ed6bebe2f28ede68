"""Real races in one process: 50 clients, each with its own cart, on one seat; complete against
fail on one payment; scanners on one ticket. Each has a control: the same race on a naive
check-then-write claim must show a double sale (or entry), proving the harness would catch one."""

from __future__ import annotations

import functools
import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.accounts import signed_in
from tests.api import add_seat, book, new_cart
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.invariants import assert_invariants, violations
from tests.races import (
    naive_check_in,
    naive_claim_seat,
    naive_finish_payment,
    outcome,
    postgres_activity,
    race,
)
from tests.tickets import bought, payloads_of, scan
from ticketing.db import Database
from ticketing.settings import Settings
from ticketing.tickets import payload

CLIENTS = 50
ROUNDS = 8


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Row locks may wait up to 30 s here. In loaded full-suite runs on PostgreSQL a round's winner
    was seen to hold its seat for over 5 s before committing, and the waiting losers then got
    SERVICE_BUSY (the retryable 503) instead of SEAT_NOT_AVAILABLE; the cause is not found yet
    (never reproduced alone). These tests are about who wins, so they wait it out."""
    return settings.model_copy(update={"lock_timeout_ms": 30_000})


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    return await make_event(db, now=clock.now, rows=4, seats_per_row=10)


async def test_fifty_carts_one_seat_exactly_one_wins(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    adult = event.price_ids["Adult"]
    postgres = db.dialect == "postgresql"
    snapshot = functools.partial(postgres_activity, db) if postgres else None
    for round_number in range(ROUNDS):
        seat = event.seat_ids[round_number]
        carts = [new_cart() for _ in range(CLIENTS)]

        async def attempt(index: int, seat: int = seat, carts: list[str] = carts) -> str:
            response = await add_seat(
                client, carts[index], event_id=event.event_id, seat_id=seat, price_id=adult
            )
            return outcome(response)

        tally = await race(CLIENTS, attempt, snapshot=snapshot)
        assert tally == {"ok": 1, "SEAT_NOT_AVAILABLE": CLIENTS - 1}, (round_number, tally)
        holders = [
            cart for cart in carts if (await client.get(f"/orders/carts/{cart}")).json()["items"]
        ]
        assert len(holders) == 1
        await assert_invariants(db)


async def test_control_naive_claim_sells_one_seat_many_times(
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
    assert tally["ok"] > 1, f"the naive claim should have double-sold, got {tally}"
    # And the invariant query notices the damage too.
    assert "taken seat without an active item of its cart" in await violations(db)


async def _booked_payment(client: httpx.AsyncClient, event: EventFixture, seat: int) -> str:
    cart = new_cart()
    held = await add_seat(
        client, cart, event_id=event.event_id, seat_id=seat, price_id=event.price_ids["Adult"]
    )
    assert held.status_code == 200, held.text
    booked = await book(client, cart)
    assert booked.status_code == 200, booked.text
    payment_id: str = booked.json()["payment_id"]
    return payment_id


async def test_complete_and_fail_fired_together_exactly_one_wins(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    seen_winners = set()
    for round_number in range(ROUNDS):
        payment_id = await _booked_payment(client, event, event.seat_ids[round_number])
        calls = ["complete", "failed"] * 10

        async def attempt(
            index: int, payment_id: str = payment_id, calls: list[str] = calls
        ) -> str:
            response = await client.post(f"/payments/{payment_id}/{calls[index]}")
            result = outcome(response)
            return f"{calls[index]}:{result}"

        tally = await race(len(calls), attempt)
        final = (await client.get(f"/payments/{payment_id}")).json()["status"]
        winner, loser = ("complete", "failed") if final == "completed" else ("failed", "complete")
        assert tally == {f"{winner}:ok": 10, f"{loser}:PAYMENT_FINALIZED": 10}, tally
        seen_winners.add(winner)
        seat_state = await client.get(
            f"/events/{event.event_id}/sections/{event.section_ids['Main']}/seats"
        )
        (seat,) = [s for s in seat_state.json() if s["seat_id"] == event.seat_ids[round_number]]
        assert seat["status"]["name"] == ("sold" if winner == "complete" else "available")
        await assert_invariants(db)


async def test_control_naive_payment_finish_lets_both_outcomes_win(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    payment_id = uuid.UUID(await _booked_payment(client, event, event.seat_ids[-1]))
    calls = ["completed", "failed"] * 10

    async def attempt(index: int) -> str:
        return await naive_finish_payment(
            app.state.db.engine, payment_id=payment_id, outcome=calls[index]
        )

    tally = await race(len(calls), attempt)
    # Both outcomes were told they won: the payment was completed and failed at once.
    assert tally["completed"] >= 1, tally
    assert tally["failed"] >= 1, tally


async def test_thirty_adds_to_one_cart_stop_at_its_limit(
    client: httpx.AsyncClient, event: EventFixture, db: Database, settings: Settings
) -> None:
    """One cart, thirty different seats added at once: the cart's lock orders them, and each
    add counts the holds committed before it, so exactly the limit gets in."""
    adult, cart = event.price_ids["Adult"], new_cart()
    limit, clients = settings.cart.max_seats_per_cart, 30

    async def attempt(index: int) -> str:
        response = await add_seat(
            client, cart, event_id=event.event_id, seat_id=event.seat_ids[index], price_id=adult
        )
        return outcome(response)

    tally = await race(clients, attempt)
    assert tally == {"ok": limit, "CART_LIMIT": clients - limit}, tally
    items = (await client.get(f"/orders/carts/{cart}")).json()["items"]
    assert len(items) == limit
    await assert_invariants(db)


async def test_adds_racing_a_booking_of_the_same_cart_are_booked_or_refused(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    """A booking and eight adds to the same cart at once: an add that got in before the booking
    is booked with it, one after it is refused (CART_NOT_OPEN); no seat is left held."""
    adult, cart = event.price_ids["Adult"], new_cart()
    first = await add_seat(
        client, cart, event_id=event.event_id, seat_id=event.seat_ids[0], price_id=adult
    )
    assert first.status_code == 200

    async def attempt(index: int) -> str:
        if index == 0:
            return outcome(await book(client, cart))
        response = await add_seat(
            client, cart, event_id=event.event_id, seat_id=event.seat_ids[index], price_id=adult
        )
        return outcome(response)

    tally = await race(9, attempt)
    added = tally["ok"] - 1  # the booking's own answer is "ok"
    assert tally == {"ok": added + 1, "CART_NOT_OPEN": 8 - added}, tally
    booked = (await client.get(f"/orders/carts/{cart}")).json()
    assert booked["status"] == "booked"
    assert len(booked["items"]) == 1 + added
    held = [
        seat["seat_id"]
        for section in (await client.get(f"/events/{event.event_id}/sections")).json()
        for seat in (
            await client.get(f"/events/{event.event_id}/sections/{section['id']}/seats")
        ).json()
        if seat["status"]["id"] == 2
    ]
    assert held == []  # booked with the cart, or never taken
    await assert_invariants(db)


SCANNERS = 5


async def test_scanners_scanning_one_ticket_at_once_admit_it_exactly_once(
    client: httpx.AsyncClient, app: FastAPI, event: EventFixture, db: Database
) -> None:
    doors = [await signed_in(client, db, scanner=True) for _ in range(SCANNERS)]
    postgres = db.dialect == "postgresql"
    snapshot = functools.partial(postgres_activity, db) if postgres else None
    for round_number in range(ROUNDS):
        (ticket,) = await payloads_of(
            app, await bought(client, event, [event.seat_ids[round_number]])
        )

        async def attempt(index: int, ticket: str = ticket) -> str:
            return outcome(await scan(client, event.event_id, ticket, doors[index % SCANNERS]))

        tally = await race(CLIENTS, attempt, snapshot=snapshot)
        assert tally == {"ok": 1, "ALREADY_CHECKED_IN": CLIENTS - 1}, (round_number, tally)


async def test_control_naive_check_in_admits_one_ticket_many_times(
    client: httpx.AsyncClient, app: FastAPI, event: EventFixture, clock: FakeClock
) -> None:
    (ticket,) = await payloads_of(app, await bought(client, event, [event.seat_ids[-1]]))
    code = payload.verify(ticket, app.state.ticket_keys.public_key).code

    async def attempt(_: int) -> str:
        return await naive_check_in(app.state.db.engine, code=code, now=clock.now)

    tally = await race(CLIENTS, attempt)
    assert tally["ok"] > 1, f"the naive check-in should have admitted twice, got {tally}"
