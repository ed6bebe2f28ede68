"""Malformed requests, unknown routes, wrong methods and server faults: always a problem+json.

Every malformed input is a 422 VALIDATION_ERROR whose `errors[].field` names where the bad value
is (`path.*`, `query.*`, `body.*`), and it changes nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.api import add_seat, new_cart, problem, seat_status
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.invariants import assert_invariants
from ticketing.db import Database
from ticketing.errors import ErrorCode

MAX_ID = 2_147_483_647
BAD_IDS = ["abc", "1.5", "0", "-1", str(MAX_ID + 1), "99999999999999999999"]


def validation(response: httpx.Response) -> list[str]:
    """Assert a 422 VALIDATION_ERROR problem; return the fields its errors name."""
    body = problem(response, 422, "VALIDATION_ERROR")
    assert body["title"] == "Unprocessable Entity"
    assert body["type"] == "urn:ticketing:problem:validation-error"
    assert body["instance"] == response.request.url.path
    errors = body["errors"]
    assert errors, body
    for error in errors:
        assert set(error) == {"field", "message"}
        assert error["message"]
    return [error["field"] for error in errors]


async def assert_untouched(client: httpx.AsyncClient, event: EventFixture, cart_id: str) -> None:
    """The cart was never used and the event's seats and places are all still available."""
    cart = await client.get(f"/orders/carts/{cart_id}")
    assert cart.status_code == 200
    assert cart.json()["items"] == []
    assert cart.json()["total_amount"] == "0.00"
    sections = (await client.get(f"/events/{event.event_id}/sections")).json()
    assert {s["name"]: s["available_count"] for s in sections} == {
        "Main": 20,
        "Floor": 5,
        "Closed": 0,
    }


def body_for(event: EventFixture, **override: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[0],
        "price_id": event.price_ids["Adult"],
    }
    body.update(override)
    return {k: v for k, v in body.items() if v is not ...}


# --- Path parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/orders/carts/{bad}", "path.cart_id"),
        ("PUT", "/orders/carts/{bad}/book", "path.cart_id"),
        ("DELETE", "/orders/carts/{bad}/events/1/seats/1", "path.cart_id"),
        ("GET", "/payments/{bad}", "path.payment_id"),
        ("POST", "/payments/{bad}/complete", "path.payment_id"),
        ("POST", "/payments/{bad}/failed", "path.payment_id"),
    ],
)
@pytest.mark.parametrize(
    "bad", ["not-a-uuid", "123", "6b1f5c3e-0000-0000-0000", "6b1f5c3e-0000-0000-0000-00000000000g"]
)
async def test_bad_uuid_in_path(
    client: httpx.AsyncClient, event: EventFixture, method: str, path: str, field: str, bad: str
) -> None:
    response = await client.request(method, path.format(bad=bad))
    assert validation(response) == [field]


@pytest.mark.parametrize("bad", ["not-a-uuid", "42", "00000000-0000-0000-0000-0000000000zz"])
async def test_bad_uuid_in_cart_path_holds_nothing(
    client: httpx.AsyncClient, event: EventFixture, bad: str
) -> None:
    response = await client.post(f"/orders/carts/{bad}", json=body_for(event))
    assert validation(response) == ["path.cart_id"]
    status = await seat_status(
        client,
        event_id=event.event_id,
        section_id=event.section_ids["Main"],
        seat_id=event.seat_ids[0],
    )
    assert status == "available"
    await assert_untouched(client, event, new_cart())


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ("/venues/{bad}", "path.venue_id"),
        ("/venues/{bad}/sections", "path.venue_id"),
        ("/events/{bad}", "path.event_id"),
        ("/events/{bad}/sections", "path.event_id"),
        ("/events/{bad}/sections/{section}/seats", "path.event_id"),
        ("/events/{event}/sections/{bad}/seats", "path.section_id"),
    ],
)
@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_id_in_catalog_path(
    client: httpx.AsyncClient, event: EventFixture, template: str, field: str, bad: str
) -> None:
    path = template.format(bad=bad, event=event.event_id, section=event.section_ids["Main"])
    assert validation(await client.get(path)) == [field]


@pytest.mark.parametrize(
    "path",
    [
        "/venues/{max}",
        "/venues/{max}/sections",
        "/events/{max}",
        "/events/{max}/sections",
        "/events/{max}/sections/{section}/seats",
        "/events/{event}/sections/{max}/seats",
    ],
)
async def test_largest_id_is_valid_and_simply_not_found(
    client: httpx.AsyncClient, event: EventFixture, path: str
) -> None:
    url = path.format(max=MAX_ID, event=event.event_id, section=event.section_ids["Main"])
    problem(await client.get(url), 404, "NOT_FOUND")


@pytest.mark.parametrize("which", ["event_id", "seat_id"])
@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_id_in_release_path_releases_nothing(
    client: httpx.AsyncClient, event: EventFixture, db: Database, which: str, bad: str
) -> None:
    cart = new_cart()
    held = await add_seat(
        client,
        cart,
        event_id=event.event_id,
        seat_id=event.seat_ids[0],
        price_id=event.price_ids["Adult"],
    )
    assert held.status_code == 200, held.text
    ids = {"event_id": str(event.event_id), "seat_id": str(event.seat_ids[0]), which: bad}
    response = await client.delete(
        f"/orders/carts/{cart}/events/{ids['event_id']}/seats/{ids['seat_id']}"
    )
    assert validation(response) == [f"path.{which}"]
    after = await client.get(f"/orders/carts/{cart}")
    assert after.json() == held.json()
    status = await seat_status(
        client,
        event_id=event.event_id,
        section_id=event.section_ids["Main"],
        seat_id=event.seat_ids[0],
    )
    assert status == "held"
    await assert_invariants(db)


# --- Query parameters ----------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_venue_filter(client: httpx.AsyncClient, event: EventFixture, bad: str) -> None:
    response = await client.get("/events", params={"venue_id": bad})
    assert validation(response) == ["query.venue_id"]


@pytest.mark.parametrize("bad", ["yesterday", "2030-13-01T00:00:00Z", "2030-01-01T25:00:00Z", ""])
async def test_bad_starts_after_filter(
    client: httpx.AsyncClient, event: EventFixture, bad: str
) -> None:
    response = await client.get("/events", params={"starts_after": bad})
    assert validation(response) == ["query.starts_after"]


@pytest.mark.parametrize("naive", ["2000-01-01T00:00:00", "2000-01-01"])
async def test_starts_after_without_offset_is_not_a_server_error(
    client: httpx.AsyncClient, event: EventFixture, naive: str
) -> None:
    """A time without an offset is either refused as ambiguous or read as UTC; never a 500."""
    response = await client.get("/events", params={"starts_after": naive})
    if response.status_code == 422:
        assert validation(response) == ["query.starts_after"]
    else:
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()] == [event.event_id]


# --- Bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["event_id", "seat_id", "price_id"])
@pytest.mark.parametrize("bad", [0, -1, MAX_ID + 1, 10**20, -(10**20)])
async def test_out_of_range_id_in_body(
    client: httpx.AsyncClient, event: EventFixture, field: str, bad: int
) -> None:
    cart = new_cart()
    response = await client.post(f"/orders/carts/{cart}", json=body_for(event, **{field: bad}))
    assert validation(response) == [f"body.{field}"]
    await assert_untouched(client, event, cart)


@pytest.mark.parametrize("field", ["event_id", "seat_id", "price_id"])
async def test_missing_body_field(
    client: httpx.AsyncClient, event: EventFixture, field: str
) -> None:
    cart = new_cart()
    response = await client.post(f"/orders/carts/{cart}", json=body_for(event, **{field: ...}))
    assert validation(response) == [f"body.{field}"]
    await assert_untouched(client, event, cart)


async def test_every_missing_body_field_is_named(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    cart = new_cart()
    response = await client.post(f"/orders/carts/{cart}", json={})
    assert sorted(validation(response)) == ["body.event_id", "body.price_id", "body.seat_id"]
    await assert_untouched(client, event, cart)


@pytest.mark.parametrize(
    "extra",
    [{"quantity": 2}, {"cart_id": "x"}, {"price": "1.00"}, {"seat_id ": 1}],
)
async def test_extra_body_field(
    client: httpx.AsyncClient, event: EventFixture, extra: dict[str, Any]
) -> None:
    cart = new_cart()
    response = await client.post(f"/orders/carts/{cart}", json={**body_for(event), **extra})
    assert validation(response) == [f"body.{name}" for name in extra]
    await assert_untouched(client, event, cart)


async def test_missing_body(client: httpx.AsyncClient, event: EventFixture) -> None:
    cart = new_cart()
    response = await client.post(f"/orders/carts/{cart}")
    assert validation(response) == ["body"]
    await assert_untouched(client, event, cart)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"not json", "application/json"),
        (b'{"event_id": 1, "seat_id": 1, "price_id": 1', "application/json"),
        (b"{'event_id': 1}", "application/json"),
        (b"", "application/json"),
        (b"event_id=1&seat_id=1&price_id=1", "application/x-www-form-urlencoded"),
        (b"event_id=1", "text/plain"),
    ],
)
async def test_body_that_is_not_json(
    client: httpx.AsyncClient,
    event: EventFixture,
    content: bytes,
    content_type: str,
) -> None:
    cart = new_cart()
    response = await client.post(
        f"/orders/carts/{cart}", content=content, headers={"content-type": content_type}
    )
    fields = validation(response)
    assert fields, fields
    assert all(f == "body" or f.startswith("body.") for f in fields), fields
    await assert_untouched(client, event, cart)


async def test_valid_json_sent_as_text_is_refused(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    cart = new_cart()
    response = await client.post(
        f"/orders/carts/{cart}",
        content=json.dumps(body_for(event)).encode(),
        headers={"content-type": "text/plain"},
    )
    assert validation(response) == ["body"]
    await assert_untouched(client, event, cart)


@pytest.mark.parametrize("payload", [[], [1, 2, 3], "seat", 7, None, True])
async def test_body_that_is_not_an_object(
    client: httpx.AsyncClient, event: EventFixture, payload: Any
) -> None:
    cart = new_cart()
    response = await client.post(
        f"/orders/carts/{cart}",
        content=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
    )
    assert validation(response) == ["body"]
    await assert_untouched(client, event, cart)


@pytest.mark.parametrize("field", ["event_id", "seat_id", "price_id"])
@pytest.mark.parametrize("bad", ["one", "", 1.5, None, [], [1], {}, {"id": 1}])
async def test_wrong_json_type_in_body(
    client: httpx.AsyncClient, event: EventFixture, field: str, bad: Any
) -> None:
    cart = new_cart()
    response = await client.post(f"/orders/carts/{cart}", json=body_for(event, **{field: bad}))
    assert validation(response) == [f"body.{field}"]
    await assert_untouched(client, event, cart)


@pytest.mark.parametrize("field", ["event_id", "seat_id", "price_id"])
@pytest.mark.parametrize("bad", [True, False, "1"])
async def test_ids_are_json_integers_not_booleans_or_strings(
    client: httpx.AsyncClient, db: Database, clock: FakeClock, field: str, bad: Any
) -> None:
    """`true` is not the id 1 and `"1"` is not a number: a lax coercion could hold a seat."""
    event = await make_event(db, now=clock.now)
    # Aim every id at 1 so that a coercion of the bad value would hit a real event/seat/level.
    assert event.event_id == 1
    assert event.seat_ids[0] == 1
    assert event.price_ids["Adult"] == 1
    cart = new_cart()
    body = {"event_id": 1, "seat_id": 1, "price_id": 1, field: bad}
    response = await client.post(f"/orders/carts/{cart}", json=body)
    assert validation(response) == [f"body.{field}"]
    await assert_untouched(client, event, cart)


@pytest.mark.parametrize("field", ["event_id", "seat_id", "price_id"])
async def test_a_whole_number_with_a_point_is_an_integer(
    client: httpx.AsyncClient, event: EventFixture, field: str
) -> None:
    """JSON Schema's integer includes 1.0, and some encoders write integers so: the seat is held."""
    body = body_for(event)
    body[field] = float(body[field])
    response = await client.post(f"/orders/carts/{new_cart()}", json=body)
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    assert item[field] == body[field]


async def test_several_bad_fields_are_all_reported(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    cart = new_cart()
    response = await client.post(
        f"/orders/carts/{cart}",
        json={"event_id": "x", "seat_id": 0, "extra": 1},
    )
    assert sorted(validation(response)) == [
        "body.event_id",
        "body.extra",
        "body.price_id",
        "body.seat_id",
    ]
    await assert_untouched(client, event, cart)


async def test_bad_path_and_bad_body_are_reported_together(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    response = await client.post("/orders/carts/nope", json={"event_id": 0})
    fields = validation(response)
    assert "path.cart_id" in fields
    assert "body.event_id" in fields
    await assert_untouched(client, event, new_cart())


async def test_validation_problem_detail_names_the_field(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    response = await client.post(f"/orders/carts/{new_cart()}", json=body_for(event, seat_id=0))
    body = problem(response, 422, "VALIDATION_ERROR")
    assert "body.seat_id" in body["detail"]
    assert body["errors"][0]["field"] == "body.seat_id"


# --- Unknown routes and wrong methods ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/venues/1/nope"),
        ("GET", "/orders/carts"),
        ("POST", "/orders/carts"),
        ("GET", "/orders"),
        ("GET", "/payments"),
        ("GET", "/events/1/sections/1"),
        ("PUT", "/orders/carts/6b1f5c3e-0000-4000-8000-000000000000/book/now"),
    ],
)
async def test_unknown_route_is_a_not_found_problem(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    body = problem(response, 404, "NOT_FOUND")
    assert body["instance"] == path
    assert body["title"] == "Not Found"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/venues", {"GET"}),
        ("POST", "/events", {"GET"}),
        ("PUT", "/events/1/sections/1/seats", {"GET"}),
        ("PATCH", "/orders/carts/6b1f5c3e-0000-4000-8000-000000000000", {"GET", "POST"}),
        ("GET", "/orders/carts/6b1f5c3e-0000-4000-8000-000000000000/book", {"PUT"}),
        ("POST", "/orders/carts/6b1f5c3e-0000-4000-8000-000000000000/book", {"PUT"}),
        ("GET", "/payments/6b1f5c3e-0000-4000-8000-000000000000/complete", {"POST"}),
        ("DELETE", "/health", {"GET"}),
    ],
)
async def test_wrong_method_is_a_method_not_allowed_problem(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 405
    assert body["title"] == "Method Not Allowed"
    assert body["instance"] == path
    assert body["type"].startswith("urn:ticketing:problem:")
    assert body["code"] in {code.value for code in ErrorCode}
    assert body["detail"]
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


# --- Unexpected server errors --------------------------------------------------------------

LEAKS = ("secret", "SELECT", "Traceback", "RuntimeError", "File ", "line ", "sqlalchemy")


def assert_no_leak(response: httpx.Response) -> dict[str, Any]:
    body = problem(response, 500, "INTERNAL_ERROR")
    assert body["title"] == "Internal Server Error"
    assert body["type"] == "urn:ticketing:problem:internal-error"
    assert body["instance"] == response.request.url.path
    assert "errors" not in body
    for leak in LEAKS:
        assert leak.lower() not in response.text.lower(), (leak, response.text)
    return body


async def test_unexpected_exception_is_an_internal_error_without_internals(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret SELECT * FROM x")

    monkeypatch.setattr("rest.routes.catalog.catalog.list_venues", boom)
    with caplog.at_level(logging.ERROR):
        response = await client.get("/venues")
    assert_no_leak(response)
    # Operators still get the whole story in the log.
    assert "secret SELECT * FROM x" in caplog.text


async def test_database_error_is_an_internal_error_without_sql(
    client: httpx.AsyncClient, event: EventFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise sa.exc.ProgrammingError(
            "SELECT secret FROM hidden_table WHERE id = ?", {"id": 1}, Exception("no such table")
        )

    monkeypatch.setattr("rest.routes.catalog.catalog.get_event", broken)
    assert_no_leak(await client.get(f"/events/{event.event_id}"))


async def test_unexpected_exception_in_a_command_changes_nothing(
    client: httpx.AsyncClient, event: EventFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret SELECT * FROM x")

    monkeypatch.setattr("rest.routes.orders.holds.add_seat_to_cart", boom)
    cart = new_cart()
    assert_no_leak(await client.post(f"/orders/carts/{cart}", json=body_for(event)))
    await assert_untouched(client, event, cart)


async def test_app_keeps_serving_after_an_internal_error(
    client: httpx.AsyncClient, event: EventFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret")

    with monkeypatch.context() as patch:
        patch.setattr("rest.routes.catalog.catalog.list_venues", boom)
        assert_no_leak(await client.get("/venues"))
    response = await client.get("/venues")
    assert response.status_code == 200
    assert [v["id"] for v in response.json()] == [event.venue_id]
