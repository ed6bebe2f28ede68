"""Processes the benchmark runs: a database to measure on, the service, the floor app, wrk."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POSTGRES_URL = os.environ.get(
    "TICKETING_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def ticketing_cli() -> list[str]:
    return [sys.executable, "-m", "ticketing.cli"]


def env_for(database_url: str, *, root: Path = ROOT, **extra: str) -> dict[str, str]:
    """The environment of a `ticketing` process whose code comes from the tree at `root`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETING_")}
    env["TICKETING_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(root)
    env.update(extra)
    return env


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database for one benchmark run, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ticketing-bench-") as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    name = f"ticketing_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _settle(database_url: str) -> None:
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                await connection.execute(sa.text("VACUUM ANALYZE"))
                await connection.execute(sa.text("CHECKPOINT"))
            else:
                await connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        await engine.dispose()


def settle(database_url: str) -> None:
    """Do now what the database would otherwise do in the middle of a later scenario, after
    bulk writes (seeding 150,000 seats, the write floor): vacuum, analyze and write the dirty
    pages (PostgreSQL), checkpoint the WAL (SQLite)."""
    asyncio.run(_settle(database_url))


def seed(database_url: str, *args: str, root: Path = ROOT) -> dict[str, int]:
    started = time.perf_counter()
    result = subprocess.run(
        [*ticketing_cli(), "seed", *args],
        env=env_for(database_url, root=root),
        cwd=root,  # `python -m` puts the working directory first on the path
        capture_output=True,
        text=True,
        check=True,
    )
    seeded: dict[str, int] = json.loads(result.stdout)
    print(f"  seeded {' '.join(args)} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return seeded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within 90 s")


@contextmanager
def running(
    command: list[str],
    *,
    health_url: str,
    env: dict[str, str],
    cwd: Path = ROOT,
    log: Path | None = None,
) -> Iterator[int]:
    """Start a server process; yield its pid once `health_url` answers; stop it afterwards.
    What it prints goes to `log` when given."""
    output = log.open("w") if log is not None else None
    process = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=output or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if output else None,
    )
    try:
        _wait_for(health_url, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if output is not None:
            output.close()


ACCEPT_ENCODING = "gzip"


@contextmanager
def service(
    database_url: str, *, workers: int, root: Path = ROOT, log: Path | None = None
) -> Iterator[tuple[str, int]]:
    """`ticketing serve` from the tree at `root`, as a user starts it; yields (base URL, pid)."""
    port = free_port()
    command = [
        *ticketing_cli(),
        "serve",
        "--no-demo",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{port}"
    env = env_for(
        database_url,
        root=root,
        TICKETING_DB_POOL_SIZE="20",
        TICKETING_DB_MAX_OVERFLOW="20",
        TICKETING_CART__HOLD_SECONDS="600",
        TICKETING_CART_HOLD_SECONDS="600",  # its name before the nested settings (A/B refs)
    )
    with running(command, health_url=f"{base}/health", env=env, cwd=root, log=log) as pid:
        yield base, pid


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
}}
"""


@contextmanager
def proxied(upstream: str) -> Iterator[str]:
    """nginx in front of `upstream`, as production runs: a connection to the server per request
    (no upstream keep-alive), so the kernel spreads them over the workers' shared socket."""
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed: apt-get install nginx-light")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as root:
        conf = Path(root) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=root, port=port, upstream=upstream))
        base = f"http://127.0.0.1:{port}"
        command = ["nginx", "-p", root, "-c", str(conf)]
        with running(command, health_url=f"{base}/health", env=dict(os.environ)):
            yield base


@contextmanager
def floor_app(*, workers: int) -> Iterator[str]:
    """The hello-world app of the same stack, with the same number of workers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.floor_app:app",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{port}"
    with running(command, health_url=f"{base}/hello", env=env_for("sqlite://")):
        yield base


def worker_pids(pid: int) -> list[int]:
    """The server's worker processes (uvicorn's children), or the server itself."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text().split()
        children.extend(int(child) for child in text)
    # uvicorn --workers N: supervisor -> workers (multiprocessing may add a resource tracker).
    workers = [c for c in children if "uvicorn" in _cmdline(c) or "spawn_main" in _cmdline(c)]
    return workers or [pid]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def connections_by_worker(server_pid: int, port: int) -> dict[int, int]:
    """How many established connections to `port` each worker process holds right now."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                    established.add(fields[9])
    return {pid: len(_socket_inodes(pid) & established) for pid in worker_pids(server_pid)}


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pids: list[int], *, share: float = 0.1, limit_s: float = 60) -> float:
    """Wait until the processes together use under `share` of a core (work left over from the
    previous scenario, such as messages still queued for closed connections, would land in the
    next); returns the seconds waited."""
    started = time.monotonic()
    used = sum(cpu_seconds(pid) for pid in pids)
    while time.monotonic() - started < limit_s:
        time.sleep(0.5)
        now = sum(cpu_seconds(pid) for pid in pids)
        if now - used < share * 0.5:
            break
        used = now
    return time.monotonic() - started


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    method: str | None = None,
    body: str | None = None,
    vary: str | None = None,
    accept_encoding: str = ACCEPT_ENCODING,
) -> dict[str, Any]:
    """Run wrk and return its summary: requests/s and latency percentiles in milliseconds.

    Requests say `Accept-Encoding: gzip` as browsers and HTTP client libraries do. `vary`: a
    word of the body that every request numbers anew (one thread, so numbers never repeat)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    env = dict(os.environ)
    if method:
        env["BENCH_METHOD"] = method
    if body:
        env["BENCH_BODY"] = body
    if vary:
        env["BENCH_VARY"] = vary
        threads = 1
    env["BENCH_ACCEPT_ENCODING"] = accept_encoding
    result = subprocess.run(
        [
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "60s",
            "-s",
            str(HERE / "lua" / "report.lua"),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / seconds_run,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": raw["socket_errors"] + raw["non_2xx"],
        "non_2xx": raw["non_2xx"],
        "bytes_per_request": raw["bytes"] / max(1, raw["requests"]),
    }
