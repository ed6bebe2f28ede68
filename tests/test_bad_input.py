"""Bad input found by hand gets a clear error with a code in both doors, never a 500 or a masked
"Unexpected error.", and changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.accounts import signed_in
from tests.api import new_cart, problem
from tests.factories import EventFixture
from tests.graphql_client import gql, gql_json, gql_raw
from ticketing.db import Database

OTHER_DIGITS = ["²", "٢", "\uff12", "1_0", " 7", "+7"]  # int() takes each (as 2, 10 or 7)


def codes(body: dict[str, Any]) -> list[str | None]:
    """The code of every GraphQL error of a response (None where one has none)."""
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]


async def test_nul_in_an_email_is_a_validation_error_not_a_500(client: httpx.AsyncClient) -> None:
    registered = await client.post(
        "/auth/register", json={"email": "fan\u0000@example.com", "password": "long enough 1"}
    )
    assert problem(registered, 422, "VALIDATION_ERROR")["errors"][0]["field"] == "email"
    token = await client.post(
        "/auth/token", data={"username": "fan\u0000@example.com", "password": "long enough 1"}
    )
    problem(token, 401, "INVALID_CREDENTIALS")
    body = await gql_json(
        client,
        'mutation { register(input: {email: "a\\u0000b@example.com", password: "long enough 1"})'
        " { user { id } userErrors { code field } } }",
    )
    assert body["data"]["register"] == {
        "user": None,
        "userErrors": [{"code": "VALIDATION_ERROR", "field": ["input", "email"]}],
    }


@pytest.mark.parametrize("text", [*OTHER_DIGITS, "1" * 5000, "2147483648", "0"])
async def test_ids_are_ascii_digits_within_range(
    client: httpx.AsyncClient, event: EventFixture, text: str
) -> None:
    """An id another script's digits spell is no id at all: a query finds nothing, a command is
    refused on that field; the REST path refuses it too."""
    found = await gql_json(
        client, "query($id: ID!) { event(id: $id) { id } venue(id: $id) { id } }", {"id": text}
    )
    assert found == {"data": {"event": None, "venue": None}}

    held = await gql(
        client,
        "mutation($cart: UUID!, $event: ID!, $seat: ID!, $price: ID!) {"
        " addSeatToCart(input: {cartId: $cart, eventId: $event, seatId: $seat, priceId: $price})"
        " { cart { id } userErrors { code field } } }",
        {
            "cart": new_cart(),
            "event": str(event.event_id),
            "seat": text,
            "price": str(event.price_ids["Adult"]),
        },
    )
    assert held["addSeatToCart"] == {
        "cart": None,
        "userErrors": [{"code": "VALIDATION_ERROR", "field": ["input", "seatId"]}],
    }
    response = await client.get(f"/events/{text}")
    problem(response, 422 if text.strip() else 404, "VALIDATION_ERROR" if text.strip() else "")


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "after",
    [
        _cursor("2027-01-01T00:00:00+00:00|99999999999999999999"),  # beyond int64
        _cursor("2027-01-01T00:00:00+00:00|٢"),
        _cursor("2027-01-01T00:00:00|1"),  # no offset
        _cursor("0001-01-01T00:00:00+14:00|1"),  # before UTC's year 1
        "not base64 at all",
        "w7w=",  # base64 of bytes that are not UTF-8
    ],
)
async def test_a_crafted_cursor_is_a_validation_error(
    client: httpx.AsyncClient, event: EventFixture, after: str
) -> None:
    body = await gql_json(
        client, "query($after: String) { events(after: $after) { nodes { id } } }", {"after": after}
    )
    assert body["data"] is None
    assert codes(body) == ["VALIDATION_ERROR"]


async def test_an_instant_out_of_range_is_a_validation_error(client: httpx.AsyncClient) -> None:
    body = await gql_json(
        client,
        'query { events(startsAfter: "0001-01-01T00:00:00+14:00") { nodes { id } } }',
    )
    assert codes(body) == ["VALIDATION_ERROR"]
    response = await client.get("/events", params={"starts_after": "0001-01-01T00:00:00+14:00"})
    problem(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("text", ["0.5", "1700000000", "-1", "2027"])
async def test_a_number_is_no_instant(
    client: httpx.AsyncClient, event: EventFixture, text: str
) -> None:
    """The document says date-time: seconds since 1970 are refused, not read as an instant (the
    event, in 2026 or later, would otherwise be listed as starting after it)."""
    response = await client.get("/events", params={"starts_after": text})
    body = problem(response, 422, "VALIDATION_ERROR")
    assert body["errors"][0]["field"] == "query.starts_after", body


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/orders/carts/{cart}", b"\xff", "application/json"),  # not UTF-8
        ("/auth/register", b'{"email": "\xff"}', "application/json"),
        ("/auth/token", b"username=a", "multipart/form-data"),  # no boundary
    ],
)
async def test_a_body_that_cannot_be_read_is_a_validation_error(
    client: httpx.AsyncClient, path: str, body: bytes, content_type: str
) -> None:
    """As for a body that is not JSON: 422 VALIDATION_ERROR on `body`, the one status of the
    code, not a 400 the document does not list."""
    response = await client.post(
        path.format(cart=new_cart()), content=body, headers={"content-type": content_type}
    )
    assert problem(response, 422, "VALIDATION_ERROR")["errors"] == [
        {"field": "body", "message": response.json()["detail"]}
    ]


async def test_every_graphql_error_a_client_causes_has_a_code(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    for query, variables in [
        ("{ events(first: 193164) { nodes { id } } }", None),
        ("{ nope }", None),
        ("{ events(first: 1) { nodes { id } }", None),  # a syntax error
        ("query($id: UUID!) { cart(id: $id) { id } }", {"id": "not a uuid"}),
        ("query($n: Int!) { events(first: $n) { nodes { id } } }", {"n": 2**40}),
    ]:
        response = await gql_raw(client, query, variables)
        assert response.status_code in (200, 400), response.text
        body = response.json()
        assert body.get("errors"), body
        assert set(codes(body)) == {"VALIDATION_ERROR"}, (query, body)


@pytest.mark.parametrize("currency", ["ßab", "äöü", "EU", "EURO", "E1R", ""])
async def test_currencies_are_three_ascii_letters(
    client: httpx.AsyncClient, db: Database, event: EventFixture, currency: str
) -> None:
    manager = await signed_in(client, db, manager=True)
    response = await client.post(
        "/graphql",
        headers=manager,
        json={
            "query": "mutation($venue: ID!, $currency: String!) { createEvent(input: {venueId:"
            ' $venue, name: "Gala", startsAt: "2027-05-01T18:00:00Z", currency: $currency,'
            ' priceLevels: ["Adult"], prices: []}) { event { id } userErrors { code field } } }',
            "variables": {"venue": str(event.venue_id), "currency": currency},
        },
    )
    assert response.json()["data"]["createEvent"] == {
        "event": None,
        "userErrors": [{"code": "VALIDATION_ERROR", "field": ["input", "currency"]}],
    }


@pytest.mark.parametrize("name", ["Hall\u0000", "Hall\u0007", "Ha\u001bll", "Ha\u0085ll"])
async def test_text_fields_refuse_control_characters(
    client: httpx.AsyncClient, db: Database, name: str
) -> None:
    manager = await signed_in(client, db, manager=True)
    operation = {
        "query": 'mutation($name: String!) { createVenue(input: {name: $name, city: "X",'
        ' timezone: "Europe/Paris"}) { venue { id } userErrors { code field } } }',
        "variables": {"name": name},
    }
    response = await client.post(
        "/graphql",
        # escaped as JSON allows (\u0000, a lone \ud800), as a hostile client would send them
        content=json.dumps(operation, ensure_ascii=True).encode(),
        headers={**manager, "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["createVenue"] == {
        "venue": None,
        "userErrors": [{"code": "VALIDATION_ERROR", "field": ["input", "name"]}],
    }
    assert (await client.get("/venues")).json() == []


@pytest.mark.parametrize(
    ("quantity", "status", "code"),
    [
        (0, 422, "VALIDATION_ERROR"),
        (-1, 422, "VALIDATION_ERROR"),
        (11, 409, "CART_LIMIT"),
        (1001, 409, "CART_LIMIT"),
        (2**62, 409, "CART_LIMIT"),
    ],
)
async def test_general_admission_quantity_is_one_rule_in_both_doors(
    client: httpx.AsyncClient, event: EventFixture, quantity: int, status: int, code: str
) -> None:
    body = {
        "event_id": event.event_id,
        "section_id": event.section_ids["Floor"],
        "price_id": event.price_ids["Adult"],
        "quantity": quantity,
    }
    problem(
        await client.post(f"/orders/carts/{new_cart()}/general-admission", json=body), status, code
    )
    if quantity < 2**31:  # GraphQL's Int is 32-bit: larger ones are refused as input
        data = await gql(
            client,
            "mutation($cart: UUID!, $event: ID!, $section: ID!, $price: ID!, $quantity: Int!) {"
            " addGeneralAdmissionToCart(input: {cartId: $cart, eventId: $event, sectionId:"
            " $section, priceId: $price, quantity: $quantity})"
            " { cart { id } userErrors { code } } }",
            {
                "cart": new_cart(),
                "event": str(event.event_id),
                "section": str(event.section_ids["Floor"]),
                "price": str(event.price_ids["Adult"]),
                "quantity": quantity,
            },
        )
        assert data["addGeneralAdmissionToCart"] == {"cart": None, "userErrors": [{"code": code}]}


async def test_a_lone_surrogate_is_refused_before_anything_runs(
    client: httpx.AsyncClient, db: Database
) -> None:
    """JSON may escape half a UTF-16 pair, which no database stores: the GraphQL door refuses the
    body (orjson: not Unicode), the REST door refuses the value (it is no email)."""
    manager = await signed_in(client, db, manager=True)
    operation = {
        "query": 'mutation($name: String!) { createVenue(input: {name: $name, city: "X",'
        ' timezone: "Europe/Paris"}) { venue { id } userErrors { code field } } }',
        "variables": {"name": "Hall\ud800"},
    }
    response = await client.post(
        "/graphql",
        content=json.dumps(operation, ensure_ascii=True).encode(),
        headers={**manager, "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert (await client.get("/venues")).json() == []
    for field in ("email", "password"):
        credentials = {"email": "fan@example.com", "password": "long enough 1"}
        credentials[field] = "fan\ud800@example.com"
        registered = await client.post(
            "/auth/register",
            content=json.dumps(credentials, ensure_ascii=True).encode(),
            headers={"content-type": "application/json"},
        )
        assert problem(registered, 422, "VALIDATION_ERROR")["errors"][0]["field"].endswith(field)
    signed_in_with_half_a_pair = await client.post(
        "/auth/token",
        content=b"username=fan%40example.com&password=%ED%A0%80xxxxxxxx",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert signed_in_with_half_a_pair.status_code in (401, 422), signed_in_with_half_a_pair.text
    token = await client.post(
        "/auth/token",
        content=json.dumps({"username": "fan@example.com", "password": "x\ud800yyyyyy"}).encode(),
        headers={"content-type": "application/json"},
    )
    assert token.status_code < 500, token.text
