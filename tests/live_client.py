"""A client of `seatMapChanges` as an SPA is one: it keeps the map's statuses from `seatMap` and
applies every message to them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession

from tests.graphql_client import gql

SEAT_MAP = "query($id: ID!) { seatMap(eventId: $id) { version sections { id statuses } } }"
LIVE = """
subscription($id: ID!, $since: String!) {
  seatMapChanges(eventId: $id, since: $since) {
    version reload sections { id availableCount statuses seats seatStatuses }
  }
}
"""
WAIT_S = 5.0
"""How long a test waits for a message it expects (far more than a delivery takes)."""


async def snapshot(client: httpx.AsyncClient, event_id: int) -> tuple[str, dict[str, str]]:
    """`seatMap`'s version and each section's statuses, as a client starts."""
    seat_map = (await gql(client, SEAT_MAP, {"id": event_id}))["seatMap"]
    return seat_map["version"], {s["id"]: s["statuses"] for s in seat_map["sections"]}


async def start(
    ws: AsyncWebSocketSession, variables: dict[str, Any], init: dict[str, Any] | None = None
) -> None:
    """graphql-transport-ws: the connection's init, then the subscription (id "1")."""
    await ws.send_json({"type": "connection_init", "payload": init or {}})
    assert (await ws.receive_json(timeout=WAIT_S))["type"] == "connection_ack"
    await ws.send_json(
        {"id": "1", "type": "subscribe", "payload": {"query": LIVE, "variables": variables}}
    )


class Subscriber:
    """A client of `seatMapChanges`: it keeps each section's statuses, applying every message
    (whole sections and seat deltas) as an SPA would."""

    def __init__(self, ws: AsyncWebSocketSession, statuses: dict[str, str]) -> None:
        self.ws = ws
        self.statuses = dict(statuses)

    async def next(self, wait_s: float = WAIT_S) -> dict[str, Any] | None:
        """The next message's `seatMapChanges`, applied to `statuses`; fails on an error or the
        end."""
        message = await self.ws.receive_json(timeout=wait_s)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        changes: dict[str, Any] | None = message["payload"]["data"]["seatMapChanges"]
        for section in [] if changes is None else changes["sections"]:
            if section["statuses"] is not None:
                assert section["seats"] is None
                self.statuses[section["id"]] = section["statuses"]
            else:
                seats, digits = section["seats"], section["seatStatuses"]
                assert len(seats) == len(digits) > 0
                statuses = list(self.statuses[section["id"]])
                for seat, digit in zip(seats, digits, strict=True):
                    assert statuses[seat] != digit, "a seat listed as changed did not change"
                    statuses[seat] = digit
                self.statuses[section["id"]] = "".join(statuses)
        return changes

    async def quiet(self, seconds: float) -> None:
        """Nothing arrives for this long."""
        with pytest.raises(TimeoutError):
            await self.ws.receive_json(timeout=seconds)
