"""The GraphQL endpoint's defences: depth, alias and token limits, the budget of seats as objects
(before execution), no batching, introspection and GraphiQL switches, and masked unexpected
errors. Refusals are GraphQL or HTTP 4xx, never 5xx."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from graphql import (
    GraphQLObjectType,
    build_schema,
    get_named_type,
    get_nullable_type,
    is_list_type,
)

import schema.context as context_module
from rest.app import create_app
from schema.catalog.types import EventSeat
from schema.cost import MAX_OPERATION_COST, SeatLists
from schema.graphql import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS, create_schema, graphiql_assets
from tests.accounts import signed_in
from tests.api import new_cart
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event, make_venue
from tests.graphql_client import GRAPHQL_PATH, error_messages, gql, gql_json, gql_raw
from ticketing.catalog import queries as catalog
from ticketing.catalog.seatmaps import SeatMaps
from ticketing.db import Database
from ticketing.demo import seed_stadium
from ticketing.domain import SeatView
from ticketing.management.manifest import RowSpec, SectionSpec
from ticketing.orders import holds
from ticketing.settings import Settings

UNUSED_CART = "00000000-0000-4000-8000-000000000001"


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
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    """31 aliased holds in one request: refused before any runs, so no seat is held."""
    event = await make_event(db, now=clock.now, rows=4)
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


# --- seats as objects: the cost of an operation, before it runs ---------------------------------

STADIUM = "query($id: ID!) { event(id: $id) { sections { rows { seats { id status } } } } }"
ID_AND_STATUS = "id status"


def seat_cost(price_levels: int) -> int:
    """What one seat with `id status` costs in an event with this many price levels."""
    return SeatLists(count=1, fixed=2).seat_cost(price_levels)


@pytest.fixture
def seat_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call that loads seats (layouts, statuses) or reads an event for a resolver."""
    calls: list[str] = []
    for name in ("section", "sections", "event_map"):
        original = getattr(SeatMaps, name)

        async def spy(
            self: SeatMaps, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any
        ) -> Any:
            calls.append(_name)
            return await _original(self, *args, **kwargs)

        monkeypatch.setattr(SeatMaps, name, spy)
    get_event = catalog.get_event

    async def get_event_spy(*args: Any, **kwargs: Any) -> Any:
        calls.append("get_event")
        return await get_event(*args, **kwargs)

    monkeypatch.setattr(catalog, "get_event", get_event_spy)
    return calls


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        GRAPHQL_PATH, json={"query": query, "variables": variables}, headers=headers
    )


def data_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def too_large(response: httpx.Response) -> str:
    """A refusal for size: no data, one RESULT_TOO_LARGE error; its message."""
    refused(response)
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "RESULT_TOO_LARGE"}, error
    message: str = error["message"]
    assert "seatMap" in message
    assert f"{MAX_OPERATION_COST:,}" in message
    return message


CREATE_EVENT = (
    'mutation($venue: ID!) { createEvent(input: {venueId: $venue, name: "Secret", '
    'startsAt: "2027-05-01T18:00:00Z", currency: "EUR", priceLevels: ["Adult"], '
    "prices: []}) { event { %s } userErrors { code } } }"
)


async def big_draft(
    client: httpx.AsyncClient, db: Database, clock: FakeClock, manager: dict[str, str]
) -> tuple[str, str]:
    """(venue, draft event) by a manager: the event's seats with `id status` are over the
    budget."""
    seats = MAX_OPERATION_COST // seat_cost(1) + 100
    venue_id = await make_venue(
        db,
        name="Bowl",
        sections=[
            SectionSpec(
                name="Bowl", rows=[RowSpec.numbered(f"R{r}", 100) for r in range(seats // 100)]
            )
        ],
        now=clock.now,
    )
    created = data_of(await post(client, CREATE_EVENT % "id", {"venue": str(venue_id)}, manager))
    assert created["createEvent"]["userErrors"] == []
    return str(venue_id), created["createEvent"]["event"]["id"]


async def test_stadium_as_objects_is_refused_before_anything_is_loaded(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    clock: FakeClock,
    seat_loads: list[str],
) -> None:
    """Its seat count is known from the sections' capacities: the operation is refused with
    the estimate and the limit, no resolver runs and no seat is loaded."""
    stadium = await seed_stadium(
        db, seats=10_000, general_admission=0, name="Stadium", now=clock.now
    )
    message = too_large(await gql_raw(client, STADIUM, {"id": str(stadium.event_id)}))
    assert "10,000 seats" in message
    assert f"{10_000 * seat_cost(3):,} fields" in message
    assert seat_loads == []
    assert app.state.seat_maps.layouts_loaded() == 0
    # the compact map has no such bound
    seat_map = await gql(
        client,
        "query($id: ID!) { seatMap(eventId: $id) { sections { statuses } } }",
        {"id": str(stadium.event_id)},
    )
    assert sum(len(s["statuses"]) for s in seat_map["seatMap"]["sections"]) == 10_000


@pytest.fixture
async def hall(db: Database, clock: FakeClock) -> EventFixture:
    """An event whose "Main" section has 250 seats."""
    return await make_event(db, now=clock.now, rows=10, seats_per_row=25)


PER_SECTION = 250 * seat_cost(3)
FITS = MAX_OPERATION_COST // PER_SECTION
"""Aliases of "Main" with `seats { id status }` that one operation may ask for."""
SECTION = "section(id: $section) { seats { %s } }"


def aliased(count: int, *, start: int = 0) -> str:
    return " ".join(f"s{i}: {SECTION % ID_AND_STATUS}" for i in range(start, start + count))


def extra(directive: str) -> str:
    return f" extra: section(id: $section) {directive} {{ seats {{ {ID_AND_STATUS} }} }}"


def in_event(selection: str, *, variables: str = "", fragments: str = "") -> str:
    return (
        f"query($id: ID!, $section: ID!{variables}) {{ event(id: $id) {{ {selection} }} }}"
        f" {fragments}"
    )


# (document, extra variables, answered: how many aliases come back; None: refused)
COUNTED: dict[str, tuple[str, dict[str, Any], int | None]] = {
    "at the limit": (in_event(aliased(FITS)), {}, FITS),
    "one alias more": (in_event(aliased(FITS + 1)), {}, None),
    "one more skipped": (
        in_event(aliased(FITS) + extra("@skip(if: true)")),
        {},
        FITS,
    ),
    "one more not skipped": (
        in_event(
            aliased(FITS) + extra("@skip(if: $skip)"),
            variables=", $skip: Boolean!",
        ),
        {"skip": False},
        None,
    ),
    "one more not included": (
        in_event(
            aliased(FITS) + extra("@include(if: $more)"),
            variables=", $more: Boolean!",
        ),
        {"more": False},
        FITS,
    ),
    "one more included": (
        in_event(
            aliased(FITS) + extra("@include(if: $more)"),
            variables=", $more: Boolean! = true",
        ),
        {},
        None,
    ),
    "a repeated key merges": (
        in_event(f"s0: {SECTION % 'id'} s0: {SECTION % 'status'} " + aliased(FITS - 1, start=1)),
        {},
        FITS,
    ),
    "a fragment spread twice merges": (
        in_event(
            aliased(FITS - 1) + " ...Last ...Last",
            fragments=f"fragment Last on Event {{ last: {SECTION % '...Seat'} }} "
            "fragment Seat on EventSeat { id status }",
        ),
        {},
        FITS,
    ),
    "one more in a fragment": (
        in_event(
            aliased(FITS) + " ...Last",
            fragments=f"fragment Last on Event {{ last: {SECTION % ID_AND_STATUS} }}",
        ),
        {},
        None,
    ),
    "one more in an inline fragment": (
        in_event(aliased(FITS) + f" ... on Event {{ last: {SECTION % ID_AND_STATUS} }}"),
        {},
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(COUNTED))
async def test_seat_lists_are_counted_as_execution_collects_them(
    client: httpx.AsyncClient, hall: EventFixture, seat_loads: list[str], case: str
) -> None:
    """Each response key counts once: aliases add, a repeated key merges, fragments count
    where they are spread, `@skip`/`@include` follow the operation's variables."""
    assert 1 < FITS < MAX_ALIASES
    document, extra, answered = COUNTED[case]
    variables = {"id": str(hall.event_id), "section": str(hall.section_ids["Main"]), **extra}
    if answered is None:
        too_large(await gql_raw(client, document, variables))
        assert seat_loads == []
        return
    sections = (await gql(client, document, variables))["event"]
    assert len(sections) == answered
    assert all(len(s["seats"]) == 250 for s in sections.values())


async def test_a_status_filter_and_general_admission_rows_are_not_counted_on(
    client: httpx.AsyncClient, db: Database, clock: FakeClock, hall: EventFixture
) -> None:
    """`seats(status:)` may keep every seat, so it counts them all; a general-admission
    section has no rows, so its seats through rows count nothing."""
    variables = {"id": str(hall.event_id), "section": str(hall.section_ids["Main"])}
    filtered = in_event(
        " ".join(
            f"s{i}: section(id: $section) {{ seats(status: AVAILABLE) {{ {ID_AND_STATUS} }} }}"
            for i in range(FITS + 1)
        )
    )
    too_large(await gql_raw(client, filtered, variables))
    places = MAX_OPERATION_COST // seat_cost(3) + 1
    arena = await make_event(db, now=clock.now, name="Arena", ga_capacity=places)
    floor = {"id": str(arena.event_id), "section": str(arena.section_ids["Floor"])}
    through_rows = in_event("section(id: $section) { rows { seats { id status } } }")
    assert await gql(client, through_rows, floor) == {"event": {"section": {"rows": []}}}
    too_large(await gql_raw(client, in_event(SECTION % ID_AND_STATUS), floor))


PAGE = "query($first: Int!) { events(first: $first) { %s } }"
PAGE_SEATS = "nodes { sections { seats { id status } } }"


async def test_event_pages_are_bounded_by_the_largest_events(
    client: httpx.AsyncClient, db: Database, clock: FakeClock, seat_loads: list[str]
) -> None:
    """`events(first: n)` may hold the n largest events the viewer may see: it is refused
    when they would cost too much together, whatever the page turns out to be."""
    rows = (MAX_OPERATION_COST // seat_cost(3) - 7) // 25
    await make_event(db, now=clock.now, name="Big", rows=rows, seats_per_row=25)
    await make_event(db, now=clock.now, name="Small")  # as soon, made later: second
    one = await gql(client, PAGE % PAGE_SEATS, {"first": 1})
    (node,) = one["events"]["nodes"]
    assert sum(len(s["seats"]) for s in node["sections"]) == rows * 25 + 5 + 2
    seat_loads.clear()
    too_large(await gql_raw(client, PAGE % PAGE_SEATS, {"first": 2}))
    # each event of the page is resolved under `nodes` and again under `edges { node }`
    both = PAGE % (PAGE_SEATS + " edges { node { sections { seats { id status } } } }")
    too_large(await gql_raw(client, both, {"first": 1}))
    assert seat_loads == []
    # without seats, any page
    names = await gql(client, PAGE % "nodes { name sections { availableCount } }", {"first": 2})
    assert [e["name"] for e in names["events"]["nodes"]] == ["Big Night", "Small Night"]


async def test_missing_and_hidden_events_count_nothing(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    """A missing event and a draft that the viewer may not see resolve to null: they cost
    nothing. A manager, who sees the draft, is refused it."""
    manager = await signed_in(client, db, manager=True)
    _, draft = await big_draft(client, db, clock, manager)
    one = "query($id: ID!) { event(id: $id) { sections { seats { id status } } } }"
    assert await gql(client, one, {"id": draft}) == {"event": None}
    many_missing = (
        "query($id: ID!) { "
        + " ".join(f"e{i}: event(id: $id) {{ sections {{ seats {{ id }} }} }}" for i in range(20))
        + " }"
    )
    assert set((await gql(client, many_missing, {"id": "999999"})).values()) == {None}
    assert (await gql(client, PAGE % PAGE_SEATS, {"first": 5}))["events"]["nodes"] == []
    too_large(await post(client, one, {"id": draft}, manager))
    too_large(await post(client, PAGE % PAGE_SEATS, {"first": 5}, manager))


async def test_mutation_asking_too_many_seats_is_refused_before_it_runs(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    """A payload's event counts like any other (with as many price levels as an event may
    have: a mutation may add some): refused, the mutation changes nothing."""
    manager = await signed_in(client, db, manager=True)
    venue, draft = await big_draft(client, db, clock, manager)
    publish = (
        "mutation($id: ID!) { publishEvent(input: {eventId: $id}) {"
        " event { status sections { seats { id status } } } userErrors { code } } }"
    )
    too_large(await post(client, publish, {"id": draft}, manager))
    status = "query($id: ID!) { event(id: $id) { status } }"
    assert data_of(await post(client, status, {"id": draft}, manager)) == {
        "event": {"status": "DRAFT"}
    }
    # a new event copies the venue's sections: they are counted before it is made
    create = CREATE_EVENT % "sections { seats { id status } }"
    too_large(await post(client, create, {"venue": venue}, manager))
    events = "{ events(first: 10) { nodes { id } } }"
    assert data_of(await post(client, events, {}, manager)) == {
        "events": {"nodes": [{"id": draft}]}
    }


async def test_a_mutation_payload_shows_what_the_mutation_changed(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    """The estimate reads the event before the mutation runs; the payload reads it after."""
    manager = await signed_in(client, db, manager=True)
    set_prices = (
        "mutation($id: ID!, $main: ID!) { setPrices(input: {eventId: $id, prices: "
        '[{sectionId: $main, priceLevel: "Adult", amount: "45.00"}]}) {'
        " event { section(id: $main) { seats { priceOptions { name price { amount } } } } }"
        " userErrors { code } } }"
    )
    variables = {"id": str(event.event_id), "main": str(event.section_ids["Main"])}

    def adult(seats: list[dict[str, Any]]) -> set[str]:
        assert len(seats) == 20
        return {
            o["price"]["amount"] for s in seats for o in s["priceOptions"] if o["name"] == "Adult"
        }

    read = (
        "query($id: ID!, $main: ID!) { event(id: $id) { section(id: $main) { seats {"
        " priceOptions { name price { amount } } } } } }"
    )
    assert adult((await gql(client, read, variables))["event"]["section"]["seats"]) == {"40.00"}
    data = data_of(await post(client, set_prices, variables, manager))
    assert adult(data["setPrices"]["event"]["section"]["seats"]) == {"45.00"}


async def test_seat_lists_let_the_server_serve_others_while_they_complete(
    client: httpx.AsyncClient, hall: EventFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An allowed operation may still complete many seats: it does so in turns, the event loop
    serving others between them (here turns of one seat), through a section's list as through
    its rows' lists, which complete side by side."""
    monkeypatch.setattr(context_module, "SEAT_TURN_SECONDS", 0.0)
    happened: list[str] = []
    make_seat = EventSeat.of

    def seat_made(view: SeatView, currency: str) -> EventSeat:
        happened.append("seat")
        return make_seat(view, currency)

    monkeypatch.setattr(EventSeat, "of", seat_made)

    async def others() -> None:
        while True:
            await asyncio.sleep(0)
            happened.append("other")

    variables = {"id": str(hall.event_id), "section": str(hall.section_ids["Main"])}
    await gql(client, in_event(f"warm: {SECTION % 'id'}"), variables)  # seats into memory
    # a new operation (not one the result cache answers): the section's seats, and again by row
    both = in_event(f"a: {SECTION % 'id'} b: section(id: $section) {{ rows {{ seats {{ id }} }} }}")
    happened.clear()
    ticker = asyncio.create_task(others())
    try:
        data = (await gql(client, both, variables))["event"]
    finally:
        ticker.cancel()
    assert len(data["a"]["seats"]) + sum(len(row["seats"]) for row in data["b"]["rows"]) == 500
    assert happened.count("seat") == 500
    in_a_row = "".join("s" if event == "seat" else " " for event in happened).split()
    assert max(len(run) for run in in_a_row) <= 2


def test_every_path_to_seat_objects_is_estimated() -> None:
    """Seats are reached only along fields the estimate follows; a new path would let an
    operation build seats nobody counted before it ran."""
    types = build_schema(create_schema().as_str())
    seat_types = {
        "Event",
        "EventConnection",
        "EventEdge",
        "EventPayload",
        "EventSection",
        "EventRow",
        "EventSeat",
    }
    paths = {
        f"{name}.{field_name}"
        for name, named in types.type_map.items()
        if isinstance(named, GraphQLObjectType) and not name.startswith("__")
        for field_name, definition in named.fields.items()
        if get_named_type(definition.type).name in seat_types
    }
    assert paths == {
        "Query.event",
        "Query.events",
        "EventConnection.nodes",
        "EventConnection.edges",
        "EventEdge.node",
        "Event.sections",
        "Event.section",
        "EventSection.rows",
        "EventSection.seats",
        "EventRow.seats",
        "EventPayload.event",
        "Mutation.createEvent",
        "Mutation.updateEvent",
        "Mutation.setPrices",
        "Mutation.publishEvent",
        "Mutation.cancelEvent",
    }
    # below a seat, the only list is its price options, one per price level at most
    seat = types.get_type("EventSeat")
    assert isinstance(seat, GraphQLObjectType)
    lists = {
        f"{owner.name}.{field_name}"
        for owner in (seat, types.get_type("PriceOption"), types.get_type("Money"))
        if isinstance(owner, GraphQLObjectType)
        for field_name, definition in owner.fields.items()
        if is_list_type(get_nullable_type(definition.type))
    }
    assert lists == {"EventSeat.priceOptions"}


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
    monkeypatch.setattr(holds, "add_seat_to_cart", _explode)
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
