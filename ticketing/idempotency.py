"""Idempotency keys: a retried command with the same key and arguments gets its first answer back
and acts once; the same key with other arguments is IDEMPOTENCY_KEY_REUSED."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import KeptRefusal, command
from ticketing.domain import Principal
from ticketing.errors import ErrorCode, TicketingError
from ticketing.models import idempotency_t

T = TypeVar("T")

KEY_HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255
KEY_PATTERN = rf"[!-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?"
"""A key: 1 to 255 printable ASCII characters, no space at either end (HTTP strips those)."""
_KEY = re.compile(KEY_PATTERN)
# Refusals that say nothing about the request itself are not kept: a retry may well succeed.
_NOT_KEPT = {ErrorCode.SERVICE_BUSY, ErrorCode.INTERNAL_ERROR}


@dataclass(frozen=True, slots=True)
class Once:
    """One command's use of a client's key: who sent it (keys are per caller), and a digest of
    the command and its arguments (what "the same request" means)."""

    key: str
    scope: str
    fingerprint: str


def once(
    key: str | None, *, caller: Principal | None, command: str, arguments: Mapping[str, Any]
) -> Once | None:
    """The command's key, or None without one; VALIDATION_ERROR for a key KEY_PATTERN does not
    match."""
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR,
            f"The {KEY_HEADER} header is 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
        )
    text = orjson.dumps([command, arguments], option=orjson.OPT_SORT_KEYS, default=str)
    return Once(
        key=key,
        scope="anonymous" if caller is None else f"user:{caller.user_id}",
        fingerprint=hashlib.sha256(text).hexdigest(),
    )


def _alive(now: datetime) -> sa.ColumnElement[bool]:
    return idempotency_t.c.created_at > now - KEPT_FOR


def _upsert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def within(
    conn: AsyncConnection,
    once: Once | None,
    codec: TypeAdapter[T],
    body: Callable[[], Awaitable[T]],
    *,
    now: datetime,
) -> T:
    """Run the command's `body` in its transaction, unless its key has an answer already.

    The key is taken first, before anything the command locks: a concurrent request with the
    same key waits for it (the key's unique index), then gives the first request's answer. The
    answer is kept in the same transaction; a refusal too: its changes are rolled back to a
    savepoint, the refusal is written, and the transaction commits (`KeptRefusal`).
    """
    if once is None:
        return await body()
    kept = await _take(conn, once, now=now)
    if kept is not None:
        return _replay(kept, once=once, codec=codec)
    try:
        async with conn.begin_nested():
            answer = await body()
    except TicketingError as refusal:
        if refusal.code in _NOT_KEPT:
            raise
        await _keep(conn, once, {"refusal": _refusal_record(refusal)})
        raise KeptRefusal(refusal) from refusal
    await _keep(conn, once, {"answer": codec.dump_python(answer, mode="json")})
    return answer


@dataclass(frozen=True, slots=True)
class _Kept:
    fingerprint: str
    answer: dict[str, Any] | None


async def _take(conn: AsyncConnection, once: Once, *, now: datetime) -> _Kept | None:
    """Take the key (None), or the answer kept under it."""
    insert = _upsert(conn.dialect.name)(idempotency_t).values(
        scope=once.scope, key=once.key, fingerprint=once.fingerprint, created_at=now
    )
    taken = await conn.scalar(
        insert.on_conflict_do_update(
            index_elements=["scope", "key"],
            # a key older than a day is forgotten: it may be used again
            set_={"fingerprint": once.fingerprint, "created_at": now, "answer": None},
            where=sa.not_(_alive(now)),
        ).returning(idempotency_t.c.id)
    )
    if taken is not None:
        return None
    row = (
        await conn.execute(
            sa.select(idempotency_t.c.fingerprint, idempotency_t.c.answer).where(
                idempotency_t.c.scope == once.scope, idempotency_t.c.key == once.key
            )
        )
    ).one()
    return _Kept(row.fingerprint, None if row.answer is None else orjson.loads(row.answer))


async def _keep(conn: AsyncConnection, once: Once, answer: dict[str, Any]) -> None:
    await conn.execute(
        sa.update(idempotency_t)
        .where(idempotency_t.c.scope == once.scope, idempotency_t.c.key == once.key)
        .values(answer=orjson.dumps(answer, default=str).decode())
    )


def _refusal_record(refusal: TicketingError) -> dict[str, Any]:
    return {
        "code": refusal.code.value,
        "message": refusal.message,
        "field": list(refusal.field) if refusal.field else None,
        "context": refusal.context,
    }


def _replay(kept: _Kept, *, once: Once, codec: TypeAdapter[T]) -> T:
    if kept.fingerprint != once.fingerprint:
        raise TicketingError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            f"This {KEY_HEADER} was used for another request; use a new key for a new request.",
        )
    if kept.answer is None:  # pragma: no cover - a key is taken and answered in one transaction
        raise TicketingError(ErrorCode.SERVICE_BUSY, "Retry in a moment.")
    refusal = kept.answer.get("refusal")
    if refusal is not None:
        raise TicketingError(
            ErrorCode(refusal["code"]),
            refusal["message"],
            field=tuple(refusal["field"]) if refusal["field"] else None,
            context=refusal["context"],
        )
    return codec.validate_python(kept.answer["answer"])


@command
async def forget_old_keys(conn: AsyncConnection, *, now: datetime) -> int:
    """Delete keys kept for longer than a day (the sweep)."""
    deleted = await conn.execute(
        sa.delete(idempotency_t).where(sa.not_(_alive(now))).returning(idempotency_t.c.id)
    )
    return len(deleted.all())
