"""Bounded requests and caches: large bodies are refused unread, and what clients send does not
grow a worker's memory."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from rest.app import create_app
from tests.api import new_cart, problem
from tests.conftest import FakeClock
from tests.factories import EventFixture
from tests.graphql_client import GRAPHQL_PATH
from ticketing.settings import Settings

LIMIT = 4096


@pytest.fixture
async def small_app(settings: Settings, clock: FakeClock) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"max_body_bytes": LIMIT}), clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def small(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return stream()


async def test_bodies_over_the_limit_are_refused_unread(small: httpx.AsyncClient) -> None:
    padding = "x" * LIMIT
    for response in [
        await small.post(GRAPHQL_PATH, json={"query": "{ events { nodes { id } } }", "v": padding}),
        await small.post("/auth/register", json={"email": "a@example.com", "password": padding}),
        await small.post("/auth/token", data={"username": "a@example.com", "password": padding}),
        await small.post(f"/orders/carts/{new_cart()}", json={"event_id": 1, "pad": padding}),
        # without a declared length, the body is counted as it arrives
        await small.post(
            GRAPHQL_PATH,
            content=_chunks(
                b'{"query": "{ events { nodes { id } } }", "v": "' + b"x" * LIMIT + b'"}'
            ),
            headers={"content-type": "application/json"},
        ),
    ]:
        body = problem(response, 413, "PAYLOAD_TOO_LARGE")
        assert str(LIMIT) in body["detail"]
    # nothing of it ran: no account was made
    token = await small.post("/auth/token", data={"username": "a@example.com", "password": "x" * 9})
    problem(token, 401, "INVALID_CREDENTIALS")


async def test_bodies_within_the_limit_are_served(small: httpx.AsyncClient) -> None:
    query = {"query": "{ events { nodes { id } } }", "variables": {"unused": "x" * (LIMIT - 200)}}
    assert (await small.post(GRAPHQL_PATH, json=query)).json() == {
        "data": {"events": {"nodes": []}}
    }
    streamed = await small.post(
        GRAPHQL_PATH,
        content=_chunks(b'{"query": "{ events { nodes { id } } }"}', size=7),
        headers={"content-type": "application/json"},
    )
    assert streamed.json() == {"data": {"events": {"nodes": []}}}


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_undeclared_variables_do_not_grow_the_result_cache(
    app: FastAPI, client: httpx.AsyncClient, event: EventFixture
) -> None:
    """1,000 requests, each with its own large variable the operation does not declare, are one
    answer to the cache; the worker's memory stays where it was."""
    query = "query Map($event: ID!) { seatMap(eventId: $event) { version sections { statuses } } }"
    cache = app.state.graphql_results
    large = 60_000  # under the default body limit

    async def ask(number: int) -> None:
        response = await client.post(
            GRAPHQL_PATH,
            json={
                "query": query,
                "variables": {"event": str(event.event_id), "junk": f"{number:08}" + "x" * large},
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["seatMap"]["sections"]

    for number in range(50):  # warm up: allocator pools, caches of the libraries
        await ask(number)
    gc.collect()
    before = _rss_bytes()
    for number in range(1000):
        await ask(number)
    gc.collect()
    grown = _rss_bytes() - before
    assert len(cache) == 1
    assert cache.hits >= 1000
    assert cache.bytes <= cache.max_bytes
    assert grown < 8 * 1024 * 1024, f"the worker grew by {grown / 1e6:.1f} MB"
