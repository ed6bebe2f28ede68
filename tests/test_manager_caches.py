"""Manager edits reach every cached answer at once, in every worker; drafts never leak from a
manager's cached answer to anybody else."""

# ruff: noqa: UP031

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from fastapi import FastAPI

from rest.app import create_app
from tests.accounts import PASSWORD, signed_in
from tests.conftest import FakeClock
from tests.factories import EventFixture
from ticketing.db import Database
from ticketing.settings import Settings

EVENT_QUERY = """
query($id: ID!) {
  event(id: $id) { name status venue { name } priceLevels { name }
                   sections { id availableCount } }
  seatMap(eventId: $id) { layoutVersion layout }
}
"""


async def _post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: Any = None
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _mutate(client: httpx.AsyncClient, document: str, headers: Any) -> None:
    body = await _post(client, "mutation { %s }" % document, {}, headers)
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    assert payload["userErrors"] == [], payload


async def test_manager_edits_reach_cached_answers_in_another_worker(
    settings: Settings,
    clock: FakeClock,
    client: httpx.AsyncClient,
    app: FastAPI,
    db: Database,
    event: EventFixture,
) -> None:
    manager = await signed_in(client, db, manager=True)
    variables = {"id": str(event.event_id)}
    other_app: FastAPI = create_app(settings, clock=clock)
    async with other_app.router.lifespan_context(other_app):
        transport = httpx.ASGITransport(app=other_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as other:
            first = await _post(other, EVENT_QUERY, variables)
            again = await _post(other, EVENT_QUERY, variables)
            assert again == first
            assert other_app.state.graphql_results.hits == 1  # served from the cache

            await _mutate(
                client,
                'updateEvent(input: {eventId: "%s", name: "Moved Night"}) { userErrors { code } }'
                % event.event_id,
                manager,
            )
            renamed = (await _post(other, EVENT_QUERY, variables))["data"]
            assert renamed["event"]["name"] == "Moved Night"

            await _mutate(
                client,
                'updateVenue(input: {venueId: "%s", name: "New Hall"}) { userErrors { code } }'
                % event.venue_id,
                manager,
            )
            moved = (await _post(other, EVENT_QUERY, variables))["data"]
            assert moved["event"]["venue"]["name"] == "New Hall"

            await _mutate(
                client,
                'setPrices(input: {eventId: "%s", prices: [{sectionId: "%s", priceLevel: "Senior",'
                ' amount: "33.00"}]}) { userErrors { code } }'
                % (event.event_id, event.section_ids["Main"]),
                manager,
            )
            priced = (await _post(other, EVENT_QUERY, variables))["data"]
            assert [p["name"] for p in priced["event"]["priceLevels"]][-1] == "Senior"
            assert priced["seatMap"]["layoutVersion"] != first["data"]["seatMap"]["layoutVersion"]
            main = priced["seatMap"]["layout"]["sections"][0]
            assert any(
                option["amount"] == "33.00" for offer in main["price_sets"] for option in offer
            )
            rest = await other.get(
                f"/events/{event.event_id}/sections/{event.section_ids['Main']}/seats"
            )
            assert "Senior" in {p["name"] for p in rest.json()[0]["price_options"]}

            await _mutate(
                client,
                'blockSeats(input: {eventId: "%s", seatIds: ["%s"]}) { userErrors { code } }'
                % (event.event_id, event.seat_ids[0]),
                manager,
            )
            blocked = (await _post(other, EVENT_QUERY, variables))["data"]
            counts = {s["id"]: s["availableCount"] for s in blocked["event"]["sections"]}
            before = {s["id"]: s["availableCount"] for s in first["data"]["event"]["sections"]}
            assert (
                counts[str(event.section_ids["Main"])] == before[str(event.section_ids["Main"])] - 1
            )

            await _mutate(
                client,
                'cancelEvent(input: {eventId: "%s"}) { userErrors { code } }' % event.event_id,
                manager,
            )
            cancelled = (await _post(other, EVENT_QUERY, variables))["data"]
            assert cancelled["event"]["status"] == "CANCELLED"


async def test_a_managers_cached_draft_never_reaches_others(
    client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    manager = await signed_in(client, db, manager=True)
    created = await _post(
        client,
        'mutation { createEvent(input: {venueId: "%s", name: "Secret", startsAt: '
        '"2027-01-01T20:00:00Z", currency: "EUR", priceLevels: ["Adult"], prices: '
        '[{sectionId: "%s", priceLevel: "Adult", amount: "10"}]}) { event { id } } }'
        % (event.venue_id, event.section_ids["Main"]),
        {},
        manager,
    )
    draft = created["data"]["createEvent"]["event"]["id"]
    variables = {"id": draft}
    for _ in range(2):  # the second answer comes from the cache
        seen = await _post(client, EVENT_QUERY, variables, manager)
        assert seen["data"]["event"]["name"] == "Secret"
    customer = await signed_in(client)
    for headers in (None, customer):
        hidden = await _post(client, EVENT_QUERY, variables, headers)
        # exactly what an event that does not exist gives
        assert hidden == {"data": {"event": None, "seatMap": None}}
        rest = await client.get(f"/events/{draft}/seats", headers=headers)
        assert rest.status_code == 404
        listed = await client.get("/events", headers=headers)
        assert draft not in {str(e["id"]) for e in listed.json()}
    assert str(draft) in {
        str(e["id"]) for e in (await client.get("/events", headers=manager)).json()
    }


async def test_simultaneous_wrong_sign_ins_cannot_skip_the_wait(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    """One password check per (address, email) at a time: of 30 simultaneous guesses from one
    address, no more are checked than the free failures and the one that starts the wait.
    The owner, from another address, still signs in."""
    await client.post("/auth/register", json={"email": "race@x.io", "password": PASSWORD})
    start = asyncio.Event()

    async def guess(number: int) -> str:
        await start.wait()
        response = await client.post(
            "/auth/token", data={"username": "race@x.io", "password": f"wrong guess {number}"}
        )
        return str(response.json()["code"])

    tasks = [asyncio.create_task(guess(n)) for n in range(30)]
    await asyncio.sleep(0.05)
    start.set()
    outcomes = Counter(await asyncio.gather(*tasks))
    assert set(outcomes) == {"INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS"}
    assert 1 <= outcomes["INVALID_CREDENTIALS"] <= settings.auth.free_failures + 1
    transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as owner:
        right = await owner.post(
            "/auth/token", data={"username": "race@x.io", "password": PASSWORD}
        )
    assert right.status_code == 200
