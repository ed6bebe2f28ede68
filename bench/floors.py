"""Floors measured in-process with the raw drivers, with no framework around them:
the seat map from one SQL query straight to orjson bytes, and a loop of conditional claims."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
import asyncpg
import orjson
from sqlalchemy.engine import make_url

MAP_SQL_POSTGRES = """
SELECT s.seat_id, s.section_id, s.row_id, s.row_name, s.number, s.status, s.expires_at,
       (SELECT string_agg(p.price_level_id || ':' || p.amount, ',' ORDER BY p.price_level_id)
          FROM event_seat_price p WHERE p.event_id = s.event_id AND p.seat_id = s.seat_id)
FROM event_seat s WHERE s.event_id = $1 ORDER BY s.section_id, s.position
"""
MAP_SQL_SQLITE = """
SELECT s.seat_id, s.section_id, s.row_id, s.row_name, s.number, s.status, s.expires_at,
       (SELECT group_concat(p.price_level_id || ':' || p.amount, ',')
          FROM event_seat_price p WHERE p.event_id = s.event_id AND p.seat_id = s.seat_id)
FROM event_seat s WHERE s.event_id = ? ORDER BY s.section_id, s.position
"""


def _encode(rows: list[Any], now: datetime, *, sqlite: bool) -> bytes:
    price_sets: dict[str, int] = {"": 0}
    seats = []
    now_key: Any = now.replace(tzinfo=None).isoformat(sep=" ") if sqlite else now
    for seat_id, section_id, row_id, row, number, status, expires_at, prices in rows:
        if status in (2, 3) and expires_at is not None and expires_at <= now_key:
            status = 1
        seats.append(
            (seat_id, section_id, row_id, row, number, status,
             price_sets.setdefault(prices or "", len(price_sets)))
        )  # fmt: skip
    return orjson.dumps({"price_sets": list(price_sets), "seats": seats})


def _raw(database_url: str) -> tuple[str, str]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return "sqlite", url.database or ""
    return "postgres", url.set(drivername="postgresql").render_as_string(hide_password=False)


async def serialization_floor(database_url: str, event_id: int, *, runs: int = 9) -> dict[str, Any]:
    kind, target = _raw(database_url)
    timings: list[float] = []
    size = 0
    if kind == "postgres":
        connection = await asyncpg.connect(target)
        try:
            for _ in range(runs):
                started = time.perf_counter()
                rows = await connection.fetch(MAP_SQL_POSTGRES, event_id)
                size = len(_encode(rows, datetime.now(UTC), sqlite=False))
                timings.append(time.perf_counter() - started)
        finally:
            await connection.close()
    else:
        async with aiosqlite.connect(target) as lite:
            for _ in range(runs):
                started = time.perf_counter()
                cursor = await lite.execute(MAP_SQL_SQLITE, (event_id,))
                rows = list(await cursor.fetchall())
                size = len(_encode(rows, datetime.now(UTC), sqlite=True))
                timings.append(time.perf_counter() - started)
    return {"p50_ms": statistics.median(timings) * 1000, "bytes": size, "runs": runs}


async def database_floor(database_url: str, event_id: int, seat_ids: list[int]) -> dict[str, Any]:
    """Conditional claims, one transaction each, one connection: the driver's own pace."""
    kind, target = _raw(database_url)
    cart = uuid.uuid4()
    expires = datetime.now(UTC) + timedelta(minutes=10)
    claimed = 0
    started = time.perf_counter()
    if kind == "postgres":
        connection = await asyncpg.connect(target)
        try:
            claim = await connection.prepare(
                "UPDATE event_seat SET status = 2, cart_id = $1, expires_at = $2 "
                "WHERE event_id = $3 AND seat_id = $4 AND status = 1 RETURNING seat_id"
            )
            for seat_id in seat_ids:
                claimed += await claim.fetchval(cart, expires, event_id, seat_id) is not None
            elapsed = time.perf_counter() - started
            await connection.execute(
                "UPDATE event_seat SET status = 1, cart_id = NULL, expires_at = NULL "
                "WHERE event_id = $1 AND cart_id = $2",
                event_id,
                cart,
            )
        finally:
            await connection.close()
    else:
        async with aiosqlite.connect(target, isolation_level=None) as lite:
            await lite.execute("PRAGMA journal_mode=WAL")
            await lite.execute("PRAGMA synchronous=NORMAL")
            stamp = expires.replace(tzinfo=None).isoformat(sep=" ")
            for seat_id in seat_ids:
                await lite.execute("BEGIN IMMEDIATE")
                cursor = await lite.execute(
                    "UPDATE event_seat SET status = 2, cart_id = ?, expires_at = ? "
                    "WHERE event_id = ? AND seat_id = ? AND status = 1 RETURNING seat_id",
                    (cart.hex, stamp, event_id, seat_id),
                )
                claimed += len(list(await cursor.fetchall()))
                await lite.execute("COMMIT")
            elapsed = time.perf_counter() - started
            await lite.execute(
                "UPDATE event_seat SET status = 1, cart_id = NULL, expires_at = NULL "
                "WHERE event_id = ? AND cart_id = ?",
                (event_id, cart.hex),
            )
    return {"claims_per_s": claimed / elapsed, "claims": claimed}
