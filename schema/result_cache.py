"""Cached results of read-only GraphQL operations over seat maps, never stale.

Seats as GraphQL objects cost graphql-core work per field: a 1,000-seat section with its price
options is ~20,000 fields. Many fans ask the same question at once (the same section of the same
event), so the answer is kept, encoded, with the stamps of the section states it was made from.
Before a cached answer is used, those stamps are compared with the current ones, which come from
the database's section versions read after the request arrived (see `ticketing.catalog.seatmaps`):
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
import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import orjson
from graphql import ExecutionResult, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from rest.seatmaps import GZIP_LEVEL, GZIP_OFF_LOOP_BYTES, accepts_gzip
from schema.context import Context
from ticketing.domain import sees_drafts
from ticketing.errors import TicketingError

MAX_CACHED_BYTES = 32 * 1024 * 1024
"""Encoded results kept per worker, least recently used first out."""


# What an entry costs besides its bytes (the objects around them, a dependency's key and stamp):
# an estimate, so that many small entries cannot hold much more than the budget.
_ENTRY_OVERHEAD = 256
_DEPENDENCY_OVERHEAD = 128


@dataclass(slots=True)
class _Entry:
    data: bytes
    depends_on: dict[tuple[int, int], str]
    gzipped_body: bytes | None = None

    @property
    def size(self) -> int:
        zipped = len(self.gzipped_body) if self.gzipped_body is not None else 0
        return (
            _ENTRY_OVERHEAD + len(self.data) + zipped + _DEPENDENCY_OVERHEAD * len(self.depends_on)
        )


class ResultCache:
    """One per application (worker process): a hash of the operation -> encoded data, within a
    budget of bytes that counts everything an entry keeps."""

    def __init__(self, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._sizes: dict[bytes, int] = {}
        self.bytes = 0
        """What the entries keep, as counted against `max_bytes`."""
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: _Entry) -> None:
        if entry.size > self.max_bytes // 4:
            return
        self.discard(key)
        self._entries[key] = entry
        self._account(key, entry)

    def discard(self, key: bytes) -> None:
        if self._entries.pop(key, None) is not None:
            self.bytes -= self._sizes.pop(key)

    async def gzip_body(self, key: bytes, entry: _Entry) -> bytes:
        """The whole HTTP response body, gzipped once (cached answers are the big ones); a
        large one on a worker thread (zlib lets go of the GIL), so that the loop serves others
        meanwhile."""
        if entry.gzipped_body is None:
            body = b'{"data":' + entry.data + b"}"
            if len(body) >= GZIP_OFF_LOOP_BYTES:
                zipped = await asyncio.to_thread(
                    gzip.compress, body, compresslevel=GZIP_LEVEL, mtime=0
                )
            else:
                zipped = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            if entry.gzipped_body is None:
                entry.gzipped_body = zipped
                if self._entries.get(key) is entry:
                    self._account(key, entry)
        return entry.gzipped_body

    def _account(self, key: bytes, entry: _Entry) -> None:
        self.bytes += entry.size - self._sizes.get(key, 0)
        self._sizes[key] = entry.size
        while self.bytes > self.max_bytes:
            evicted, _ = self._entries.popitem(last=False)
            self.bytes -= self._sizes.pop(evicted)


def cache_key(execution: ExecutionContext, *, drafts: bool) -> bytes:
    """A hash of what decides the answer: the document, the operation, the values of the
    variables the operation declares (a client's undeclared ones change nothing), and whether
    drafts are seen. Only the hash is kept."""
    declared = _declared_variables(execution)
    values = execution.variables or {}
    used = {name: values[name] for name in declared if name in values}
    text = orjson.dumps(
        (execution.query, execution.operation_name, used, drafts), option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(text).digest()


def _declared_variables(execution: ExecutionContext) -> list[str]:
    document = execution.graphql_document
    if document is None:
        return []
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        named = operation.name.value if operation.name else None
        if named == execution.operation_name or len(operations) == 1:
            return [v.variable.name.value for v in operation.variable_definitions or ()]
    return []


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
        key = cache_key(execution, drafts=sees_drafts(viewer))
        entry = cache.get(key)
        if entry is not None:
            if await context.still_current(entry.depends_on):
                cache.hits += 1
                # orjson (our router's encoder) embeds the stored bytes as they are
                if accepts_gzip(context.request.headers.get("accept-encoding")):
                    # picked up by the router's create_response (see schema.graphql)
                    context.response.ticketing_gzip_body = await cache.gzip_body(key, entry)
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
