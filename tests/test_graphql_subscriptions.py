"""GraphQL's live seat map (`seatMapChanges`) over graphql-transport-ws: what a hold through REST
sends to a subscriber, nothing missed between `seatMap` and subscribing, bursts coalesced."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from tests.accounts import signed_in
from tests.api import add_seat, new_cart
from tests.conftest import FakeClock
from tests.factories import MANAGER, EventFixture, make_event
from tests.graphql_client import gql
from ticketing.catalog.live import COALESCE_SECONDS
from ticketing.db import Database
from ticketing.management import commands as management

SEAT_MAP = "query($id: ID!) { seatMap(eventId: $id) { version sections { id statuses } } }"
SEAT_CHANGES = """
query($id: ID!, $since: String!) {
  seatChanges(eventId: $id, since: $since) { version sections { id statuses } }
}
"""
LIVE = """
subscription($id: ID!, $since: String!) {
  seatMapChanges(eventId: $id, since: $since) { version sections { id statuses } }
}
"""
WAIT_S = 5.0
"""How long a test waits for a message it expects (far more than a delivery takes)."""
TURN_S = 0.01


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    return await make_event(db, now=clock.now, rows=2, seats_per_row=3, ga_capacity=2)


class Subscriber:
    def __init__(self, ws: AsyncWebSocketSession) -> None:
        self.ws = ws

    async def next(self) -> dict[str, Any] | None:
        """The next message's `seatMapChanges`; fails on an error or the end."""
        message = await self.ws.receive_json(timeout=WAIT_S)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        changes: dict[str, Any] | None = message["payload"]["data"]["seatMapChanges"]
        return changes

    async def quiet(self, seconds: float) -> None:
        """Nothing arrives for this long."""
        with pytest.raises(TimeoutError):
            await self.ws.receive_json(timeout=seconds)


@contextlib.asynccontextmanager
async def subscribed(
    app: FastAPI, variables: dict[str, Any], *, init: dict[str, Any] | None = None
) -> AsyncIterator[Subscriber]:
    async with (
        ASGIWebSocketTransport(app=app) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        aconnect_ws("/graphql", http, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": init or {}})
        assert (await ws.receive_json(timeout=WAIT_S))["type"] == "connection_ack"
        await ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": LIVE, "variables": variables}}
        )
        yield Subscriber(ws)
        await ws.send_json({"id": "1", "type": "complete"})
    # the subscription's end (or the socket's) stops its watch
    feed = app.state.seat_feed
    for _ in range(int(WAIT_S / TURN_S)):  # the operation's task ends a moment after the socket
        if not feed.watchers(variables["id"]):
            break
        await asyncio.sleep(TURN_S)
    assert feed.watchers(variables["id"]) == 0


def _section(changes: dict[str, Any], section_id: int) -> str:
    (section,) = [s for s in changes["sections"] if s["id"] == str(section_id)]
    statuses: str = section["statuses"]
    return statuses


async def _hold(client: httpx.AsyncClient, event: EventFixture, seat: int) -> None:
    held = await add_seat(
        client,
        new_cart(),
        event_id=event.event_id,
        seat_id=event.seat_ids[seat],
        price_id=event.price_ids["Adult"],
    )
    assert held.status_code == 200, held.text


async def test_a_hold_through_rest_reaches_the_subscriber(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    version = (await gql(client, SEAT_MAP, {"id": event.event_id}))["seatMap"]["version"]
    main = event.section_ids["Main"]
    async with subscribed(app, {"id": event.event_id, "since": version}) as subscriber:
        await subscriber.quiet(COALESCE_SECONDS * 2)  # nothing changed since `version`
        await _hold(client, event, 1)
        changes = await subscriber.next()
        assert changes is not None
        assert [s["id"] for s in changes["sections"]] == [str(main)]
        assert _section(changes, main) == "121111"
        # the version sent is the one seatChanges gives now
        now = await gql(client, SEAT_CHANGES, {"id": event.event_id, "since": version})
        assert now["seatChanges"]["version"] == changes["version"]
        await _hold(client, event, 4)
        later = await subscriber.next()
        assert later is not None
        assert _section(later, main) == "121121"
        assert later["version"] != changes["version"]


async def test_a_change_between_the_snapshot_and_subscribing_arrives(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    version = (await gql(client, SEAT_MAP, {"id": event.event_id}))["seatMap"]["version"]
    await _hold(client, event, 0)
    async with subscribed(app, {"id": event.event_id, "since": version}) as subscriber:
        changes = await subscriber.next()
        assert changes is not None
        assert _section(changes, event.section_ids["Main"]) == "211111"


async def test_a_burst_of_holds_arrives_coalesced_with_the_latest_statuses(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    version = (await gql(client, SEAT_MAP, {"id": event.event_id}))["seatMap"]["version"]
    main = event.section_ids["Main"]
    async with subscribed(app, {"id": event.event_id, "since": version}) as subscriber:
        await subscriber.quiet(COALESCE_SECONDS)
        for seat in range(6):
            await _hold(client, event, seat)
        messages = []
        while not messages or _section(messages[-1], main) != "222222":
            changes = await subscriber.next()
            assert changes is not None
            messages.append(changes)
        assert len(messages) < 6
        # in commit order: each message holds more seats than the one before, under a new version
        held = [_section(m, main).count("2") for m in messages]
        assert held == sorted(set(held))
        versions = [m["version"] for m in messages]
        assert len(set(versions)) == len(versions)
        await subscriber.quiet(COALESCE_SECONDS * 2)
        current = await gql(client, SEAT_CHANGES, {"id": event.event_id, "since": versions[-1]})
        assert current["seatChanges"] == {"version": versions[-1], "sections": []}


async def test_a_draft_follows_the_visibility_of_seat_changes(
    app: FastAPI, client: httpx.AsyncClient, db: Database, event: EventFixture, clock: FakeClock
) -> None:
    draft = await management.create_event(
        db,
        caller=MANAGER,
        venue_id=event.venue_id,
        name="Draft Night",
        starts_at=clock.now + timedelta(days=20),
        currency="EUR",
        price_levels=["Adult"],
        prices=[],
        now=clock.now,
    )
    async with subscribed(app, {"id": draft.id, "since": ""}) as anonymous:
        assert await anonymous.next() is None
        assert (await anonymous.ws.receive_json(timeout=WAIT_S))["type"] == "complete"
    manager = await signed_in(client, db, manager=True)
    init = {"authorization": manager["Authorization"]}
    async with subscribed(app, {"id": draft.id, "since": ""}, init=init) as seen:
        changes = await seen.next()
        assert changes is not None
        assert len(changes["sections"]) == 3


async def test_queries_go_over_http_not_the_websocket(app: FastAPI, event: EventFixture) -> None:
    async with (
        ASGIWebSocketTransport(app=app) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        aconnect_ws("/graphql", http, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json(timeout=WAIT_S))["type"] == "connection_ack"
        query = {"query": SEAT_MAP, "variables": {"id": event.event_id}}
        await ws.send_json({"id": "1", "type": "subscribe", "payload": query})
        message = await ws.receive_json(timeout=WAIT_S)
    assert message["payload"]["data"] is None
    (error,) = message["payload"]["errors"]
    assert error["extensions"]["code"] == "VALIDATION_ERROR"


async def test_a_bad_token_in_connection_init_is_refused(app: FastAPI, event: EventFixture) -> None:
    init = {"authorization": "Bearer not-a-token"}
    async with subscribed(app, {"id": event.event_id, "since": ""}, init=init) as subscriber:
        message = await subscriber.ws.receive_json(timeout=WAIT_S)
        assert message["payload"]["data"] is None
        (error,) = message["payload"]["errors"]
        assert error["extensions"]["code"] == "INVALID_TOKEN"
        assert (await subscriber.ws.receive_json(timeout=WAIT_S))["type"] == "complete"


async def test_a_subscriber_resynchronises_after_the_listening_connection_is_lost(
    app: FastAPI, client: httpx.AsyncClient, db: Database, event: EventFixture, db_kind: str
) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite's notifications are in-process: there is no connection to lose")
    version = (await gql(client, SEAT_MAP, {"id": event.event_id}))["seatMap"]["version"]
    async with subscribed(app, {"id": event.event_id, "since": version}) as subscriber:
        await subscriber.quiet(COALESCE_SECONDS)
        async with db.engine.connect() as conn:
            # the hold below commits while the worker listens again: the wake-up after it does
            # brings the change
            await conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            )
        await _hold(client, event, 5)
        changes = await subscriber.next()
        assert changes is not None
        assert _section(changes, event.section_ids["Main"]) == "111112"
