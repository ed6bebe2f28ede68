"""Live seat-map subscribers: many WebSocket connections following one event's `seatMapChanges`
(graphql-transport-ws) from several client processes, while a rush changes its seats; how long a
change takes from its commit to each subscriber, and whether every subscriber ends on the map."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.rush import Http, on_uvloop

SEAT_MAP = """query Map($id: ID!) {
  seatMap(eventId: $id) { version layout sections { id statuses } } }"""

# A section comes either whole (`statuses`) or as its changed seats (`seats`, indexes in the
# layout's order, with `seatStatuses`); `reload` asks for the map to be read again.
CHANGES = """subscription Live($id: ID!, $since: String!) {
  seatMapChanges(eventId: $id, since: $since) {
    version reload sections { id availableCount statuses seats seatStatuses } } }"""

SEAT_CHANGES = """query Changes($id: ID!, $since: String!) {
  seatChanges(eventId: $id, since: $since) { version sections { id statuses } } }"""

SUBPROTOCOL = "graphql-transport-ws"
CONNECTING_AT_ONCE = 50
"""Handshakes in flight per client process: the server's accept queue is not the subject."""
HANDSHAKE_LIMIT_S = 60.0
"""A busy server is slow to accept; a connection refused only after this long counts as lost."""
MAP_READERS = 4
"""Connections per client process for reading the map again after a `reload`."""
DELAY_BIN_S = 1e-4
"""Delays are counted in bins this wide: 2,000 subscribers see millions of (change, subscriber)
pairs, which a histogram sums across processes where a list would not fit."""
DRAIN_LIMIT_S = 30.0
"""After the rush, how long every subscriber may take to reach the map's version; one that has
not by then is counted as stale."""


class SeatMapReader:
    """`seatMap` over HTTP POST /graphql, a few requests at a time, each on a connection of its
    own (the rush's minimal client)."""

    def __init__(self, base_url: str, event_id: int) -> None:
        split = urlsplit(base_url)
        self.idle = [
            Http(split.hostname or "127.0.0.1", split.port or 80) for _ in range(MAP_READERS)
        ]
        self.free = asyncio.Semaphore(MAP_READERS)
        self.event_id = event_id

    async def read(self) -> dict[str, Any]:
        return await self._ask(SEAT_MAP, {"id": str(self.event_id)}, "seatMap")

    async def changes(self, since: str) -> dict[str, Any]:
        """`seatChanges` since a version: what the server holds for a client at that version."""
        variables = {"id": str(self.event_id), "since": since}
        return await self._ask(SEAT_CHANGES, variables, "seatChanges")

    async def _ask(self, query: str, variables: dict[str, Any], field: str) -> dict[str, Any]:
        async with self.free:
            http = self.idle.pop()
            try:
                body = {"query": query, "variables": variables}
                status, answer = await http.request("POST", "/graphql", body)
            finally:
                self.idle.append(http)
        if status != 200 or answer.get("errors"):
            raise RuntimeError(f"{field} answered {status}: {answer}")
        found: dict[str, Any] = answer["data"][field]
        return found


def statuses_of(seat_map: dict[str, Any]) -> dict[str, str]:
    return {section["id"]: section["statuses"] for section in seat_map["sections"]}


@dataclass
class Subscriber:
    """One connection's view of the map, and what it saw change: one observation per seat
    whose status differs from the one it held, coded as seat id * 8 + status."""

    statuses: dict[str, str]
    version: str
    """The version of the last message (or map read) applied."""
    seen: array[int] = field(default_factory=lambda: array("q"))
    seen_at: array[float] = field(default_factory=lambda: array("d"))


class Follower:
    """The subscribers of one client process, the event's layout, and what they received."""

    def __init__(self, seat_map: dict[str, Any]) -> None:
        self.seat_ids = {
            str(section["id"]): [seat[0] for seat in section["seats"]]
            for section in seat_map["layout"]["sections"]
        }
        self.initial = statuses_of(seat_map)
        self.version: str = seat_map["version"]
        self.subscribers: list[Subscriber] = []
        # Subscribers of a process mostly go through the same statuses: each transition is
        # compared seat by seat once, not once per subscriber.
        self.diffs: dict[tuple[str, str, str], array[int]] = {}
        self.message_at: array[float] = array("d")
        self.message_bytes: array[int] = array("q")
        self.outcomes: Counter[str] = Counter()
        self.failed = 0

    def diff(self, section: str, old: str, new: str) -> array[int]:
        key = (section, old, new)
        found = self.diffs.get(key)
        if found is None:
            if len(self.diffs) > 10_000:
                self.diffs.clear()
            seat_ids = self.seat_ids[section]
            found = self.diffs[key] = array(
                "q",
                (
                    seat_ids[index] * 8 + int(status)
                    for index, (was, status) in enumerate(zip(old, new, strict=True))
                    if was != status
                ),
            )
        return found

    def absorb(self, subscriber: Subscriber, sections: Iterable[dict[str, Any]], at: float) -> None:
        """Take a message's sections (or a whole map's) into the subscriber's view."""
        for section in sections:
            key, old = section["id"], subscriber.statuses[section["id"]]
            whole = section.get("statuses")
            if whole is not None:
                new = whole
            else:  # only the changed seats, by their index in the layout's order
                digits = bytearray(old, "ascii")
                for index, status in zip(section["seats"], section["seatStatuses"], strict=True):
                    digits[index] = ord(status)
                new = digits.decode("ascii")
            if new == old:
                continue
            seen = self.diff(key, old, new)
            subscriber.seen.extend(seen)
            subscriber.seen_at.extend(array("d", [at]) * len(seen))
            subscriber.statuses[key] = new

    async def follow(
        self, url: str, event_id: int, reader: SeatMapReader, ready: asyncio.Event
    ) -> None:
        subscriber = Subscriber(dict(self.initial), self.version)
        try:
            async with connect(
                url,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                max_size=None,
                open_timeout=HANDSHAKE_LIMIT_S,
                ping_interval=None,  # as browsers: the server's pings keep the connection
            ) as ws:
                await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
                ack = orjson.loads(await ws.recv())
                if ack["type"] != "connection_ack":
                    raise ConnectionError(f"no connection_ack: {ack}")
                await self._subscribe(ws, "1", event_id, self.version)
                self.subscribers.append(subscriber)
                ready.set()
                await self._receive(ws, subscriber, reader, event_id)
        except (OSError, ConnectionClosed, TimeoutError) as exc:
            self.outcomes[f"connection: {type(exc).__name__}"] += 1
        except Exception as exc:  # a message this client did not expect: count it, not hide it
            self.outcomes[f"client error: {exc!r:.80}"] += 1
        finally:
            if not ready.is_set():
                self.failed += 1
                ready.set()

    @staticmethod
    async def _subscribe(ws: ClientConnection, operation: str, event_id: int, since: str) -> None:
        variables = {"id": str(event_id), "since": since}
        payload = {"query": CHANGES, "variables": variables}
        await ws.send(
            orjson.dumps({"id": operation, "type": "subscribe", "payload": payload}).decode()
        )

    async def _receive(
        self, ws: ClientConnection, subscriber: Subscriber, reader: SeatMapReader, event_id: int
    ) -> None:
        operation = 1
        async for raw in ws:
            at = time.time()
            message = orjson.loads(raw)
            self.message_at.append(at)
            self.message_bytes.append(len(raw))
            kind = message["type"]
            if kind == "ping":
                await ws.send('{"type":"pong"}')
                continue
            if kind == "complete" and message["id"] != str(operation):
                continue  # the end of a subscription that asked for a reload
            if kind != "next":
                self.outcomes[f"message: {kind}"] += 1
                return
            payload = message["payload"]
            if payload.get("errors"):
                self.outcomes["errors in a message"] += 1
            changes = (payload.get("data") or {}).get("seatMapChanges")
            if changes is None:
                self.outcomes["null change"] += 1
                continue
            self.absorb(subscriber, changes["sections"], at)
            subscriber.version = changes["version"]
            if changes["reload"]:  # the subscription ends: read the map, subscribe from it
                self.outcomes["reload"] += 1
                seat_map = await reader.read()
                self.absorb(subscriber, seat_map["sections"], time.time())
                subscriber.version = seat_map["version"]
                operation += 1
                await self._subscribe(ws, str(operation), event_id, seat_map["version"])


@dataclass
class Chains:
    """Per seat, the statuses the rush gave it and when, in commit order."""

    statuses: dict[int, list[int]]
    times: dict[int, list[float]]

    @classmethod
    def of(cls, changes: list[tuple[int, int, float]]) -> Chains:
        statuses: dict[int, list[int]] = defaultdict(list)
        times: dict[int, list[float]] = defaultdict(list)
        for seat, status, at in sorted(changes, key=lambda change: change[2]):
            statuses[seat].append(status)
            times[seat].append(at)
        return cls(dict(statuses), dict(times))


def delays(subscriber: Subscriber, chains: Chains, histogram: Counter[int]) -> tuple[int, int]:
    """Match what the subscriber saw to the rush's changes, seat by seat in order: an
    observation is the first to show its change, and the changes it skipped were superseded
    within a coalesced burst. Delays go to `histogram` in DELAY_BIN_S bins; returns (matched,
    seen without a change of the rush's to match)."""
    position: dict[int, int] = {}
    matched = unmatched = 0
    for code, at in zip(subscriber.seen, subscriber.seen_at, strict=True):
        seat, status = divmod(code, 8)
        chain = chains.statuses.get(seat, [])
        index = position.get(seat, 0)
        while index < len(chain) and chain[index] != status:
            index += 1
        if index == len(chain):
            unmatched += 1
            continue
        histogram[round((at - chains.times[seat][index]) / DELAY_BIN_S)] += 1
        position[seat] = index + 1
        matched += 1
    return matched, unmatched


async def _process_main(
    base_url: str, event_id: int, count: int, control: Any, out: Any
) -> dict[str, Any]:
    split = urlsplit(base_url)
    url = f"ws://{split.hostname}:{split.port}/graphql"
    reader = SeatMapReader(base_url, event_id)
    follower = Follower(await reader.read())
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def one(ready: asyncio.Event) -> None:
        async with gate:
            task = asyncio.create_task(follower.follow(url, event_id, reader, ready))
            await ready.wait()
        await task

    readies = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(one(ready)) for ready in readies]
    await asyncio.gather(*(ready.wait() for ready in readies))
    loop = asyncio.get_running_loop()
    out.put({"subscribed": len(follower.subscribers), "outcomes": dict(follower.outcomes)})
    cpu_subscribed = time.process_time()

    # The parent says when the rush is over; then every subscriber should reach the map.
    finish: dict[str, Any] = await loop.run_in_executor(None, control.get)
    final_map = await reader.read()
    for _ in range(int(DRAIN_LIMIT_S / 0.1)):
        if all(sub.version == final_map["version"] for sub in follower.subscribers):
            break
        await asyncio.sleep(0.1)
    caught_up_at = time.time()
    cpu = time.process_time() - cpu_subscribed
    final = statuses_of(final_map)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    start, end = finish["window"]
    in_window = [i for i, at in enumerate(follower.message_at) if start <= at <= end]
    chains = Chains.of(finish["changes"])
    histogram: Counter[int] = Counter()
    matched = unmatched = stale = stale_seats = behind = 0
    caught_up: bool | None = None
    for subscriber in follower.subscribers:
        got, extra = delays(subscriber, chains, histogram)
        matched, unmatched = matched + got, unmatched + extra
        wrong = _differing_seats(subscriber.statuses, final)
        stale += wrong > 0
        stale_seats += wrong
        if subscriber.version != final_map["version"]:
            behind += 1
            if wrong and caught_up is None:
                # Does the server hold what this subscriber lacks? Its own answer to a client
                # at that version, applied to the copy, should give the map.
                missing = await reader.changes(subscriber.version)
                copy = dict(subscriber.statuses) | statuses_of(missing)
                caught_up = _differing_seats(copy, final) == 0
    return {
        "subscribers": len(follower.subscribers),
        "messages": len(in_window),
        "last_message_at": follower.message_at[-1] if follower.message_at else 0.0,
        "caught_up_at": caught_up_at,
        "bytes": sum(follower.message_bytes[i] for i in in_window),
        "cpu_s": cpu,
        "histogram": dict(histogram),
        "matched": matched,
        "unmatched": unmatched,
        "stale_subscribers": stale,
        "stale_seats": stale_seats,
        "behind": behind,
        "caught_up_by_seat_changes": caught_up,
        "outcomes": dict(follower.outcomes),
    }


def _differing_seats(statuses: dict[str, str], final: dict[str, str]) -> int:
    return sum(
        sum(a != b for a, b in zip(statuses[key], digits, strict=True))
        for key, digits in final.items()
    )


def _process(base_url: str, event_id: int, count: int, control: Any, out: Any) -> None:
    try:
        out.put(on_uvloop(_process_main(base_url, event_id, count, control, out)))
    except Exception as exc:  # report, so that the parent does not wait for ever
        out.put({"crashed": repr(exc)})


class Subscribers:
    """N subscribers of an event's live seat map over `processes` client processes: started
    and subscribed on entering, summarized by `finish` once the changes to time are known."""

    def __init__(self, base_url: str, *, event_id: int, count: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.out = context.Queue()
        self.controls = [context.Queue() for _ in range(processes)]
        self.workers = [
            context.Process(
                target=_process,
                args=(
                    base_url,
                    event_id,
                    count // processes + (1 if index < count % processes else 0),
                    control,
                    self.out,
                ),
            )
            for index, control in enumerate(self.controls)
        ]

    def __enter__(self) -> Subscribers:
        for worker in self.workers:
            worker.start()
        self.subscribed = [self.out.get() for _ in self.workers]
        crashed = [s["crashed"] for s in self.subscribed if "crashed" in s]
        if crashed:
            raise RuntimeError(f"subscriber process crashed: {crashed}")
        return self

    def __exit__(self, *_: object) -> None:
        for worker in self.workers:
            if worker.is_alive():
                worker.kill()
            worker.join()

    def finish(
        self, changes: list[tuple[int, int, float]], *, window: tuple[float, float]
    ) -> dict[str, Any]:
        """Stop, compare every subscriber's view with the map, and time the `changes`
        (from the rush's `changes`) to their first showing at each subscriber."""
        for control in self.controls:
            control.put({"changes": changes, "window": window})
        results = [self.out.get() for _ in self.workers]
        crashed = [r["crashed"] for r in results if "crashed" in r]
        if crashed:
            raise RuntimeError(f"subscriber process crashed: {crashed}")
        histogram: Counter[int] = Counter()
        outcomes: Counter[str] = Counter()
        for result in results:
            histogram.update(result["histogram"])
            outcomes.update(result["outcomes"])
        seconds = window[1] - window[0]
        count = sum(r["subscribers"] for r in results)
        return {
            "subscribed": count,
            "messages_per_s": sum(r["messages"] for r in results) / seconds,
            "last_message_after_rush_s": max(r["last_message_at"] for r in results) - window[1],
            # when every subscriber had the map's version (or DRAIN_LIMIT_S, when some never did)
            "caught_up_after_rush_s": max(r["caught_up_at"] for r in results) - window[1],
            "bytes_per_s": sum(r["bytes"] for r in results) / seconds,
            "delay_ms": _histogram_percentiles(histogram),
            "changes": len(changes),
            # every change at every subscriber: shown as such, or superseded in a burst
            "shown_share": sum(r["matched"] for r in results) / max(1, len(changes) * count),
            "seen_without_a_change": sum(r["unmatched"] for r in results),
            "stale_subscribers": sum(r["stale_subscribers"] for r in results),
            "stale_seats": sum(r["stale_seats"] for r in results),
            # subscribers whose last message named an older version than the map's
            "behind": sum(r["behind"] for r in results),
            "caught_up_by_seat_changes": [r["caught_up_by_seat_changes"] for r in results],
            "client_cpu_s": sum(r["cpu_s"] for r in results),
            "outcomes": dict(outcomes),
        }


def _histogram_percentiles(histogram: Counter[int]) -> dict[str, float]:
    total = sum(histogram.values())
    if not total:
        return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0, "min": 0.0}
    ordered = sorted(histogram.items())
    figures: dict[str, float] = {
        "count": total,
        "min": ordered[0][0] * DELAY_BIN_S * 1000,
        "max": ordered[-1][0] * DELAY_BIN_S * 1000,
    }
    for name, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        rank, running = min(total - 1, int(fraction * total)), 0
        for key, n in ordered:
            running += n
            if running > rank:
                figures[name] = key * DELAY_BIN_S * 1000
                break
    return figures
