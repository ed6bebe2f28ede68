"""Floors measured with the raw drivers, with no framework around them: the seat map from one
SQL query straight to orjson bytes, a loop of conditional claims, and the rush's writes (claim,
book, sell) from several processes."""

from __future__ import annotations

import asyncio
import multiprocessing
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


# The rush's writes without the service: a seat is claimed (1 -> 2), booked (2 -> 3) and sold
# (3 -> 4), each a conditional UPDATE in a transaction of its own.
_WRITE_STEPS_POSTGRES = (
    "UPDATE event_seat SET status = 2, cart_id = $1, expires_at = $4 "
    "WHERE event_id = $2 AND seat_id = $3 AND status = 1 RETURNING seat_id",
    "UPDATE event_seat SET status = 3, expires_at = $4 "
    "WHERE event_id = $2 AND seat_id = $3 AND status = 2 AND cart_id = $1 RETURNING seat_id",
    "UPDATE event_seat SET status = 4, expires_at = NULL "
    "WHERE event_id = $2 AND seat_id = $3 AND status = 3 AND cart_id = $1 RETURNING seat_id",
)
_WRITE_STEPS_SQLITE = tuple(sql.replace("$", "?") for sql in _WRITE_STEPS_POSTGRES)


def _write_arguments(cart: Any, event_id: int, seat: int, expires: Any) -> list[tuple[Any, ...]]:
    """Each step's arguments: the sale (the last step) ends the seat's deadline."""
    return [
        (cart, event_id, seat, expires),
        (cart, event_id, seat, expires),
        (cart, event_id, seat),
    ]


async def _write_steps(
    kind: str, target: str, event_id: int, seats: list[int], connections: int, start: Any
) -> tuple[int, float]:
    cart = uuid.uuid4()
    expires = datetime.now(UTC) + timedelta(minutes=10)
    done = 0
    if kind == "postgres":
        pool = [await asyncpg.connect(target) for _ in range(connections)]
        try:
            statements = [[await c.prepare(sql) for sql in _WRITE_STEPS_POSTGRES] for c in pool]
            start.wait()
            started = time.perf_counter()

            async def pg_worker(index: int) -> None:
                nonlocal done
                while seats:
                    seat = seats.pop()
                    arguments = _write_arguments(cart, event_id, seat, expires)
                    for statement, values in zip(statements[index], arguments, strict=True):
                        # awaited first: `done += await ...` reads `done` before the await
                        # and so loses what the other connections' tasks counted meanwhile
                        taken = await statement.fetchval(*values)
                        done += taken is not None

            await asyncio.gather(*(pg_worker(i) for i in range(connections)))
            return done, time.perf_counter() - started
        finally:
            for connection in pool:
                await connection.close()
    lites = [await aiosqlite.connect(target, isolation_level=None) for _ in range(connections)]
    try:
        for lite in lites:
            await lite.execute("PRAGMA busy_timeout = 30000")
            await lite.execute("PRAGMA synchronous = NORMAL")
        stamp = expires.replace(tzinfo=None).isoformat(sep=" ")
        start.wait()
        started = time.perf_counter()

        async def lite_worker(lite: aiosqlite.Connection) -> None:
            nonlocal done
            while seats:
                seat = seats.pop()
                arguments = _write_arguments(cart.hex, event_id, seat, stamp)
                for statement, values in zip(_WRITE_STEPS_SQLITE, arguments, strict=True):
                    await lite.execute("BEGIN IMMEDIATE")
                    cursor = await lite.execute(statement, values)
                    rows = list(await cursor.fetchall())
                    done += len(rows)
                    await lite.execute("COMMIT")

        await asyncio.gather(*(lite_worker(lite) for lite in lites))
        return done, time.perf_counter() - started
    finally:
        for lite in lites:
            await lite.close()


def _write_process(
    kind: str, target: str, event_id: int, seats: list[int], connections: int, start: Any, out: Any
) -> None:
    try:
        out.put(asyncio.run(_write_steps(kind, target, event_id, seats, connections, start)))
    except BaseException as exc:  # report it, so that the parent does not wait for ever
        out.put(exc)
        raise


async def _reset_seats(kind: str, target: str, event_id: int, seat_ids: list[int]) -> None:
    if kind == "postgres":
        connection = await asyncpg.connect(target)
        try:
            await connection.execute(
                "UPDATE event_seat SET status = 1, cart_id = NULL, expires_at = NULL "
                "WHERE event_id = $1 AND seat_id = ANY($2::int[])",
                event_id,
                seat_ids,
            )
        finally:
            await connection.close()
        return
    async with aiosqlite.connect(target) as lite:
        await lite.executemany(
            "UPDATE event_seat SET status = 1, cart_id = NULL, expires_at = NULL "
            "WHERE event_id = ? AND seat_id = ?",
            [(event_id, seat) for seat in seat_ids],
        )
        await lite.commit()


async def _event_seats(kind: str, target: str, event_id: int) -> list[int]:
    if kind == "postgres":
        connection = await asyncpg.connect(target)
        try:
            rows = await connection.fetch(
                "SELECT seat_id FROM event_seat WHERE event_id = $1 AND status = 1", event_id
            )
        finally:
            await connection.close()
        return [row[0] for row in rows]
    async with aiosqlite.connect(target) as lite:
        cursor = await lite.execute(
            "SELECT seat_id FROM event_seat WHERE event_id = ? AND status = 1", (event_id,)
        )
        return [row[0] for row in await cursor.fetchall()]


def write_floor(
    database_url: str, event_id: int, *, processes: int = 2, connections: int = 16
) -> dict[str, Any]:
    """The rush's writes as raw conditional UPDATEs (claim, book, sell; one transaction each)
    over the free seats of `event_id`, from `processes` processes of `connections` connections
    each: what the database and driver allow at the rush's concurrency, with no HTTP, no
    framework, no cart, payment, ticket or audit rows. The seats are free again afterwards."""
    kind, target = _raw(database_url)
    seat_ids = asyncio.run(_event_seats(kind, target, event_id))
    if kind == "sqlite":
        connections = min(connections, 4)  # one writer at a time: more only queue on the lock
    context = multiprocessing.get_context("spawn")
    out, start = context.Queue(), context.Event()
    workers = [
        context.Process(
            target=_write_process,
            args=(kind, target, event_id, seat_ids[index::processes], connections, start, out),
        )
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(2)  # let every process connect and prepare before the start
    start.set()
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    for result in results:
        if isinstance(result, BaseException):
            raise RuntimeError("the write floor failed in a process") from result
    asyncio.run(_reset_seats(kind, target, event_id, seat_ids))
    steps = sum(done for done, _ in results)
    elapsed = max(seconds for _, seconds in results)
    return {
        "steps_per_s": steps / elapsed,
        "steps": steps,
        "seats": len(seat_ids),
        "processes": processes,
        "connections": connections,
    }
