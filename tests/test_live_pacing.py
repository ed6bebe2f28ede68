"""A seat-map pump paces its reads by how long its subscribers took to send the last one, so that
a crowd of spectators slows the map's updates rather than the worker's sales."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from ticketing.catalog.live import COALESCE_SECONDS, EventPump, Reading
from ticketing.catalog.seatmaps import Freshness, SeatMaps
from ticketing.domain import EventStatus

SEND_S = 0.2
"""How long the subscriber takes to send each reading (a crowd of them, in effect)."""
SHARE = 0.5
"""At most half the time sending: after each send, as long again before the next read."""


class ChangingMap:
    """A map that changed before every read, which notes when each read began."""

    def __init__(self) -> None:
        self.reads: list[float] = []

    async def look(self, event_id: int) -> Freshness:
        self.reads.append(asyncio.get_running_loop().time())
        return Freshness(event_id, EventStatus.PUBLISHED, 1, str(len(self.reads)))

    async def event_map(self, *, event_id: int, now: datetime, freshness: Freshness) -> Any:
        return SimpleNamespace(version=freshness.mark, sections=())


async def _follow(pump: EventPump, *, send_s: float) -> None:
    reading: Reading | None = None
    while True:
        reading = await pump.after(reading, pump.request())  # and asks for the next at once
        try:
            await asyncio.sleep(send_s)
        finally:
            pump.sent(reading)


async def _reads_while_followed(share: float, seconds: float = 1.6) -> list[float]:
    seat_map = ChangingMap()
    pump = EventPump(
        cast(SeatMaps, seat_map),
        1,
        lambda: datetime.now(UTC),
        poll_seconds=COALESCE_SECONDS,
        sending_share=share,
    )
    pump.subscribers = 1
    follower = asyncio.create_task(_follow(pump, send_s=SEND_S))
    await asyncio.sleep(seconds)
    follower.cancel()
    pump.stop()
    await asyncio.gather(follower, return_exceptions=True)
    return [b - a for a, b in zip(seat_map.reads, seat_map.reads[1:], strict=False)]


async def test_a_pump_reads_again_no_sooner_than_its_last_fan_out_allows() -> None:
    gaps = await _reads_while_followed(SHARE)
    assert len(gaps) >= 3
    # (the first read began before the subscriber asked, and went to nobody) then each time:
    # the send, as long again, the read
    assert min(gaps[1:]) >= SEND_S / SHARE * 0.95, gaps


async def test_a_pump_free_to_send_all_the_time_reads_once_the_send_is_done() -> None:
    gaps = await _reads_while_followed(1.0)  # the control: no share kept for anything else
    assert len(gaps) >= 4
    assert max(gaps[1:]) < SEND_S / SHARE * 0.9, gaps
