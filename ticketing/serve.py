"""Several worker processes, each with a listening socket of its own (SO_REUSEPORT).

`uvicorn --workers N` shares one listening socket: whichever worker wakes first accepts, and a
burst of keep-alive connections (a load balancer's pool, a benchmark, a rush of browsers) can end
up nearly all on one worker while the other idles; measured here, single runs came out at full
speed or at half. With a socket per worker the kernel spreads connections across the workers by
their address hash.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

log = logging.getLogger("ticketing.serve")

APP = "rest.app:create_app"
_PR_SET_PDEATHSIG = 1
_MIN_UPTIME_S = 5.0  # a worker that dies sooner failed to start: stop instead of looping


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the supervisor dies, even by SIGKILL (no orphaned workers)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _worker(host: str, port: int, log_level: str, access_log: bool) -> None:
    import uvicorn

    _die_with_parent()

    config = uvicorn.Config(
        APP, factory=True, host=host, port=port, log_level=log_level, access_log=access_log
    )
    uvicorn.Server(config).run(sockets=[_listen(host, port)])


def serve_workers(*, host: str, port: int, workers: int, log_level: str, access_log: bool) -> None:
    """Run `workers` processes until SIGINT/SIGTERM; a worker that dies is started again."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(host, port, log_level, access_log))
        process.start()
        return process

    def stop(_signum: int = 0, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        # SIGTERM, whatever we got: after a Ctrl-C (which the workers got too), a second SIGINT
        # would make uvicorn exit without finishing its requests.
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)

    processes = [start() for _ in range(workers)]
    started = [time.monotonic()] * workers
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    failed = False
    while not stopping:
        time.sleep(0.5)
        for index, process in enumerate(processes):
            if process.is_alive() or stopping:
                continue
            if time.monotonic() - started[index] < _MIN_UPTIME_S:
                log.error("worker %s failed at start (exit %s)", process.pid, process.exitcode)
                failed = True
                stop()
                break
            log.warning("worker %s exited (%s); starting another", process.pid, process.exitcode)
            processes[index], started[index] = start(), time.monotonic()
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    if failed:
        raise SystemExit(1)
