"""Event managers: the permission matrix, the manifest copy, drafts, prices, blocked seats."""
# ruff: noqa: UP031, E501  (GraphQL documents are kept whole, with %-placeholders)

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.accounts import signed_in
from tests.factories import EventFixture
from tests.sql import catalog_state, fetch
from ticketing.db import Database

# Every manager mutation, with an input that a manager may run on the fixture's data.
MUTATIONS: dict[str, str] = {
    "createVenue": 'createVenue(input: {name: "New Hall", timezone: "Europe/Paris"}) '
    "{ venue { id } userErrors { code } }",
    "updateVenue": 'updateVenue(input: {venueId: "%(venue)s", name: "Renamed"}) '
    "{ venue { id } userErrors { code } }",
    "addSection": 'addSection(input: {venueId: "%(venue)s", name: "Balcony", kind: SEATED, '
    'rows: [{name: "A", seatCount: 20}, {name: "B", seatNumbers: ["1", "2", "3"]}]}) '
    "{ section { id capacity } userErrors { code } }",
    "removeSection": 'removeSection(input: {sectionId: "%(spare)s"}) '
    "{ section { id } userErrors { code } }",
    "createEvent": 'createEvent(input: {venueId: "%(venue)s", name: "Matinee", '
    'startsAt: "2027-03-01T15:00:00+00:00", currency: "EUR", priceLevels: ["Adult"], '
    'prices: [{sectionId: "%(main)s", priceLevel: "Adult", amount: "12.00"}]}) '
    "{ event { id status } userErrors { code } }",
    "updateEvent": 'updateEvent(input: {eventId: "%(event)s", name: "Renamed Night"}) '
    "{ event { id } userErrors { code } }",
    "setPrices": 'setPrices(input: {eventId: "%(event)s", prices: [{sectionId: "%(main)s", '
    'priceLevel: "Adult", amount: "45.00"}]}) { event { id } userErrors { code } }',
    "blockSeats": 'blockSeats(input: {eventId: "%(event)s", seatIds: ["%(seat)s"]}) '
    "{ seatIds userErrors { code } }",
    "unblockSeats": 'unblockSeats(input: {eventId: "%(event)s", seatIds: ["%(blocked)s"]}) '
    "{ seatIds userErrors { code } }",
    "publishEvent": 'publishEvent(input: {eventId: "%(draft)s"}) { event { status } '
    "userErrors { code } }",
    "cancelEvent": 'cancelEvent(input: {eventId: "%(event)s"}) { event { status } '
    "userErrors { code } }",
}


async def _gql(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _ids(client: httpx.AsyncClient, db: Database, event: EventFixture) -> dict[str, str]:
    manager = await signed_in(client, db, manager=True)
    draft = await _gql(
        client,
        "mutation { %s }"
        % MUTATIONS["createEvent"]
        % {"venue": event.venue_id, "main": event.section_ids["Main"]},
        manager,
    )
    # added after the draft was made from the venue: no event uses it
    spare = await _gql(
        client,
        'mutation { addSection(input: {venueId: "%s", name: "Spare", kind: GENERAL_ADMISSION, '
        "capacity: 5}) { section { id } } }" % event.venue_id,
        manager,
    )
    blocked = event.seat_ids[1]
    await _gql(
        client,
        'mutation { blockSeats(input: {eventId: "%s", seatIds: ["%s"]}) { seatIds } }'
        % (event.event_id, blocked),
        manager,
    )
    return {
        "venue": str(event.venue_id),
        "event": str(event.event_id),
        "main": str(event.section_ids["Main"]),
        "seat": str(event.seat_ids[0]),
        "blocked": str(blocked),
        "spare": spare["addSection"]["section"]["id"],
        "draft": draft["createEvent"]["event"]["id"],
    }


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("role", ["anonymous", "customer", "manager"])
async def test_permission_matrix(
    client: httpx.AsyncClient,
    db: Database,
    event: EventFixture,
    mutation: str,
    role: str,
) -> None:
    ids = await _ids(client, db, event)
    headers = None
    if role != "anonymous":
        headers = await signed_in(client, db, manager=role == "manager")
    before = await catalog_state(db)
    data = await _gql(client, "mutation { %s }" % (MUTATIONS[mutation] % ids), headers)
    payload = data[mutation]
    if role == "manager":
        assert payload["userErrors"] == []
        assert await catalog_state(db) != before
    else:
        assert payload["userErrors"] == [{"code": "FORBIDDEN"}]
        assert [v for k, v in payload.items() if k != "userErrors"] in ([None], [[]])
        assert await catalog_state(db) == before


async def test_report_is_forbidden_to_customers_and_answers_managers_per_section_and_level(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    query = (
        '{ event(id: "%s") { report { lines { sectionName priceLevelName available held booked sold revenue { amount } } } } }'
        % event.event_id
    )
    for headers in (None, await signed_in(client)):
        response = await client.post("/graphql", json={"query": query}, headers=headers)
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert response.json()["data"] == {"event": None}
    manager = await signed_in(client, db, manager=True)
    cart = str(uuid.uuid4())
    body = {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[0],
        "price_id": event.price_ids["Adult"],
    }
    assert (await client.post(f"/orders/carts/{cart}", json=body)).status_code == 200
    report = (await _gql(client, query, manager))["event"]["report"]
    lines = {(line["sectionName"], line["priceLevelName"]): line for line in report["lines"]}
    # the counts themselves: tests/service/test_management.py
    assert lines[("Main", "Adult")] == {
        "sectionName": "Main",
        "priceLevelName": "Adult",
        "available": len(event.seat_ids) - 1,
        "held": 1,
        "booked": 0,
        "sold": 0,
        "revenue": {"amount": "0.00"},
    }


async def test_manifest_copy_keeps_template_ids_and_ignores_later_venue_changes(
    client: httpx.AsyncClient, db: Database
) -> None:
    manager = await signed_in(client, db, manager=True)
    venue = (
        await _gql(
            client, 'mutation { createVenue(input: {name: "Bowl"}) { venue { id } } }', manager
        )
    )["createVenue"]["venue"]["id"]
    sections = {}
    for spec in (
        'name: "Floor", kind: GENERAL_ADMISSION, capacity: 30',
        'name: "North", kind: SEATED, rows: [{name: "A", seatCount: 4}, {name: "B", seatCount: 3}]',
        'name: "South", kind: SEATED, rows: [{name: "1", seatNumbers: ["101", "102"]}]',
    ):
        added = await _gql(
            client,
            'mutation { addSection(input: {venueId: "%s", %s}) { section { id name } userErrors { code } } }'
            % (venue, spec),
            manager,
        )
        assert added["addSection"]["userErrors"] == []
        sections[added["addSection"]["section"]["name"]] = added["addSection"]["section"]["id"]
    created = await _gql(
        client,
        'mutation { createEvent(input: {venueId: "%s", name: "Final", startsAt: "2027-05-01T18:00:00Z", currency: "eur", priceLevels: ["Adult", "Child", "VIP"], prices: [{sectionId: "%s", priceLevel: "Adult", amount: "30"}, {sectionId: "%s", priceLevel: "Child", amount: "15"}, {sectionId: "%s", priceLevel: "VIP", amount: "90"}]}) { event { id status currency } userErrors { code message } } }'
        % (venue, sections["Floor"], sections["North"], sections["South"]),
        manager,
    )
    assert created["createEvent"]["userErrors"] == []
    event = created["createEvent"]["event"]
    assert event["status"] == "DRAFT"
    assert event["currency"] == "EUR"

    template = (await client.get(f"/venues/{venue}/sections")).json()
    seat_rows = await fetch(
        db,
        sa.text(
            "SELECT s.id, s.section_id, s.row_id, s.number FROM seat s JOIN section c ON c.id = s.section_id WHERE c.venue_id = :v ORDER BY s.id"
        ),
        {"v": int(venue)},
    )
    event_rows = await fetch(
        db,
        sa.text(
            "SELECT seat_id, section_id, row_id, number FROM event_seat WHERE event_id = :e ORDER BY seat_id"
        ),
        {"e": int(event["id"])},
    )
    assert [tuple(r) for r in event_rows] == [tuple(r) for r in seat_rows]
    assert len(event_rows) == 30 + 7 + 2
    # Drafts are invisible to customers, in both doors.
    assert (await client.get(f"/events/{event['id']}")).status_code == 404
    assert (await client.get(f"/events/{event['id']}/seats")).status_code == 404
    assert (await _gql(client, '{ event(id: "%s") { id } }' % event["id"]))["event"] is None
    seen = (await client.get(f"/events/{event['id']}", headers=manager)).json()
    assert seen["status"] == "draft"
    published = await _gql(
        client,
        'mutation { publishEvent(input: {eventId: "%s"}) { event { status } } }' % event["id"],
        manager,
    )
    assert published["publishEvent"]["event"]["status"] == "PUBLISHED"
    seat_map = (await client.get(f"/events/{event['id']}/seats")).json()
    assert {s["id"] for s in seat_map["sections"]} == {int(s["id"]) for s in template}

    # later changes to the venue do not alter the event's seats
    await _gql(
        client,
        'mutation { addSection(input: {venueId: "%s", name: "East", kind: GENERAL_ADMISSION, capacity: 9}) { section { id } } }'
        % venue,
        manager,
    )
    removed = await _gql(
        client,
        'mutation { removeSection(input: {sectionId: "%s"}) { userErrors { code } } }'
        % sections["North"],
        manager,
    )
    assert removed["removeSection"]["userErrors"] == [{"code": "SECTION_IN_USE"}]
    again = (await client.get(f"/events/{event['id']}/seats")).json()
    assert {s["id"] for s in again["sections"]} == {int(s["id"]) for s in template}


async def test_prices_blocked_seats_and_cancel_reach_the_cached_maps(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    manager = await signed_in(client, db, manager=True)
    main = event.section_ids["Main"]
    url = f"/events/{event.event_id}/sections/{main}/seats"
    before = (await client.get(url)).json()  # cached now
    seat = event.seat_ids[0]
    cart = "6b1f5c3e-0000-4000-8000-0000000000aa"
    held = await client.post(
        f"/orders/carts/{cart}",
        json={
            "event_id": event.event_id,
            "seat_id": event.seat_ids[2],
            "price_id": event.price_ids["Adult"],
        },
    )
    assert held.status_code == 200
    await _gql(
        client,
        'mutation { setPrices(input: {eventId: "%s", prices: [{sectionId: "%s", priceLevel: "Adult", amount: "55.00"}]}) { userErrors { code } } }'
        % (event.event_id, main),
        manager,
    )
    await _gql(
        client,
        'mutation { blockSeats(input: {eventId: "%s", seatIds: ["%s"]}) { userErrors { code } } }'
        % (event.event_id, seat),
        manager,
    )
    after = {s["seat_id"]: s for s in (await client.get(url)).json()}
    assert after[seat]["status"]["name"] == "blocked"
    adult = [p for p in after[event.seat_ids[5]]["price_options"] if p["name"] == "Adult"]
    assert adult[0]["amount"] == "55.00"
    assert before != list(after.values())
    # the held seat keeps the price it was taken at
    assert (await client.get(f"/orders/carts/{cart}")).json()["items"][0]["amount"] == "40.00"
    refused = await client.post(
        "/orders/carts/6b1f5c3e-0000-4000-8000-0000000000ab",
        json={"event_id": event.event_id, "seat_id": seat, "price_id": event.price_ids["Adult"]},
    )
    assert refused.json()["code"] == "SEAT_NOT_AVAILABLE"
    await _gql(
        client,
        'mutation { cancelEvent(input: {eventId: "%s"}) { userErrors { code } } }' % event.event_id,
        manager,
    )
    closed = await client.post(
        "/orders/carts/6b1f5c3e-0000-4000-8000-0000000000ab",
        json={
            "event_id": event.event_id,
            "seat_id": event.seat_ids[6],
            "price_id": event.price_ids["Adult"],
        },
    )
    assert closed.json()["code"] == "EVENT_NOT_ON_SALE"
    # the cancellation released the cart's hold: nothing is left to book
    assert (await client.get(f"/orders/carts/{cart}")).json()["items"] == []
    booking = await client.put(f"/orders/carts/{cart}/book")
    assert booking.json()["code"] == "CART_EMPTY"


async def test_concurrent_price_changes_of_one_event_run_one_after_the_other(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    """Each edit locks the event first: concurrent setPrices adding the same new level never
    collide on the database's unique keys (they used to be a 500 on PostgreSQL)."""
    import asyncio

    manager = await signed_in(client, db, manager=True)
    main = event.section_ids["Main"]

    async def set_price(amount: int) -> Any:
        document = (
            'mutation { setPrices(input: {eventId: "%s", prices: [{sectionId: "%s", '
            'priceLevel: "Student", amount: "%d.00"}]}) { userErrors { code } } }'
            % (event.event_id, main, amount)
        )
        response = await client.post("/graphql", json={"query": document}, headers=manager)
        return response.json()

    results = await asyncio.gather(*(set_price(10 + n) for n in range(8)))
    assert all(r == {"data": {"setPrices": {"userErrors": []}}} for r in results), results
    levels = (await client.get(f"/events/{event.event_id}/sections/{main}/seats")).json()
    students = {
        (p["name"], p["amount"])
        for seat in levels
        for p in seat["price_options"]
        if p["name"] == "Student"
    }
    assert len(students) == 1  # one level, one price for every seat of the section


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (
            'createVenue(input: {name: "Hall", city: "%(long)s"}) { userErrors { code field } }',
            "city",
        ),
        (
            'createVenue(input: {name: "Hall", timezone: "Mars/Olympus"}) { userErrors { code field } }',
            "timezone",
        ),
        ('createVenue(input: {name: "  "}) { userErrors { code field } }', "name"),
        (
            'addSection(input: {venueId: "%(venue)s", name: "X", kind: SEATED, rows: [{name: "A", seatCount: 3, seatNumbers: ["1"]}]}) { userErrors { code field } }',
            "rows",
        ),
        (
            'addSection(input: {venueId: "%(venue)s", name: "Main", kind: GENERAL_ADMISSION, capacity: 5}) { userErrors { code field } }',
            "name",
        ),
        (
            'createEvent(input: {venueId: "%(venue)s", name: "E", startsAt: "2027-01-01T20:00:00Z", currency: "EURO", priceLevels: ["Adult"], prices: []}) { userErrors { code field } }',
            "currency",
        ),
        (
            'createEvent(input: {venueId: "%(venue)s", name: "E", startsAt: "2027-01-01T20:00:00Z", currency: "EUR", priceLevels: ["Adult"], prices: [{sectionId: "%(main)s", priceLevel: "Adult", amount: "-1"}]}) { userErrors { code field } }',
            "prices",
        ),
        (
            'setPrices(input: {eventId: "%(event)s", prices: [{sectionId: "%(main)s", priceLevel: "Adult", amount: "1.005"}]}) { userErrors { code field } }',
            "prices",
        ),
        (
            'blockSeats(input: {eventId: "%(event)s", seatIds: []}) { userErrors { code field } }',
            "seatIds",
        ),
    ],
)
async def test_bad_manager_input_is_a_validation_error_and_changes_nothing(
    client: httpx.AsyncClient,
    db: Database,
    event: EventFixture,
    document: str,
    field: str,
) -> None:
    manager = await signed_in(client, db, manager=True)
    ids = {
        "venue": event.venue_id,
        "event": event.event_id,
        "main": event.section_ids["Main"],
        "long": "x" * 201,
    }
    before = await catalog_state(db)
    data = await _gql(client, "mutation { %s }" % (document % ids), manager)
    (payload,) = data.values()
    assert payload["userErrors"] == [{"code": "VALIDATION_ERROR", "field": ["input", field]}]
    assert await catalog_state(db) == before
