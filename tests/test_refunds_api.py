"""Refunds through GraphQL: a manager's refundPayment, and cancelEvent settling the event's
orders; what the customer then sees through REST."""

from __future__ import annotations

from typing import Any

import httpx

from tests.accounts import signed_in
from tests.api import booked_cart, ok_json
from tests.factories import EventFixture
from tests.invariants import assert_invariants
from ticketing.db import Database

REFUND = """
mutation($id: UUID!) {
  refundPayment(input: {paymentId: $id}) {
    payment { id status tickets { id } }
    userErrors { code }
  }
}
"""
CANCEL = """
mutation($id: ID!) { cancelEvent(input: {eventId: $id}) { event { status } userErrors { code } } }
"""


async def _post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _paid(client: httpx.AsyncClient, event: EventFixture, seats: list[int]) -> str:
    payment_id: str = (await booked_cart(client, event, seats))["payment_id"]
    ok_json(await client.post(f"/payments/{payment_id}/complete"))
    return payment_id


async def test_a_manager_refunds_an_order_and_its_customer_sees_it(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    payment_id = await _paid(client, event, event.seat_ids[:2])
    link = ok_json(await client.get(f"/payments/{payment_id}"))["tickets_pdf_url"]
    assert link == f"/payments/{payment_id}/tickets.pdf"
    assert (await client.get(link)).headers["content-type"] == "application/pdf"
    customer = await signed_in(client)
    refused = await _post(client, REFUND, {"id": payment_id}, customer)
    assert refused["refundPayment"] == {"payment": None, "userErrors": [{"code": "FORBIDDEN"}]}
    manager = await signed_in(client, db, manager=True)
    refunded = (await _post(client, REFUND, {"id": payment_id}, manager))["refundPayment"]
    assert refunded["userErrors"] == []
    assert refunded["payment"]["status"] == "REFUNDED"
    assert refunded["payment"]["tickets"] == []
    seen = ok_json(await client.get(f"/payments/{payment_id}"))
    assert (seen["status"], seen["tickets"], seen["tickets_pdf_url"]) == ("refunded", [], None)
    pdf = await client.get(f"/payments/{payment_id}/tickets.pdf")
    assert (pdf.status_code, pdf.json()["code"]) == (409, "PAYMENT_NOT_COMPLETED")
    # its seats are sold again
    await _paid(client, event, event.seat_ids[:2])
    await assert_invariants(db)


async def test_cancelling_an_event_refunds_its_paid_orders(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    paid = await _paid(client, event, event.seat_ids[:1])
    pending = (await booked_cart(client, event, event.seat_ids[1:2]))["payment_id"]
    manager = await signed_in(client, db, manager=True)
    cancelled = (await _post(client, CANCEL, {"id": str(event.event_id)}, manager))["cancelEvent"]
    assert cancelled == {"event": {"status": "CANCELLED"}, "userErrors": []}
    assert ok_json(await client.get(f"/payments/{paid}"))["status"] == "refunded"
    assert ok_json(await client.get(f"/payments/{pending}"))["status"] == "failed"
    await assert_invariants(db)
