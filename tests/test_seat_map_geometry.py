"""Geometry end to end: a manager shapes a venue through GraphQL, and REST's whole map and
GraphQL's `seatMap` give the same positions, outlines, labels and focal point."""
# ruff: noqa: E501  (GraphQL documents are kept whole)

from __future__ import annotations

from typing import Any

import httpx

from tests.accounts import signed_in
from tests.graphql_client import gql
from ticketing.db import Database
from ticketing.geometry import RowLayout

ADD_SECTION = """
mutation ($input: AddSectionInput!) {
  addSection(input: $input) { section { id name } userErrors { code field message } }
}"""
SEAT_MAP = "query ($id: ID!) { seatMap(eventId: $id) { layout } }"
SECTION_SEATS = """
query ($id: ID!) {
  event(id: $id) { sections { id seats { id x y } rows { seats { id x y } } } }
}"""
OUTLINE = [{"x": -20, "y": 0}, {"x": 20, "y": 0}, {"x": 20, "y": 30}, {"x": -20, "y": 30}]


async def _manage(
    client: httpx.AsyncClient,
    manager: dict[str, str],
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=manager
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _add(
    client: httpx.AsyncClient, manager: dict[str, str], venue: str, **fields: Any
) -> dict[str, Any]:
    added: dict[str, Any] = (
        await _manage(client, manager, ADD_SECTION, {"input": {"venueId": venue, **fields}})
    )["addSection"]
    return added


async def _round_night(client: httpx.AsyncClient, db: Database) -> str:
    """A published event at a venue with a curved seated section, a seated section placed seat by
    seat and a general-admission floor; its id."""
    manager = await signed_in(client, db, manager=True)
    created_venue = (
        await _manage(
            client,
            manager,
            'mutation { createVenue(input: {name: "Round Hall", focalPoint: {x: 0, y: -5}}) { venue { id focalPoint { x y } } } }',
        )
    )["createVenue"]["venue"]
    assert created_venue["focalPoint"] == {"x": 0, "y": -5}
    venue = created_venue["id"]
    assert (await client.get(f"/venues/{venue}")).json()["focal_point"] == [0, -5]
    stalls = await _add(
        client,
        manager,
        venue,
        name="Stalls",
        kind="SEATED",
        rows=[{"name": "A", "seatCount": 5}, {"name": "B", "seatCount": 6}],
        rowLayout={
            "start": {"x": 0, "y": 10},
            "seatSpacing": 1.5,
            "rowSpacing": 2,
            "curveRadius": 15,
        },
        outline=OUTLINE,
        label={"x": 0, "y": 28},
    )
    side = await _add(
        client,
        manager,
        venue,
        name="Side",
        kind="SEATED",
        rows=[
            {"name": "A", "seatCount": 2, "positions": [{"x": 30, "y": 1}, {"x": 31.25, "y": 1}]}
        ],
    )
    floor = await _add(client, manager, venue, name="Floor", kind="GENERAL_ADMISSION", capacity=9)
    assert [s["userErrors"] for s in (stalls, side, floor)] == [[], [], []]

    created = await _manage(
        client,
        manager,
        'mutation ($venue: ID!) { createEvent(input: {venueId: $venue, name: "Round Night", startsAt: "2030-05-01T18:00:00Z", currency: "EUR", priceLevels: ["Adult"], prices: []}) { event { id } } }',
        {"venue": venue},
    )
    event_id = created["createEvent"]["event"]["id"]
    await _manage(
        client,
        manager,
        "mutation ($id: ID!) { publishEvent(input: {eventId: $id}) { event { id } } }",
        {"id": event_id},
    )
    event: str = event_id
    return event


async def test_positions_are_identical_in_rest_and_graphql(
    client: httpx.AsyncClient, db: Database
) -> None:
    event_id = await _round_night(client, db)
    rest = (await client.get(f"/events/{event_id}/seats")).json()
    layout = (await gql(client, SEAT_MAP, {"id": event_id}))["seatMap"]["layout"]

    def rest_positions(section: dict[str, Any]) -> dict[int, tuple[float, float]]:
        columns = rest["seat_columns"]
        x, y = columns.index("x"), columns.index("y")
        return {seat[0]: (seat[x], seat[y]) for seat in section["seats"]}

    def graphql_positions(section: dict[str, Any]) -> dict[int, tuple[float, float]]:
        columns = layout["seat_columns"]
        x, y = columns.index("x"), columns.index("y")
        return {seat[0]: (seat[x], seat[y]) for seat in section["seats"]}

    assert rest["focal_point"] == layout["focal_point"] == [0, -5]
    assert [s["name"] for s in rest["sections"]] == [s["name"] for s in layout["sections"]]
    for in_rest, in_graphql in zip(rest["sections"], layout["sections"], strict=True):
        assert rest_positions(in_rest) == graphql_positions(in_graphql)
        assert in_rest["outline"] == in_graphql["outline"]
        assert in_rest["label"] == in_graphql["label"]

    by_name = {s["name"]: s for s in rest["sections"]}
    expected = RowLayout(start=(0.0, 10.0), seat_spacing=1.5, row_spacing=2.0, curve_radius=15.0)
    curved = expected.rows([5, 6], focal_point=(0.0, -5.0))
    assert list(rest_positions(by_name["Stalls"]).values()) == curved[0] + curved[1]
    assert by_name["Stalls"]["outline"] == [[p["x"], p["y"]] for p in OUTLINE]
    assert by_name["Stalls"]["label"] == [0, 28]
    assert list(rest_positions(by_name["Side"]).values()) == [(30, 1), (31.25, 1)]
    assert set(rest_positions(by_name["Floor"]).values()) == {(None, None)}
    # the floor, given no shape, is a square placed right of the other sections
    assert by_name["Floor"]["outline"] == [[33.75, 0], [36.75, 0], [36.75, 3], [33.75, 3]]


async def test_per_seat_lists_carry_the_maps_positions_in_both_doors(
    client: httpx.AsyncClient, db: Database
) -> None:
    event_id = await _round_night(client, db)
    whole = (await client.get(f"/events/{event_id}/seats")).json()
    x, y = whole["seat_columns"].index("x"), whole["seat_columns"].index("y")
    graphql = (await gql(client, SECTION_SEATS, {"id": event_id}))["event"]["sections"]
    assert [s["id"] for s in graphql] == [str(s["id"]) for s in whole["sections"]]
    by_name = {}
    for in_map, in_graphql in zip(whole["sections"], graphql, strict=True):
        listed = await client.get(f"/events/{event_id}/sections/{in_map['id']}/seats")
        assert listed.status_code == 200, listed.text
        rest_seats = [(s["seat_id"], s["x"], s["y"]) for s in listed.json()]
        graphql_seats = [(int(s["id"]), s["x"], s["y"]) for s in in_graphql["seats"]]
        by_row = [(int(s["id"]), s["x"], s["y"]) for r in in_graphql["rows"] for s in r["seats"]]
        assert rest_seats == graphql_seats == [(s[0], s[x], s[y]) for s in in_map["seats"]]
        if in_map["kind"] == "seated":
            assert by_row == graphql_seats
        by_name[in_map["name"]] = [(px, py) for _, px, py in rest_seats]
    assert by_name["Side"] == [(30, 1), (31.25, 1)]
    assert by_name["Floor"] == [(None, None)] * 9


async def test_bad_geometry_names_the_input_field(client: httpx.AsyncClient, db: Database) -> None:
    manager = await signed_in(client, db, manager=True)
    venue = (
        await _manage(
            client,
            manager,
            'mutation { createVenue(input: {name: "Square Hall"}) { venue { id } } }',
        )
    )["createVenue"]["venue"]["id"]
    overlapping = await _add(
        client,
        manager,
        venue,
        name="Stalls",
        kind="SEATED",
        rows=[{"name": "A", "seatCount": 2, "positions": [{"x": 1, "y": 1}, {"x": 1, "y": 1}]}],
    )
    outside = await _add(
        client,
        manager,
        venue,
        name="Stalls",
        kind="SEATED",
        rows=[{"name": "A", "seatCount": 2, "positions": [{"x": 1, "y": 1}, {"x": 99, "y": 1}]}],
        outline=OUTLINE,
    )
    curved = await _add(
        client,
        manager,
        venue,
        name="Stalls",
        kind="SEATED",
        rows=[{"name": "A", "seatCount": 2}],
        rowLayout={"start": {"x": 0, "y": 10}, "curveRadius": 15},
    )
    assert [
        (r["section"], [(e["code"], e["field"]) for e in r["userErrors"]])
        for r in (overlapping, outside, curved)
    ] == [
        (None, [("VALIDATION_ERROR", ["input", "rows"])]),
        (None, [("VALIDATION_ERROR", ["input", "outline"])]),
        (None, [("VALIDATION_ERROR", ["input", "rowLayout"])]),
    ]
    assert outside["userErrors"][0]["message"] == (
        "Seat 2 of row 'A' at (99, 1) is outside the section's outline."
    )
