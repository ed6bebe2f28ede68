"""GraphQL mutations through HTTP: holds, releases, general admission, booking, payment outcomes,
user errors that change nothing, and agreement with the REST door on state and error codes."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.api import add_seat, book, new_cart, problem, remove_seat, seat_status
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.graphql_client import gql
from tests.invariants import assert_invariants
from ticketing.db import Database, query
from ticketing.models import audit_t, cart_t, event_seat_t, item_t, payment_t, ticket_t


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


CART_FIELDS = """
fragment CartFields on Cart {
  id status expiresAt
  total { amount currency }
  items {
    eventId seatId sectionId rowId holdExpiresAt
    priceOption { id name price { amount currency } }
  }
  payment { id status }
}
"""

PAYMENT_FIELDS = """
fragment PaymentFields on Payment {
  id status createdAt expiresAt finalizedAt
  total { amount currency }
  tickets {
    id eventId eventName startsAt venueName section row number seatId priceName
    price { amount currency }
  }
  cart { id status }
}
"""

USER_ERRORS = "userErrors { code message field }"

ADD_SEAT = (
    """
mutation($input: AddSeatToCartInput!) {
  addSeatToCart(input: $input) { cart { ...CartFields } userErrors { code message field } }
}
"""
    + CART_FIELDS
)

ADD_GA = (
    """
mutation($input: AddGeneralAdmissionToCartInput!) {
  addGeneralAdmissionToCart(input: $input) {
    cart { ...CartFields } userErrors { code message field }
  }
}
"""
    + CART_FIELDS
)

REMOVE_SEAT = (
    """
mutation($input: RemoveSeatFromCartInput!) {
  removeSeatFromCart(input: $input) { cart { ...CartFields } userErrors { code message field } }
}
"""
    + CART_FIELDS
)

BOOK_CART = (
    """
mutation($input: BookCartInput!) {
  bookCart(input: $input) {
    payment { ...PaymentFields } cart { ...CartFields } userErrors { code message field }
  }
}
"""
    + CART_FIELDS
    + PAYMENT_FIELDS
)


def finish_mutation(name: str) -> str:
    """completePayment or failPayment, with the payment, the cart and user errors."""
    assert name in {"completePayment", "failPayment"}
    return (
        "mutation($input: FinishPaymentInput!) { "
        + name
        + "(input: $input) { payment { ...PaymentFields } cart { ...CartFields } "
        + USER_ERRORS
        + " } }"
        + CART_FIELDS
        + PAYMENT_FIELDS
    )


CART_QUERY = "query($id: UUID!) { cart(id: $id) { ...CartFields } }" + CART_FIELDS
PAYMENT_QUERY = "query($id: UUID!) { payment(id: $id) { ...PaymentFields } }" + PAYMENT_FIELDS

SEAT_STATUSES = """
query($id: ID!, $s: ID!) {
  event(id: $id) { section(id: $s) { availableCount seats { id status } } }
}
"""


# --- client steps ---------------------------------------------------------------------------


async def gql_add_seat(
    client: httpx.AsyncClient,
    cart_id: str,
    *,
    event_id: int | str,
    seat_id: int | str,
    price_id: int | str,
) -> dict[str, Any]:
    data = await gql(
        client,
        ADD_SEAT,
        {
            "input": {
                "cartId": cart_id,
                "eventId": str(event_id),
                "seatId": str(seat_id),
                "priceId": str(price_id),
            }
        },
    )
    payload: dict[str, Any] = data["addSeatToCart"]
    return payload


async def hold(
    client: httpx.AsyncClient, cart_id: str, event: EventFixture, seat_id: int, level: str = "Adult"
) -> dict[str, Any]:
    """Hold a seat through GraphQL; assert success; return the cart."""
    payload = await gql_add_seat(
        client, cart_id, event_id=event.event_id, seat_id=seat_id, price_id=event.price_ids[level]
    )
    assert payload["userErrors"] == []
    cart: dict[str, Any] = payload["cart"]
    return cart


async def gql_add_ga(
    client: httpx.AsyncClient,
    cart_id: str,
    event: EventFixture,
    *,
    quantity: int,
    section: str = "Floor",
    level: str = "Adult",
) -> dict[str, Any]:
    data = await gql(
        client,
        ADD_GA,
        {
            "input": {
                "cartId": cart_id,
                "eventId": str(event.event_id),
                "sectionId": str(event.section_ids[section]),
                "priceId": str(event.price_ids[level]),
                "quantity": quantity,
            }
        },
    )
    payload: dict[str, Any] = data["addGeneralAdmissionToCart"]
    return payload


async def gql_remove_seat(
    client: httpx.AsyncClient, cart_id: str, *, event_id: int | str, seat_id: int | str
) -> dict[str, Any]:
    data = await gql(
        client,
        REMOVE_SEAT,
        {"input": {"cartId": cart_id, "eventId": str(event_id), "seatId": str(seat_id)}},
    )
    payload: dict[str, Any] = data["removeSeatFromCart"]
    return payload


async def gql_book(client: httpx.AsyncClient, cart_id: str) -> dict[str, Any]:
    data = await gql(client, BOOK_CART, {"input": {"cartId": cart_id}})
    payload: dict[str, Any] = data["bookCart"]
    return payload


async def gql_finish(client: httpx.AsyncClient, payment_id: str, mutation: str) -> dict[str, Any]:
    data = await gql(client, finish_mutation(mutation), {"input": {"paymentId": payment_id}})
    payload: dict[str, Any] = data[mutation]
    return payload


async def gql_cart(client: httpx.AsyncClient, cart_id: str) -> dict[str, Any]:
    cart: dict[str, Any] = (await gql(client, CART_QUERY, {"id": cart_id}))["cart"]
    return cart


async def gql_payment(client: httpx.AsyncClient, payment_id: str) -> dict[str, Any] | None:
    payment: dict[str, Any] | None = (await gql(client, PAYMENT_QUERY, {"id": payment_id}))[
        "payment"
    ]
    return payment


async def gql_statuses(
    client: httpx.AsyncClient, event: EventFixture, section: str = "Main"
) -> dict[int, str]:
    data = await gql(
        client, SEAT_STATUSES, {"id": str(event.event_id), "s": str(event.section_ids[section])}
    )
    return {int(s["id"]): s["status"] for s in data["event"]["section"]["seats"]}


async def available_count(
    client: httpx.AsyncClient, event: EventFixture, section: str = "Main"
) -> int:
    data = await gql(
        client, SEAT_STATUSES, {"id": str(event.event_id), "s": str(event.section_ids[section])}
    )
    count: int = data["event"]["section"]["availableCount"]
    return count


async def booked(
    client: httpx.AsyncClient, event: EventFixture, seats: list[tuple[int, str]]
) -> dict[str, Any]:
    """A new cart holding `seats` (seat id, level), booked through GraphQL; the payment."""
    cart_id = new_cart()
    for seat_id, level in seats:
        await hold(client, cart_id, event, seat_id, level)
    payload = await gql_book(client, cart_id)
    assert payload["userErrors"] == []
    payment: dict[str, Any] = payload["payment"]
    return payment


def user_error(payload: dict[str, Any], code: str, field: list[str] | None) -> dict[str, Any]:
    """Assert the payload is exactly one user error with this code and field; no result."""
    assert payload["cart"] is None
    assert payload.get("payment") is None
    (error,) = payload["userErrors"]
    assert error["code"] == code, error
    assert error["field"] == field, error
    assert isinstance(error["message"], str)
    assert error["message"].strip()
    found: dict[str, Any] = error
    return found


# --- the database, to show that a refused mutation changed nothing -----------------------------


@query
async def db_state(conn: AsyncConnection) -> dict[str, Any]:
    async def rows(stmt: sa.Select[Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await conn.execute(stmt)]

    return {
        "carts": await rows(
            sa.select(cart_t.c.id, cart_t.c.status, cart_t.c.updated_at).order_by(cart_t.c.id)
        ),
        "items": await rows(
            sa.select(
                item_t.c.id,
                item_t.c.cart_id,
                item_t.c.seat_id,
                item_t.c.active,
                item_t.c.price_level_id,
                item_t.c.payment_id,
            ).order_by(item_t.c.id)
        ),
        "seats": await rows(
            sa.select(
                event_seat_t.c.event_id,
                event_seat_t.c.seat_id,
                event_seat_t.c.status,
                event_seat_t.c.cart_id,
                event_seat_t.c.expires_at,
            ).order_by(event_seat_t.c.event_id, event_seat_t.c.seat_id)
        ),
        "payments": await rows(
            sa.select(payment_t.c.id, payment_t.c.status, payment_t.c.finalized_at).order_by(
                payment_t.c.id
            )
        ),
        "tickets": await rows(sa.select(ticket_t.c.id).order_by(ticket_t.c.id)),
        "audit": await conn.scalar(sa.select(sa.func.count()).select_from(audit_t)),
    }


Refusal = Callable[[], Awaitable[dict[str, Any]]]


async def assert_refused_unchanged(
    db: Database, attempt: Refusal, code: str, field: list[str] | None
) -> dict[str, Any]:
    """Run a mutation expected to fail: one user error, and no row of the inventory changed."""
    before = await db_state(db)
    error = user_error(await attempt(), code, field)
    assert await db_state(db) == before
    return error


# --- addSeatToCart ----------------------------------------------------------------------------


async def test_add_seat_returns_cart_with_item_price_and_total(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    seat = event.seat_ids[0]
    payload = await gql_add_seat(
        client, cart_id, event_id=event.event_id, seat_id=seat, price_id=event.price_ids["VIP"]
    )
    assert payload["userErrors"] == []
    cart = payload["cart"]
    assert cart["id"] == cart_id
    assert cart["status"] == "OPEN"
    assert cart["total"] == {"amount": "99.50", "currency": "EUR"}
    assert cart["payment"] is None
    (item,) = cart["items"]
    assert item["eventId"] == str(event.event_id)
    assert item["seatId"] == str(seat)
    assert item["sectionId"] == str(event.section_ids["Main"])
    assert item["rowId"] is not None
    assert item["priceOption"] == {
        "id": str(event.price_ids["VIP"]),
        "name": "VIP",
        "price": {"amount": "99.50", "currency": "EUR"},
    }
    deadline = clock.now + timedelta(seconds=900)
    assert ts(item["holdExpiresAt"]) == deadline
    assert ts(cart["expiresAt"]) == deadline

    assert (await gql_statuses(client, event))[seat] == "HELD"
    assert await available_count(client, event) == 19
    assert await gql_cart(client, cart_id) == cart
    await assert_invariants(db)


async def test_add_seats_totals_and_earliest_deadline(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0], "Adult")
    first_deadline = clock.now + timedelta(seconds=900)
    clock.advance(seconds=60)
    cart = await hold(client, cart_id, event, event.seat_ids[1], "Child")
    assert cart["total"] == {"amount": "60.00", "currency": "EUR"}
    assert [i["seatId"] for i in cart["items"]] == [str(s) for s in event.seat_ids[:2]]
    assert ts(cart["expiresAt"]) == first_deadline


async def test_add_held_seat_again_changes_its_price_only(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock, db: Database
) -> None:
    cart_id = new_cart()
    seat = event.seat_ids[0]
    first = await hold(client, cart_id, event, seat, "Adult")
    clock.advance(seconds=30)
    again = await hold(client, cart_id, event, seat, "Child")
    (item,) = again["items"]
    assert item["priceOption"]["name"] == "Child"
    assert again["total"]["amount"] == "20.00"
    assert item["holdExpiresAt"] == first["items"][0]["holdExpiresAt"]
    await assert_invariants(db)


async def test_seat_held_by_another_cart_is_not_available(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    seat = event.seat_ids[3]
    owner = new_cart()
    owned = await hold(client, owner, event, seat)
    loser = new_cart()
    error = await assert_refused_unchanged(
        db,
        lambda: gql_add_seat(
            client,
            loser,
            event_id=event.event_id,
            seat_id=seat,
            price_id=event.price_ids["Adult"],
        ),
        "SEAT_NOT_AVAILABLE",
        ["input", "seatId"],
    )
    assert str(seat) in error["message"]
    loser_cart = await gql_cart(client, loser)
    assert loser_cart["items"] == []
    assert loser_cart["status"] == "OPEN"
    assert await gql_cart(client, owner) == owned
    await assert_invariants(db)


@pytest.mark.parametrize(
    ("section", "level"),
    [("Floor", "Child"), ("Closed", "Adult"), ("Main", "unknown")],
)
async def test_price_not_offered(
    client: httpx.AsyncClient,
    event: EventFixture,
    db: Database,
    section: str,
    level: str,
) -> None:
    seat = {
        "Floor": event.ga_seat_ids[0],
        "Main": event.seat_ids[0],
    }.get(section)
    if seat is None:
        statuses = await gql_statuses(client, event, "Closed")
        seat = min(statuses)
    price_id = event.price_ids.get(level, 999_999)
    cart_id = new_cart()
    await assert_refused_unchanged(
        db,
        lambda: gql_add_seat(
            client, cart_id, event_id=event.event_id, seat_id=seat, price_id=price_id
        ),
        "PRICE_NOT_OFFERED",
        ["input", "priceId"],
    )


async def test_price_not_offered_leaves_an_open_cart_as_it_was(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    before = await hold(client, cart_id, event, event.seat_ids[0])
    await assert_refused_unchanged(
        db,
        lambda: gql_add_seat(
            client,
            cart_id,
            event_id=event.event_id,
            seat_id=event.ga_seat_ids[0],
            price_id=event.price_ids["VIP"],
        ),
        "PRICE_NOT_OFFERED",
        ["input", "priceId"],
    )
    assert await gql_cart(client, cart_id) == before


@pytest.mark.parametrize(
    ("what", "field"),
    [("event", ["input", "eventId"]), ("seat", ["input", "seatId"])],
)
async def test_unknown_event_or_seat_is_not_found(
    client: httpx.AsyncClient,
    event: EventFixture,
    db: Database,
    clock: FakeClock,
    what: str,
    field: list[str],
) -> None:
    other = await make_event(db, now=clock.now, name="Other")
    ids: dict[str, Any] = {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[0],
        "price_id": event.price_ids["Adult"],
    }
    if what == "event":
        ids["event_id"] = 999_999
    else:
        # A seat of another venue is not a seat of this event.
        ids["seat_id"] = other.seat_ids[0]
    cart_id = new_cart()
    await assert_refused_unchanged(
        db, lambda: gql_add_seat(client, cart_id, **ids), "NOT_FOUND", field
    )


@pytest.mark.parametrize("name", ["eventId", "seatId", "priceId"])
@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "", "2147483648"])
async def test_id_that_cannot_exist_is_a_validation_error(
    client: httpx.AsyncClient, event: EventFixture, db: Database, name: str, value: str
) -> None:
    ids: dict[str, Any] = {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[0],
        "price_id": event.price_ids["Adult"],
    }
    ids[{"eventId": "event_id", "seatId": "seat_id", "priceId": "price_id"}[name]] = value
    cart_id = new_cart()
    await assert_refused_unchanged(
        db,
        lambda: gql_add_seat(client, cart_id, **ids),
        "VALIDATION_ERROR",
        ["input", name],
    )


async def test_cart_limit(client: httpx.AsyncClient, event: EventFixture, db: Database) -> None:
    cart_id = new_cart()
    for seat in event.seat_ids[:10]:  # settings: max_seats_per_cart=10
        full = await hold(client, cart_id, event, seat)
    assert len(full["items"]) == 10
    eleventh = event.seat_ids[10]
    error = await assert_refused_unchanged(
        db,
        lambda: gql_add_seat(
            client,
            cart_id,
            event_id=event.event_id,
            seat_id=eleventh,
            price_id=event.price_ids["Adult"],
        ),
        "CART_LIMIT",
        None,
    )
    assert "10" in error["message"]
    assert await gql_cart(client, cart_id) == full
    assert (await gql_statuses(client, event))[eleventh] == "AVAILABLE"
    # Releasing one makes room again.
    released = await gql_remove_seat(
        client, cart_id, event_id=event.event_id, seat_id=event.seat_ids[0]
    )
    assert released["userErrors"] == []
    assert len((await hold(client, cart_id, event, eleventh))["items"]) == 10
    await assert_invariants(db)


async def test_booked_cart_is_not_open(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0])
    assert (await gql_book(client, cart_id))["userErrors"] == []
    error = await assert_refused_unchanged(
        db,
        lambda: gql_add_seat(
            client,
            cart_id,
            event_id=event.event_id,
            seat_id=event.seat_ids[1],
            price_id=event.price_ids["Adult"],
        ),
        "CART_NOT_OPEN",
        ["input", "cartId"],
    )
    assert "booked" in error["message"]
    await assert_refused_unchanged(
        db,
        lambda: gql_remove_seat(
            client, cart_id, event_id=event.event_id, seat_id=event.seat_ids[0]
        ),
        "CART_NOT_OPEN",
        ["input", "cartId"],
    )
    await assert_refused_unchanged(
        db,
        lambda: gql_add_ga(client, cart_id, event, quantity=1),
        "CART_NOT_OPEN",
        ["input", "cartId"],
    )
    await assert_invariants(db)


async def test_currency_mismatch(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    dollars = await make_event(db, now=clock.now, name="Dollar Hall", currency="USD")
    cart_id = new_cart()
    before = await hold(client, cart_id, event, event.seat_ids[0])
    await assert_refused_unchanged(
        db,
        lambda: gql_add_seat(
            client,
            cart_id,
            event_id=dollars.event_id,
            seat_id=dollars.seat_ids[0],
            price_id=dollars.price_ids["Adult"],
        ),
        "CURRENCY_MISMATCH",
        ["input", "eventId"],
    )
    assert await gql_cart(client, cart_id) == before
    # A cart of another event in the same currency is fine; a USD cart prices in USD.
    usd = await hold(client, new_cart(), dollars, dollars.seat_ids[0], "VIP")
    assert usd["total"] == {"amount": "99.50", "currency": "USD"}


async def test_mixed_event_cart_in_one_currency_totals_both(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    other = await make_event(db, now=clock.now, name="Other")
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0], "VIP")
    cart = await hold(client, cart_id, other, other.seat_ids[0], "Child")
    assert cart["total"] == {"amount": "119.50", "currency": "EUR"}
    assert {i["eventId"] for i in cart["items"]} == {str(event.event_id), str(other.event_id)}


# --- removeSeatFromCart -----------------------------------------------------------------------


async def test_remove_seat_releases_it(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    kept, dropped = event.seat_ids[:2]
    await hold(client, cart_id, event, kept, "Adult")
    await hold(client, cart_id, event, dropped, "VIP")
    payload = await gql_remove_seat(client, cart_id, event_id=event.event_id, seat_id=dropped)
    assert payload["userErrors"] == []
    cart = payload["cart"]
    assert [i["seatId"] for i in cart["items"]] == [str(kept)]
    assert cart["total"] == {"amount": "40.00", "currency": "EUR"}
    statuses = await gql_statuses(client, event)
    assert statuses[dropped] == "AVAILABLE"
    assert statuses[kept] == "HELD"
    # Anyone can take the released seat now.
    await hold(client, new_cart(), event, dropped)
    await assert_invariants(db)


async def test_removing_the_last_seat_leaves_an_empty_open_cart(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0])
    payload = await gql_remove_seat(
        client, cart_id, event_id=event.event_id, seat_id=event.seat_ids[0]
    )
    assert payload["userErrors"] == []
    assert payload["cart"]["items"] == []
    assert payload["cart"]["status"] == "OPEN"
    assert payload["cart"]["total"] == {"amount": "0.00", "currency": "XXX"}
    assert payload["cart"]["expiresAt"] is None


async def test_remove_seat_not_in_the_cart_is_not_found(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    owner = new_cart()
    seat = event.seat_ids[0]
    owned = await hold(client, owner, event, seat)
    intruder = new_cart()
    await hold(client, intruder, event, event.seat_ids[1])
    # Someone else's seat, an available seat, an unknown seat: none is in the intruder's cart.
    for target in (seat, event.seat_ids[5], 999_999):
        error = await assert_refused_unchanged(
            db,
            functools.partial(
                gql_remove_seat, client, intruder, event_id=event.event_id, seat_id=target
            ),
            "NOT_FOUND",
            ["input", "seatId"],
        )
        assert str(target) in error["message"]
    assert await gql_cart(client, owner) == owned
    assert (await gql_statuses(client, event))[seat] == "HELD"
    await assert_invariants(db)


async def test_remove_seat_from_an_unused_cart_is_not_found(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    await hold(client, new_cart(), event, event.seat_ids[0])
    await assert_refused_unchanged(
        db,
        lambda: gql_remove_seat(
            client, new_cart(), event_id=event.event_id, seat_id=event.seat_ids[0]
        ),
        "NOT_FOUND",
        ["input", "cartId"],
    )


async def test_remove_seat_with_an_impossible_id_is_a_validation_error(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0])
    await assert_refused_unchanged(
        db,
        lambda: gql_remove_seat(client, cart_id, event_id=event.event_id, seat_id="seat-1"),
        "VALIDATION_ERROR",
        ["input", "seatId"],
    )
    await assert_refused_unchanged(
        db,
        lambda: gql_remove_seat(client, cart_id, event_id="0", seat_id=event.seat_ids[0]),
        "VALIDATION_ERROR",
        ["input", "eventId"],
    )


async def test_removing_a_lapsed_hold_is_not_found(
    client: httpx.AsyncClient, event: EventFixture, clock: FakeClock
) -> None:
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0])
    clock.advance(seconds=901)
    payload = await gql_remove_seat(
        client, cart_id, event_id=event.event_id, seat_id=event.seat_ids[0]
    )
    user_error(payload, "NOT_FOUND", ["input", "seatId"])
    assert (await gql_cart(client, cart_id))["items"] == []


# --- addGeneralAdmissionToCart ------------------------------------------------------------------


async def test_general_admission_holds_quantity_places(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    cart_id = new_cart()
    payload = await gql_add_ga(client, cart_id, event, quantity=3)
    assert payload["userErrors"] == []
    cart = payload["cart"]
    assert cart["status"] == "OPEN"
    assert cart["total"] == {"amount": "90.00", "currency": "EUR"}
    assert len(cart["items"]) == 3
    for item in cart["items"]:
        assert item["sectionId"] == str(event.section_ids["Floor"])
        assert item["rowId"] is None
        assert int(item["seatId"]) in event.ga_seat_ids
        assert item["priceOption"] == {
            "id": str(event.price_ids["Adult"]),
            "name": "Adult",
            "price": {"amount": "30.00", "currency": "EUR"},
        }
        assert ts(item["holdExpiresAt"]) == clock.now + timedelta(seconds=900)
    assert len({i["seatId"] for i in cart["items"]}) == 3
    assert await available_count(client, event, "Floor") == 2
    statuses = await gql_statuses(client, event, "Floor")
    assert sorted(s for s, st in statuses.items() if st == "HELD") == sorted(
        int(i["seatId"]) for i in cart["items"]
    )
    # More places in the same cart add up.
    more = await gql_add_ga(client, cart_id, event, quantity=2)
    assert more["userErrors"] == []
    assert len(more["cart"]["items"]) == 5
    assert more["cart"]["total"]["amount"] == "150.00"
    assert await available_count(client, event, "Floor") == 0
    await assert_invariants(db)


async def test_general_admission_is_all_or_nothing(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    # Five places: asking six holds none.
    error = await assert_refused_unchanged(
        db,
        lambda: gql_add_ga(client, new_cart(), event, quantity=6),
        "SEAT_NOT_AVAILABLE",
        ["input", "quantity"],
    )
    assert error["message"]
    assert await available_count(client, event, "Floor") == 5
    # Three taken: asking three more holds none; asking the two left works.
    first = await gql_add_ga(client, new_cart(), event, quantity=3)
    assert first["userErrors"] == []
    cart_id = new_cart()
    await assert_refused_unchanged(
        db,
        lambda: gql_add_ga(client, cart_id, event, quantity=3),
        "SEAT_NOT_AVAILABLE",
        ["input", "quantity"],
    )
    assert (await gql_cart(client, cart_id))["items"] == []
    assert await available_count(client, event, "Floor") == 2
    rest = await gql_add_ga(client, cart_id, event, quantity=2)
    assert rest["userErrors"] == []
    assert await available_count(client, event, "Floor") == 0
    await assert_invariants(db)


@pytest.mark.parametrize("quantity", [0, -1])
async def test_general_admission_quantity_below_one_is_a_validation_error(
    client: httpx.AsyncClient, event: EventFixture, db: Database, quantity: int
) -> None:
    await assert_refused_unchanged(
        db,
        lambda: gql_add_ga(client, new_cart(), event, quantity=quantity),
        "VALIDATION_ERROR",
        ["input", "quantity"],
    )


async def test_general_admission_of_a_seated_section_is_a_validation_error(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    error = await assert_refused_unchanged(
        db,
        lambda: gql_add_ga(client, new_cart(), event, quantity=1, section="Main"),
        "VALIDATION_ERROR",
        ["input", "sectionId"],
    )
    assert str(event.section_ids["Main"]) in error["message"]
    assert await available_count(client, event, "Main") == 20


async def test_general_admission_price_not_offered(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    await assert_refused_unchanged(
        db,
        lambda: gql_add_ga(client, new_cart(), event, quantity=1, level="VIP"),
        "PRICE_NOT_OFFERED",
        ["input", "priceId"],
    )


async def test_general_admission_over_the_cart_limit(
    client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    big = await make_event(db, now=clock.now, ga_capacity=15)
    cart_id = new_cart()
    await hold(client, cart_id, big, big.seat_ids[0])
    await assert_refused_unchanged(
        db,
        lambda: gql_add_ga(client, cart_id, big, quantity=10),
        "CART_LIMIT",
        None,
    )
    assert len((await gql_add_ga(client, cart_id, big, quantity=9))["cart"]["items"]) == 10


async def test_general_admission_unknown_section_or_event(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    def attempt(event_id: str, section_id: str) -> Refusal:
        return lambda: gql(
            client,
            ADD_GA,
            {
                "input": {
                    "cartId": new_cart(),
                    "eventId": event_id,
                    "sectionId": section_id,
                    "priceId": str(event.price_ids["Adult"]),
                    "quantity": 1,
                }
            },
        )

    async def payload(event_id: str, section_id: str) -> dict[str, Any]:
        found: dict[str, Any] = (await attempt(event_id, section_id)())["addGeneralAdmissionToCart"]
        return found

    floor = str(event.section_ids["Floor"])
    event_id = str(event.event_id)
    await assert_refused_unchanged(
        db, lambda: payload(event_id, "999999"), "NOT_FOUND", ["input", "sectionId"]
    )
    await assert_refused_unchanged(
        db, lambda: payload("999999", floor), "NOT_FOUND", ["input", "eventId"]
    )
    await assert_refused_unchanged(
        db, lambda: payload(event_id, "x"), "VALIDATION_ERROR", ["input", "sectionId"]
    )


# --- bookCart ---------------------------------------------------------------------------------


async def test_book_cart_creates_a_pending_payment(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    cart_id = new_cart()
    seats = event.seat_ids[:2]
    await hold(client, cart_id, event, seats[0], "VIP")
    await hold(client, cart_id, event, seats[1], "Child")
    payload = await gql_book(client, cart_id)
    assert payload["userErrors"] == []
    payment = payload["payment"]
    uuid.UUID(payment["id"])
    assert payment["status"] == "PENDING"
    assert payment["total"] == {"amount": "119.50", "currency": "EUR"}
    assert ts(payment["createdAt"]) == clock.now
    assert ts(payment["expiresAt"]) == clock.now + timedelta(seconds=900)
    assert payment["finalizedAt"] is None
    assert payment["tickets"] == []
    assert payment["cart"] == {"id": cart_id, "status": "BOOKED"}

    cart = payload["cart"]
    assert cart["id"] == cart_id
    assert cart["status"] == "BOOKED"
    assert cart["payment"] == {"id": payment["id"], "status": "PENDING"}
    assert cart["total"] == payment["total"]
    assert ts(cart["expiresAt"]) == ts(payment["expiresAt"])
    assert all(item["holdExpiresAt"] is None for item in cart["items"])
    statuses = await gql_statuses(client, event)
    assert [statuses[s] for s in seats] == ["BOOKED", "BOOKED"]
    assert await gql_cart(client, cart_id) == cart
    assert await gql_payment(client, payment["id"]) == payment
    await assert_invariants(db)


async def test_book_cart_again_returns_the_same_payment(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0])
    first = await gql_book(client, cart_id)
    clock.advance(seconds=10)
    before = await db_state(db)
    again = await gql_book(client, cart_id)
    assert again["userErrors"] == []
    assert again["payment"]["id"] == first["payment"]["id"]
    assert again["payment"]["createdAt"] == first["payment"]["createdAt"]
    assert again["cart"]["status"] == "BOOKED"
    assert await db_state(db) == before


async def test_book_empty_cart(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    # An unused cart, and a cart whose only hold lapsed.
    await assert_refused_unchanged(
        db, lambda: gql_book(client, new_cart()), "CART_EMPTY", ["input", "cartId"]
    )
    lapsed = new_cart()
    await hold(client, lapsed, event, event.seat_ids[0])
    clock.advance(seconds=901)
    user_error(await gql_book(client, lapsed), "CART_EMPTY", ["input", "cartId"])
    assert (await gql_cart(client, lapsed))["status"] == "OPEN"


# --- completePayment / failPayment ----------------------------------------------------------------


async def test_complete_payment_issues_tickets_and_sells_seats(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    seats = event.seat_ids[:2]
    payment = await booked(client, event, [(seats[0], "Adult"), (seats[1], "VIP")])
    clock.advance(seconds=60)
    payload = await gql_finish(client, payment["id"], "completePayment")
    assert payload["userErrors"] == []
    done = payload["payment"]
    assert done["id"] == payment["id"]
    assert done["status"] == "COMPLETED"
    assert ts(done["finalizedAt"]) == clock.now
    assert done["total"] == {"amount": "139.50", "currency": "EUR"}
    tickets = done["tickets"]
    assert [t["seatId"] for t in tickets] == [str(s) for s in seats]
    assert len({t["id"] for t in tickets}) == 2
    first = tickets[0]
    assert first["eventId"] == str(event.event_id)
    assert first["eventName"] == "Test Hall Night"
    assert first["venueName"] == "Test Hall"
    assert first["section"] == "Main"
    assert (first["row"], first["number"]) == ("A", "1")
    assert first["priceName"] == "Adult"
    assert first["price"] == {"amount": "40.00", "currency": "EUR"}
    assert tickets[1]["price"] == {"amount": "99.50", "currency": "EUR"}
    assert ts(first["startsAt"]) == ts(payment["createdAt"]) + timedelta(days=10)

    cart = payload["cart"]
    assert cart["status"] == "PAID"
    assert cart["expiresAt"] is None
    assert done["cart"]["status"] == "PAID"
    statuses = await gql_statuses(client, event)
    assert [statuses[s] for s in seats] == ["SOLD", "SOLD"]
    assert await gql_payment(client, payment["id"]) == done

    # Repeating the outcome returns the same payment and tickets, and changes nothing.
    before = await db_state(db)
    clock.advance(seconds=60)
    again = await gql_finish(client, payment["id"], "completePayment")
    assert again["userErrors"] == []
    assert again["payment"] == done
    assert await db_state(db) == before
    await assert_invariants(db)


async def test_fail_payment_releases_seats(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    seats = event.seat_ids[:2]
    payment = await booked(client, event, [(s, "Adult") for s in seats])
    payload = await gql_finish(client, payment["id"], "failPayment")
    assert payload["userErrors"] == []
    failed = payload["payment"]
    assert failed["status"] == "FAILED"
    assert failed["tickets"] == []
    assert ts(failed["finalizedAt"]) == clock.now
    assert payload["cart"]["status"] == "FAILED"
    statuses = await gql_statuses(client, event)
    assert [statuses[s] for s in seats] == ["AVAILABLE", "AVAILABLE"]
    assert await available_count(client, event) == 20

    before = await db_state(db)
    again = await gql_finish(client, payment["id"], "failPayment")
    assert again["userErrors"] == []
    assert again["payment"] == failed
    assert await db_state(db) == before
    # The released seats are on sale again.
    await hold(client, new_cart(), event, seats[0])
    await assert_invariants(db)


@pytest.mark.parametrize(
    ("first", "then", "final_status"),
    [
        ("completePayment", "failPayment", "COMPLETED"),
        ("failPayment", "completePayment", "FAILED"),
    ],
)
async def test_opposite_outcome_is_payment_finalized(
    client: httpx.AsyncClient,
    event: EventFixture,
    db: Database,
    first: str,
    then: str,
    final_status: str,
) -> None:
    seat = event.seat_ids[0]
    payment = await booked(client, event, [(seat, "Adult")])
    assert (await gql_finish(client, payment["id"], first))["userErrors"] == []
    error = await assert_refused_unchanged(
        db,
        lambda: gql_finish(client, payment["id"], then),
        "PAYMENT_FINALIZED",
        None,
    )
    assert payment["id"] in error["message"]
    after = await gql_payment(client, payment["id"])
    assert after is not None
    assert after["status"] == final_status
    expected_seat = "SOLD" if final_status == "COMPLETED" else "AVAILABLE"
    assert (await gql_statuses(client, event))[seat] == expected_seat
    await assert_invariants(db)


@pytest.mark.parametrize("mutation", ["completePayment", "failPayment"])
async def test_expired_payment(
    client: httpx.AsyncClient,
    event: EventFixture,
    db: Database,
    clock: FakeClock,
    mutation: str,
) -> None:
    seat = event.seat_ids[0]
    payment = await booked(client, event, [(seat, "Adult")])
    clock.advance(seconds=901)
    error = await assert_refused_unchanged(
        db,
        lambda: gql_finish(client, payment["id"], mutation),
        "PAYMENT_EXPIRED",
        None,
    )
    assert payment["id"] in error["message"]
    expired = await gql_payment(client, payment["id"])
    assert expired is not None
    assert expired["status"] == "EXPIRED"
    assert expired["tickets"] == []
    assert ts(expired["finalizedAt"]) == ts(payment["expiresAt"])
    cart = await gql_cart(client, payment["cart"]["id"])
    assert cart["status"] == "EXPIRED"
    assert cart["expiresAt"] is None
    assert (await gql_statuses(client, event))[seat] == "AVAILABLE"
    await hold(client, new_cart(), event, seat)
    await assert_invariants(db)


@pytest.mark.parametrize("mutation", ["completePayment", "failPayment"])
async def test_unknown_payment_is_not_found(
    client: httpx.AsyncClient, db: Database, mutation: str
) -> None:
    await assert_refused_unchanged(
        db,
        lambda: gql_finish(client, str(uuid.uuid4()), mutation),
        "NOT_FOUND",
        ["input", "paymentId"],
    )


async def test_malformed_uuid_input_is_a_graphql_error_not_a_crash(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        json={
            "query": finish_mutation("completePayment"),
            "variables": {"input": {"paymentId": "not-a-uuid"}},
        },
    )
    assert response.status_code < 500
    body = response.json()
    assert body.get("data") is None
    assert body["errors"]


# --- the two doors agree --------------------------------------------------------------------


async def test_seat_held_through_graphql_is_held_through_rest(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    seat = event.seat_ids[2]
    cart = await hold(client, cart_id, event, seat, "VIP")
    status = await seat_status(
        client, event_id=event.event_id, section_id=event.section_ids["Main"], seat_id=seat
    )
    assert status == "held"
    response = await client.get(f"/orders/carts/{cart_id}")
    assert response.status_code == 200
    rest = response.json()
    assert rest["status"] == "open"
    assert rest["total_amount"] == cart["total"]["amount"] == "99.50"
    assert rest["currency"] == "EUR"
    (item,) = rest["items"]
    assert item["seat_id"] == seat
    assert item["event_id"] == event.event_id
    assert item["price_id"] == event.price_ids["VIP"]
    assert item["amount"] == "99.50"
    assert ts(item["hold_expires_at"]) == ts(cart["items"][0]["holdExpiresAt"])
    # And REST can book and release what GraphQL held.
    booking = await book(client, cart_id)
    assert booking.status_code == 200, booking.text
    assert (await gql_cart(client, cart_id))["payment"]["id"] == booking.json()["payment_id"]
    await assert_invariants(db)


async def test_seat_held_through_rest_is_held_through_graphql(
    client: httpx.AsyncClient, event: EventFixture, db: Database
) -> None:
    cart_id = new_cart()
    seat = event.seat_ids[0]
    response = await add_seat(
        client, cart_id, event_id=event.event_id, seat_id=seat, price_id=event.price_ids["Child"]
    )
    assert response.status_code == 200, response.text
    assert (await gql_statuses(client, event))[seat] == "HELD"
    cart = await gql_cart(client, cart_id)
    assert cart["status"] == "OPEN"
    assert [(i["seatId"], i["priceOption"]["name"]) for i in cart["items"]] == [
        (str(seat), "Child")
    ]
    assert cart["total"] == {"amount": response.json()["total_amount"], "currency": "EUR"}

    booking = await book(client, cart_id)
    assert booking.status_code == 200, booking.text
    payment_id = booking.json()["payment_id"]
    cart = await gql_cart(client, cart_id)
    assert cart["status"] == "BOOKED"
    assert cart["payment"] == {"id": payment_id, "status": "PENDING"}
    assert (await gql_statuses(client, event))[seat] == "BOOKED"
    # GraphQL can finish what REST booked; REST sees the result.
    assert (await gql_finish(client, payment_id, "completePayment"))["userErrors"] == []
    rest_payment = (await client.get(f"/payments/{payment_id}")).json()
    assert rest_payment["status"] == "completed"
    assert (await client.get(f"/orders/carts/{cart_id}")).json()["status"] == "paid"
    await assert_invariants(db)


async def test_seat_removed_through_rest_is_gone_through_graphql(
    client: httpx.AsyncClient, event: EventFixture
) -> None:
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0])
    response = await remove_seat(
        client, cart_id, event_id=event.event_id, seat_id=event.seat_ids[0]
    )
    assert response.status_code == 200, response.text
    assert (await gql_cart(client, cart_id))["items"] == []
    assert (await gql_statuses(client, event))[event.seat_ids[0]] == "AVAILABLE"


Scenario = Callable[
    [httpx.AsyncClient, EventFixture, Database, FakeClock],
    Awaitable[tuple[httpx.Response, dict[str, Any]]],
]


async def _seat_taken(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    seat = event.seat_ids[0]
    await hold(client, new_cart(), event, seat)
    ids = {"event_id": event.event_id, "seat_id": seat, "price_id": event.price_ids["Adult"]}
    return (
        await add_seat(client, new_cart(), **ids),
        await gql_add_seat(client, new_cart(), **ids),
    )


async def _price_not_offered(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    ids = {
        "event_id": event.event_id,
        "seat_id": event.ga_seat_ids[0],
        "price_id": event.price_ids["VIP"],
    }
    return (
        await add_seat(client, new_cart(), **ids),
        await gql_add_seat(client, new_cart(), **ids),
    )


async def _unknown_seat(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    ids = {"event_id": event.event_id, "seat_id": 999_999, "price_id": event.price_ids["Adult"]}
    return (
        await add_seat(client, new_cart(), **ids),
        await gql_add_seat(client, new_cart(), **ids),
    )


async def _unknown_event(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    ids = {"event_id": 999_999, "seat_id": event.seat_ids[0], "price_id": event.price_ids["Adult"]}
    return (
        await add_seat(client, new_cart(), **ids),
        await gql_add_seat(client, new_cart(), **ids),
    )


async def _cart_limit(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    cart_id = new_cart()
    for seat in event.seat_ids[:10]:
        await hold(client, cart_id, event, seat)
    ids = {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[10],
        "price_id": event.price_ids["Adult"],
    }
    return await add_seat(client, cart_id, **ids), await gql_add_seat(client, cart_id, **ids)


async def _cart_not_open(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0])
    assert (await gql_book(client, cart_id))["userErrors"] == []
    ids = {
        "event_id": event.event_id,
        "seat_id": event.seat_ids[1],
        "price_id": event.price_ids["Adult"],
    }
    return await add_seat(client, cart_id, **ids), await gql_add_seat(client, cart_id, **ids)


async def _currency_mismatch(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    dollars = await make_event(db, now=clock.now, name="Dollar Hall", currency="USD")
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0])
    ids = {
        "event_id": dollars.event_id,
        "seat_id": dollars.seat_ids[0],
        "price_id": dollars.price_ids["Adult"],
    }
    return await add_seat(client, cart_id, **ids), await gql_add_seat(client, cart_id, **ids)


async def _remove_not_in_cart(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    cart_id = new_cart()
    await hold(client, cart_id, event, event.seat_ids[0])
    seat = event.seat_ids[1]
    return (
        await remove_seat(client, cart_id, event_id=event.event_id, seat_id=seat),
        await gql_remove_seat(client, cart_id, event_id=event.event_id, seat_id=seat),
    )


async def _book_empty(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    cart_id = new_cart()
    return await book(client, cart_id), await gql_book(client, cart_id)


async def _ga_too_many(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    body = {
        "event_id": event.event_id,
        "section_id": event.section_ids["Floor"],
        "price_id": event.price_ids["Adult"],
        "quantity": 6,
    }
    rest = await client.post(f"/orders/carts/{new_cart()}/general-admission", json=body)
    return rest, await gql_add_ga(client, new_cart(), event, quantity=6)


async def _ga_seated_section(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    body = {
        "event_id": event.event_id,
        "section_id": event.section_ids["Main"],
        "price_id": event.price_ids["Adult"],
        "quantity": 1,
    }
    rest = await client.post(f"/orders/carts/{new_cart()}/general-admission", json=body)
    return rest, await gql_add_ga(client, new_cart(), event, quantity=1, section="Main")


async def _payment_finalized(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    payment = await booked(client, event, [(event.seat_ids[0], "Adult")])
    assert (await gql_finish(client, payment["id"], "completePayment"))["userErrors"] == []
    return (
        await client.post(f"/payments/{payment['id']}/failed"),
        await gql_finish(client, payment["id"], "failPayment"),
    )


async def _payment_expired(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    payment = await booked(client, event, [(event.seat_ids[0], "Adult")])
    clock.advance(seconds=901)
    return (
        await client.post(f"/payments/{payment['id']}/complete"),
        await gql_finish(client, payment["id"], "completePayment"),
    )


async def _payment_unknown(
    client: httpx.AsyncClient, event: EventFixture, db: Database, clock: FakeClock
) -> tuple[httpx.Response, dict[str, Any]]:
    payment_id = str(uuid.uuid4())
    return (
        await client.post(f"/payments/{payment_id}/complete"),
        await gql_finish(client, payment_id, "completePayment"),
    )


@pytest.mark.parametrize(
    ("scenario", "status", "code"),
    [
        (_seat_taken, 409, "SEAT_NOT_AVAILABLE"),
        (_price_not_offered, 422, "PRICE_NOT_OFFERED"),
        (_unknown_seat, 404, "NOT_FOUND"),
        (_unknown_event, 404, "NOT_FOUND"),
        (_cart_limit, 409, "CART_LIMIT"),
        (_cart_not_open, 409, "CART_NOT_OPEN"),
        (_currency_mismatch, 409, "CURRENCY_MISMATCH"),
        (_remove_not_in_cart, 404, "NOT_FOUND"),
        (_book_empty, 409, "CART_EMPTY"),
        (_ga_too_many, 409, "SEAT_NOT_AVAILABLE"),
        (_ga_seated_section, 422, "VALIDATION_ERROR"),
        (_payment_finalized, 409, "PAYMENT_FINALIZED"),
        (_payment_expired, 409, "PAYMENT_EXPIRED"),
        (_payment_unknown, 404, "NOT_FOUND"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
async def test_error_codes_are_the_same_through_both_doors(
    client: httpx.AsyncClient,
    event: EventFixture,
    db: Database,
    clock: FakeClock,
    scenario: Scenario,
    status: int,
    code: str,
) -> None:
    rest, payload = await scenario(client, event, db, clock)
    body = problem(rest, status, code)
    (error,) = payload["userErrors"]
    assert error["code"] == body["code"] == code
    await assert_invariants(db)
