"""A cart used by a signed-in customer is theirs: to anyone else it and its payment do not exist."""
# ruff: noqa: UP031, E501  (GraphQL documents are kept whole, with %-placeholders)

from __future__ import annotations

import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from tests.accounts import PASSWORD, signed_in
from tests.factories import EventFixture
from tests.sql import fetch
from tests.test_graphql_statements import counting_statements
from ticketing.db import Database
from ticketing.models import cart_t, event_seat_t, payment_t


async def _snapshot(db: Database) -> list[Any]:
    rows: list[Any] = []
    for table in (cart_t, payment_t, event_seat_t):
        rows += await fetch(db, sa.select(table).order_by(*table.primary_key))
    return rows


async def test_other_callers_get_not_found_everywhere_and_change_nothing(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    owner = await signed_in(client)
    cart = uuid.uuid4()
    seat, other_seat = event.seat_ids[0], event.seat_ids[1]
    adult = event.price_ids["Adult"]
    held = await client.post(
        f"/orders/carts/{cart}",
        json={"event_id": event.event_id, "seat_id": seat, "price_id": adult},
        headers=owner,
    )
    assert held.status_code == 200
    booked = await client.put(f"/orders/carts/{cart}/book", headers=owner)
    assert booked.status_code == 200, booked.text
    payment = booked.json()["payment_id"]

    before = await _snapshot(db)
    intruder = await signed_in(client)
    for headers in (None, intruder):
        calls = [
            client.get(f"/orders/carts/{cart}", headers=headers),
            client.post(
                f"/orders/carts/{cart}",
                json={"event_id": event.event_id, "seat_id": other_seat, "price_id": adult},
                headers=headers,
            ),
            client.post(
                f"/orders/carts/{cart}/general-admission",
                json={
                    "event_id": event.event_id,
                    "section_id": event.section_ids["Floor"],
                    "price_id": adult,
                    "quantity": 1,
                },
                headers=headers,
            ),
            client.delete(
                f"/orders/carts/{cart}/events/{event.event_id}/seats/{seat}", headers=headers
            ),
            client.put(f"/orders/carts/{cart}/book", headers=headers),
            client.get(f"/payments/{payment}", headers=headers),
            client.post(f"/payments/{payment}/complete", headers=headers),
            client.post(f"/payments/{payment}/failed", headers=headers),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 404, (response.request.url, response.text)
            assert response.json()["code"] == "NOT_FOUND"
        ids = {"cart": str(cart), "payment": payment, "event": event.event_id, "seat": other_seat}
        for mutation in (
            'addSeatToCart(input: {cartId: "%(cart)s", eventId: "%(event)s", seatId: "%(seat)s", '
            'priceId: "%(price)s"}) { cart { id } userErrors { code } }',
            'removeSeatFromCart(input: {cartId: "%(cart)s", eventId: "%(event)s", '
            'seatId: "%(seat)s"}) { cart { id } userErrors { code } }',
            'bookCart(input: {cartId: "%(cart)s"}) { cart { id } userErrors { code } }',
            'completePayment(input: {paymentId: "%(payment)s"}) { cart { id } userErrors { code } }',
            'failPayment(input: {paymentId: "%(payment)s"}) { cart { id } userErrors { code } }',
        ):
            query = "mutation { %s }" % (mutation % {**ids, "price": adult})
            body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
            (payload,) = body["data"].values()
            assert payload["cart"] is None
            assert payload["userErrors"] == [{"code": "NOT_FOUND"}]
        query = '{ payment(id: "%s") { id } }' % payment
        body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
        assert body["data"] == {"payment": None}
        query = '{ cart(id: "%s") { id } }' % cart
        body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await _snapshot(db) == before

    # the owner still has it all, and sees it in their orders
    completed = await client.post(f"/payments/{payment}/complete", headers=owner)
    assert completed.status_code == 200
    orders = (await client.get("/me/orders", headers=owner)).json()
    assert [c["cart_id"] for c in orders["carts"]] == [str(cart)]
    assert orders["payments"][0]["status"] == "completed"
    assert [t["seat_id"] for t in orders["payments"][0]["tickets"]] == [seat]
    assert (await client.get("/me/orders", headers=intruder)).json() == {
        "carts": [],
        "payments": [],
    }


async def test_an_anonymous_cart_is_bound_by_the_first_customer_who_uses_it(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    cart = uuid.uuid4()
    body = {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[0],
        "price_id": event.price_ids["Adult"],
    }
    assert (await client.post(f"/orders/carts/{cart}", json=body)).status_code == 200
    customer = await signed_in(client)
    assert (await client.put(f"/orders/carts/{cart}/book", headers=customer)).status_code == 200
    assert (await client.get(f"/orders/carts/{cart}")).status_code == 404
    assert (await client.get(f"/orders/carts/{cart}", headers=customer)).status_code == 200


async def test_anonymous_checkout_can_be_switched_off(
    app: Any, client: httpx.AsyncClient, event: EventFixture
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"cart": app.state.settings.cart.model_copy(update={"anonymous_checkout": False})}
    )
    cart = uuid.uuid4()
    body = {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[0],
        "price_id": event.price_ids["Adult"],
    }
    assert (await client.post(f"/orders/carts/{cart}", json=body)).status_code == 200
    refused = await client.put(f"/orders/carts/{cart}/book")
    assert refused.status_code == 401
    assert refused.json()["code"] == "AUTH_REQUIRED"
    customer = await signed_in(client)
    assert (await client.put(f"/orders/carts/{cart}/book", headers=customer)).status_code == 200


async def test_my_orders_cost_the_same_statements_for_one_cart_or_many(
    client: httpx.AsyncClient, app: Any, event: EventFixture
) -> None:
    customer = await signed_in(client)

    async def buy(seat: int) -> None:
        cart = uuid.uuid4()
        body = {"event_id": event.event_id, "seat_id": seat, "price_id": event.price_ids["Adult"]}
        assert (
            await client.post(f"/orders/carts/{cart}", json=body, headers=customer)
        ).status_code == 200
        booked = await client.put(f"/orders/carts/{cart}/book", headers=customer)
        await client.post(f"/payments/{booked.json()['payment_id']}/complete", headers=customer)

    async def orders() -> tuple[int, dict[str, Any]]:
        with counting_statements(app) as statements:
            response = await client.get("/me/orders", headers=customer)
        return len(statements), response.json()

    await buy(event.seat_ids[0])
    one, first = await orders()
    assert len(first["carts"]) == 1
    for seat in event.seat_ids[1:6]:
        await buy(seat)
    many, after = await orders()
    assert len(after["carts"]) == len(after["payments"]) == 6
    assert (
        sorted(t["seat_id"] for p in after["payments"] for t in p["tickets"]) == event.seat_ids[:6]
    )
    assert many == one, (one, many)
    query = "{ me { carts { id items { seatId } } payments { id tickets { seatId } } } }"
    with counting_statements(app) as statements:
        body = (await client.post("/graphql", json={"query": query}, headers=customer)).json()
    assert len(body["data"]["me"]["carts"]) == 6
    assert len(statements) <= many + 2  # the account, then the same set-based reads


async def test_the_owner_uses_every_cart_command(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    owner = await signed_in(client)
    cart = uuid.uuid4()
    adult = event.price_ids["Adult"]
    ga = await client.post(
        f"/orders/carts/{cart}/general-admission",
        json={
            "event_id": event.event_id,
            "section_id": event.section_ids["Floor"],
            "price_id": adult,
            "quantity": 2,
        },
        headers=owner,
    )
    assert ga.status_code == 200, ga.text
    seat = event.seat_ids[3]
    held = await client.post(
        f"/orders/carts/{cart}",
        json={"event_id": event.event_id, "seat_id": seat, "price_id": adult},
        headers=owner,
    )
    assert len(held.json()["items"]) == 3
    removed = await client.delete(
        f"/orders/carts/{cart}/events/{event.event_id}/seats/{seat}", headers=owner
    )
    assert removed.status_code == 200, removed.text
    assert len(removed.json()["items"]) == 2
    query = (
        'mutation { removeSeatFromCart(input: {cartId: "%s", eventId: "%s", seatId: "%s"}) '
        "{ cart { items { seatId } } userErrors { code } } }"
        % (cart, event.event_id, removed.json()["items"][0]["seat_id"])
    )
    body = (await client.post("/graphql", json={"query": query}, headers=owner)).json()
    assert body["data"]["removeSeatFromCart"]["userErrors"] == []
    assert len(body["data"]["removeSeatFromCart"]["cart"]["items"]) == 1
    booked = await client.put(f"/orders/carts/{cart}/book", headers=owner)
    assert booked.status_code == 200
    # the sign-in payload lists the signed-in account's own orders, no header needed
    email = (await client.get("/me", headers=owner)).json()["email"]
    sign_in = (
        'mutation { signIn(input: {email: "%s", password: "%s"}) '
        "{ user { carts { id status } } } }" % (email, PASSWORD)
    )
    body = (await client.post("/graphql", json={"query": sign_in})).json()
    assert body["data"]["signIn"]["user"]["carts"] == [{"id": str(cart), "status": "BOOKED"}]
