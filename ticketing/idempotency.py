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
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db import command, dialect_name, short_command, short_query
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


class _TakenError(Exception):
    """The key was claimed by a request that committed first: its answer is the one to give."""


def _alive(now: datetime) -> sa.ColumnElement[bool]:
    return idempotency_t.c.created_at > now - KEPT_FOR


def _upsert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def claim(session: AsyncSession, once: Once | None, *, now: datetime) -> None:
    """Inside the command's transaction, before anything else it locks: take the key, or raise
    `_TakenError` when another request holds it. A concurrent request with the same key waits here
    (the key's unique index) until the first commits, and then gives the first's answer."""
    if once is None:
        return
    insert = _upsert(await dialect_name(session))(idempotency_t).values(
        scope=once.scope, key=once.key, fingerprint=once.fingerprint, created_at=now
    )
    taken = await session.scalar(
        insert.on_conflict_do_update(
            index_elements=["scope", "key"],
            # a key older than a day is forgotten: it may be used again
            set_={"fingerprint": once.fingerprint, "created_at": now, "answer": None},
            where=sa.not_(_alive(now)),
        ).returning(idempotency_t.c.id)
    )
    if taken is None:
        raise _TakenError


async def keep(session: AsyncSession, once: Once | None, answer: T, codec: TypeAdapter[T]) -> T:
    """At the end of the command's transaction: the answer a retry with the key will get."""
    if once is not None:
        await session.execute(
            sa.update(idempotency_t)
            .where(idempotency_t.c.scope == once.scope, idempotency_t.c.key == once.key)
            .values(answer=_encode({"answer": codec.dump_python(answer, mode="json")}))
        )
    return answer


async def run_once(
    session: AsyncSession,
    once: Once | None,
    codec: TypeAdapter[T],
    attempt: Callable[[], Awaitable[T]],
    *,
    now: datetime,
) -> T:
    """Run the command (`attempt`, which calls `claim` and `keep` in its transaction), or give
    the answer kept for its key. A refusal is kept too, in a transaction of its own (the
    command's rolled back), unless a concurrent request with the key got an answer first."""
    if once is None:
        return await attempt()
    kept = await _kept_answer(session, once=once, now=now)
    if kept is None:
        try:
            return await attempt()
        except _TakenError:
            kept = await _kept_answer(session, once=once, now=now)
        except TicketingError as refusal:
            if refusal.code in _NOT_KEPT:
                raise
            kept = await _keep_refusal(session, once=once, refusal=refusal, now=now)
    if kept is None:  # pragma: no cover - taken by a commit, so kept; forgotten within a day
        raise TicketingError(ErrorCode.SERVICE_BUSY, "Retry in a moment.")
    return _replay(kept, once=once, codec=codec)


@dataclass(frozen=True, slots=True)
class _Kept:
    fingerprint: str
    answer: dict[str, Any] | None  # None while the first request is still running


@short_query
async def _kept_answer(session: AsyncSession, *, once: Once, now: datetime) -> _Kept | None:
    row = (
        await session.execute(
            sa.select(idempotency_t.c.fingerprint, idempotency_t.c.answer).where(
                idempotency_t.c.scope == once.scope,
                idempotency_t.c.key == once.key,
                _alive(now),
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return _Kept(row.fingerprint, None if row.answer is None else orjson.loads(row.answer))


@short_command
async def _keep_refusal(
    session: AsyncSession, *, once: Once, refusal: TicketingError, now: datetime
) -> _Kept | None:
    answer = {
        "refusal": {
            "code": refusal.code.value,
            "message": refusal.message,
            "field": list(refusal.field) if refusal.field else None,
            "context": refusal.context,
        }
    }
    insert = _upsert(await dialect_name(session))(idempotency_t).values(
        scope=once.scope,
        key=once.key,
        fingerprint=once.fingerprint,
        created_at=now,
        answer=_encode(answer),
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["scope", "key"],
            set_={"fingerprint": once.fingerprint, "created_at": now, "answer": _encode(answer)},
            where=sa.not_(_alive(now)),
        )
    )
    # ours, or the answer of a request with the same key that committed first
    row = (
        await session.execute(
            sa.select(idempotency_t.c.fingerprint, idempotency_t.c.answer).where(
                idempotency_t.c.scope == once.scope, idempotency_t.c.key == once.key
            )
        )
    ).one()
    return _Kept(row.fingerprint, None if row.answer is None else orjson.loads(row.answer))


def _replay(kept: _Kept, *, once: Once, codec: TypeAdapter[T]) -> T:
    if kept.fingerprint != once.fingerprint:
        raise TicketingError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            f"This {KEY_HEADER} was used for another request; use a new key for a new request.",
        )
    if kept.answer is None:  # pragma: no cover - answers are kept in the claiming transaction
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


def _encode(answer: dict[str, Any]) -> str:
    return orjson.dumps(answer, default=str).decode()


@command
async def forget_old_keys(session: AsyncSession, *, now: datetime) -> int:
    """Delete keys kept for longer than a day (the sweep)."""
    deleted = await session.execute(
        sa.delete(idempotency_t).where(sa.not_(_alive(now))).returning(idempotency_t.c.id)
    )
    return len(deleted.all())
