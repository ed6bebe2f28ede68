"""Idempotency keys on every cart and payment command, in both doors: a retry with the same key
gets the first answer and acts once; another request with the key is refused; concurrent
requests with one key have one effect."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.accounts import signed_in
from tests.api import new_cart, problem
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.graphql_client import GRAPHQL_PATH
from tests.invariants import assert_invariants
from tests.races import outcome, race
from tests.server import seed, serving
from ticketing.db import Database, query
from ticketing.models import event_seat_t

KEY = "Idempotency-Key"


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    return await make_event(db, now=clock.now, ga_capacity=20)


def _places(event: EventFixture, quantity: int = 2) -> dict[str, int]:
    return {
        "event_id": event.event_id,
        "section_id": event.section_ids["Floor"],
        "price_id": event.price_ids["Adult"],
        "quantity": quantity,
    }


def _seat(event: EventFixture, index: int = 0) -> dict[str, int]:
    return {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[index],
        "price_id": event.price_ids["Adult"],
    }


@query
async def _taken(conn: AsyncConnection, *, event_id: int) -> int:
    """Seats and places of the event that are not available."""
    taken = await conn.scalar(
        sa.select(sa.func.count()).where(
            event_seat_t.c.event_id == event_id, event_seat_t.c.status != 1
        )
    )
    return int(taken or 0)


async def test_each_command_retried_with_its_key_answers_the_same_and_acts_once(
    client: httpx.AsyncClient, db: Database, event: EventFixture, clock: FakeClock
) -> None:
    cart = new_cart()
    steps: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", f"/orders/carts/{cart}/general-admission", _places(event)),
        ("POST", f"/orders/carts/{cart}", _seat(event, 0)),
        ("POST", f"/orders/carts/{cart}", _seat(event, 1)),
        ("DELETE", f"/orders/carts/{cart}/events/{event.event_id}/seats/{event.seat_ids[1]}", None),
        ("PUT", f"/orders/carts/{cart}/book", None),
    ]
    for method, url, body in steps:
        key = {KEY: str(uuid.uuid4())}
        first = await client.request(method, url, json=body, headers=key)
        assert first.status_code == 200, first.text
        taken = await _taken(db, event_id=event.event_id)
        clock.advance(seconds=30)  # a retry a while later: a fresh answer would differ
        again = await client.request(method, url, json=body, headers=key)
        assert (again.status_code, again.content) == (first.status_code, first.content), url
        assert await _taken(db, event_id=event.event_id) == taken
    payment = first.json()["payment_id"]
    key = {KEY: "complete-" + payment}
    completed = await client.post(f"/payments/{payment}/complete", headers=key)
    assert completed.status_code == 200
    assert len(completed.json()["tickets"]) == 3  # two places and one seat
    again = await client.post(f"/payments/{payment}/complete", headers=key)
    assert again.content == completed.content
    await assert_invariants(db)


async def test_a_refusal_is_replayed_too(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    """The first answer stands even when the world changed: a retry of a refused hold is
    refused the same way after the seat came free (a new key asks anew)."""
    other = new_cart()
    assert (await client.post(f"/orders/carts/{other}", json=_seat(event))).status_code == 200
    cart, key = new_cart(), {KEY: "hold-seat-1"}
    refused = await client.post(f"/orders/carts/{cart}", json=_seat(event), headers=key)
    problem(refused, 409, "SEAT_NOT_AVAILABLE")
    released = await client.delete(
        f"/orders/carts/{other}/events/{event.event_id}/seats/{event.seat_ids[0]}"
    )
    assert released.status_code == 200
    again = await client.post(f"/orders/carts/{cart}", json=_seat(event), headers=key)
    assert again.content == refused.content
    fresh = await client.post(f"/orders/carts/{cart}", json=_seat(event), headers={KEY: "hold-2"})
    assert fresh.status_code == 200


async def test_the_same_key_for_another_request_is_refused(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    cart, key = new_cart(), {KEY: "places"}
    url = f"/orders/carts/{cart}/general-admission"
    assert (await client.post(url, json=_places(event, 2), headers=key)).status_code == 200
    for method, other_url, body in [
        ("POST", url, _places(event, 3)),  # another quantity
        ("POST", f"/orders/carts/{new_cart()}/general-admission", _places(event, 2)),  # cart
        ("PUT", f"/orders/carts/{cart}/book", None),  # another command
    ]:
        response = await client.request(method, other_url, json=body, headers=key)
        problem(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await _taken(db, event_id=event.event_id) == 2


async def test_keys_belong_to_their_caller_and_last_a_day(
    client: httpx.AsyncClient, db: Database, event: EventFixture, clock: FakeClock
) -> None:
    alice, bob = await signed_in(client), await signed_in(client)
    for who in (alice, bob):  # one key, two customers: two requests
        cart = new_cart()
        url = f"/orders/carts/{cart}/general-admission"
        response = await client.post(url, json=_places(event), headers={**who, KEY: "k1"})
        assert response.status_code == 200, response.text
    assert await _taken(db, event_id=event.event_id) == 4

    cart = new_cart()
    url = f"/orders/carts/{cart}/general-admission"
    first = await client.post(url, json=_places(event, 1), headers={KEY: "daily"})
    clock.advance(hours=24, seconds=1)  # the key is forgotten, holds have lapsed: it acts again
    later = await client.post(url, json=_places(event, 1), headers={KEY: "daily"})
    assert first.status_code == later.status_code == 200
    assert later.content != first.content


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "a\u0000b", "tab\there"])
async def test_a_malformed_key_is_a_validation_error(
    client: httpx.AsyncClient, event: EventFixture, key: str
) -> None:
    response = await client.post(
        f"/orders/carts/{new_cart()}", json=_seat(event), headers=[(KEY, key.encode())]
    )
    problem(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "key", ["a", "a b", "~" * 255, "", "x" * 256, "clé", "tab\there", " edge", "edge "]
)
async def test_the_document_states_which_keys_are_taken(
    client: httpx.AsyncClient, event: EventFixture, key: str
) -> None:
    """Every route taking the header documents one pattern, and it matches exactly the keys the
    service takes (HTTP strips spaces at either end of a header: such a key is not the one sent)."""
    spec = (await client.get("/openapi.json")).json()
    patterns = {
        parameter["schema"]["pattern"]
        for operations in spec["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == KEY
    }
    (pattern,) = patterns
    response = await client.post(
        f"/orders/carts/{new_cart()}", json=_seat(event), headers=[(KEY, key.encode())]
    )
    assert response.status_code == (200 if re.search(pattern, key) else 422), response.text


async def _graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], key: str
) -> dict[str, Any]:
    response = await client.post(
        GRAPHQL_PATH, json={"query": query, "variables": variables}, headers={KEY: key}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


PLACES = (
    "mutation($cart: UUID!, $event: ID!, $section: ID!, $price: ID!, $quantity: Int!) {"
    " addGeneralAdmissionToCart(input: {cartId: $cart, eventId: $event, sectionId: $section,"
    " priceId: $price, quantity: $quantity}) { cart { id total { amount } items { seatId } }"
    " userErrors { code } } }"
)


async def test_graphql_mutations_take_the_key_like_rest(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    """The key names the command, not the door: a GraphQL retry of a REST request (same key,
    same arguments) is given the cart the first made, and holds nothing more."""
    cart = new_cart()
    rest = await client.post(
        f"/orders/carts/{cart}/general-admission", json=_places(event), headers={KEY: "both"}
    )
    variables = {
        "cart": cart,
        "event": str(event.event_id),
        "section": str(event.section_ids["Floor"]),
        "price": str(event.price_ids["Adult"]),
        "quantity": 2,
    }
    first = await _graphql(client, PLACES, variables, "both")
    again = await _graphql(client, PLACES, variables, "both")
    assert first == again
    held = first["data"]["addGeneralAdmissionToCart"]["cart"]
    assert sorted(int(i["seatId"]) for i in held["items"]) == sorted(
        i["seat_id"] for i in rest.json()["items"]
    )
    other = await _graphql(client, PLACES, {**variables, "quantity": 3}, "both")
    assert other["data"]["addGeneralAdmissionToCart"]["userErrors"] == [
        {"code": "IDEMPOTENCY_KEY_REUSED"}
    ]
    assert await _taken(db, event_id=event.event_id) == 2


CLIENTS = 20


async def _race_places(
    client: httpx.AsyncClient, event: EventFixture, *, key: str | None
) -> Counter[str]:
    cart = new_cart()

    async def attempt(_: int) -> str:
        response = await client.post(
            f"/orders/carts/{cart}/general-admission",
            json=_places(event),
            headers={KEY: key} if key else None,
        )
        return outcome(response) + (
            f" {response.json()['total_amount']}" if response.status_code == 200 else ""
        )

    return await race(CLIENTS, attempt)


async def test_concurrent_requests_with_one_key_have_one_effect(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    tally = await _race_places(client, event, key="one-key")
    assert tally == Counter({"ok 60.00": CLIENTS}), tally  # every answer the first's
    assert await _taken(db, event_id=event.event_id) == 2
    await assert_invariants(db)


async def test_control_concurrent_requests_without_a_key_each_act(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    """The same race without a key: the cart fills up to its limit, so the test above would
    see a second effect."""
    tally = await _race_places(client, event, key=None)
    assert tally["CART_LIMIT"] > 0
    assert await _taken(db, event_id=event.event_id) == 10
    await assert_invariants(db)


@pytest.mark.slow
async def test_one_key_across_two_worker_processes_has_one_effect(database_url: str) -> None:
    seeded = await asyncio.to_thread(seed, database_url, seats=0, general_admission=100)
    with serving(database_url, workers=2) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            sections = (await http.get(f"/events/{seeded['event_id']}/sections")).json()
            seats = (
                await http.get(f"/events/{seeded['event_id']}/sections/{sections[0]['id']}/seats")
            ).json()
            body = {
                "event_id": seeded["event_id"],
                "section_id": sections[0]["id"],
                "price_id": seats[0]["price_options"][0]["id"],
                "quantity": 3,
            }
            cart = new_cart()

            async def attempt(_: int) -> str:
                # a client of its own per request: new connections, spread over both workers
                async with httpx.AsyncClient(base_url=base_url, timeout=30) as one:
                    response = await one.post(
                        f"/orders/carts/{cart}/general-admission",
                        json=body,
                        headers={KEY: "across"},
                    )
                return outcome(response) + (
                    f" {len(response.json()['items'])}" if response.status_code == 200 else ""
                )

            tally = await race(CLIENTS, attempt)
            assert tally == Counter({"ok 3": CLIENTS}), tally
            left = (await http.get(f"/events/{seeded['event_id']}/sections")).json()
            assert left[0]["available_count"] == 97
