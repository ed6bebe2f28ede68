"""The on-sale rush: hundreds of clients, each with its own cart, racing for one section's seats
until it sells out. Clients run in several processes with a minimal HTTP/1.1 client, so that the
load generator measures the server and not itself."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

SEATS_PER_ORDER = (1, 2, 2, 3, 4)
HELD, BOOKED, SOLD, AVAILABLE = 2, 3, 4, 1
"""The seat statuses a rush step leaves behind (the digits of the seat map's statuses)."""


class _Exchange(asyncio.Protocol):
    """The client side of one keep-alive HTTP/1.1 connection, one request at a time: the
    response is cut out of the received bytes by its Content-Length (uvicorn always sends one
    for these JSON answers), without stream readers, so that a client process costs little."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        length = 0
        if at >= 0:
            line_end = head.find(b"\r\n", at)
            length = int(head[at + 15 : line_end if line_end >= 0 else None])
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))


class Http:
    """One keep-alive HTTP/1.1 connection; just enough protocol for JSON requests."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.exchange: _Exchange | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, JSON body); status 0 when the connection broke (it is reopened next time)."""
        try:
            return await self._exchange(method, path, body)
        except (OSError, ValueError):
            if self.exchange is not None and self.exchange.transport is not None:
                self.exchange.transport.close()
            self.exchange = None
            return 0, None

    async def _exchange(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        loop = asyncio.get_running_loop()
        if self.exchange is None or self.exchange.transport is None:
            _, self.exchange = await loop.create_connection(_Exchange, self.host, self.port)
        exchange = self.exchange
        assert exchange.transport is not None
        payload = b"" if body is None else orjson.dumps(body)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        exchange.waiter = loop.create_future()
        exchange.transport.write(head.encode() + payload)
        status, data = await exchange.waiter
        return status, orjson.loads(data) if data else None


def on_uvloop(main: Any) -> Any:
    """Client processes run on uvloop (a dependency of uvicorn[standard]) where it is
    installed: the load generator should spend its CPU on requests, not on its event loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it on Linux
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: Counter[str] = field(default_factory=Counter)
    seats_sold: int = 0
    completed_steps: int = 0
    changes: list[tuple[int, int, float]] = field(default_factory=list)
    """(seat id, new status, wall-clock time its response arrived) of every successful step,
    when asked for: the response comes just after the commit, and subscribers to the event's
    seat map on the same machine time their messages against it."""


async def _client(http: Http, shared: dict[str, Any], tally: Tally, deadline: float) -> None:
    event_id, section_id, price_id = shared["event_id"], shared["section_id"], shared["price_id"]
    candidates: list[int] = shared["candidates"]
    record = shared.get("record_changes", False)

    def changed(seats: list[int], status: int) -> None:
        if record:
            now = time.time()
            tally.changes.extend((seat, status, now) for seat in seats)

    async def step(name: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        started = time.perf_counter()
        status, answer = await http.request(method, path, body)
        tally.latencies[name].append(time.perf_counter() - started)
        if status == 0:
            tally.outcomes["connection error"] += 1
        elif status >= 500:
            tally.outcomes["5xx"] += 1
            tally.outcomes[f"{status} {answer.get('code') if answer else ''}"] += 1
        elif status == 200:
            tally.completed_steps += 1
        else:
            tally.outcomes[answer.get("code", str(status)) if answer else str(status)] += 1
        return status, answer

    async def refresh() -> bool:
        """Re-read the section; False when it has no free seat (the rest is in carts)."""
        status, seats = await step(
            "refresh", "GET", f"/events/{event_id}/sections/{section_id}/seats"
        )
        if status != 200:
            return True  # try again
        free = [s["seat_id"] for s in seats if s["status"]["id"] == 1]
        if not free:
            if all(s["status"]["id"] == 4 for s in seats):
                shared["sold_out"] = True
            return False
        random.shuffle(free)
        candidates.extend(free)
        return True

    while time.monotonic() < deadline and not shared["sold_out"]:
        cart = uuid.uuid4()
        wanted = random.choice(SEATS_PER_ORDER)
        held: list[int] = []
        while len(held) < wanted and time.monotonic() < deadline:
            if not candidates:
                # One refresh in flight per process: the other clients wait for its answer
                # instead of all reading (and parsing) the same 2,000-seat list at once.
                refreshing: asyncio.Future[bool] | None = shared.get("refreshing")
                if refreshing is not None:
                    if not await refreshing:
                        break
                    continue
                refreshing = shared["refreshing"] = asyncio.get_running_loop().create_future()
                try:
                    found = await refresh()
                finally:
                    shared["refreshing"] = None
                    refreshing.set_result(bool(candidates))
                if not found:
                    break
                continue
            seat = candidates.pop()
            status, _ = await step(
                "add",
                "POST",
                f"/orders/carts/{cart}",
                {"event_id": event_id, "seat_id": seat, "price_id": price_id},
            )
            if status == 200:
                changed([seat], HELD)
                held.append(seat)
        if not held:
            if not shared["sold_out"]:
                await asyncio.sleep(0.05)  # the rest is in other carts; some may come back
            continue
        status, booking = await step("book", "PUT", f"/orders/carts/{cart}/book")
        if status != 200:
            continue
        changed(held, BOOKED)
        outcome = "complete" if random.random() < 0.9 else "failed"
        status, payment = await step(
            outcome, "POST", f"/payments/{booking['payment_id']}/{outcome}"
        )
        if status == 200:
            changed(held, SOLD if outcome == "complete" else AVAILABLE)
        if status == 200 and outcome == "complete":
            tally.seats_sold += len(payment["tickets"])


async def _process_main(
    base_url: str, clients: int, shared: dict[str, Any], seconds: float
) -> Tally:
    split = urlsplit(base_url)
    tally = Tally()
    deadline = time.monotonic() + seconds
    connections = [Http(split.hostname or "127.0.0.1", split.port or 80) for _ in range(clients)]
    await asyncio.gather(*(_client(c, shared, tally, deadline) for c in connections))
    return tally


def _process(base_url: str, clients: int, shared: dict[str, Any], seconds: float, out: Any) -> None:
    try:
        tally = on_uvloop(_process_main(base_url, clients, shared, seconds))
    except Exception as exc:  # report, so that the parent does not wait for ever
        tally = Tally()
        tally.outcomes[f"client crashed: {exc!r}"] += 1
    out.put(
        {
            "latencies": dict(tally.latencies),
            "outcomes": dict(tally.outcomes),
            "seats_sold": tally.seats_sold,
            "completed_steps": tally.completed_steps,
            "changes": tally.changes,
        }
    )


def _selling(changes: list[tuple[int, int, float]], began: float) -> dict[str, float]:
    """Seats sold per second until the last sale: a rush whose last seats stay in carts that
    were never booked (a failed request) runs on to its time limit without selling."""
    sales = [at for _, status, at in changes if status == SOLD]
    seconds = (max(sales) - began) if sales else 0.0
    return {
        "selling_seconds": seconds,
        "seats_sold_per_s_selling": len(sales) / seconds if sales else 0.0,
    }


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def run_rush(
    base_url: str,
    *,
    event_id: int,
    section_id: int,
    price_id: int,
    seat_ids: list[int],
    clients: int = 500,
    processes: int = 4,
    seconds: float = 180,
    record_changes: bool = False,
) -> dict[str, Any]:
    """The rush; with `record_changes`, its result's "changes" lists every seat status it
    changed, as `Tally.changes`, for timing deliveries to subscribers."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = []
    started, began = time.perf_counter(), time.time()
    for index in range(processes):
        candidates = list(seat_ids)
        random.Random(index).shuffle(candidates)
        shared = {
            "event_id": event_id,
            "section_id": section_id,
            "price_id": price_id,
            "candidates": candidates,
            "sold_out": False,
            "record_changes": record_changes,
        }
        share = clients // processes + (1 if index < clients % processes else 0)
        worker = context.Process(target=_process, args=(base_url, share, shared, seconds, out))
        worker.start()
        workers.append(worker)
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    latencies: dict[str, list[float]] = defaultdict(list)
    outcomes: Counter[str] = Counter()
    for result in results:
        for name, values in result["latencies"].items():
            latencies[name].extend(values)
        outcomes.update(result["outcomes"])
    adds = len(latencies["add"])
    changes = sorted(
        (change for result in results for change in result["changes"]), key=lambda c: c[2]
    )
    return {
        "seconds": elapsed,
        "seats_sold": sum(r["seats_sold"] for r in results),
        "seats_sold_per_s": sum(r["seats_sold"] for r in results) / elapsed,
        "completed_steps_per_s": sum(r["completed_steps"] for r in results) / elapsed,
        "requests_per_s": sum(len(v) for v in latencies.values()) / elapsed,
        "seat_not_available_share": outcomes["SEAT_NOT_AVAILABLE"] / adds if adds else 0.0,
        "5xx": outcomes["5xx"],
        "outcomes": dict(outcomes),
        "steps": {
            name: {
                "count": len(values),
                "p50_ms": _percentile(values, 0.5),
                "p99_ms": _percentile(values, 0.99),
            }
            for name, values in sorted(latencies.items())
        },
        **({"changes": changes, **_selling(changes, began)} if record_changes else {}),
    }


async def _orders_main(
    base_url: str, seats: list[int], shared: dict[str, Any], concurrency: int, seconds: float
) -> dict[str, Any]:
    """Clients that each place orders of one distinct seat: hold it in a new cart, book it
    (an order awaiting payment), like pretix's `POST /orders/` with one seated position."""
    split = urlsplit(base_url)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def client() -> None:
        http = Http(split.hostname or "127.0.0.1", split.port or 80)
        while seats and time.monotonic() < deadline:
            seat, cart = seats.pop(), uuid.uuid4()
            started = time.perf_counter()
            status, _ = await http.request(
                "POST",
                f"/orders/carts/{cart}",
                {"event_id": shared["event_id"], "seat_id": seat, "price_id": shared["price_id"]},
            )
            if status == 200:
                status, _ = await http.request("PUT", f"/orders/carts/{cart}/book")
            if status == 200:
                latencies.append(time.perf_counter() - started)
            outcomes[str(status)] += 1

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return {"latencies": latencies, "outcomes": dict(outcomes), "elapsed": elapsed}


def _orders_process(
    base_url: str,
    seats: list[int],
    shared: dict[str, Any],
    concurrency: int,
    seconds: float,
    out: Any,
) -> None:
    out.put(on_uvloop(_orders_main(base_url, seats, shared, concurrency, seconds)))


def run_orders(
    base_url: str,
    *,
    event_id: int,
    price_id: int,
    seat_ids: list[int],
    concurrency: int = 16,
    processes: int = 2,
    seconds: float = 60,
) -> dict[str, Any]:
    """Orders of one seat each (hold + book) at a fixed concurrency, until the seats run out."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    shared = {"event_id": event_id, "price_id": price_id}
    workers = []
    for index in range(processes):
        share = seat_ids[index::processes]
        worker = context.Process(
            target=_orders_process,
            args=(base_url, share, shared, concurrency // processes, seconds, out),
        )
        worker.start()
        workers.append(worker)
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = max(result["elapsed"] for result in results)
    latencies = [value for result in results for value in result["latencies"]]
    outcomes: Counter[str] = Counter()
    for result in results:
        outcomes.update(result["outcomes"])
    return {
        "orders": len(latencies),
        "seconds": elapsed,
        "orders_per_s": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 0.5),
        "p99_ms": _percentile(latencies, 0.99),
        "concurrency": concurrency,
        "outcomes": dict(outcomes),
    }
