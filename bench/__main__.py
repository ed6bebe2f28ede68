"""Benchmark the service the way users meet it, against floors measured in the same run.

    python -m bench --db sqlite|postgres --workers N [--seats 50000] [--seconds 10] [--only-limits]
    python -m bench --db sqlite|postgres --workers N --only-subscribers [--subscribers 2000]
    python -m bench --ref COMMIT --db sqlite|postgres --workers N [--pairs 3] [--quick]

It seeds a stadium with `ticketing seed`, starts `ticketing serve`, loads it over loopback with
wrk (and a multi-process client for the rush), prints a table and writes JSON to bench/results/.
With --ref, it runs that commit's server and the working tree's in turns instead (bench/ab.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench import ab
from bench.floors import database_floor, serialization_floor, write_floor
from bench.invariants import check_invariants
from bench.procs import (
    HERE,
    connections_by_worker,
    database,
    floor_app,
    rss_mb,
    seed,
    service,
    settle,
    wait_idle,
    worker_pids,
    wrk,
)
from bench.rush import run_orders, run_rush
from bench.subscribers import Subscribers

SECTION_GRAPHQL = """query Section($event: ID!, $section: ID!) {
  event(id: $event) { section(id: $section) {
    seats { id number status priceOptions { id name price { amount currency } } } } } }"""

# The whole stadium as objects: refused before execution (RESULT_TOO_LARGE).
STADIUM_GRAPHQL = """query Stadium($event: ID!) {
  event(id: $event) { sections { rows { seats { id status } } } } }"""

# The largest operation the budget of seats as objects is sized for; `VARY` becomes a new
# alias on every request, so that the result cache never answers it.
LARGEST_ALLOWED_GRAPHQL = """query Section($event: ID!, $section: ID!) {
  event(id: $event) { VARY: section(id: $section) {
    seats { id number status priceOptions { id name price { amount currency } } } } } }"""

SEAT_MAP_GRAPHQL = """query Map($event: ID!) {
  seatMap(eventId: $event) {
    version layoutVersion layout sections { id availableCount statuses } } }"""


def _fetch(base: str, path: str) -> Any:
    response = httpx.get(f"{base}{path}", timeout=120)
    response.raise_for_status()
    return response.json()


def wrk_median(url: str, *, runs: int = 3, **options: Any) -> dict[str, Any]:
    """The run with the median req/s of several: the kernel hands a run's connections to the
    workers unevenly (sometimes nearly all to one), which halves a single run's figure."""
    results = sorted((wrk(url, **options) for _ in range(runs)), key=lambda r: r["rps"])
    median = dict(results[len(results) // 2])
    median["runs_rps"] = [r["rps"] for r in results]
    return median


ORDER_RUNS = 3


def _orders_median(base: str, events: list[dict[str, int]], *, seconds: float) -> dict[str, Any]:
    """The run with the median orders/s of several (one event each): a single run lasts a few
    seconds, and this shared machine's speed moves by a quarter from one minute to the next."""
    runs = []
    for event in events:
        sections = _fetch(base, f"/events/{event['event_id']}/sections")
        seats = _fetch(base, f"/events/{event['event_id']}/sections/{sections[0]['id']}/seats")
        runs.append(
            run_orders(
                base,
                event_id=event["event_id"],
                price_id=seats[0]["price_options"][0]["id"],
                seat_ids=[s["seat_id"] for s in seats],
                seconds=seconds,
            )
        )
    runs.sort(key=lambda run: run["orders_per_s"])
    median = dict(runs[len(runs) // 2])
    median["runs_orders_per_s"] = [run["orders_per_s"] for run in runs]
    return median


def _stall(base: str, event_id: int, seconds: float, *, map_connections: int = 2) -> dict[str, Any]:
    """/health latency while whole maps are being served next to it."""
    result: dict[str, Any] = {}

    def maps() -> None:
        result["map"] = wrk(
            f"{base}/events/{event_id}/seats", connections=map_connections, seconds=seconds
        )

    loader = threading.Thread(target=maps)
    loader.start()
    time.sleep(0.5)
    result["health"] = wrk(f"{base}/health", connections=1, threads=1, seconds=seconds - 1)
    loader.join()
    return result


def _beside_health(
    base: str, body: str, seconds: float, *, vary: str | None = None
) -> dict[str, Any]:
    """/health latency while one client loops on one GraphQL operation."""
    result: dict[str, Any] = {}

    def loop() -> None:
        result["graphql"] = wrk(
            f"{base}/graphql", connections=1, seconds=seconds, method="POST", body=body, vary=vary
        )

    client = threading.Thread(target=loop)
    client.start()
    time.sleep(0.5)
    result["health"] = wrk(f"{base}/health", connections=1, threads=1, seconds=seconds - 1)
    client.join()
    return result


def _limits(database_url: str, event_id: int, seconds: float) -> dict[str, Any]:
    """Seats as objects on one worker: /health while a client loops on the stadium as objects
    (refused before execution), then while one loops on the largest allowed operation."""
    with service(database_url, workers=1) as (base, _):
        sections = _fetch(base, f"/events/{event_id}/sections")
        stadium = json.dumps({"query": STADIUM_GRAPHQL, "variables": {"event": str(event_id)}})
        refused = httpx.post(
            f"{base}/graphql", content=stadium, headers={"content-type": "application/json"}
        ).json()
        assert refused["errors"][0]["extensions"]["code"] == "RESULT_TOO_LARGE", refused
        largest = json.dumps(
            {
                "query": LARGEST_ALLOWED_GRAPHQL,
                "variables": {"event": str(event_id), "section": str(sections[0]["id"])},
            }
        )
        answered = httpx.post(  # and the section's seats into memory
            f"{base}/graphql",
            content=largest.replace("VARY", "warm"),
            headers={"content-type": "application/json"},
            timeout=60,
        ).json()
        assert "errors" not in answered, answered
        return {
            # what a refusal costs, with nothing else asked of the worker
            "refused_alone": wrk(
                f"{base}/graphql", connections=1, seconds=seconds / 2, method="POST", body=stadium
            ),
            "refused": _beside_health(base, stadium, seconds),
            "allowed": _beside_health(base, largest, seconds, vary="VARY"),
        }


LIVE_SECTION_SEATS = 2000
"""The live stadium's sections are the size of the rush hall's one, so that its rushes compare."""
SUBSCRIBED_SETTLE_S = 2.0
"""After the last subscription is sent: time for the server to set up its watches."""


def _rush_on(base: str, event_id: int, section_id: int, args: argparse.Namespace) -> dict[str, Any]:
    """A rush on one section, with its changes (for the subscribers) and its rate of sales."""
    seats = _fetch(base, f"/events/{event_id}/sections/{section_id}/seats")
    return run_rush(
        base,
        event_id=event_id,
        section_id=section_id,
        price_id=seats[0]["price_options"][0]["id"],
        seat_ids=[s["seat_id"] for s in seats],
        clients=args.clients,
        processes=args.client_processes,
        seconds=args.rush_seconds,
        record_changes=True,
    )


def _rush_figures(rush: dict[str, Any]) -> dict[str, Any]:
    return {
        key: rush[key]
        for key in (
            "seconds",
            "seats_sold",
            "seats_sold_per_s",
            "completed_steps_per_s",
            "5xx",
            "selling_seconds",
            "seats_sold_per_s_selling",
            "outcomes",
            "steps",
        )
    }


def _subscribers(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """A rush on one section of a stadium, alone, then with N subscribers following the
    stadium's seat map live, then alone again (each on a section of its own, all alike):
    delivery delays, messages, memory per connection, every subscriber's final view against
    the map, and the rush beside the same rush without them."""
    live = seed(
        database_url,
        *("--seats", str(args.seats), "--section-size", str(LIVE_SECTION_SEATS)),
        *("--name", "Live Stadium"),
    )
    settle(database_url)
    event_id = live["event_id"]
    results: dict[str, Any] = {"subscribers": args.subscribers, "seats": args.seats}
    with service(database_url, workers=args.workers) as (base, server_pid):
        first, during, last = _fetch(base, f"/events/{event_id}/sections")[:3]
        results["rush_alone_before"] = _rush_figures(_rush_on(base, event_id, first["id"], args))
        body = {"query": SEAT_MAP_GRAPHQL, "variables": {"event": str(event_id)}}
        for _ in range(4 * args.workers):  # each worker's map into memory, on new connections
            httpx.post(f"{base}/graphql", json=body, timeout=120).raise_for_status()
        workers = worker_pids(server_pid)
        rss_without = {pid: rss_mb(pid) for pid in workers}
        with Subscribers(
            base, event_id=event_id, count=args.subscribers, processes=args.subscriber_processes
        ) as subscribers:
            time.sleep(SUBSCRIBED_SETTLE_S)
            rss_with = {pid: rss_mb(pid) for pid in workers}
            spread = connections_by_worker(server_pid, urlsplit(base).port or 80)
            started = time.time()
            rush = _rush_on(base, event_id, during["id"], args)
            ended = time.time()
            results["live"] = subscribers.finish(rush.pop("changes"), window=(started, ended))
        results["rush_with"] = _rush_figures(rush)
        results["idle_wait_s"] = wait_idle(workers)
        results["rush_alone_after"] = _rush_figures(_rush_on(base, event_id, last["id"], args))
    live_results = results["live"]
    live_results["connections_by_worker"] = {str(pid): n for pid, n in spread.items()}
    live_results["rss_mb_without"] = {str(pid): rss for pid, rss in rss_without.items()}
    live_results["rss_mb_with"] = {str(pid): rss for pid, rss in rss_with.items()}
    live_results["kb_per_connection"] = (
        (sum(rss_with.values()) - sum(rss_without.values()))
        * 1024
        / max(1, live_results["subscribed"])
    )
    alone = (
        results["rush_alone_before"]["completed_steps_per_s"]
        + results["rush_alone_after"]["completed_steps_per_s"]
    ) / 2
    results["rush_ratio"] = results["rush_with"]["completed_steps_per_s"] / alone
    results["rush_ratio_selling"] = results["rush_with"]["seats_sold_per_s_selling"] / (
        (
            results["rush_alone_before"]["seats_sold_per_s_selling"]
            + results["rush_alone_after"]["seats_sold_per_s_selling"]
        )
        / 2
    )
    results["invariants"] = asyncio.run(check_invariants(database_url, event_id))
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "db": args.db,
        "workers": args.workers,
        "seats": args.seats,
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    seconds = args.seconds
    with database(args.db) as url:
        if args.only_subscribers:
            results["subscribers"] = _subscribers(url, args)
            return results
        print(f"seeding a {args.seats}-seat event on {args.db}", file=sys.stderr)
        stadium = seed(url, "--seats", str(args.seats), "--name", "Stadium")
        if args.only_limits:
            settle(url)
            results["workers"] = 1
            results["limits"] = _limits(url, stadium["event_id"], seconds)
            return results
        rush_event = seed(url, "--seats", "2000", "--section-size", "2000", "--name", "Rush Hall")
        order_events = [  # one per orders run: each run takes every seat of its event
            seed(url, "--seats", "2000", "--section-size", "2000", "--name", f"Order Hall {n}")
            for n in range(1, ORDER_RUNS + 1)
        ]
        floor_hall = seed(url, "--seats", "4000", "--section-size", "2000", "--name", "Floor Hall")
        big = seed(url, "--seats", "100000", "--name", "Mega Dome") if args.rss else None
        settle(url)
        # on a service of its own, before the others: one worker, nothing else loaded
        results["limits"] = _limits(url, stadium["event_id"], seconds)

        with floor_app(workers=args.workers) as floor_base:
            results["floor_framework"] = wrk_median(
                f"{floor_base}/hello", connections=64, seconds=seconds
            )
        results["floor_serialization"] = asyncio.run(serialization_floor(url, stadium["event_id"]))

        with service(url, workers=args.workers) as (base, server_pid):
            event_id = stadium["event_id"]
            sections = _fetch(base, f"/events/{event_id}/sections")
            section = sections[0]
            seat_ids = [
                s["seat_id"]
                for s in _fetch(base, f"/events/{event_id}/sections/{sections[-1]['id']}/seats")
            ]
            results["floor_database"] = asyncio.run(database_floor(url, event_id, seat_ids))
            # First, while no worker has the stadium's map in memory: each worker builds it
            # (~1.3 s of CPU for 50,000 seats) while /health is asked next to it. Four map
            # connections, so that (nearly always) both workers of two get map requests.
            results["stall_cold"] = _stall(base, event_id, seconds, map_connections=4)

            section_url = f"{base}/events/{event_id}/sections/{section['id']}/seats"
            results["section"] = wrk_median(section_url, connections=64, seconds=seconds)
            # the same seats through REST and as GraphQL objects, at one concurrency
            results["section_c4"] = wrk(section_url, connections=4, seconds=seconds)
            body = json.dumps(
                {
                    "query": SECTION_GRAPHQL,
                    "variables": {"event": str(event_id), "section": str(section["id"])},
                }
            )
            results["section_graphql"] = wrk(
                f"{base}/graphql", connections=4, seconds=seconds, method="POST", body=body
            )
            results["map_rest"] = wrk(
                f"{base}/events/{event_id}/seats", connections=2, seconds=seconds
            )
            map_body = json.dumps(
                {"query": SEAT_MAP_GRAPHQL, "variables": {"event": str(event_id)}}
            )
            results["map_graphql"] = wrk(
                f"{base}/graphql", connections=2, seconds=seconds, method="POST", body=map_body
            )
            results["stall"] = _stall(base, event_id, seconds)
            results["floor_writes"] = write_floor(
                url, floor_hall["event_id"], processes=args.workers, connections=16
            )
            settle(url)

            results["orders"] = _orders_median(base, order_events, seconds=args.rush_seconds)
            if not args.rush:
                return results

            if big is not None:
                _fetch(base, f"/events/{big['event_id']}/seats")  # the 100k map, into memory
            rush_sections = _fetch(base, f"/events/{rush_event['event_id']}/sections")
            rush_seats = _fetch(
                base, f"/events/{rush_event['event_id']}/sections/{rush_sections[0]['id']}/seats"
            )
            samples: list[float] = []
            sampling = True

            def sample_rss() -> None:
                while sampling:
                    samples.extend(rss_mb(pid) for pid in worker_pids(server_pid))
                    time.sleep(0.5)

            sampler = threading.Thread(target=sample_rss)
            sampler.start()
            try:
                results["rush"] = run_rush(
                    base,
                    event_id=rush_event["event_id"],
                    section_id=rush_sections[0]["id"],
                    price_id=rush_seats[0]["price_options"][0]["id"],
                    seat_ids=[s["seat_id"] for s in rush_seats],
                    clients=args.clients,
                    processes=args.client_processes,
                    seconds=args.rush_seconds,
                )
            finally:
                sampling = False
                sampler.join()
            results["rush"]["max_worker_rss_mb"] = max(samples, default=0.0)
            results["rush"]["invariants"] = asyncio.run(
                check_invariants(url, rush_event["event_id"])
            )
        if args.subscribers:
            results["subscribers"] = _subscribers(url, args)
    return results


def _ms(value: float) -> str:
    return f"{value:,.2f} ms" if value < 10 else f"{value:,.0f} ms"


def ratios(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(scenario, figure, vs floor, target) rows for the table."""
    framework = results["floor_framework"]["rps"]
    serial = results["floor_serialization"]["p50_ms"]
    rows = [
        ("floor: framework (hello)", f"{framework:,.0f} req/s", "1.00", ""),
        (
            "floor: serialization (map)",
            f"p50 {serial:,.0f} ms, {results['floor_serialization']['bytes']:,} B",
            "1.00",
            "",
        ),
        (
            "floor: database (claims)",
            f"{results['floor_database']['claims_per_s']:,.0f} claims/s",
            "1.00",
            "",
        ),
        (
            "floor: rush writes (claim, book, sell)",
            f"{results['floor_writes']['steps_per_s']:,.0f} steps/s "
            f"({results['floor_writes']['processes']} processes x "
            f"{results['floor_writes']['connections']} connections)",
            f"{results['floor_writes']['steps_per_s'] / framework:.2f} of framework",
            "",
        ),
        (
            "section (1,000 seats, c=64)",
            f"{results['section']['rps']:,.0f} req/s, p50 {results['section']['p50_ms']:.1f} ms, "
            f"p99 {results['section']['p99_ms']:.1f} ms",
            f"{results['section']['rps'] / framework:.2f} of framework",
            ">= 0.50",
        ),
        (
            "map REST (whole event)",
            f"p50 {_ms(results['map_rest']['p50_ms'])}, "
            f"p99 {_ms(results['map_rest']['p99_ms'])}, "
            f"{results['map_rest']['bytes_per_request']:,.0f} B",
            f"{results['map_rest']['p50_ms'] / serial:.3f}x serialization",
            "<= 2x",
        ),
        (
            "map GraphQL (seatMap, compact)",
            f"p50 {_ms(results['map_graphql']['p50_ms'])}, "
            f"p99 {_ms(results['map_graphql']['p99_ms'])}, "
            f"{results['map_graphql']['bytes_per_request']:,.0f} B",
            f"{results['map_graphql']['p50_ms'] / serial:.3f}x serialization",
            "<= 2x",
        ),
        (
            "section REST (c=4)",
            f"{results['section_c4']['rps']:,.0f} req/s, "
            f"p50 {results['section_c4']['p50_ms']:.2f} ms",
            "",
            "",
        ),
        (
            "section-graphql (objects, c=4)",
            f"{results['section_graphql']['rps']:,.0f} req/s, "
            f"p50 {results['section_graphql']['p50_ms']:.2f} ms",
            f"{results['section_graphql']['p50_ms'] / results['section_c4']['p50_ms']:.2f}x "
            "section p50 (c=4)",
            "<= 5x",
        ),
        (
            "stall: /health beside maps",
            f"p99 {results['stall']['health']['p99_ms']:.1f} ms",
            "",
            "< 50 ms",
        ),
        (
            "stall, cold: /health while workers first build the map",
            f"p99 {results['stall_cold']['health']['p99_ms']:.1f} ms, "
            f"max {results['stall_cold']['health']['max_ms']:.0f} ms",
            "",
            "< 50 ms",
        ),
        (
            "orders (16 clients, 1 seat each: hold + book; median of 3)",
            f"{results['orders']['orders']} orders, {results['orders']['orders_per_s']:,.0f} "
            f"orders/s, p50 {results['orders']['p50_ms']:.1f} ms (runs: "
            + " / ".join(f"{rate:,.0f}" for rate in results["orders"]["runs_orders_per_s"])
            + ")",
            "",
            "",
        ),
    ]
    pretix = results.get("pretix")
    if pretix is not None:
        seat_list = pretix["results"]["read_seats_page50"]["ok_per_s"]
        orders = pretix["results"]["write_orders_seated"]["ok_per_s"]
        rows += [
            (
                "vs pretix: seat list",
                f"section {results['section']['rps']:,.0f} req/s (1,000 seats) vs pretix "
                f"{seat_list:,.1f} req/s (50 seats/page)",
                f"{results['section']['rps'] / seat_list:,.0f}x",
                ">= 50x",
            ),
            (
                "vs pretix: orders with seats",
                f"{results['orders']['orders_per_s']:,.0f} orders/s vs pretix {orders:,.1f}/s",
                f"{results['orders']['orders_per_s'] / orders:,.1f}x",
                ">= 20x",
            ),
        ]
    rush = results.get("rush")
    if rush is None:
        return rows
    rows += [
        (
            "rush (500 clients, 2,000 seats)",
            f"{rush['seats_sold']} sold in {rush['seconds']:.1f} s = "
            f"{rush['seats_sold_per_s']:,.0f} seats/s, "
            f"{rush['completed_steps_per_s']:,.0f} steps/s, {rush['5xx']} 5xx, "
            f"{rush['seat_not_available_share']:.0%} SEAT_NOT_AVAILABLE",
            f"{rush['completed_steps_per_s'] / framework:.3f} of framework, "
            f"{rush['completed_steps_per_s'] / results['floor_writes']['steps_per_s']:.3f} of "
            "rush writes",
            ">= 0.25",
        ),
        (
            "rush: oversold / worker RSS",
            f"{rush['invariants']['sold seats without exactly one completed payment']} oversold, "
            f"max RSS {rush['max_worker_rss_mb']:.0f} MB",
            "",
            "0; < 300 MB",
        ),
    ]
    for name, step in rush["steps"].items():
        rows.append(
            (
                f"rush step: {name}",
                f"p50 {step['p50_ms']:.1f} ms, p99 {step['p99_ms']:.1f} ms",
                f"{step['count']} calls",
                "",
            )
        )
    return rows


def limits_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    limits = results.get("limits")
    if limits is None:
        return []
    alone = limits["refused_alone"]
    rows = [
        (
            "limits, 1 worker: the stadium as objects, refused (alone)",
            f"{alone['rps']:,.0f} req/s, p50 {_ms(alone['p50_ms'])}, p99 {_ms(alone['p99_ms'])}",
            "",
            "a few ms",
        )
    ]
    for key, what in (
        ("refused", "stadium as objects, refused"),
        ("allowed", "largest allowed (1,000 seats, price options, varied)"),
    ):
        health, graphql = limits[key]["health"], limits[key]["graphql"]
        rows.append(
            (
                f"limits, 1 worker: /health beside a loop on the {what}",
                f"/health p50 {health['p50_ms']:.1f} ms, p99 {health['p99_ms']:.1f} ms; "
                f"GraphQL {graphql['rps']:,.0f} req/s, p50 {_ms(graphql['p50_ms'])}",
                "",
                "p99 < 50 ms",
            )
        )
    return rows


def _rush_row(rush: dict[str, Any]) -> str:
    failures = ", ".join(
        f"{n} {what}"
        for what, n in sorted(rush["outcomes"].items())
        if (what.startswith("5") and what != "5xx") or what == "connection error"
    )
    return (
        f"{rush['completed_steps_per_s']:,.0f} steps/s, {rush['seats_sold_per_s']:,.0f} seats/s "
        f"({rush['seats_sold']} sold in {rush['seconds']:.1f} s, "
        f"{rush['seats_sold_per_s_selling']:,.0f} seats/s until the last sale at "
        f"{rush['selling_seconds']:.1f} s; {rush['5xx']} 5xx"
        f"{': ' + failures if failures else ''})"
    )


def subscribers_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    scenario = results.get("subscribers")
    if scenario is None:
        return []
    live, delay = scenario["live"], scenario["live"]["delay_ms"]
    spread = " / ".join(str(n) for n in sorted(live["connections_by_worker"].values()))
    rss = " + ".join(
        f"{live['rss_mb_without'][pid]:.0f} -> {live['rss_mb_with'][pid]:.0f}"
        for pid in live["rss_mb_without"]
    )
    outcomes = ", ".join(f"{n} {what}" for what, n in sorted(live["outcomes"].items()))
    return [
        (
            f"subscribers: {scenario['subscribers']:,} on a {scenario['seats']:,}-seat event",
            f"{live['subscribed']:,} subscribed, connections by worker {spread}; "
            f"{outcomes or 'no reload, error or lost connection'}",
            "",
            "",
        ),
        (
            "subscribers: commit -> message",
            f"p50 {_ms(delay['p50'])}, p99 {_ms(delay['p99'])}, max {_ms(delay['max'])} "
            f"({delay['count']:,} first showings of {live['changes']:,} changes; "
            f"{live['shown_share']:.0%} shown, the rest superseded within a burst)",
            "",
            "p99 < 1 s",
        ),
        (
            "subscribers: messages",
            f"{live['messages_per_s']:,.0f} messages/s, {live['bytes_per_s'] / 1e6:,.1f} MB/s, "
            f"the last {live['last_message_after_rush_s']:.1f} s after the rush, all at the map's "
            f"version {live['caught_up_after_rush_s']:.1f} s after it; "
            f"load generator {live['client_cpu_s']:.1f} s of CPU",
            "",
            "",
        ),
        (
            "subscribers: worker RSS, without -> with",
            f"{rss} MB = {live['kb_per_connection']:,.0f} kB per connection",
            "",
            "",
        ),
        (
            "subscribers: final view = seatMap",
            f"{live['stale_subscribers']} subscribers differ ({live['stale_seats']} seats), "
            f"{live['behind']} at an older version than the map's "
            f"(seatChanges since it brings one to the map: {live['caught_up_by_seat_changes']}); "
            f"{live['seen_without_a_change']} changes seen that the rush did not make",
            "",
            "0",
        ),
        ("rush alone, before", _rush_row(scenario["rush_alone_before"]), "", ""),
        (
            "rush with subscribers",
            _rush_row(scenario["rush_with"]),
            f"{scenario['rush_ratio']:.2f} of alone (mean of before and after); seats/s until "
            f"the last sale {scenario['rush_ratio_selling']:.2f}",
            ">= 0.8",
        ),
        ("rush alone, after", _rush_row(scenario["rush_alone_after"]), "", ""),
        (
            "rush with subscribers: oversold",
            f"{scenario['invariants']['sold seats without exactly one completed payment']}",
            "",
            "0",
        ),
    ]


def table(results: dict[str, Any]) -> str:
    core = ratios(results) if "floor_framework" in results else []
    rows = [
        ("scenario", "figures", "ratio", "target"),
        *core,
        *limits_rows(results),
        *subscribers_rows(results),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    header = (
        f"{results['db']}, {results['workers']} worker(s), {results['machine']}, {results['when']}"
    )
    return header + "\n" + "\n".join(f"| {line} |" for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--db", "--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seats", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=10, help="per wrk scenario")
    parser.add_argument("--clients", type=int, default=500, help="rush clients")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--rush-seconds", type=float, default=180, help="rush time limit")
    parser.add_argument("--no-rss", dest="rss", action="store_false", help="skip the 100k event")
    parser.add_argument("--no-rush", dest="rush", action="store_false", help="skip the rush")
    parser.add_argument(
        "--only-limits",
        action="store_true",
        help="only the stadium and the seats-as-objects limits scenario (one worker)",
    )
    parser.add_argument(
        "--subscribers",
        type=int,
        default=2000,
        help="live seat-map subscribers beside a rush on a stadium (0: skip the scenario)",
    )
    parser.add_argument("--subscriber-processes", type=int, default=4)
    parser.add_argument(
        "--only-subscribers", action="store_true", help="only the subscribers scenario"
    )
    parser.add_argument(
        "--pretix",
        type=Path,
        help="JSON of `run_peer.sh bench` (../shared/peers/pretix), for the side-by-side rows",
    )
    parser.add_argument(
        "--ref", help="A/B: that commit's server (A) and the working tree's (B), in turns"
    )
    parser.add_argument("--pairs", type=int, default=3, help="A/B: how many A, B turns")
    parser.add_argument("--quick", action="store_true", help="A/B: small sizes, a smoke run")
    parser.add_argument(
        "--proxy",
        choices=["nginx"],
        help="A/B: the clients talk to nginx in front of the server, as production runs",
    )
    args = parser.parse_args()
    if args.ref is not None:
        ab.main(args)
        return
    results = run(args)
    if args.pretix is not None:
        results["pretix"] = json.loads(args.pretix.read_text())
    name = f"{args.db}-{args.workers}w"
    if args.only_limits:
        name = f"{args.db}-limits"
    elif args.only_subscribers:
        name = f"{args.db}-{args.workers}w-subscribers"
    output = HERE / "results" / f"{name}.json"
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(
        f"\nwrote {output.relative_to(Path.cwd()) if output.is_relative_to(Path.cwd()) else output}"
    )


if __name__ == "__main__":
    main()
