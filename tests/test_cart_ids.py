"""Cart ids are capabilities: only random uuids in canonical form are taken, in both doors, and a
payment operation never binds a cart to a customer."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.accounts import signed_in
from tests.api import add_seat, book, new_cart, problem
from tests.factories import EventFixture
from tests.graphql_client import gql_json
from ticketing.db import Database

RANDOM = "6b1f3c1e-8a43-4b7e-9a51-2f7c1d0e9a11"
WEAK = {
    "nil": "00000000-0000-0000-0000-000000000000",
    "sequential": "00000000-0000-0000-0000-000000000001",
    "version 1": "c232ab00-9414-11ec-b3c8-9f6bdeced846",
    "version 5": "886313e1-3b8a-5372-9b90-0c9aee199e5d",
    "version 8": "0189e9b0-0b37-8a0c-8a0a-8c0f6ee3e2a9",
    "not the RFC variant": "6b1f3c1e-8a43-4b7e-1a51-2f7c1d0e9a11",
    "braces": "{" + RANDOM + "}",
    "urn": "urn:uuid:" + RANDOM,
    "bare hex": RANDOM.replace("-", ""),
    "too long": RANDOM + "0",
}
STRONG = {
    "version 4": RANDOM,
    "version 4, upper case": RANDOM.upper(),
    "version 7": "0189e9b0-0b37-7a0c-8a0a-8c0f6ee3e2a9",
}


def _seat(event: EventFixture) -> dict[str, int]:
    return {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[0],
        "price_id": event.price_ids["Adult"],
    }


@pytest.mark.parametrize("form", WEAK)
async def test_rest_refuses_weak_cart_ids_and_changes_nothing(
    client: httpx.AsyncClient, event: EventFixture, form: str
) -> None:
    cart = WEAK[form]
    for response in [
        await client.get(f"/orders/carts/{cart}"),
        await client.post(f"/orders/carts/{cart}", json=_seat(event)),
        await client.post(
            f"/orders/carts/{cart}/general-admission",
            json={
                "event_id": event.event_id,
                "section_id": event.section_ids["Floor"],
                "price_id": event.price_ids["Adult"],
                "quantity": 1,
            },
        ),
        await client.delete(f"/orders/carts/{cart}/events/{event.event_id}/seats/1"),
        await client.put(f"/orders/carts/{cart}/book"),
    ]:
        body = problem(response, 422, "VALIDATION_ERROR")
        assert body["errors"][0]["field"] == "path.cart_id", body
    (first,) = [
        s
        for s in (
            await client.get(f"/events/{event.event_id}/sections/{event.section_ids['Main']}/seats")
        ).json()
        if s["seat_id"] == event.seat_ids[0]
    ]
    assert first["status"]["name"] == "available"


@pytest.mark.parametrize("form", WEAK)
async def test_graphql_refuses_weak_cart_ids(
    client: httpx.AsyncClient, event: EventFixture, form: str
) -> None:
    cart = WEAK[form]
    read = await gql_json(client, "query($id: UUID!) { cart(id: $id) { id } }", {"id": cart})
    assert read["data"] is None
    assert [e["extensions"]["code"] for e in read["errors"]] == ["VALIDATION_ERROR"]

    held = await gql_json(
        client,
        "mutation($cart: UUID!, $event: ID!, $seat: ID!, $price: ID!) {"
        " addSeatToCart(input: {cartId: $cart, eventId: $event, seatId: $seat, priceId: $price})"
        " { cart { id } userErrors { code field } } }",
        {
            "cart": cart,
            "event": str(event.event_id),
            "seat": str(event.seat_ids[0]),
            "price": str(event.price_ids["Adult"]),
        },
    )
    if held.get("errors"):  # not even a UUID in canonical form: refused as input
        assert [e["extensions"]["code"] for e in held["errors"]] == ["VALIDATION_ERROR"]
    else:
        assert held["data"]["addSeatToCart"] == {
            "cart": None,
            "userErrors": [{"code": "VALIDATION_ERROR", "field": ["input", "cartId"]}],
        }


@pytest.mark.parametrize("form", STRONG)
async def test_random_cart_ids_are_taken_in_both_doors(
    client: httpx.AsyncClient, event: EventFixture, form: str
) -> None:
    cart = STRONG[form]
    response = await add_seat(client, cart, **_seat(event))
    assert response.status_code == 200, response.text
    assert response.json()["cart_id"] == cart.lower()
    read = await gql_json(client, "query($id: UUID!) { cart(id: $id) { id } }", {"id": cart})
    assert read == {"data": {"cart": {"id": cart.lower()}}}


async def test_a_payment_operation_never_binds_the_cart(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    """Someone who learned an anonymous buyer's payment id, signed in, finishes the payment: the
    cart stays the anonymous buyer's (readable by its id, not listed as his)."""
    cart = new_cart()
    assert (await add_seat(client, cart, **_seat(event))).status_code == 200
    payment = (await book(client, cart)).json()["payment_id"]
    stranger = await signed_in(client)

    failed = await client.post(f"/payments/{payment}/failed", headers=stranger)
    assert failed.status_code == 200, failed.text
    assert (await client.get(f"/orders/carts/{cart}")).json()["status"] == "failed"
    mine = (await client.get("/me/orders", headers=stranger)).json()
    assert mine == {"carts": [], "payments": []}


async def test_the_openapi_document_states_the_cart_id_rule(client: httpx.AsyncClient) -> None:
    """A client (or a fuzzer) that follows the document makes ids the API takes, and only those:
    the path's pattern matches every strong form and no weak one."""
    spec = (await client.get("/openapi.json")).json()
    patterns = {
        path: re.compile(parameter["schema"]["pattern"])
        for path, operations in spec["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "cart_id"
    }
    assert len(patterns) == 4, sorted(patterns)  # a cart, its seats, its places, its booking
    for path, pattern in patterns.items():
        assert all(pattern.search(cart) for cart in STRONG.values()), path
        assert not any(pattern.search(cart) for cart in WEAK.values()), path
