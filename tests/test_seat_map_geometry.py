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


async def test_positions_are_identical_in_rest_and_graphql(
    client: httpx.AsyncClient, db: Database
) -> None:
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
