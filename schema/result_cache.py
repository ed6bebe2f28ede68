"""Encoded results of read-only GraphQL operations, kept with the stamps of the seat-map section
states they were made from (`schema.cached_operations` decides when one is served)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import orjson
from graphql import OperationDefinitionNode
from strawberry.types import ExecutionContext

from ticketing.compression import compress_off_loop

MAX_CACHED_BYTES = 32 * 1024 * 1024
"""Encoded results kept per worker, least recently used first out."""


# What an entry costs besides its bytes (the objects around them, a dependency's key and stamp):
# an estimate, so that many small entries cannot hold much more than the budget.
_ENTRY_OVERHEAD = 256
_DEPENDENCY_OVERHEAD = 128


@dataclass(slots=True)
class Entry:
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
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._sizes: dict[bytes, int] = {}
        self.bytes = 0
        """What the entries keep, as counted against `max_bytes`."""
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: Entry) -> None:
        if entry.size > self.max_bytes // 4:
            return
        self.discard(key)
        self._entries[key] = entry
        self._account(key, entry)

    def discard(self, key: bytes) -> None:
        if self._entries.pop(key, None) is not None:
            self.bytes -= self._sizes.pop(key)

    async def gzip_body(self, key: bytes, entry: Entry) -> bytes:
        """The whole HTTP response body, gzipped once (cached answers are the big ones)."""
        if entry.gzipped_body is None:
            zipped = await compress_off_loop(b'{"data":' + entry.data + b"}")
            if entry.gzipped_body is None:  # another request may have zipped it meanwhile
                entry.gzipped_body = zipped
                if self._entries.get(key) is entry:
                    self._account(key, entry)
        return entry.gzipped_body

    def _account(self, key: bytes, entry: Entry) -> None:
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
