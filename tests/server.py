"""Run the real `ticketing` console script as a user would: seed, serve with worker processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

TICKETING = [sys.executable, "-m", "ticketing.cli"]


def data_dir_of(database_url: str) -> Path:
    """Where a test's server keeps its files (its ticket-signing key): beside its SQLite file,
    or a temporary directory per PostgreSQL database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).parent / "data"
    return Path(tempfile.gettempdir()) / "ticketing-test-data" / str(url.database)


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETING_")}
    env["TICKETING_DATABASE_URL"] = database_url
    env["TICKETING_DATA_DIR"] = str(data_dir_of(database_url))
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    env.update(extra)
    return env


def run_cli(
    database_url: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TICKETING, *args],
        env=cli_env(database_url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def seed(database_url: str, *, seats: int, general_admission: int = 0) -> dict[str, int]:
    result = run_cli(
        database_url, "seed", "--seats", str(seats), "--general-admission", str(general_admission)
    )
    assert result.returncode == 0, result.stderr
    seeded: dict[str, int] = json.loads(result.stdout)
    return seeded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def worker_pids(server_pid: int) -> set[int]:
    """The worker processes uvicorn's supervisor started (multiprocessing's spawn children)."""
    children: list[int] = []
    for task in Path(f"/proc/{server_pid}/task").glob("*"):
        children.extend(int(child) for child in (task / "children").read_text().split())
    workers = set()
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        # multiprocessing's resource tracker is a child too, but no worker
        if b"spawn_main" in command:
            workers.add(child)
    return workers


@contextmanager
def serving(
    database_url: str, *, workers: int, demo: bool = False, log: Path | None = None, **env: str
) -> Iterator[str]:
    """`ticketing serve --workers N` on a free port; yields its base URL; stops it afterwards.
    What the server prints goes to `log` when given."""
    with serving_process(database_url, workers=workers, demo=demo, log=log, **env) as (url, _):
        yield url


@contextmanager
def serving_process(
    database_url: str, *, workers: int, demo: bool = False, log: Path | None = None, **env: str
) -> Iterator[tuple[str, int]]:
    """As `serving`, and yields the server's pid (uvicorn's supervisor) with the URL."""
    port = free_port()
    output = log.open("w") if log is not None else None
    process = subprocess.Popen(
        [
            *TICKETING,
            "serve",
            *([] if demo else ["--no-demo"]),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=cli_env(database_url, TICKETING_SWEEP_INTERVAL_SECONDS="0", **env),
        stdout=output or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                said = process.stdout.read() if process.stdout else log.read_text() if log else ""
                raise AssertionError(f"server exited: {said}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server did not answer /health within 60 s")
            time.sleep(0.2)
        yield base_url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if output is not None:
            output.close()
