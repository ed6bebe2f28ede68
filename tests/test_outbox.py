"""The outbox: each change that tells someone writes its messages in its own transaction, so a
change that rolls back leaves none and a committed one always has them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.accounts import signed_in
from tests.conftest import FakeClock
from tests.factories import MANAGER, EventFixture, make_event
from tests.service.steps import CARTS, PAYMENTS
from ticketing.accounts import accounts
from ticketing.db import Database, query
from ticketing.domain import Principal
from ticketing.management.commands import cancel_event
from ticketing.models import outbox_t
from ticketing.notifications import webhooks
from ticketing.orders.booking import book_cart
from ticketing.orders.holds import add_seat_to_cart
from ticketing.payments import payments
from ticketing.payments.payments import complete_payment, fail_payment
from ticketing.payments.sweep import release_lapsed
from ticketing.settings import Settings, WebhookPolicy


@pytest.fixture
def db(own_db: Database) -> Database:
    """These tests need no HTTP app: the service's database alone (conftest's `event` too)."""
    return own_db


async def _customer(db: Database, settings: Settings, clock: FakeClock, name: str) -> Principal:
    user = await accounts.register(
        db,
        email=f"{name}@example.com",
        password="correct horse battery",
        now=clock.now,
        policy=settings.auth,
        client=None,
    )
    return Principal(user_id=user.id, email=user.email, role=user.role)


@query
async def outbox(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(
            outbox_t.c.kind,
            outbox_t.c.channel,
            outbox_t.c.recipient,
            outbox_t.c.event_id,
            outbox_t.c.payload,
            outbox_t.c.status,
        ).order_by(outbox_t.c.id)
    )
    return [{**row._asdict(), "payload": json.loads(row.payload)} for row in rows]


async def hold(
    db: Database,
    event: EventFixture,
    cart: uuid.UUID,
    seat: int,
    *,
    now: datetime,
    caller: Principal | None = None,
) -> None:
    await add_seat_to_cart(
        db,
        cart_id=cart,
        event_id=event.event_id,
        seat_id=seat,
        price_id=event.price_ids["Adult"],
        now=now,
        policy=CARTS,
        caller=caller,
    )


async def _booked(
    db: Database, event: EventFixture, clock: FakeClock, caller: Principal | None, seats: list[int]
) -> uuid.UUID:
    cart = uuid.uuid4()
    for seat in seats:
        await hold(db, event, cart, seat, now=clock.now, caller=caller)
    payment = await book_cart(db, cart_id=cart, now=clock.now, policy=CARTS, caller=caller)
    return payment.payment_id


async def test_a_completed_payment_confirms_the_order_to_its_customer_and_webhooks(
    db: Database, event: EventFixture, clock: FakeClock, settings: Settings
) -> None:
    fan = await _customer(db, settings, clock, "fan")
    policy = WebhookPolicy(allow_private=True)
    this_event = await webhooks.create_webhook(
        db,
        caller=MANAGER,
        url="https://hooks.example.com/a",
        event_id=event.event_id,
        policy=policy,
        now=clock.now,
    )
    every_event = await webhooks.create_webhook(
        db,
        caller=MANAGER,
        url="https://hooks.example.com/b",
        event_id=None,
        policy=policy,
        now=clock.now,
    )
    other = await make_event(db, now=clock.now, name="Other Hall")
    await webhooks.create_webhook(
        db,
        caller=MANAGER,
        url="https://hooks.example.com/c",
        event_id=other.event_id,
        policy=policy,
        now=clock.now,
    )
    payment_id = await _booked(db, event, clock, fan, event.seat_ids[:2])
    assert await outbox(db) == []  # holding and booking tell nobody

    await complete_payment(db, payment_id=payment_id, now=clock.now, policy=PAYMENTS, caller=fan)
    again = await complete_payment(
        db, payment_id=payment_id, now=clock.now, policy=PAYMENTS, caller=fan
    )
    assert again.status.value == "completed"

    facts = {"payment_id": str(payment_id)}
    email, *hooks = await outbox(db)
    assert email == {
        "kind": "order_confirmed",
        "channel": "email",
        "recipient": "fan@example.com",
        "event_id": None,
        "payload": facts,
        "status": "pending",
    }
    assert sorted(hooks, key=lambda row: str(row["recipient"])) == [
        {
            "kind": "order_confirmed",
            "channel": "webhook",
            "recipient": hook.webhook.url,
            "event_id": event.event_id,
            "payload": facts,
            "status": "pending",
        }
        for hook in (this_event, every_event)
    ]


async def test_an_anonymous_checkout_has_no_address_and_gets_no_email(
    db: Database, event: EventFixture, clock: FakeClock
) -> None:
    payment_id = await _booked(db, event, clock, None, event.seat_ids[:1])
    await complete_payment(db, payment_id=payment_id, now=clock.now, policy=PAYMENTS)
    assert await outbox(db) == []


async def test_a_failed_payment_is_told_once(
    db: Database, event: EventFixture, clock: FakeClock, settings: Settings
) -> None:
    fan = await _customer(db, settings, clock, "fan")
    payment_id = await _booked(db, event, clock, fan, event.seat_ids[:1])
    await fail_payment(db, payment_id=payment_id, now=clock.now, policy=PAYMENTS, caller=fan)
    await fail_payment(db, payment_id=payment_id, now=clock.now, policy=PAYMENTS, caller=fan)
    assert [(m["kind"], m["recipient"]) for m in await outbox(db)] == [
        ("payment_failed", "fan@example.com")
    ]


async def test_the_sweep_tells_customers_whose_holds_lapsed_before_booking(
    db: Database, event: EventFixture, clock: FakeClock, settings: Settings
) -> None:
    fan = await _customer(db, settings, clock, "fan")
    fan_cart, anonymous_cart, booked_cart = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for seat in event.seat_ids[:2]:
        await hold(db, event, fan_cart, seat, now=clock.now, caller=fan)
    await hold(db, event, anonymous_cart, event.seat_ids[2], now=clock.now)
    await hold(db, event, booked_cart, event.seat_ids[3], now=clock.now, caller=fan)
    booked = await book_cart(db, cart_id=booked_cart, now=clock.now, policy=CARTS, caller=fan)

    # the booked cart's payment is overdue too: told as such, not as a lapsed hold
    holds, overdue = await release_lapsed(db, now=clock.advance(seconds=CARTS.hold_seconds + 1))
    assert (holds, overdue) == (3, 1)
    expected = [[event.event_id, seat] for seat in event.seat_ids[:2]]
    assert await outbox(db) == [
        {
            "kind": "hold_expired",
            "channel": "email",
            "recipient": "fan@example.com",
            "event_id": None,
            "payload": {"cart_id": str(fan_cart), "seats": expected},
            "status": "pending",
        },
        {
            "kind": "payment_expired",
            "channel": "email",
            "recipient": "fan@example.com",
            "event_id": None,
            "payload": {"payment_id": str(booked.payment_id)},
            "status": "pending",
        },
    ]


async def test_cancelling_an_event_tells_each_customer_with_seats_once(
    db: Database, event: EventFixture, clock: FakeClock, settings: Settings
) -> None:
    fan, friend, bystander = [
        await _customer(db, settings, clock, name) for name in ("fan", "friend", "bystander")
    ]
    paid = await _booked(db, event, clock, fan, event.seat_ids[:1])
    await complete_payment(db, payment_id=paid, now=clock.now, policy=PAYMENTS, caller=fan)
    await _booked(db, event, clock, fan, event.seat_ids[1:2])  # a second order: one e-mail
    await hold(db, event, uuid.uuid4(), event.seat_ids[2], now=clock.now, caller=friend)
    failed = await _booked(db, event, clock, bystander, event.seat_ids[3:4])
    await fail_payment(db, payment_id=failed, now=clock.now, policy=PAYMENTS, caller=bystander)
    hook = await webhooks.create_webhook(
        db,
        caller=MANAGER,
        url="https://hooks.example.com/",
        event_id=event.event_id,
        policy=WebhookPolicy(),
        now=clock.now,
    )
    before = len(await outbox(db))

    await cancel_event(db, caller=MANAGER, event_id=event.event_id, now=clock.now)
    await cancel_event(db, caller=MANAGER, event_id=event.event_id, now=clock.now)

    told = [(m["kind"], m["channel"], m["recipient"]) for m in (await outbox(db))[before:]]
    assert sorted(told) == [
        ("event_cancelled", "email", "fan@example.com"),
        ("event_cancelled", "email", "friend@example.com"),
        ("event_cancelled", "webhook", hook.webhook.url),
    ]


class SimulatedCrashError(Exception):
    pass


@contextlib.contextmanager
def crash_after_writing_the_outbox(db: Database) -> Iterator[None]:
    """The process fails right after the statement that writes the outbox, before the commit
    (as a lost connection, a killed process or a bug after the write would)."""

    def after(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        if "INSERT INTO outbox_message" in sql:
            raise SimulatedCrashError

    engine = db.engine.sync_engine
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        sa.event.remove(engine, "after_cursor_execute", after)


async def test_a_change_that_rolls_back_leaves_no_message_and_one_that_commits_has_it(
    db: Database, event: EventFixture, clock: FakeClock, settings: Settings
) -> None:
    fan = await _customer(db, settings, clock, "fan")
    payment_id = await _booked(db, event, clock, fan, event.seat_ids[:1])
    with crash_after_writing_the_outbox(db), pytest.raises(SimulatedCrashError):
        await complete_payment(
            db, payment_id=payment_id, now=clock.now, policy=PAYMENTS, caller=fan
        )
    assert await outbox(db) == []
    unfinished = await payments.get_payment(db, payment_id=payment_id, now=clock.now, caller=fan)
    assert unfinished.status.value == "pending"

    done = await complete_payment(
        db, payment_id=payment_id, now=clock.now, policy=PAYMENTS, caller=fan
    )
    assert len(done.tickets) == 1
    assert [m["kind"] for m in await outbox(db)] == ["order_confirmed"]


async def test_every_committed_payment_has_its_message(
    db: Database, event: EventFixture, clock: FakeClock, settings: Settings
) -> None:
    """Payments completed and failed at once, each twice: one message per payment."""
    fan = await _customer(db, settings, clock, "fan")
    ids = [await _booked(db, event, clock, fan, [seat]) for seat in event.seat_ids[:8]]
    later = clock.now + timedelta(seconds=1)
    calls = [
        (complete_payment if index % 2 == 0 else fail_payment)(
            db, payment_id=payment_id, now=later, policy=PAYMENTS, caller=fan
        )
        for index, payment_id in enumerate(ids)
        for _ in range(2)
    ]
    await asyncio.gather(*calls)
    messages = await outbox(db)
    assert sorted((m["payload"]["payment_id"], m["kind"]) for m in messages) == sorted(
        (str(payment_id), "order_confirmed" if index % 2 == 0 else "payment_failed")
        for index, payment_id in enumerate(ids)
    )


async def test_managers_register_list_and_delete_webhooks_in_both_doors(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    manager = await signed_in(client, db, manager=True)
    customer = await signed_in(client)
    url = "https://hooks.example.com/ticketing"
    created = await client.post(
        "/webhooks", json={"url": url, "event_id": event.event_id}, headers=manager
    )
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    assert (await client.post("/webhooks", json={"url": url}, headers=customer)).status_code == 403
    refused = await client.post(
        "/webhooks", json={"url": "http://user:pw@hooks.example.com/"}, headers=manager
    )
    assert refused.status_code == 422

    document = (
        'mutation { createWebhook(input: {url: "https://hooks.example.com/all"}) '
        "{ webhook { id url eventId } secret userErrors { code } } }"
    )
    answer = (await client.post("/graphql", json={"query": document}, headers=manager)).json()
    made = answer["data"]["createWebhook"]
    assert made["webhook"]["eventId"] is None
    assert made["secret"].startswith("whsec_")
    listed = (await client.get("/webhooks", headers=manager)).json()
    assert [(hook["url"], hook["event_id"]) for hook in listed] == [
        (url, event.event_id),
        ("https://hooks.example.com/all", None),
    ]
    assert all("secret" not in hook for hook in listed)

    deleted = await client.delete(f"/webhooks/{created.json()['id']}", headers=manager)
    assert deleted.status_code == 204
    document = (
        f'mutation {{ deleteWebhook(input: {{webhookId: "{made["webhook"]["id"]}"}}) '
        "{ webhook { id } userErrors { code } } }"
    )
    answer = (await client.post("/graphql", json={"query": document}, headers=manager)).json()
    assert answer["data"]["deleteWebhook"]["userErrors"] == []
    answer = await client.post("/graphql", json={"query": "{ webhooks { id } }"}, headers=manager)
    assert answer.json()["data"]["webhooks"] == []
    again = await client.delete(f"/webhooks/{created.json()['id']}", headers=manager)
    assert again.status_code == 404
