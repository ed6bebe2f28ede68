"""Cached results of read-only GraphQL operations over seat maps, never stale.

Seats as GraphQL objects cost graphql-core work per field: a 1,000-seat section with its price
options is ~20,000 fields. Many fans ask the same question at once (the same section of the same
event), so the answer is kept, encoded, with the stamps of the section states it was made from.
Before a cached answer is used, those stamps are compared with the current ones, which come from
the database's section versions read after the request arrived (see `ticketing.services.seatmaps`):
a cached answer is served only when executing the operation again would give the same bytes.

An operation is cached only when everything it read is a seat-map section state, data only a
manager's edit of the event changes (the event, its venue, its price levels: the answer depends
on the event's revision, read with the versions), or data that never changes (an event's rows);
anything read through `Context.call` (carts, payments, event lists, top-level venues, ...) makes
it uncacheable. Mutations never are. Managers see drafts: their answers are kept apart.
"""

from __future__ import annotations

import asyncio
import gzip
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import orjson
from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from rest.seatmaps import GZIP_LEVEL, GZIP_OFF_LOOP_BYTES, accepts_gzip
from schema.context import Context
from ticketing.domain import sees_drafts
from ticketing.errors import TicketingError

MAX_CACHED_BYTES = 32 * 1024 * 1024
"""Encoded results kept per worker, least recently used first out."""


@dataclass(slots=True)
class _Entry:
    data: bytes
    depends_on: dict[tuple[int, int], str]
    gzipped_body: bytes | None = None

    async def gzip_body(self) -> bytes:
        """The whole HTTP response body, gzipped once (cached answers are the big ones); a
        large one on a worker thread (zlib lets go of the GIL), so that the loop serves others
        meanwhile (a whole stadium's map: ~1.9 MB, ~40 ms)."""
        if self.gzipped_body is None:
            body = b'{"data":' + self.data + b"}"
            if len(body) >= GZIP_OFF_LOOP_BYTES:
                zipped = await asyncio.to_thread(
                    gzip.compress, body, compresslevel=GZIP_LEVEL, mtime=0
                )
            else:
                zipped = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            if self.gzipped_body is None:
                self.gzipped_body = zipped
        return self.gzipped_body


class ResultCache:
    """One per application (worker process): operation text + variables -> encoded data."""

    def __init__(self, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: _Entry) -> None:
        if len(entry.data) > self._max_bytes // 4:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.data)
        self._entries[key] = entry
        self._bytes += len(entry.data)
        while self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.data)

    def discard(self, key: bytes) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.data)


class SeatMapResultCache(SchemaExtension):
    """Serve a query from `ResultCache` when its seat-map sections are unchanged; fill it when
    the operation was cacheable."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        cache = context.result_cache if isinstance(context, Context) else None
        if cache is None or execution.operation_type is not OperationType.QUERY:
            yield
            return
        try:
            viewer = await context.viewer()
        except TicketingError:  # a bad token: the operation reports it
            yield
            return
        # Managers see drafts: their answers are kept apart from everyone else's.
        key = orjson.dumps(
            (execution.query, execution.operation_name, execution.variables, sees_drafts(viewer)),
            option=orjson.OPT_SORT_KEYS,
        )
        entry = cache.get(key)
        if entry is not None:
            if await context.still_current(entry.depends_on):
                cache.hits += 1
                # orjson (our router's encoder) embeds the stored bytes as they are
                if accepts_gzip(context.request.headers.get("accept-encoding")):
                    # picked up by the router's create_response (see schema.graphql)
                    context.response.ticketing_gzip_body = await entry.gzip_body()
                execution.result = ExecutionResult(
                    data=cast(dict[str, object], orjson.Fragment(entry.data))
                )
                yield
                return
            cache.discard(key)
        cache.misses += 1
        yield
        result = execution.result
        if (
            isinstance(result, ExecutionResult)
            and not result.errors
            and result.data is not None
            and context.cacheable
            and context.depends_on
        ):
            cache.put(key, _Entry(orjson.dumps(result.data), dict(context.depends_on)))
