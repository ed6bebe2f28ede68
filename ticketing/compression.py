"""gzip as both doors serve it: which clients accept it, and compression off the event loop."""

from __future__ import annotations

import asyncio
import gzip

GZIP_LEVEL = 5
"""Bodies are compressed once per version of what they encode: a middle level is enough."""

GZIP_OFF_LOOP_BYTES = 256 * 1024
"""A body at least this large is compressed on a worker thread (zlib lets go of the GIL), so
that the loop serves others meanwhile."""


def accepts_gzip(accept_encoding: str | None) -> bool:
    """RFC 9110 12.5.3: gzip (or *) listed without `q=0`."""
    for coding in (accept_encoding or "").lower().split(","):
        name, _, params = coding.partition(";")
        if name.strip() not in ("gzip", "*"):
            continue
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def compress(body: bytes) -> bytes:
    """The body gzipped, reproducibly (no timestamp), on the loop: for small or cached bodies."""
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


async def compress_off_loop(body: bytes) -> bytes:
    """`compress`, on a worker thread when the body is large."""
    if len(body) >= GZIP_OFF_LOOP_BYTES:
        return await asyncio.to_thread(compress, body)
    return compress(body)
