"""Serving read-only operations from `ResultCache` while the seat-map sections they read are
unchanged (the stamps are read from the database after the request arrived)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import orjson
from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.context import Context
from schema.result_cache import Entry, cache_key
from ticketing.compression import accepts_gzip
from ticketing.domain import sees_drafts
from ticketing.errors import TicketingError


class SeatMapResultCache(SchemaExtension):
    """Serve a query from `ResultCache` when its seat-map sections are unchanged; fill it when
    the operation read only seat-map sections, what the event's revision covers, or what never
    changes (anything read through `Context.call` makes it uncacheable; mutations never are)."""

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
            cache.put(key, Entry(orjson.dumps(result.data), dict(context.depends_on)))
