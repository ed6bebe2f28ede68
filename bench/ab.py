"""A/B against a git ref: the ref's server and the current one, run in turns on the same machine,
each from its own tree (`git archive`) with this venv, on a fresh database per run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.floors import write_floor
from bench.invariants import check_invariants
from bench.procs import (
    HERE,
    ROOT,
    connections_by_worker,
    database,
    proxied,
    seed,
    service,
    settle,
    wrk,
)
from bench.rush import run_orders, run_rush


@dataclass(frozen=True)
class Sizes:
    section_seats: int = 1000
    order_seats: int = 2000
    rush_seats: int = 2000
    floor_seats: int = 4000
    seconds: float = 10  # per wrk run
    rush_seconds: float = 180  # the time limit of the orders and of the rush
    clients: int = 500  # rush clients
    client_processes: int = 4


QUICK = Sizes(
    section_seats=200,
    order_seats=300,
    rush_seats=300,
    floor_seats=600,
    seconds=2,
    rush_seconds=30,
    clients=50,
    client_processes=2,
)


@dataclass
class Run:
    side: str  # "A" (the ref) or "B" (the current tree)
    log: Path
    figures: dict[str, float] = field(default_factory=dict)
    spread: dict[str, list[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@contextmanager
def exported(ref: str) -> Iterator[Path]:
    """The tree of `ref`, as `git archive` gives it, in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="ticketing-ref-") as folder:
        archive = subprocess.Popen(
            ["git", "-C", str(ROOT), "archive", "--format=tar", ref], stdout=subprocess.PIPE
        )
        subprocess.run(["tar", "-x", "-C", folder], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise SystemExit(f"git archive {ref} failed")
        yield Path(folder)


def _fetch(base: str, path: str) -> Any:
    response = httpx.get(f"{base}{path}", timeout=120)
    response.raise_for_status()
    return response.json()


def _first_section_seats(base: str, event_id: int) -> tuple[int, int, list[int]]:
    """(section id, price id, seat ids) of the event's first section."""
    sections = _fetch(base, f"/events/{event_id}/sections")
    seats = _fetch(base, f"/events/{event_id}/sections/{sections[0]['id']}/seats")
    return sections[0]["id"], seats[0]["price_options"][0]["id"], [s["seat_id"] for s in seats]


class SpreadSampler:
    """Samples, while a scenario runs, how the server's connections sit on its worker pids."""

    def __init__(self, server_pid: int, port: int) -> None:
        self.server_pid, self.port = server_pid, port
        self.busiest: dict[int, int] = {}
        self._running = True
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while self._running:
            snapshot = connections_by_worker(self.server_pid, self.port)
            if sum(snapshot.values()) > sum(self.busiest.values()):
                self.busiest = snapshot
            time.sleep(0.3)

    def __enter__(self) -> SpreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._running = False
        self._thread.join()

    def counts(self) -> list[str]:
        """`pid:connections`, the most loaded worker first."""
        ordered = sorted(self.busiest.items(), key=lambda item: item[1], reverse=True)
        return [f"{pid}:{count}" for pid, count in ordered]


async def _oversold(database_url: str, event_ids: list[int]) -> dict[str, int]:
    found: Counter[str] = Counter()
    for event_id in event_ids:
        invariants = await check_invariants(database_url, event_id)
        invariants.pop("sold seats")
        found.update(invariants)
    return {name: count for name, count in found.items() if count}


def run_side(
    side: str, root: Path, *, kind: str, workers: int, sizes: Sizes, logs: Path, proxy: bool
) -> Run:
    """One server from `root` on a fresh database: orders, the section's seat list, the rush."""
    log = Path(tempfile.mkstemp(prefix=f"ab-{side}-", suffix=".log", dir=logs)[1])
    run = Run(side=side, log=log)
    with database(kind) as url:
        section_event = seed(
            url, "--seats", str(sizes.section_seats), "--section-size", str(sizes.section_seats),
            "--name", "Section Hall", root=root,
        )  # fmt: skip
        order_event = seed(
            url, "--seats", str(sizes.order_seats), "--section-size", str(sizes.order_seats),
            "--name", "Order Hall", root=root,
        )  # fmt: skip
        rush_event = seed(
            url, "--seats", str(sizes.rush_seats), "--section-size", str(sizes.rush_seats),
            "--name", "Rush Hall", root=root,
        )  # fmt: skip
        settle(url)
        with contextlib.ExitStack() as stack:
            server, server_pid = stack.enter_context(
                service(url, workers=workers, root=root, log=log)
            )
            port = urlsplit(server).port or 80
            base = stack.enter_context(proxied(server)) if proxy else server
            _, price_id, seat_ids = _first_section_seats(base, order_event["event_id"])
            with SpreadSampler(server_pid, port) as sampler:
                orders = run_orders(
                    base,
                    event_id=order_event["event_id"],
                    price_id=price_id,
                    seat_ids=seat_ids,
                    seconds=sizes.rush_seconds,
                )
            run.spread["orders"] = sampler.counts()
            run.figures["orders/s"] = orders["orders_per_s"]
            failed = {status: n for status, n in orders["outcomes"].items() if status[0] in "50"}
            if failed:
                run.failures.append(f"orders answered {failed} (0: connection broken)")

            section_id, _, _ = _first_section_seats(base, section_event["event_id"])
            section_url = f"{base}/events/{section_event['event_id']}/sections/{section_id}/seats"
            with SpreadSampler(server_pid, port) as sampler:
                section = wrk(section_url, connections=64, seconds=sizes.seconds)
            run.spread["section"] = sampler.counts()
            run.figures["section req/s"] = section["rps"]
            if section["non_2xx"]:
                run.failures.append(f"{section['non_2xx']} section answers were not 2xx")

            rush_section, rush_price, rush_seats = _first_section_seats(
                base, rush_event["event_id"]
            )
            with SpreadSampler(server_pid, port) as sampler:
                rush = run_rush(
                    base,
                    event_id=rush_event["event_id"],
                    section_id=rush_section,
                    price_id=rush_price,
                    seat_ids=rush_seats,
                    clients=sizes.clients,
                    processes=sizes.client_processes,
                    seconds=sizes.rush_seconds,
                )
            run.spread["rush"] = sampler.counts()
            run.figures["rush steps/s"] = rush["completed_steps_per_s"]
            run.figures["rush seats/s"] = rush["seats_sold_per_s"]
            if rush["5xx"]:
                answers = {k: n for k, n in rush["outcomes"].items() if k[0] == "5"}
                run.failures.append(f"the rush had {rush['5xx']} 5xx: {answers}")
        oversold = asyncio.run(_oversold(url, [order_event["event_id"], rush_event["event_id"]]))
        if oversold:
            run.failures.append(f"oversold or doubled seats: {oversold}")
    if "Traceback" in log.read_text(errors="replace"):
        run.failures.append("a Traceback in the server log")
    return run


def rush_floor(kind: str, workers: int, sizes: Sizes) -> float:
    """The rush-writes floor (raw conditional UPDATEs), once per database: no server code runs."""
    with database(kind) as url:
        hall = seed(
            url, "--seats", str(sizes.floor_seats), "--section-size", str(sizes.floor_seats),
            "--name", "Floor Hall",
        )  # fmt: skip
        settle(url)
        steps: float = write_floor(url, hall["event_id"], processes=workers, connections=16)[
            "steps_per_s"
        ]
        return steps


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(runs: list[Run], *, floor: float, header: str) -> str:
    pairs = list(zip(runs[0::2], runs[1::2], strict=True))
    rows = [("scenario", "A (ref) median", "B (current) median", "B/A (median of pairs)")]
    for name in runs[0].figures:
        a = [pair[0].figures[name] for pair in pairs]
        b = [pair[1].figures[name] for pair in pairs]
        ratio = _median([y / x for x, y in zip(a, b, strict=True) if x])
        rows.append((name, f"{_median(a):,.1f}", f"{_median(b):,.1f}", f"{ratio:.3f}"))
    a_rush = _median([pair[0].figures["rush steps/s"] for pair in pairs])
    b_rush = _median([pair[1].figures["rush steps/s"] for pair in pairs])
    rows.append(
        (f"rush / rush-writes floor ({floor:,.0f} steps/s)", f"{a_rush / floor:.3f}",
         f"{b_rush / floor:.3f}", "")
    )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    body = "\n".join(f"| {line} |" for line in lines)
    spread = "\n".join(
        f"  {run.side}: "
        + ", ".join(
            f"{scenario} {' '.join(counts) or '-'}" for scenario, counts in run.spread.items()
        )
        + f"  (log {run.log})"
        for run in runs
    )
    return (
        f"{header}\n{body}\n\nconnections per worker (pid:connections, the busiest sample of "
        f"each scenario, most loaded first), and each run's server log:\n{spread}"
    )


def main(args: Any) -> None:
    sizes = QUICK
    if not args.quick:
        sizes = Sizes(
            seconds=args.seconds,
            rush_seconds=args.rush_seconds,
            clients=args.clients,
            client_processes=args.client_processes,
        )
    logs = Path(tempfile.mkdtemp(prefix="ticketing-ab-logs-"))
    current = ROOT
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", f"{args.ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if commit.returncode != 0:
        raise SystemExit(f"--ref {args.ref}: {commit.stderr.strip()}")
    with exported(args.ref) as ref_root:
        print(f"ref {args.ref} exported to {ref_root}; server logs in {logs}", file=sys.stderr)
        floor = rush_floor(args.db, args.workers, sizes)
        runs: list[Run] = []
        for pair in range(args.pairs):
            for side, root in (("A", ref_root), ("B", current)):
                print(f"pair {pair + 1}/{args.pairs}: {side}", file=sys.stderr)
                runs.append(
                    run_side(
                        side,
                        root,
                        kind=args.db,
                        workers=args.workers,
                        sizes=sizes,
                        logs=logs,
                        proxy=args.proxy == "nginx",
                    )
                )
    header = (
        f"A = {args.ref} ({commit.stdout.strip()}), B = the working tree; {args.db}, "
        f"{args.workers} worker(s), {args.pairs} pairs{', quick sizes' if args.quick else ''}"
        f"{', behind nginx' if args.proxy == 'nginx' else ''}"
    )
    print(table(runs, floor=floor, header=header))
    proxy = "-nginx" if args.proxy == "nginx" else ""
    output = HERE / "results" / f"ab-{args.db}-{args.workers}w{proxy}.json"
    output.parent.mkdir(exist_ok=True)
    output.write_text(
        json.dumps(
            {"header": header, "rush_writes_floor": floor, "runs": [asdict(r) for r in runs]},
            indent=2,
            default=str,
        )
    )
    print(f"\nwrote {output}")
    failures = [f"{run.side}: {what} (log {run.log})" for run in runs for what in run.failures]
    if failures:
        # the figures above are printed for diagnosis; such runs must not be taken as a result
        raise SystemExit("FAILED:\n" + "\n".join(failures))
