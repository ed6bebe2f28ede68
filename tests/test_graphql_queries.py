"""GraphQL queries through HTTP: venues, the paged event list, seat maps, carts and payments."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api import add_seat, new_cart
from tests.conftest import FakeClock
from tests.factories import LEVELS, EventFixture, make_event, publish_event
from tests.graphql_client import error_messages, gql, gql_json
from ticketing.db import Database


async def add_event(
    db: Database, clock: FakeClock, *, venue_id: int, name: str, starts_in: timedelta
) -> int:
    """Another event at a venue made by make_event, starting `starts_in` from now."""
    return await publish_event(
        db,
        venue_id=venue_id,
        name=name,
        starts_at=clock.now + starts_in,
        currency="EUR",
        price_levels=LEVELS,
        prices={"Main": {"Adult": Decimal("10.00")}},
        now=clock.now,
    )


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


EVENTS_PAGE = """
query Events($first: Int!, $after: String, $venueId: ID,
             $startsAfter: DateTime, $startsBefore: DateTime) {
  events(first: $first, after: $after, venueId: $venueId,
         startsAfter: $startsAfter, startsBefore: $startsBefore) {
    edges { cursor node { id name startsAt } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def events_page(client: httpx.AsyncClient, **variables: Any) -> dict[str, Any]:
    variables.setdefault("first", 20)
    data = await gql(client, EVENTS_PAGE, variables)
    page: dict[str, Any] = data["events"]
    return page


def node_ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


# --- venues ---------------------------------------------------------------------------------


async def test_venues_lists_every_venue_with_its_sections(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    first = await make_event(db, now=clock.now, name="North Hall")
    second = await make_event(db, now=clock.now, name="South Hall", ga_capacity=7)
    data = await gql(
        client,
        "{ venues { id name city timezone sections { id name kind capacity position } } }",
    )
    venues = {v["id"]: v for v in data["venues"]}
    assert set(venues) == {str(first.venue_id), str(second.venue_id)}

    rest = {v["id"]: v for v in (await client.get("/venues")).json()}
    for venue_id, venue in venues.items():
        expected = rest[int(venue_id)]
        assert venue["name"] == expected["name"]
        assert venue["city"] == expected["city"]
        assert venue["timezone"] == expected["timezone"]

    north = venues[str(first.venue_id)]
    assert north["name"] == "North Hall"
    assert [(s["name"], s["kind"], s["capacity"]) for s in north["sections"]] == [
        ("Main", "SEATED", 20),
        ("Floor", "GENERAL_ADMISSION", 5),
        ("Closed", "SEATED", 2),
    ]
    assert [s["id"] for s in north["sections"]] == [
        str(first.section_ids[name]) for name in ("Main", "Floor", "Closed")
    ]
    positions = [s["position"] for s in north["sections"]]
    assert positions == sorted(positions)
    south_floor = [s for s in venues[str(second.venue_id)]["sections"] if s["name"] == "Floor"]
    assert south_floor[0]["capacity"] == 7


async def test_venues_is_empty_without_any(client: httpx.AsyncClient) -> None:
    assert await gql(client, "{ venues { id } }") == {"venues": []}


async def test_venue_by_id(client: httpx.AsyncClient, event: EventFixture) -> None:
    data = await gql(
        client,
        "query($id: ID!) { venue(id: $id) { id name sections { id name } } }",
        {"id": str(event.venue_id)},
    )
    venue = data["venue"]
    assert venue["id"] == str(event.venue_id)
    assert venue["name"] == "Test Hall"
    assert {s["name"]: s["id"] for s in venue["sections"]} == {
        name: str(section_id) for name, section_id in event.section_ids.items()
    }


@pytest.mark.parametrize(
    "venue_id", ["999999", "abc", "0", "-1", "1.5", "", "99999999999999999999"]
)
async def test_venue_is_null_for_an_unknown_or_impossible_id(
    client: httpx.AsyncClient, event: EventFixture, venue_id: str
) -> None:
    data = await gql(client, "query($id: ID!) { venue(id: $id) { id } }", {"id": venue_id})
    assert data == {"venue": None}


# --- events: the paged connection -------------------------------------------------------------


async def test_events_page_through_with_cursors_soonest_first(
    client: httpx.AsyncClient, db: Database, clock: FakeClock, event: EventFixture
) -> None:
    # make_event's event starts in 10 days; four more start in 1..4 days, and one in 10 days
    # at the same instant as make_event's, so the cursor must break the tie by id.
    ids = [
        await add_event(
            db, clock, venue_id=event.venue_id, name=f"E{d}", starts_in=timedelta(days=d)
        )
        for d in (3, 1, 4, 2)
    ]
    tie = await add_event(
        db, clock, venue_id=event.venue_id, name="Tie", starts_in=timedelta(days=10)
    )
    expected = [str(i) for i in (ids[1], ids[3], ids[0], ids[2], event.event_id, tie)]

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await events_page(client, first=2, after=after)
        pages += 1
        assert node_ids(page) == [n["id"] for n in page["nodes"]]
        info = page["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        seen += node_ids(page)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
        assert pages < 10, "paging does not end"
    assert seen == expected
    assert pages == 3

    # Start times are ascending and carry an offset.
    everything = await events_page(client, first=100)
    starts = [ts(e["node"]["startsAt"]) for e in everything["edges"]]
    assert all(s.tzinfo is not None for s in starts)
    assert starts == sorted(starts)
    assert node_ids(everything) == expected
    assert everything["pageInfo"]["hasNextPage"] is False
    assert everything["pageInfo"]["hasPreviousPage"] is False


async def test_events_default_page_and_empty_list(client: httpx.AsyncClient) -> None:
    data = await gql(
        client,
        "{ events { nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
        " } }",
    )
    assert data["events"] == {
        "nodes": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


async def test_events_page_of_exactly_the_rest_has_no_next_page(
    client: httpx.AsyncClient, db: Database, clock: FakeClock, event: EventFixture
) -> None:
    await add_event(db, clock, venue_id=event.venue_id, name="E", starts_in=timedelta(1))
    page = await events_page(client, first=2)
    assert len(page["edges"]) == 2
    assert page["pageInfo"]["hasNextPage"] is False
    after_last = await events_page(client, first=2, after=page["pageInfo"]["endCursor"])
    assert after_last["edges"] == []
    assert after_last["pageInfo"]["hasPreviousPage"] is True
    assert after_last["pageInfo"]["endCursor"] is None


@pytest.mark.parametrize("first", [101, 1000, -1])
async def test_events_first_out_of_bounds_is_a_graphql_error(
    client: httpx.AsyncClient, event: EventFixture, first: int
) -> None:
    body = await gql_json(client, EVENTS_PAGE, {"first": first})
    assert body.get("data") is None
    (message,) = error_messages(body)
    assert "first" in message
    assert "100" in message
    assert body["errors"][0]["path"] == ["events"]


async def test_events_first_100_is_allowed(client: httpx.AsyncClient, event: EventFixture) -> None:
    page = await events_page(client, first=100)
    assert node_ids(page) == [str(event.event_id)]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "!!!",
        base64.urlsafe_b64encode(b"hello").decode(),
        base64.urlsafe_b64encode(b"yesterday|1").decode(),
        base64.urlsafe_b64encode(b"2030-01-01T00:00:00+00:00|x").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe|1").decode(),
    ],
)
async def test_events_invalid_cursor_is_a_graphql_error(
    client: httpx.AsyncClient, event: EventFixture, cursor: str
) -> None:
    body = await gql_json(client, EVENTS_PAGE, {"first": 5, "after": cursor})
    assert body.get("data") is None
    (message,) = error_messages(body)
    assert "cursor" in message
    assert message != "Unexpected error."


async def test_events_by_venue(client: httpx.AsyncClient, db: Database, clock: FakeClock) -> None:
    north = await make_event(db, now=clock.now, name="North")
    south = await make_event(db, now=clock.now, name="South")
    later = await add_event(
        db, clock, venue_id=north.venue_id, name="Later", starts_in=timedelta(days=20)
    )
    assert node_ids(await events_page(client, venueId=str(north.venue_id))) == [
        str(north.event_id),
        str(later),
    ]
    assert node_ids(await events_page(client, venueId=str(south.venue_id))) == [str(south.event_id)]
    for unknown in ("999999", "abc", "0"):
        page = await events_page(client, venueId=unknown)
        assert page["edges"] == []
        assert page["pageInfo"]["hasNextPage"] is False


async def test_events_by_start_window(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    fixture = await make_event(db, now=clock.now)  # starts in 10 days
    day = {
        d: await add_event(
            db, clock, venue_id=fixture.venue_id, name=f"D{d}", starts_in=timedelta(days=d)
        )
        for d in (1, 2, 3)
    }

    def at(days: int) -> str:
        return (clock.now + timedelta(days=days)).isoformat()

    # startsAfter is inclusive, startsBefore exclusive.
    assert node_ids(await events_page(client, startsAfter=at(2))) == [
        str(day[2]),
        str(day[3]),
        str(fixture.event_id),
    ]
    assert node_ids(await events_page(client, startsBefore=at(2))) == [str(day[1])]
    assert node_ids(await events_page(client, startsAfter=at(2), startsBefore=at(10))) == [
        str(day[2]),
        str(day[3]),
    ]
    assert node_ids(await events_page(client, startsAfter=at(11))) == []
    # Filters and paging combine.
    first = await events_page(client, first=1, startsAfter=at(2))
    assert node_ids(first) == [str(day[2])]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await events_page(
        client, first=5, startsAfter=at(2), after=first["pageInfo"]["endCursor"]
    )
    assert node_ids(rest) == [str(day[3]), str(fixture.event_id)]


# --- one event and its seat map -----------------------------------------------------------------


EVENT_QUERY = """
query($id: ID!) {
  event(id: $id) {
    id name startsAt currency
    venue { id name city timezone }
    priceLevels { id name position }
    sections { id name kind capacity position availableCount }
  }
}
"""


async def test_event_reaches_venue_price_levels_and_sections(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock
) -> None:
    data = await gql(client, EVENT_QUERY, {"id": str(event.event_id)})
    got = data["event"]
    rest = (await client.get(f"/events/{event.event_id}")).json()
    assert got["id"] == str(event.event_id) == str(rest["id"])
    assert got["name"] == "Test Hall Night" == rest["name"]
    assert ts(got["startsAt"]) == clock.now + timedelta(days=10) == ts(rest["starts_at"])
    assert got["currency"] == "EUR"
    assert got["venue"]["id"] == str(event.venue_id)
    assert got["venue"]["name"] == "Test Hall" == rest["venue_name"]
    assert got["priceLevels"] == [
        {"id": str(event.price_ids[name]), "name": name, "position": position}
        for position, name in enumerate(LEVELS)
    ]
    sections = {s["name"]: s for s in got["sections"]}
    assert [s["name"] for s in got["sections"]] == ["Main", "Floor", "Closed"]
    assert sections["Main"] | {"position": 0} == {
        "id": str(event.section_ids["Main"]),
        "name": "Main",
        "kind": "SEATED",
        "capacity": 20,
        "position": 0,
        "availableCount": 20,
    }
    assert sections["Floor"]["kind"] == "GENERAL_ADMISSION"
    assert sections["Floor"]["capacity"] == 5
    assert sections["Floor"]["availableCount"] == 5
    assert sections["Closed"]["capacity"] == 2

    rest_sections = (await client.get(f"/events/{event.event_id}/sections")).json()
    assert {str(s["id"]): s["available_count"] for s in rest_sections} == {
        s["id"]: s["availableCount"] for s in got["sections"]
    }


async def test_section_not_on_sale_counts_no_available_seats(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    """`availableCount` is documented as "Seats on sale right now", and a seat with no price
    options is documented as not on sale: the unpriced "Closed" section has none on sale."""
    data = await gql(
        client,
        "query($id: ID!, $s: ID!) { event(id: $id) { section(id: $s) {"
        " availableCount seats { priceOptions { id } } } } }",
        {"id": str(event.event_id), "s": str(event.section_ids["Closed"])},
    )
    closed = data["event"]["section"]
    assert all(seat["priceOptions"] == [] for seat in closed["seats"])
    assert closed["availableCount"] == 0


async def test_available_count_follows_holds(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    for seat in event.seat_ids[:3]:
        response = await add_seat(
            client,
            new_cart(),
            event_id=event.event_id,
            seat_id=seat,
            price_id=event.price_ids["Adult"],
        )
        assert response.status_code == 200, response.text
    data = await gql(
        client,
        "query($id: ID!, $s: ID!) { event(id: $id) { section(id: $s) { availableCount } } }",
        {"id": str(event.event_id), "s": str(event.section_ids["Main"])},
    )
    assert data["event"]["section"]["availableCount"] == 17


@pytest.mark.parametrize("event_id", ["999999", "abc", "0", "-5", "", "3000000000"])
async def test_event_is_null_for_an_unknown_or_impossible_id(
    client: httpx.AsyncClient, event: EventFixture, event_id: str
) -> None:
    data = await gql(client, "query($id: ID!) { event(id: $id) { id } }", {"id": event_id})
    assert data == {"event": None}


async def test_section_by_id(client: httpx.AsyncClient, event: EventFixture) -> None:
    query = (
        "query($id: ID!, $s: ID!) { event(id: $id) { section(id: $s) {"
        " id name kind capacity availableCount } } }"
    )
    data = await gql(
        client, query, {"id": str(event.event_id), "s": str(event.section_ids["Floor"])}
    )
    assert data["event"]["section"] == {
        "id": str(event.section_ids["Floor"]),
        "name": "Floor",
        "kind": "GENERAL_ADMISSION",
        "capacity": 5,
        "availableCount": 5,
    }
    for unknown in ("999999", "abc"):
        data = await gql(client, query, {"id": str(event.event_id), "s": unknown})
        assert data == {"event": {"section": None}}


SECTION_MAP = """
query($id: ID!, $s: ID!) {
  event(id: $id) {
    section(id: $s) {
      rows { id name position seats { id rowId row number status } }
      seats {
        id sectionId rowId row number type status
        priceOptions { id name price { amount currency } }
      }
    }
  }
}
"""


async def section_map(
    client: httpx.AsyncClient, event: EventFixture, section: str
) -> dict[str, Any]:
    data = await gql(
        client, SECTION_MAP, {"id": str(event.event_id), "s": str(event.section_ids[section])}
    )
    found: dict[str, Any] = data["event"]["section"]
    return found


async def test_rows_and_their_seats(client: httpx.AsyncClient, event: EventFixture) -> None:
    main = await section_map(client, event, "Main")
    rows = main["rows"]
    assert [r["name"] for r in rows] == ["A", "B"]
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    for row in rows:
        assert [s["number"] for s in row["seats"]] == [str(n) for n in range(1, 11)]
        assert {s["row"] for s in row["seats"]} == {row["name"]}
        assert {s["rowId"] for s in row["seats"]} == {row["id"]}
        assert {s["status"] for s in row["seats"]} == {"AVAILABLE"}
    by_row = [s["id"] for row in rows for s in row["seats"]]
    assert by_row == [s["id"] for s in main["seats"]] == [str(i) for i in event.seat_ids]


async def test_seats_with_status_and_exact_price_options(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    main = await section_map(client, event, "Main")
    first = main["seats"][0]
    assert first["sectionId"] == str(event.section_ids["Main"])
    assert first["type"] == "DESIGNATED"
    assert first["status"] == "AVAILABLE"
    assert first["row"] == "A"
    assert first["number"] == "1"
    assert first["priceOptions"] == [
        {
            "id": str(event.price_ids["Adult"]),
            "name": "Adult",
            "price": {"amount": "40.00", "currency": "EUR"},
        },
        {
            "id": str(event.price_ids["Child"]),
            "name": "Child",
            "price": {"amount": "20.00", "currency": "EUR"},
        },
        {
            "id": str(event.price_ids["VIP"]),
            "name": "VIP",
            "price": {"amount": "99.50", "currency": "EUR"},
        },
    ]


async def test_general_admission_places(client: httpx.AsyncClient, event: EventFixture) -> None:
    floor = await section_map(client, event, "Floor")
    assert floor["rows"] == []
    assert [s["id"] for s in floor["seats"]] == [str(i) for i in event.ga_seat_ids]
    for place in floor["seats"]:
        assert place["type"] == "GENERAL_ADMISSION"
        assert place["rowId"] is None
        assert place["row"] is None
        assert place["number"] is None
        assert place["priceOptions"] == [
            {
                "id": str(event.price_ids["Adult"]),
                "name": "Adult",
                "price": {"amount": "30.00", "currency": "EUR"},
            }
        ]


async def test_unpriced_seats_offer_no_price(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    closed = await section_map(client, event, "Closed")
    assert len(closed["seats"]) == 2
    assert all(s["priceOptions"] == [] for s in closed["seats"])


@pytest.mark.parametrize("section", ["Main", "Floor", "Closed"])
async def test_seat_map_equals_rest_seat_map(
    client: httpx.AsyncClient, event: EventFixture, section: str
) -> None:
    held = event.seat_ids[4]
    response = await add_seat(
        client,
        new_cart(),
        event_id=event.event_id,
        seat_id=held,
        price_id=event.price_ids["Child"],
    )
    assert response.status_code == 200, response.text
    graph = (await section_map(client, event, section))["seats"]
    rest_response = await client.get(
        f"/events/{event.event_id}/sections/{event.section_ids[section]}/seats"
    )
    assert rest_response.status_code == 200
    rest = rest_response.json()
    as_graph = [
        {
            "id": str(s["seat_id"]),
            "sectionId": str(s["section_id"]),
            "rowId": None if s["row_id"] is None else str(s["row_id"]),
            "row": s["row"],
            "number": s["number"],
            "type": s["type"].upper(),
            "status": s["status"]["name"].upper(),
            "priceOptions": [
                {
                    "id": str(p["id"]),
                    "name": p["name"],
                    "price": {"amount": p["amount"], "currency": "EUR"},
                }
                for p in s["price_options"]
            ],
        }
        for s in rest
    ]
    assert graph == as_graph
    if section == "Main":
        assert [s["status"] for s in graph if s["id"] == str(held)] == ["HELD"]


async def test_seats_filtered_by_status(client: httpx.AsyncClient, event: EventFixture) -> None:
    held = event.seat_ids[:2]
    for seat in held:
        response = await add_seat(
            client,
            new_cart(),
            event_id=event.event_id,
            seat_id=seat,
            price_id=event.price_ids["Adult"],
        )
        assert response.status_code == 200, response.text
    query = (
        "query($id: ID!, $s: ID!, $st: SeatStatus) { event(id: $id) { section(id: $s) {"
        " seats(status: $st) { id status } } } }"
    )
    variables: dict[str, Any] = {
        "id": str(event.event_id),
        "s": str(event.section_ids["Main"]),
    }

    async def seats(status: str | None) -> list[dict[str, str]]:
        data = await gql(client, query, {**variables, "st": status})
        found: list[dict[str, str]] = data["event"]["section"]["seats"]
        return found

    available = await seats("AVAILABLE")
    assert [s["id"] for s in available] == [str(i) for i in event.seat_ids[2:]]
    assert {s["status"] for s in available} == {"AVAILABLE"}
    assert [s["id"] for s in await seats("HELD")] == [str(i) for i in held]
    assert await seats("SOLD") == []
    assert await seats("BOOKED") == []
    assert len(await seats(None)) == 20

    # An inline enum literal works too; a made-up status is a GraphQL validation error.
    inline = await gql(
        client,
        "query($id: ID!, $s: ID!) { event(id: $id) { section(id: $s) {"
        " seats(status: HELD) { id } } } }",
        variables,
    )
    assert [s["id"] for s in inline["event"]["section"]["seats"]] == [str(i) for i in held]
    body = await gql_json(client, query, {**variables, "st": "GONE"})
    assert body.get("data") is None
    assert body["errors"]


async def test_lapsed_hold_reads_as_available(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock
) -> None:
    seat = event.seat_ids[0]
    response = await add_seat(
        client,
        new_cart(),
        event_id=event.event_id,
        seat_id=seat,
        price_id=event.price_ids["Adult"],
    )
    assert response.status_code == 200
    assert (await section_map(client, event, "Main"))["seats"][0]["status"] == "HELD"
    clock.advance(seconds=901)
    assert (await section_map(client, event, "Main"))["seats"][0]["status"] == "AVAILABLE"


async def test_several_events_in_one_operation(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    """DataLoaders batch per request; each event still gets its own sections and seats."""
    small = await make_event(db, now=clock.now, name="Small", rows=1, seats_per_row=3)
    large = await make_event(db, now=clock.now, name="Large", rows=3, seats_per_row=4)
    data = await gql(
        client,
        "{ events(first: 10) { nodes { id venue { name } sections { name capacity"
        " seats { id } rows { name seats { id } } } } } }",
    )
    by_id = {e["id"]: e for e in data["events"]["nodes"]}
    for fixture, venue, capacity, rows in ((small, "Small", 3, 1), (large, "Large", 12, 3)):
        got = by_id[str(fixture.event_id)]
        assert got["venue"]["name"] == venue
        main = got["sections"][0]
        assert main["name"] == "Main"
        assert main["capacity"] == capacity
        assert [s["id"] for s in main["seats"]] == [str(i) for i in fixture.seat_ids]
        assert len(main["rows"]) == rows


# --- carts and payments -----------------------------------------------------------------------


CART_QUERY = """
query($id: UUID!) {
  cart(id: $id) {
    id status expiresAt
    total { amount currency }
    items { eventId seatId }
    payment { id }
  }
}
"""


async def test_unused_cart_is_empty_and_open(client: httpx.AsyncClient) -> None:
    cart_id = new_cart()
    data = await gql(client, CART_QUERY, {"id": cart_id})
    assert data["cart"] == {
        "id": cart_id,
        "status": "OPEN",
        "expiresAt": None,
        "total": {"amount": "0.00", "currency": "XXX"},
        "items": [],
        "payment": None,
    }


async def test_cart_with_a_bad_uuid_is_a_graphql_error(client: httpx.AsyncClient) -> None:
    body = await gql_json(client, CART_QUERY, {"id": "not-a-uuid"})
    assert body.get("data") is None
    assert body["errors"]


async def test_cart_holding_a_seat(client: httpx.AsyncClient, event: EventFixture) -> None:
    cart_id = new_cart()
    response = await add_seat(
        client,
        cart_id,
        event_id=event.event_id,
        seat_id=event.seat_ids[0],
        price_id=event.price_ids["VIP"],
    )
    assert response.status_code == 200
    data = await gql(client, CART_QUERY, {"id": cart_id})
    cart = data["cart"]
    assert cart["status"] == "OPEN"
    assert cart["total"] == {"amount": "99.50", "currency": "EUR"}
    assert cart["items"] == [{"eventId": str(event.event_id), "seatId": str(event.seat_ids[0])}]
    assert ts(cart["expiresAt"]) == ts(response.json()["expires_at"])


async def test_payment_is_null_for_an_unknown_id(client: httpx.AsyncClient) -> None:
    data = await gql(
        client, "query($id: UUID!) { payment(id: $id) { id } }", {"id": str(uuid.uuid4())}
    )
    assert data == {"payment": None}


# --- client input errors are the client's to see ------------------------------------------------


async def test_start_filter_without_offset_is_not_an_internal_error(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    """A DateTime without an offset is the client's mistake (or UTC): never "Unexpected error."."""
    body = await gql_json(
        client,
        "query($d: DateTime) { events(startsAfter: $d) { nodes { id } } }",
        {"d": "2000-01-01T00:00:00"},
    )
    assert error_messages(body) != ["Unexpected error."], body
    if "errors" not in body:
        assert [n["id"] for n in body["data"]["events"]["nodes"]] == [str(event.event_id)]


@pytest.mark.parametrize(
    ("query", "variables", "scalar"),
    [
        ("query($id: UUID!) { cart(id: $id) { id } }", {"id": "nope"}, "UUID"),
        ("query($id: UUID!) { payment(id: $id) { id } }", {"id": "12"}, "UUID"),
        (
            "query($d: DateTime) { events(startsAfter: $d) { nodes { id } } }",
            {"d": "yesterday"},
            "DateTime",
        ),
    ],
    ids=["cart-uuid", "payment-uuid", "events-datetime"],
)
async def test_malformed_scalar_variable_is_reported_not_masked(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], scalar: str
) -> None:
    """The same bad value written inline is reported ("Value cannot represent a UUID ...");
    sent as a variable, the usual way, it must not read as a server failure."""
    body = await gql_json(client, query, variables)
    assert body.get("data") is None
    (message,) = error_messages(body)
    assert message != "Unexpected error."
    assert scalar in message


@pytest.mark.parametrize(
    ("query", "scalar"),
    [
        ('{ cart(id: "nope") { id } }', "UUID"),
        ('{ events(startsAfter: "yesterday") { nodes { id } } }', "DateTime"),
    ],
    ids=["cart-uuid", "events-datetime"],
)
async def test_malformed_scalar_literal_is_reported(
    client: httpx.AsyncClient, query: str, scalar: str
) -> None:
    body = await gql_json(client, query)
    assert body.get("data") is None
    (message,) = error_messages(body)
    assert scalar in message
