"""Seat maps served from memory (GET /events/{id}/seats and the section seat list): the shape,
and above all freshness: a write acknowledged by any worker is in every answer that follows."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rest.app import create_app
from rest.schemas import PriceOptionOut, SeatOut, SeatStatusOut
from tests.api import add_seat, book, new_cart, problem, remove_seat
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from ticketing.catalog import queries as catalog
from ticketing.db import Database
from ticketing.orders.holds import add_seat_to_cart
from ticketing.settings import Settings


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    return await make_event(db, now=clock.now, rows=2, seats_per_row=3, ga_capacity=2)


def _rows(body: dict[str, Any], section_id: int) -> list[dict[str, Any]]:
    (section,) = [s for s in body["sections"] if s["id"] == section_id]
    return [dict(zip(body["seat_columns"], row, strict=True)) for row in section["seats"]]


async def test_map_lists_every_seat_with_shared_price_sets(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    response = await client.get(f"/events/{event.event_id}/seats")
    assert response.status_code == 200
    body = response.json()
    assert body["event_id"] == event.event_id
    assert body["currency"] == "EUR"
    assert body["version"]
    assert [level["name"] for level in body["price_levels"]] == ["Adult", "Child", "VIP"]
    assert [s["name"] for s in body["sections"]] == ["Main", "Floor", "Closed"]
    assert body["seat_columns"] == [
        "seat_id", "row_id", "row", "number", "status", "price_set", "x", "y",
    ]  # fmt: skip
    assert body["focal_point"] is None  # the factory's venue has none
    main_section = body["sections"][0]
    main = _rows(body, event.section_ids["Main"])
    assert [(s["row"], s["number"]) for s in main] == [
        ("A", "1"), ("A", "2"), ("A", "3"), ("B", "1"), ("B", "2"), ("B", "3"),
    ]  # fmt: skip
    assert [s["seat_id"] for s in main] == event.seat_ids
    # built without geometry: the default grid, sections side by side
    assert [(s["x"], s["y"]) for s in main] == [
        (0.5, 0.5), (1.5, 0.5), (2.5, 0.5), (0.5, 1.5), (1.5, 1.5), (2.5, 1.5),
    ]  # fmt: skip
    assert main_section["outline"] == [[0, 0], [3, 0], [3, 2], [0, 2]]
    assert main_section["label"] == [1.5, -1]
    ids = event.price_ids
    assert main_section["price_sets"][main[0]["price_set"]] == [
        {"price_id": ids["Adult"], "amount": "40.00"},
        {"price_id": ids["Child"], "amount": "20.00"},
        {"price_id": ids["VIP"], "amount": "99.50"},
    ]
    assert main_section["price_sets"][0] == []
    assert {s["price_set"] for s in main} == {main[0]["price_set"]}
    assert main_section["available_count"] == 6
    floor_section = body["sections"][1]
    floor = _rows(body, event.section_ids["Floor"])
    assert len(floor) == 2
    assert {(s["row"], s["number"], s["row_id"]) for s in floor} == {(None, None, None)}
    assert {(s["x"], s["y"]) for s in floor} == {(None, None)}
    assert floor_section["outline"] == [[5, 0], [7, 0], [7, 2], [5, 2]]
    assert floor_section["price_sets"][floor[0]["price_set"]] == [
        {"price_id": ids["Adult"], "amount": "30.00"}
    ]
    closed_section = body["sections"][2]
    closed = _rows(body, event.section_ids["Closed"])
    assert len(closed) == 2
    assert {s["price_set"] for s in closed} == {0}
    assert closed_section["available_count"] == 0  # not on sale: no price
    assert {s["status"] for s in main + floor + closed} == {1}


async def test_map_shows_holds_and_their_lapse(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock
) -> None:
    seat = event.seat_ids[2]
    main = event.section_ids["Main"]

    async def status() -> tuple[int, int]:
        body = (await client.get(f"/events/{event.event_id}/seats")).json()
        (row,) = [r for r in _rows(body, main) if r["seat_id"] == seat]
        (section,) = [s for s in body["sections"] if s["id"] == main]
        return row["status"], section["available_count"]

    assert await status() == (1, 6)  # cached from here on
    held = await add_seat(
        client, new_cart(), event_id=event.event_id, seat_id=seat, price_id=event.price_ids["VIP"]
    )
    assert held.status_code == 200
    assert await status() == (2, 5)
    clock.advance(seconds=899)
    assert await status() == (2, 5)
    clock.advance(seconds=2)  # the hold lapses: no write happened, the map still shows it free
    assert await status() == (1, 6)


async def test_unknown_event_or_section_is_not_found(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    problem(await client.get("/events/999/seats"), 404, "NOT_FOUND")
    problem(await client.get("/events/999/sections/1/seats"), 404, "NOT_FOUND")
    body = problem(
        await client.get(f"/events/{event.event_id}/sections/999/seats"), 404, "NOT_FOUND"
    )
    assert "Section" in body["detail"]


@pytest.mark.parametrize("path", ["/events/{e}/seats", "/events/{e}/sections/{s}/seats"])
async def test_etag_revalidation(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, path: str
) -> None:
    url = path.format(e=event.event_id, s=event.section_ids["Main"])
    first = await client.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"

    same = await client.get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag
    assert (await client.get(url, headers={"If-None-Match": f'"x", W/{etag}'})).status_code == 304
    assert (await client.get(url, headers={"If-None-Match": '"other"'})).status_code == 200

    cart = new_cart()
    seat = event.seat_ids[0]
    price = event.price_ids["Adult"]
    assert (
        await add_seat(client, cart, event_id=event.event_id, seat_id=seat, price_id=price)
    ).status_code == 200
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    held_etag = changed.headers["etag"]
    assert held_etag != etag

    clock.advance(seconds=901)  # the hold lapses: the content is the first one again
    lapsed = await client.get(url, headers={"If-None-Match": held_etag})
    assert lapsed.status_code == 200
    assert lapsed.headers["etag"] == etag  # the ETag names the content, not the history
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304


async def test_a_write_in_another_worker_is_seen_at_once(
    settings: Settings, clock: FakeClock, client: httpx.AsyncClient, event: EventFixture
) -> None:
    """Two applications on one database stand for two worker processes: each has its own cache,
    and neither ever answers from a stale one."""
    other_app: FastAPI = create_app(settings, clock=clock)
    async with other_app.router.lifespan_context(other_app):
        transport = httpx.ASGITransport(app=other_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as other:
            url = f"/events/{event.event_id}/sections/{event.section_ids['Main']}/seats"
            assert {s["status"]["id"] for s in (await other.get(url)).json()} == {1}  # cached
            seat = event.seat_ids[4]
            cart = new_cart()
            price = event.price_ids["Child"]
            ok = await add_seat(client, cart, event_id=event.event_id, seat_id=seat, price_id=price)
            assert ok.status_code == 200
            seen = {s["seat_id"]: s["status"]["name"] for s in (await other.get(url)).json()}
            assert seen[seat] == "held"
            assert (await book(client, cart)).status_code == 200
            seen = {s["seat_id"]: s["status"]["name"] for s in (await other.get(url)).json()}
            assert seen[seat] == "booked"
            # and a write made by the service directly, outside any app
            await add_seat_to_cart(
                other_app.state.db,
                cart_id=uuid.uuid4(),
                event_id=event.event_id,
                seat_id=event.seat_ids[5],
                price_id=price,
                now=clock.now,
                policy=settings.cart,
            )
            seen = {s["seat_id"]: s["status"]["name"] for s in (await client.get(url)).json()}
            assert seen[event.seat_ids[5]] == "held"


def _uncached(views: list[Any]) -> list[dict[str, Any]]:
    return [
        SeatOut(
            section_id=v.section_id,
            row_id=v.row_id,
            seat_id=v.seat_id,
            row=v.row,
            number=v.number,
            type=v.type,
            x=v.x,
            y=v.y,
            status=SeatStatusOut(id=int(v.status), name=v.status.label),
            price_options=[PriceOptionOut.model_validate(p) for p in v.price_options],
        ).model_dump(mode="json")
        for v in views
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_cached_lists_always_equal_a_fresh_read(
    client: httpx.AsyncClient,
    db: Database,
    clock: FakeClock,
    seed: int,
) -> None:
    """Random holds, removals, bookings, payments and lapses; after every step the cached
    section list and map equal what the database says right now."""
    rng = random.Random(seed)
    event = await make_event(db, now=clock.now, rows=3, seats_per_row=5, ga_capacity=3)
    main = event.section_ids["Main"]
    carts: list[str] = [new_cart() for _ in range(4)]
    url = f"/events/{event.event_id}/sections/{main}/seats"
    for _ in range(40):
        action = rng.choice(["add", "add", "add", "remove", "book", "pay", "time"])
        cart = rng.choice(carts)
        seat = rng.choice(event.seat_ids)
        if action == "add":
            price = rng.choice(list(event.price_ids.values()))
            await add_seat(client, cart, event_id=event.event_id, seat_id=seat, price_id=price)
        elif action == "remove":
            await remove_seat(client, cart, event_id=event.event_id, seat_id=seat)
        elif action == "book":
            booked = await book(client, cart)
            if booked.status_code == 200:
                carts[carts.index(cart)] = new_cart()
                outcome = rng.choice(["complete", "complete", "fail", None])
                if outcome:
                    await client.post(f"/payments/{booked.json()['payment_id']}/{outcome}")
        elif action == "time":
            clock.advance(seconds=rng.choice([60, 450, 901]))
        cached = (await client.get(url)).json()
        views = await catalog.list_section_seats(
            db, event_id=event.event_id, section_id=main, now=clock.now
        )
        assert cached == _uncached(views), action
        whole = (await client.get(f"/events/{event.event_id}/seats")).json()
        statuses = {r["seat_id"]: r["status"] for r in _rows(whole, main)}
        assert statuses == {v.seat_id: int(v.status) for v in views}
        (section,) = [s for s in whole["sections"] if s["id"] == main]
        assert section["available_count"] == sum(1 for v in views if v.status == 1)


@pytest.mark.parametrize("path", ["/events/{e}/seats", "/events/{e}/sections/{s}/seats"])
async def test_gzip_when_accepted(
    client: httpx.AsyncClient, event: EventFixture, path: str
) -> None:
    url = path.format(e=event.event_id, s=event.section_ids["Main"])
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    for accept in ("gzip", "br;q=1.0, gzip;q=0.8", "*"):
        zipped = await client.get(url, headers={"Accept-Encoding": accept})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.json() == plain.json()  # httpx inflates it
        assert zipped.headers["etag"] != plain.headers["etag"]
        again = await client.get(
            url, headers={"Accept-Encoding": accept, "If-None-Match": zipped.headers["etag"]}
        )
        assert again.status_code == 304
    refused = await client.get(url, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    assert refused.content == plain.content


async def test_layouts_in_memory_are_not_walked_by_the_garbage_collector(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    """A map's seats are kept as columns of plain values: after a collection, none of them is
    tracked, so full collections (which stop the event loop) do not grow with maps in memory."""
    import gc

    assert (await client.get(f"/events/{event.event_id}/seats")).status_code == 200
    layouts = [
        layout
        for entry in app.state.seat_maps._events.values()
        for layout in entry.layouts.values()
    ]
    assert sum(len(layout.seat_ids) for layout in layouts) == app.state.seat_maps.layouts_loaded()
    assert layouts
    gc.collect()
    for layout in layouts:
        for column in (
            layout.seat_ids,
            layout.row_ids,
            layout.rows,
            layout.numbers,
            layout.seat_types,
            layout.seat_price_sets,
        ):
            assert not gc.is_tracked(column)
