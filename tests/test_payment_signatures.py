"""Signed payments: with TICKETING_PAYMENTS__SECRET only the provider's signed callback finishes a
payment; a customer may abandon his own. Refusals change nothing, byte for byte."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection

from rest.app import create_app
from tests.accounts import signed_in
from tests.api import new_cart, problem
from tests.conftest import FakeClock
from tests.factories import EventFixture
from tests.graphql_client import GRAPHQL_PATH
from tests.invariants import assert_invariants
from tests.server import serving
from ticketing import cli
from ticketing.db import Database, query
from ticketing.models import audit_t, cart_t, event_seat_t, payment_t, ticket_t
from ticketing.payments import signatures
from ticketing.settings import PaymentPolicy, Settings

SECRET = "whsec_test_3f9a"
FINISH = (
    "mutation($p: UUID!) { %s(input: {paymentId: $p})"
    " { payment { status } cart { status } userErrors { code } } }"
)


@pytest.fixture
async def signed_client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that knows the provider's secret (signed payments)."""
    app = create_app(
        settings.model_copy(update={"payments": PaymentPolicy(secret=SecretStr(SECRET))}),
        clock=clock,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def _booked(
    client: httpx.AsyncClient, event: EventFixture, seat: int, headers: dict[str, str] | None = None
) -> str:
    cart = new_cart()
    held = await client.post(
        f"/orders/carts/{cart}",
        json={"event_id": event.event_id, "seat_id": seat, "price_id": event.price_ids["Adult"]},
        headers=headers,
    )
    assert held.status_code == 200, held.text
    booked = await client.put(f"/orders/carts/{cart}/book", headers=headers)
    assert booked.status_code == 200, booked.text
    payment_id: str = booked.json()["payment_id"]
    return payment_id


async def _finish_in_graphql(
    client: httpx.AsyncClient, mutation: str, payment: str, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(
        GRAPHQL_PATH,
        json={"query": FINISH % mutation, "variables": {"p": payment}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"][mutation]
    return payload


@query
async def _state(conn: AsyncConnection) -> dict[str, Any]:
    """Every row finishing a payment would change, as the database holds it."""

    async def rows(table: sa.Table, *order: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await conn.execute(sa.select(table).order_by(*order))]

    return {
        "payments": await rows(payment_t, payment_t.c.id),
        "carts": await rows(cart_t, cart_t.c.id),
        "seats": await rows(event_seat_t, event_seat_t.c.event_id, event_seat_t.c.seat_id),
        "tickets": await rows(ticket_t, ticket_t.c.id),
        "audit": await rows(audit_t, audit_t.c.id),
    }


def _signature(payment: str, outcome: str, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    header = signatures.sign(
        secret, payment_id=uuid.UUID(payment), outcome=outcome, timestamp=timestamp
    )
    return {signatures.HEADER: header}


async def test_health_tells_the_payments_mode(
    client: httpx.AsyncClient, signed_client: httpx.AsyncClient
) -> None:
    assert (await client.get("/health")).json() == {"status": "ok", "payments": "test"}
    assert (await signed_client.get("/health")).json() == {"status": "ok", "payments": "signed"}


async def test_nobody_but_the_provider_completes_a_payment(
    signed_client: httpx.AsyncClient, db: Database, event: EventFixture, clock: FakeClock
) -> None:
    client = signed_client
    customer = await signed_in(client)
    payment = await _booked(client, event, event.seat_ids[0], customer)
    before = await _state(db)
    now = int(clock.now.timestamp())
    complete = f"/payments/{payment}/complete"

    problem(await client.post(complete, headers=customer), 403, "FORBIDDEN")
    anonymous = await client.post(complete)
    assert "Ticketing-Signature" in problem(anonymous, 401, "INVALID_SIGNATURE")["detail"]
    assert anonymous.headers["www-authenticate"] == "Ticketing-Signature"
    for headers in [
        _signature(payment, "complete", now, secret="someone else's secret"),
        _signature(payment, "failed", now),  # the other outcome's signature
        _signature(str(uuid.uuid4()), "complete", now),  # another payment's
        _signature(payment, "complete", now - 301),  # too old
        _signature(payment, "complete", now + 301),  # from the future
        {signatures.HEADER: "v1=" + "0" * 64},
        {signatures.HEADER: f"t={now}"},
        {signatures.HEADER: "t=" + "9" * 40 + ",v1=" + "0" * 64},
        {signatures.HEADER: "garbage"},
        {signatures.HEADER: ""},
        {**customer, **_signature(payment, "complete", now, secret="wrong")},
    ]:
        problem(await client.post(complete, headers=headers), 401, "INVALID_SIGNATURE")
    # another payment's signature, sent with that payment's id in a body, changes nothing either
    swapped = await client.post(
        complete,
        headers=_signature(str(uuid.uuid4()), "complete", now),
        json={"payment_id": payment},
    )
    problem(swapped, 401, "INVALID_SIGNATURE")
    for headers in (customer, {}):
        payload = await _finish_in_graphql(client, "completePayment", payment, headers)
        assert payload == {"payment": None, "cart": None, "userErrors": [{"code": "FORBIDDEN"}]}
    assert await _state(db) == before


async def test_the_providers_signed_call_completes_once(
    signed_client: httpx.AsyncClient, db: Database, event: EventFixture, clock: FakeClock
) -> None:
    client = signed_client
    customer = await signed_in(client)
    payment = await _booked(client, event, event.seat_ids[0], customer)
    headers = _signature(payment, "complete", int(clock.now.timestamp()))

    first = await client.post(f"/payments/{payment}/complete", headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "completed"
    assert len(first.json()["tickets"]) == 1
    after = await _state(db)

    clock.advance(seconds=120)  # the provider retries its callback, within the tolerance
    replay = await client.post(f"/payments/{payment}/complete", headers=headers)
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert await _state(db) == after  # no second ticket, no second audit row

    clock.advance(seconds=200)  # the same call, now too old: refused, still nothing changes
    problem(
        await client.post(f"/payments/{payment}/complete", headers=headers),
        401,
        "INVALID_SIGNATURE",
    )
    late_fail = _signature(payment, "failed", int(clock.now.timestamp()))
    problem(
        await client.post(f"/payments/{payment}/failed", headers=late_fail),
        409,
        "PAYMENT_FINALIZED",
    )
    assert await _state(db) == after
    await assert_invariants(db)


async def test_the_provider_fails_a_payment_with_its_signature(
    signed_client: httpx.AsyncClient, db: Database, event: EventFixture, clock: FakeClock
) -> None:
    payment = await _booked(signed_client, event, event.seat_ids[0])
    headers = _signature(payment, "failed", int(clock.now.timestamp()))
    failed = await signed_client.post(f"/payments/{payment}/failed", headers=headers)
    assert failed.status_code == 200, failed.text
    assert failed.json()["status"] == "failed"
    await assert_invariants(db)


@pytest.mark.parametrize("door", ["rest", "graphql"])
async def test_a_customer_abandons_his_own_pending_payment(
    signed_client: httpx.AsyncClient, db: Database, event: EventFixture, door: str
) -> None:
    client = signed_client
    customer = await signed_in(client)
    stranger = await signed_in(client)
    payment = await _booked(client, event, event.seat_ids[0], customer)
    anonymous_payment = await _booked(client, event, event.seat_ids[1])
    before = await _state(db)

    if door == "rest":
        problem(
            await client.post(f"/payments/{payment}/failed", headers=stranger), 404, "NOT_FOUND"
        )
        problem(
            await client.post(f"/payments/{anonymous_payment}/failed", headers=customer),
            403,
            "FORBIDDEN",
        )
        problem(await client.post(f"/payments/{payment}/failed"), 401, "INVALID_SIGNATURE")
    else:
        for caller, target, code in [
            (stranger, payment, "NOT_FOUND"),
            (customer, anonymous_payment, "FORBIDDEN"),
            ({}, payment, "FORBIDDEN"),
        ]:
            payload = await _finish_in_graphql(client, "failPayment", target, caller)
            assert payload["userErrors"] == [{"code": code}]
    assert await _state(db) == before

    if door == "rest":
        response = await client.post(f"/payments/{payment}/failed", headers=customer)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "failed"
    else:
        payload = await _finish_in_graphql(client, "failPayment", payment, customer)
        assert payload == {
            "payment": {"status": "FAILED"},
            "cart": {"status": "FAILED"},
            "userErrors": [],
        }
    seats = await client.get(f"/events/{event.event_id}/sections/{event.section_ids['Main']}/seats")
    (seat,) = [s for s in seats.json() if s["seat_id"] == event.seat_ids[0]]
    assert seat["status"]["name"] == "available"
    await assert_invariants(db)


async def test_the_cli_signs_a_callback_the_service_accepts(
    signed_client: httpx.AsyncClient,
    event: EventFixture,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    payment = await _booked(signed_client, event, event.seat_ids[0])
    monkeypatch.setenv("TICKETING_PAYMENTS__SECRET", SECRET)
    cli.main(["payments", "sign", payment, "complete", "--url", "http://api.example"])
    header_line, curl_line = capsys.readouterr().out.splitlines()
    name, _, value = header_line.partition(": ")
    assert name == signatures.HEADER
    assert curl_line == (
        f"curl -s -X POST http://api.example/payments/{payment}/complete"
        f" -H '{signatures.HEADER}: {value}'"
    )
    response = await signed_client.post(f"/payments/{payment}/complete", headers={name: value})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"


@pytest.mark.slow
def test_serve_warns_when_payments_run_in_test_mode(database_url: str, tmp_path: Path) -> None:
    test_log, signed_log = tmp_path / "test.log", tmp_path / "signed.log"
    with serving(database_url, workers=1, log=test_log) as base_url:
        assert httpx.get(f"{base_url}/health").json()["payments"] == "test"
    with serving(
        database_url, workers=1, log=signed_log, TICKETING_PAYMENTS__SECRET=SECRET
    ) as base_url:
        assert httpx.get(f"{base_url}/health").json()["payments"] == "signed"
    assert "payments run in TEST mode" in test_log.read_text()
    assert "TEST mode" not in signed_log.read_text()
