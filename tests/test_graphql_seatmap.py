"""GraphQL's compact seat map (`seatMap`), its refresh (`seatChanges`), and the budget of seats
resolved as objects in one operation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rest.app import create_app
from schema.cost import MAX_OPERATION_COST, SeatLists
from tests.api import add_seat, book, new_cart
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.graphql_client import gql, gql_json
from ticketing.db import Database
from ticketing.settings import Settings

SEAT_MAP = """
query($id: ID!) {
  seatMap(eventId: $id) {
    eventId version layoutVersion layout sections { id availableCount statuses }
  }
}
"""
CHANGES = """
query($id: ID!, $since: String!) {
  seatChanges(eventId: $id, since: $since) { version sections { id availableCount statuses } }
}
"""


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    return await make_event(db, now=clock.now, rows=2, seats_per_row=3, ga_capacity=2)


def _statuses(seat_map: dict[str, Any], section_id: int) -> dict[int, str]:
    """seat id -> status digit, joining the layout's seat order with the statuses string."""
    (layout,) = [s for s in seat_map["layout"]["sections"] if s["id"] == section_id]
    (live,) = [s for s in seat_map["sections"] if s["id"] == str(section_id)]
    assert len(layout["seats"]) == len(live["statuses"])
    return {seat[0]: code for seat, code in zip(layout["seats"], live["statuses"], strict=True)}


async def test_seat_map_layout_and_statuses(client: httpx.AsyncClient, event: EventFixture) -> None:
    seat_map = (await gql(client, SEAT_MAP, {"id": event.event_id}))["seatMap"]
    assert seat_map["eventId"] == str(event.event_id)
    layout = seat_map["layout"]
    assert layout["seat_columns"] == [
        "seat_id", "row_id", "row", "number", "type", "price_set", "x", "y",
    ]  # fmt: skip
    assert layout["focal_point"] is None
    assert [s["name"] for s in layout["sections"]] == ["Main", "Floor", "Closed"]
    main = layout["sections"][0]
    assert main["kind"] == "SEATED"
    assert [(s[2], s[3]) for s in main["seats"]] == [
        ("A", "1"), ("A", "2"), ("A", "3"), ("B", "1"), ("B", "2"), ("B", "3"),
    ]  # fmt: skip
    assert [s[0] for s in main["seats"]] == event.seat_ids
    assert [(s[6], s[7]) for s in main["seats"]] == [
        (0.5, 0.5), (1.5, 0.5), (2.5, 0.5), (0.5, 1.5), (1.5, 1.5), (2.5, 1.5),
    ]  # fmt: skip
    assert (main["outline"], main["label"]) == ([[0, 0], [3, 0], [3, 2], [0, 2]], [1.5, -1])
    offer = main["price_sets"][main["seats"][0][5]]
    assert offer == [
        {"price_id": event.price_ids["Adult"], "amount": "40.00"},
        {"price_id": event.price_ids["Child"], "amount": "20.00"},
        {"price_id": event.price_ids["VIP"], "amount": "99.50"},
    ]
    floor = layout["sections"][1]
    assert floor["kind"] == "GENERAL_ADMISSION"
    assert {s[4] for s in floor["seats"]} == {"GENERAL_ADMISSION"}
    assert [s["statuses"] for s in seat_map["sections"]] == ["111111", "11", "11"]
    assert [s["availableCount"] for s in seat_map["sections"]] == [6, 2, 0]


async def test_seat_changes_reports_only_changed_sections(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock
) -> None:
    seat_map = (await gql(client, SEAT_MAP, {"id": event.event_id}))["seatMap"]
    version = seat_map["version"]
    nothing = (await gql(client, CHANGES, {"id": event.event_id, "since": version}))["seatChanges"]
    assert nothing == {"version": version, "sections": []}

    cart = new_cart()
    seat = event.seat_ids[1]
    price = event.price_ids["Adult"]
    assert (
        await add_seat(client, cart, event_id=event.event_id, seat_id=seat, price_id=price)
    ).status_code == 200
    changes = (await gql(client, CHANGES, {"id": event.event_id, "since": version}))["seatChanges"]
    assert changes["version"] != version
    assert changes["sections"] == [
        {"id": str(event.section_ids["Main"]), "availableCount": 5, "statuses": "121111"}
    ]
    held_version = changes["version"]

    assert (await book(client, cart)).status_code == 200
    booked = (await gql(client, CHANGES, {"id": event.event_id, "since": held_version}))[
        "seatChanges"
    ]
    assert [s["statuses"] for s in booked["sections"]] == ["131111"]

    # time alone changes the map: the payment lapses, the seat reads available again
    clock.advance(seconds=901)
    lapsed = (await gql(client, CHANGES, {"id": event.event_id, "since": booked["version"]}))[
        "seatChanges"
    ]
    assert [s["statuses"] for s in lapsed["sections"]] == ["111111"]
    fresh = (await gql(client, SEAT_MAP, {"id": event.event_id}))["seatMap"]
    assert fresh["version"] == lapsed["version"]
    assert fresh["layoutVersion"] == seat_map["layoutVersion"]
    assert _statuses(fresh, event.section_ids["Main"])[seat] == "1"


async def test_seat_map_agrees_with_rest_map(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    for seat in event.seat_ids[:3]:
        await add_seat(
            client,
            new_cart(),
            event_id=event.event_id,
            seat_id=seat,
            price_id=event.price_ids["VIP"],
        )
    seat_map = (await gql(client, SEAT_MAP, {"id": event.event_id}))["seatMap"]
    rest = (await client.get(f"/events/{event.event_id}/seats")).json()
    assert rest["version"] == seat_map["version"]
    for section in rest["sections"]:
        rest_statuses = {row[0]: str(row[4]) for row in section["seats"]}
        assert rest_statuses == _statuses(seat_map, section["id"])


async def test_unknown_event_is_null_and_bad_version_is_an_error(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    assert (await gql(client, SEAT_MAP, {"id": "999"}))["seatMap"] is None
    assert (await gql(client, SEAT_MAP, {"id": "abc"}))["seatMap"] is None
    assert (await gql(client, CHANGES, {"id": "999", "since": ""}))["seatChanges"] is None
    body = await gql_json(client, CHANGES, {"id": event.event_id, "since": "not a version"})
    (error,) = body["errors"]
    assert "since" in error["message"]
    assert error["extensions"]["code"] == "VALIDATION_ERROR"


async def test_seats_as_objects_are_bounded(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    """A stadium as per-seat objects would stall the server: past the budget the operation is
    refused with a clear error that points to the compact map; within it, it works."""
    per_row = 100
    id_and_status = SeatLists(count=1, fixed=2).seat_cost(3)  # the event's three price levels
    rows = MAX_OPERATION_COST // (id_and_status * per_row) + 1
    big = await make_event(db, now=clock.now, rows=rows, seats_per_row=per_row)
    query = """
    query($id: ID!) { event(id: $id) { sections { name seats { id status } } } }
    """
    body = await gql_json(client, query, {"id": big.event_id})
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RESULT_TOO_LARGE"
    assert "seatMap" in error["message"]

    one_section = """
    query($id: ID!, $section: ID!) { event(id: $id) { section(id: $section) { seats { id } } } }
    """
    data = await gql(client, one_section, {"id": big.event_id, "section": big.section_ids["Floor"]})
    assert len(data["event"]["section"]["seats"]) > 0
    whole = (await gql(client, SEAT_MAP, {"id": big.event_id}))["seatMap"]
    assert sum(len(s["statuses"]) for s in whole["sections"]) == rows * per_row + 5 + 2


SECTION_OBJECTS = """
query($id: ID!, $section: ID!) {
  event(id: $id) { section(id: $section) {
    availableCount seats { id status priceOptions { id price { amount } } } } }
}
"""


async def test_cached_results_follow_every_write_in_any_worker(
    client: httpx.AsyncClient,
    event: EventFixture,
    settings: Settings,
    clock: FakeClock,
) -> None:
    """The same section query, asked again and again of two applications (two workers, each
    with its own result cache), always answers what executing it afresh would."""
    other_app = create_app(settings, clock=clock)
    variables = {"id": event.event_id, "section": event.section_ids["Main"]}
    async with other_app.router.lifespan_context(other_app):
        transport = httpx.ASGITransport(app=other_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as other:

            async def statuses(http: httpx.AsyncClient) -> tuple[int, list[str]]:
                section = (await gql(http, SECTION_OBJECTS, variables))["event"]["section"]
                return section["availableCount"], [s["status"] for s in section["seats"]]

            for http in (client, other, client, other):  # both caches filled and hit
                assert await statuses(http) == (6, ["AVAILABLE"] * 6)
            cart = new_cart()
            seat = event.seat_ids[3]
            price = event.price_ids["Adult"]
            ok = await add_seat(client, cart, event_id=event.event_id, seat_id=seat, price_id=price)
            assert ok.status_code == 200
            expected = ["AVAILABLE"] * 3 + ["HELD"] + ["AVAILABLE"] * 2
            assert await statuses(other) == (5, expected)
            assert await statuses(client) == (5, expected)
            clock.advance(seconds=901)
            assert await statuses(other) == (6, ["AVAILABLE"] * 6)
            assert other_app.state.graphql_results.hits >= 1


async def test_cart_queries_are_never_served_from_cache(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    cart = new_cart()
    query = "query($id: UUID!) { cart(id: $id) { items { seatId } } }"
    assert (await gql(client, query, {"id": cart}))["cart"]["items"] == []
    price = event.price_ids["Adult"]
    seat = event.seat_ids[0]
    await add_seat(client, cart, event_id=event.event_id, seat_id=seat, price_id=price)
    assert (await gql(client, query, {"id": cart}))["cart"]["items"] == [{"seatId": str(seat)}]
