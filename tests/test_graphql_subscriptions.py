"""GraphQL's live seat map (`seatMapChanges`) over graphql-transport-ws: what a hold through REST
sends to a subscriber, nothing missed between `seatMap` and subscribing, bursts coalesced."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from rest.app import create_app
from tests.accounts import signed_in
from tests.api import add_seat, book, new_cart, remove_seat
from tests.conftest import FakeClock
from tests.factories import MANAGER, EventFixture, make_event
from tests.graphql_client import gql
from tests.live_client import LIVE, SEAT_MAP, WAIT_S, Subscriber, snapshot, start
from ticketing.catalog.live import COALESCE_SECONDS, SUBSCRIPTIONS_PER_CONNECTION
from ticketing.db import Database
from ticketing.management import commands as management
from ticketing.settings import Settings

SEAT_CHANGES = """
query($id: ID!, $since: String!) {
  seatChanges(eventId: $id, since: $since) { version sections { id statuses } }
}
"""
TURN_S = 0.01


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    return await make_event(db, now=clock.now, rows=2, seats_per_row=3, ga_capacity=2)


@contextlib.asynccontextmanager
async def subscribed(
    app: FastAPI,
    variables: dict[str, Any],
    *,
    init: dict[str, Any] | None = None,
    statuses: dict[str, str] | None = None,
    alone: bool = True,
) -> AsyncIterator[Subscriber]:
    """A subscriber of `variables`; when `alone` (no other subscriber comes and goes meanwhile),
    its end is checked to end its watch."""
    before = app.state.seat_feed.watchers(variables["id"])
    async with (
        ASGIWebSocketTransport(app=app) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        aconnect_ws("/graphql", http, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await start(ws, variables, init)
        yield Subscriber(ws, statuses or {})
        await ws.send_json({"id": "1", "type": "complete"})
    if not alone:
        return
    # the subscription's end (or the socket's) stops its watch
    feed = app.state.seat_feed
    for _ in range(int(WAIT_S / TURN_S)):  # the operation's task ends a moment after the socket
        if feed.watchers(variables["id"]) == before:
            break
        await asyncio.sleep(TURN_S)
    assert feed.watchers(variables["id"]) == before


async def _hold(client: httpx.AsyncClient, event: EventFixture, seat: int) -> None:
    held = await add_seat(
        client,
        new_cart(),
        event_id=event.event_id,
        seat_id=event.seat_ids[seat],
        price_id=event.price_ids["Adult"],
    )
    assert held.status_code == 200, held.text


async def test_a_hold_through_rest_reaches_the_subscriber_as_the_seat_that_changed(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    version, statuses = await snapshot(client, event.event_id)
    main = str(event.section_ids["Main"])
    variables = {"id": event.event_id, "since": version}
    async with subscribed(app, variables, statuses=statuses) as subscriber:
        await subscriber.quiet(COALESCE_SECONDS * 2)  # nothing changed since `version`
        await _hold(client, event, 1)
        changes = await subscriber.next()
        assert changes is not None
        # one seat of six: its index and new status, not the section's six digits
        assert changes["sections"] == [
            {"id": main, "availableCount": 5, "statuses": None, "seats": [1], "seatStatuses": "2"}
        ]
        assert changes["reload"] is False
        assert subscriber.statuses[main] == "121111"
        # the version sent is the one seatChanges gives now
        now = await gql(client, SEAT_CHANGES, {"id": event.event_id, "since": version})
        assert now["seatChanges"]["version"] == changes["version"]
        await _hold(client, event, 4)
        later = await subscriber.next()
        assert later is not None
        assert later["sections"][0]["seats"] == [4]
        assert subscriber.statuses[main] == "121121"
        assert later["version"] != changes["version"]
        assert subscriber.statuses == (await snapshot(client, event.event_id))[1]


async def test_a_change_between_the_snapshot_and_subscribing_arrives(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    version, statuses = await snapshot(client, event.event_id)
    await _hold(client, event, 0)
    variables = {"id": event.event_id, "since": version}
    async with subscribed(app, variables, statuses=statuses) as subscriber:
        changes = await subscriber.next()
        assert changes is not None
        # the server knows the client's version by its stamps only: the section comes whole
        (section,) = changes["sections"]
        assert section["statuses"] == "211111"
        assert subscriber.statuses == (await snapshot(client, event.event_id))[1]


async def test_a_burst_of_holds_arrives_coalesced_in_commit_order(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    version, statuses = await snapshot(client, event.event_id)
    main = str(event.section_ids["Main"])
    variables = {"id": event.event_id, "since": version}
    async with subscribed(app, variables, statuses=statuses) as subscriber:
        await subscriber.quiet(COALESCE_SECONDS)
        for seat in range(6):
            await _hold(client, event, seat)
        messages, held = [], []
        while subscriber.statuses[main] != "222222":
            changes = await subscriber.next()
            assert changes is not None
            messages.append(changes)
            held.append(subscriber.statuses[main].count("2"))
        assert len(messages) < 6
        # in commit order: each message holds more seats than the one before, under a new version
        assert held == sorted(set(held))
        versions = [m["version"] for m in messages]
        assert len(set(versions)) == len(versions)
        await subscriber.quiet(COALESCE_SECONDS * 2)
        current = await gql(client, SEAT_CHANGES, {"id": event.event_id, "since": versions[-1]})
        assert current["seatChanges"] == {"version": versions[-1], "sections": []}


async def test_many_seats_of_a_section_at_once_arrive_as_the_whole_section(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    cart = new_cart()
    for seat in range(5):
        held = await add_seat(
            client,
            cart,
            event_id=event.event_id,
            seat_id=event.seat_ids[seat],
            price_id=event.price_ids["Adult"],
        )
        assert held.status_code == 200, held.text
    version, statuses = await snapshot(client, event.event_id)
    variables = {"id": event.event_id, "since": version}
    async with subscribed(app, variables, statuses=statuses) as subscriber:
        await subscriber.quiet(COALESCE_SECONDS)
        booked = await book(client, cart)  # five seats in one commit
        assert booked.status_code == 200, booked.text
        changes = await subscriber.next()
        assert changes is not None
        (section,) = changes["sections"]
        # five indexes and five digits would be longer than the section's six digits
        assert section["seats"] is None
        assert section["statuses"] == "333331"


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
    version, statuses = await snapshot(client, event.event_id)
    variables = {"id": event.event_id, "since": version}
    async with subscribed(app, variables, statuses=statuses) as subscriber:
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
        await subscriber.next()
        assert subscriber.statuses[str(event.section_ids["Main"])] == "111112"


async def test_a_manager_s_change_ends_the_subscription_with_a_reload(
    app: FastAPI, client: httpx.AsyncClient, db: Database, event: EventFixture
) -> None:
    version, statuses = await snapshot(client, event.event_id)
    variables = {"id": event.event_id, "since": version}
    async with subscribed(app, variables, statuses=statuses) as subscriber:
        await subscriber.quiet(COALESCE_SECONDS)
        await management.update_event(
            db, caller=MANAGER, event_id=event.event_id, name="Renamed Night"
        )
        changes = await subscriber.next()
        assert changes is not None
        assert changes["reload"] is True
        assert changes["sections"] == []
        assert (await subscriber.ws.receive_json(timeout=WAIT_S))["type"] == "complete"
        # a version from before the change asks for a reload at once
    async with subscribed(app, variables, statuses=statuses) as late:
        changes = await late.next()
        assert changes is not None
        assert changes["reload"] is True


async def test_a_lapsed_hold_reaches_the_subscriber_with_no_statement_run(
    settings: Settings, event: EventFixture
) -> None:
    hold_s = 1
    quick = settings.model_copy(
        update={"cart": settings.cart.model_copy(update={"hold_seconds": hold_s})}
    )
    app = create_app(quick)  # the real clock: nothing but time passes
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        version, statuses = await snapshot(http, event.event_id)
        main = str(event.section_ids["Main"])
        variables = {"id": event.event_id, "since": version}
        async with subscribed(app, variables, statuses=statuses) as subscriber:
            asked_at = time.monotonic()
            await _hold(http, event, 3)
            await subscriber.next()
            assert subscriber.statuses[main] == "111211"
            await subscriber.next()
            lapsed_after = time.monotonic() - asked_at
            assert subscriber.statuses[main] == "111111"
            # the hold lapses hold_s after it was asked for; the message follows within a second
            assert hold_s <= lapsed_after < hold_s + 1


async def test_subscribers_joining_during_a_stream_of_changes_end_with_the_map(
    app: FastAPI, client: httpx.AsyncClient, db: Database, clock: FakeClock
) -> None:
    """Clients hold and release seats concurrently while subscribers join, each from a snapshot
    taken mid-stream: every subscriber, applying its messages, ends with the final map."""
    event = await make_event(db, now=clock.now, rows=4, seats_per_row=10, ga_capacity=2)
    rng = random.Random(17)

    async def churn(worker: int) -> None:
        cart = new_cart()
        held: list[int] = []
        for _ in range(12):
            if held and rng.random() < 0.4:
                seat = held.pop(rng.randrange(len(held)))
                removed = await remove_seat(client, cart, event_id=event.event_id, seat_id=seat)
                assert removed.status_code == 200, removed.text
                continue
            seat = rng.choice(event.seat_ids)
            adult = event.price_ids["Adult"]
            response = await add_seat(
                client, cart, event_id=event.event_id, seat_id=seat, price_id=adult
            )
            if response.status_code == 200 and seat not in held:
                held.append(seat)
            await asyncio.sleep(rng.random() * COALESCE_SECONDS / 2)

    final: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    async def follow(joined: asyncio.Event) -> dict[str, str]:
        """One client: snapshot, subscribe, apply messages until the map is final."""
        version, statuses = await snapshot(client, event.event_id)
        variables = {"id": event.event_id, "since": version}
        async with subscribed(app, variables, statuses=statuses, alone=False) as subscriber:
            joined.set()
            while not final.done() or subscriber.statuses != final.result():
                with contextlib.suppress(TimeoutError):
                    await subscriber.next(wait_s=COALESCE_SECONDS)
            await subscriber.quiet(COALESCE_SECONDS * 2)
            return subscriber.statuses

    followers = []
    for joining in range(4):  # the first before the stream, the others during it
        joined = asyncio.Event()
        followers.append(asyncio.create_task(follow(joined)))
        await joined.wait()
        if joining == 0:
            clients = asyncio.gather(*(churn(worker) for worker in range(6)))
        await asyncio.sleep(COALESCE_SECONDS)
    await clients
    _, map_now = await snapshot(client, event.event_id)
    assert "2" in "".join(map_now.values())  # the stream left seats held
    final.set_result(map_now)
    assert await asyncio.gather(*followers) == [map_now] * 4
    for _ in range(int(WAIT_S / TURN_S)):
        if not app.state.seat_feed.watchers(event.event_id):
            break
        await asyncio.sleep(TURN_S)
    assert app.state.seat_feed.watchers(event.event_id) == 0


async def test_one_connection_runs_a_bounded_number_of_subscriptions(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    version, _ = await snapshot(client, event.event_id)
    variables = {"id": event.event_id, "since": version}
    async with (
        ASGIWebSocketTransport(app=app) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        aconnect_ws("/graphql", http, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await start(ws, variables)  # subscription "1"
        for number in range(2, SUBSCRIPTIONS_PER_CONNECTION + 2):
            subscribe = {"query": LIVE, "variables": variables}
            await ws.send_json({"id": str(number), "type": "subscribe", "payload": subscribe})
        message = await ws.receive_json(timeout=WAIT_S)
        assert message["id"] == str(SUBSCRIPTIONS_PER_CONNECTION + 1)
        (error,) = message["payload"]["errors"]
        assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        # the others run: a hold reaches each of them
        await _hold(client, event, 0)
        running = {str(n) for n in range(1, SUBSCRIPTIONS_PER_CONNECTION + 1)}
        heard = set()
        while heard != running:
            message = await ws.receive_json(timeout=WAIT_S)
            if message["type"] == "complete":  # the refused one ends
                assert message["id"] == str(SUBSCRIPTIONS_PER_CONNECTION + 1)
                continue
            assert message["type"] == "next", message
            heard.add(message["id"])


async def test_a_worker_refuses_subscriptions_beyond_its_limit(
    settings: Settings, event: EventFixture
) -> None:
    app = create_app(settings.model_copy(update={"max_subscribers": 2}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        version, _ = await snapshot(http, event.event_id)
        variables = {"id": event.event_id, "since": version}
        async with (
            ASGIWebSocketTransport(app=app) as transport,
            httpx.AsyncClient(transport=transport, base_url="http://test") as ws_http,
            aconnect_ws("/graphql", ws_http, subprotocols=["graphql-transport-ws"]) as ws,
        ):
            await start(ws, variables)
            for number in (2, 3):
                subscribe = {"query": LIVE, "variables": variables}
                await ws.send_json({"id": str(number), "type": "subscribe", "payload": subscribe})
            message = await ws.receive_json(timeout=WAIT_S)
            assert message["id"] == "3"
            (error,) = message["payload"]["errors"]
            assert error["extensions"]["code"] == "SERVICE_BUSY"
