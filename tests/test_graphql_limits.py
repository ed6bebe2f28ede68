"""The GraphQL endpoint's defences: depth, alias and token limits, no batching, introspection and
GraphiQL switches, and masked unexpected errors. Refusals are GraphQL or HTTP 4xx, never 5xx."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from rest.app import create_app
from schema.graphql import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS, graphiql_assets
from tests.api import new_cart
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.graphql_client import GRAPHQL_PATH, error_messages, gql, gql_json, gql_raw
from ticketing.services import carts, catalog
from ticketing.settings import Settings

UNUSED_CART = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
async def event(session: AsyncSession, clock: FakeClock) -> EventFixture:
    return await make_event(session, now=clock.now)


@contextlib.asynccontextmanager
async def client_for(
    settings: Settings, clock: FakeClock, **update: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app of its own, built with these settings changed, lifespan running."""
    app = create_app(settings.model_copy(update=update), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


def refused(response: httpx.Response) -> list[str]:
    """A refused operation: HTTP 200 or 400 (never 5xx), no data, at least one GraphQL error."""
    assert response.status_code in (200, 400), response.text
    body: dict[str, Any] = response.json()
    assert body.get("data") is None, body
    messages = error_messages(body)
    assert messages, body
    return messages


def nested_cart(levels: int) -> str:
    """A cart query `levels` fields deep, cycling Cart.payment -> Payment.cart."""
    inner = "id"
    for name in reversed((["payment", "cart"] * levels)[: levels - 1]):
        inner = f"{name} {{ {inner} }}"
    return "query($id: UUID!) { cart(id: $id) { " + inner + " } }"


# --- depth ------------------------------------------------------------------------------------


async def test_query_at_the_depth_limit_is_answered(client: httpx.AsyncClient) -> None:
    data = await gql(client, nested_cart(MAX_DEPTH), {"id": UNUSED_CART})
    assert data == {"cart": {"payment": None}}


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 50])
async def test_query_deeper_than_the_limit_is_refused(
    client: httpx.AsyncClient, levels: int
) -> None:
    response = await gql_raw(client, nested_cart(levels), {"id": UNUSED_CART})
    (message,) = refused(response)
    assert "depth" in message
    assert str(MAX_DEPTH) in message


async def test_too_deep_mutation_is_not_executed(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    """Limits are checked before execution: a refused mutation holds nothing."""
    inner = "id"
    for name in reversed((["cart", "payment"] * MAX_DEPTH)[:MAX_DEPTH]):
        inner = f"{name} {{ {inner} }}"
    cart_id = new_cart()
    seat = event.seat_ids[0]
    mutation = (
        "mutation($input: AddSeatToCartInput!) { addSeatToCart(input: $input) { " + inner + " } }"
    )
    response = await gql_raw(
        client,
        mutation,
        {
            "input": {
                "cartId": cart_id,
                "eventId": str(event.event_id),
                "seatId": str(seat),
                "priceId": str(event.price_ids["Adult"]),
            }
        },
    )
    assert "depth" in refused(response)[0]
    seats = (
        await client.get(f"/events/{event.event_id}/sections/{event.section_ids['Main']}/seats")
    ).json()
    assert seats[0]["seat_id"] == seat
    assert seats[0]["status"]["name"] == "available"
    assert (await client.get(f"/orders/carts/{cart_id}")).json()["items"] == []


# --- aliases ----------------------------------------------------------------------------------


async def test_aliases_up_to_the_limit_are_answered(client: httpx.AsyncClient) -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES)) + " }"
    data = await gql(client, query)
    assert len(data) == MAX_ALIASES
    assert set(data.values()) == {"Query"}


@pytest.mark.parametrize("count", [MAX_ALIASES + 1, 500])
async def test_too_many_aliases_are_refused(client: httpx.AsyncClient, count: int) -> None:
    query = "{ " + " ".join(f"v{i}: venues {{ id }}" for i in range(count)) + " }"
    (message,) = refused(await gql_raw(client, query))
    assert "aliases" in message
    assert str(MAX_ALIASES) in message


async def test_bulk_holding_through_aliases_is_refused_whole(
    client: httpx.AsyncClient, session: AsyncSession, clock: FakeClock
) -> None:
    """31 aliased holds in one request: refused before any runs, so no seat is held."""
    event = await make_event(session, now=clock.now, rows=4)
    cart_id = new_cart()
    seats = event.seat_ids[: MAX_ALIASES + 1]
    assert len(seats) == MAX_ALIASES + 1
    adult = event.price_ids["Adult"]
    holds = " ".join(
        f'h{i}: addSeatToCart(input: {{cartId: "{cart_id}", eventId: "{event.event_id}", '
        f'seatId: "{seat}", priceId: "{adult}"}}) {{ userErrors {{ code }} }}'
        for i, seat in enumerate(seats)
    )
    (message,) = refused(await gql_raw(client, "mutation { " + holds + " }"))
    assert "aliases" in message
    sections = (await client.get(f"/events/{event.event_id}/sections")).json()
    assert {s["name"]: s["available_count"] for s in sections}["Main"] == 40
    assert (await client.get(f"/orders/carts/{cart_id}")).json()["items"] == []


# --- tokens -----------------------------------------------------------------------------------


def many_operations(count: int) -> str:
    """A legal document of `count` small named operations (8 tokens each)."""
    return " ".join(f"query Q{i} {{ venues {{ id }} }}" for i in range(count))


async def test_large_document_under_the_token_limit_is_answered(
    client: httpx.AsyncClient,
) -> None:
    count = MAX_TOKENS // 8 - 10
    response = await client.post(
        GRAPHQL_PATH, json={"query": many_operations(count), "operationName": "Q7"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"venues": []}}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(many_operations(MAX_TOKENS // 8 + 10), id="operations"),
        pytest.param("{ venues { " + " ".join(["id"] * MAX_TOKENS) + " } }", id="fields"),
        pytest.param("{ " + "__typename " * (MAX_TOKENS + 1000) + "}", id="huge"),
    ],
)
async def test_too_many_tokens_are_refused(client: httpx.AsyncClient, document: str) -> None:
    response = await client.post(GRAPHQL_PATH, json={"query": document, "operationName": "Q7"})
    (message,) = refused(response)
    assert "tokens" in message
    assert str(MAX_TOKENS) in message


# --- request shapes -----------------------------------------------------------------------------


async def test_batched_request_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        GRAPHQL_PATH, json=[{"query": "{ venues { id } }"}, {"query": "{ __typename }"}]
    )
    assert 400 <= response.status_code < 500, response.text
    assert "data" not in response.text


async def test_batched_mutations_are_not_executed(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    cart_id = new_cart()
    mutation = (
        "mutation($input: AddSeatToCartInput!) { addSeatToCart(input: $input) {"
        " userErrors { code } } }"
    )
    batch = [
        {
            "query": mutation,
            "variables": {
                "input": {
                    "cartId": cart_id,
                    "eventId": str(event.event_id),
                    "seatId": str(seat),
                    "priceId": str(event.price_ids["Adult"]),
                }
            },
        }
        for seat in event.seat_ids[:2]
    ]
    response = await client.post(GRAPHQL_PATH, json=batch)
    assert 400 <= response.status_code < 500, response.text
    assert (await client.get(f"/orders/carts/{cart_id}")).json()["items"] == []


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param(
            {"content": b"{nope", "headers": {"content-type": "application/json"}}, id="bad-json"
        ),
        pytest.param({"json": {}}, id="no-query"),
        pytest.param({"json": {"query": None}}, id="null-query"),
        pytest.param({"json": {"query": 42}}, id="query-not-a-string"),
        pytest.param({"json": "just a string"}, id="json-string"),
        pytest.param({"json": 42}, id="json-number"),
        pytest.param(
            {"content": b"null", "headers": {"content-type": "application/json"}}, id="json-null"
        ),
        pytest.param({"json": True}, id="json-true"),
        pytest.param({"json": []}, id="empty-batch"),
        pytest.param(
            {"json": {"query": "{ venues { id } }", "variables": [1]}}, id="variables-list"
        ),
        pytest.param({"content": b"x" * 10, "headers": {"content-type": "text/plain"}}, id="text"),
    ],
)
async def test_malformed_requests_are_client_errors(
    client: httpx.AsyncClient, request_kwargs: dict[str, Any]
) -> None:
    response = await client.post(GRAPHQL_PATH, **request_kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


async def test_syntax_error_is_a_graphql_error(client: httpx.AsyncClient) -> None:
    (message,) = refused(await gql_raw(client, "{ venues { "))
    assert message.startswith("Syntax Error")


async def test_queries_over_get_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(GRAPHQL_PATH, params={"query": "{ venues { id } }"})
    assert 400 <= response.status_code < 500
    mutation = await client.get(
        GRAPHQL_PATH,
        params={
            "query": "mutation($id: UUID!) { bookCart(input: {cartId: $id}) { cart { id } } }",
            "variables": json.dumps({"id": UNUSED_CART}),
        },
    )
    assert 400 <= mutation.status_code < 500


# --- introspection ------------------------------------------------------------------------------


INTROSPECTION = "{ __schema { queryType { name } mutationType { name } types { name } } }"


async def test_introspection_works_by_default(client: httpx.AsyncClient) -> None:
    data = await gql(client, INTROSPECTION)
    schema = data["__schema"]
    assert schema["queryType"] == {"name": "Query"}
    assert schema["mutationType"] == {"name": "Mutation"}
    names = {t["name"] for t in schema["types"]}
    assert {"Event", "EventSeat", "Cart", "Payment", "UserError", "ErrorCode", "Money"} <= names
    money = await gql(client, '{ __type(name: "Money") { fields { name } } }')
    assert {f["name"] for f in money["__type"]["fields"]} == {"amount", "currency"}


async def test_introspection_can_be_switched_off(settings: Settings, clock: FakeClock) -> None:
    async with client_for(settings, clock, graphql_introspection=False) as http:
        for query in (INTROSPECTION, '{ __type(name: "Money") { name } }'):
            messages = refused(await gql_raw(http, query))
            assert all("introspection" in m for m in messages), messages
        # Ordinary operations (and __typename) still work.
        assert await gql(http, "{ __typename venues { id } }") == {
            "__typename": "Query",
            "venues": [],
        }


# --- GraphiQL -----------------------------------------------------------------------------------


async def test_graphiql_page_is_served_to_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get(GRAPHQL_PATH, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "GraphiQL" in page
    assert "/graphql/static/graphiql.min.js" in page
    # Offline: every script and style comes from this app, none from a CDN.
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources
    assert all(s.startswith("/graphql/static/") for s in sources), sources


async def test_graphiql_assets_are_served_when_built(client: httpx.AsyncClient) -> None:
    if not graphiql_assets().is_dir():
        pytest.skip(f"GraphiQL assets not built into {graphiql_assets()} (hatch build hook)")
    page = (await client.get(GRAPHQL_PATH, headers={"Accept": "text/html"})).text
    for source in re.findall(r'(?:src|href)="([^"]+)"', page):
        response = await client.get(source)
        assert response.status_code == 200, source
        assert response.content, source


async def test_graphiql_can_be_switched_off(settings: Settings, clock: FakeClock) -> None:
    async with client_for(settings, clock, graphiql=False) as http:
        response = await http.get(GRAPHQL_PATH, headers={"Accept": "text/html"})
        assert response.status_code == 404
        assert "GraphiQL" not in response.text
        assert (await http.get("/graphql/static/graphiql.min.js")).status_code == 404
        # The API itself is still there.
        assert await gql(http, "{ venues { id } }") == {"venues": []}


# --- masked errors ------------------------------------------------------------------------------


async def _explode(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("secret SQL SELECT")


def assert_masked(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    text = response.text
    for leak in ("secret", "SQL SELECT", "RuntimeError", "Traceback", ".py", "line "):
        assert leak not in text, (leak, text)
    body: dict[str, Any] = response.json()
    assert error_messages(body) == ["Unexpected error."]
    assert "extensions" not in body["errors"][0] or not any(
        key in body["errors"][0]["extensions"] for key in ("exception", "stacktrace", "traceback")
    )
    return body


async def test_unexpected_error_in_a_query_is_masked(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(catalog, "list_venues", _explode)
    with caplog.at_level(logging.ERROR):
        response = await gql_raw(client, "{ venues { id name } }")
    body = assert_masked(response)
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["venues"]
    # Operators still get the whole story in the log.
    assert any(
        "secret SQL SELECT" in (record.getMessage() + (record.exc_text or ""))
        or (record.exc_info is not None and "secret SQL SELECT" in str(record.exc_info[1]))
        for record in caplog.records
    ), [r.getMessage() for r in caplog.records]


async def test_unexpected_error_spoils_only_its_own_field(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, event: EventFixture
) -> None:
    monkeypatch.setattr(catalog, "list_venues", _explode)
    response = await gql_raw(
        client,
        "query($id: ID!) { venues { id } event(id: $id) { id } }",
        {"id": str(event.event_id)},
    )
    body = assert_masked(response)
    # `venues` is non-null, so its failure nulls the whole data (GraphQL's rule).
    assert body["data"] is None


async def test_unexpected_error_in_a_mutation_is_masked(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, event: EventFixture
) -> None:
    monkeypatch.setattr(carts, "add_seat_to_cart", _explode)
    response = await gql_raw(
        client,
        "mutation($input: AddSeatToCartInput!) { addSeatToCart(input: $input) {"
        " cart { id } userErrors { code message } } }",
        {
            "input": {
                "cartId": new_cart(),
                "eventId": str(event.event_id),
                "seatId": str(event.seat_ids[0]),
                "priceId": str(event.price_ids["Adult"]),
            }
        },
    )
    body = assert_masked(response)
    assert body["data"] is None


async def test_argument_errors_are_not_masked(client: httpx.AsyncClient) -> None:
    body = await gql_json(client, "{ events(first: 101) { nodes { id } } }")
    (message,) = error_messages(body)
    assert message != "Unexpected error."
    assert "first" in message
