"""`ticketing.direct`: statements compiled once by SQLAlchemy and run on the driver give what
SQLAlchemy gives (types, rows, errors), inside the unit of work's transaction."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from rest.app import create_app
from tests.conftest import FakeClock
from ticketing import direct
from ticketing.db import command, query, short_command, short_query
from ticketing.models import audit_t, cart_t
from ticketing.settings import Settings

_B = sa.bindparam
# A short unit on PostgreSQL runs lean (no session transaction machinery, `ticketing.db`): the
# tests of what a unit guarantees run on both kinds.
WRITE_UNITS = pytest.mark.parametrize("write_unit", [command, short_command], ids=["full", "short"])
_AUDIT_ROW = sa.select(
    audit_t.c.at, audit_t.c.cart_id, audit_t.c.amount, audit_t.c.seat_id, audit_t.c.action
).where(audit_t.c.cart_id == _B("cart", type_=audit_t.c.cart_id.type))
AUDIT_ROW = direct.Direct(_AUDIT_ROW)
INSERT_AUDIT = direct.Direct(
    audit_t.insert().values(
        at=_B("at", type_=audit_t.c.at.type),
        actor="test",
        action="seat_held",
        cart_id=_B("cart", type_=audit_t.c.cart_id.type),
        amount=_B("amount", type_=audit_t.c.amount.type),
        seat_id=_B("seat"),
    )
)
INSERT_CART = direct.Direct(
    cart_t.insert().values(
        id=_B("id", type_=cart_t.c.id.type),
        status="open",
        created_at=_B("at", type_=cart_t.c.created_at.type),
        updated_at=_B("at", type_=cart_t.c.updated_at.type),
    )
)
CARTS_IN = direct.Direct(sa.select(cart_t.c.id).where(cart_t.c.id.in_(_B("ids", expanding=True))))


@command
async def _write_audit(session: AsyncSession, *, rows: list[dict[str, Any]]) -> None:
    await direct.execute_many(session, INSERT_AUDIT, rows)


@query
async def _read_both_ways(session: AsyncSession, *, cart: uuid.UUID) -> tuple[Any, Any]:
    directly = await direct.rows(session, AUDIT_ROW, {"cart": cart})
    through_sqlalchemy = (await session.execute(_AUDIT_ROW, {"cart": cart})).all()
    return directly, through_sqlalchemy


async def test_rows_and_types_are_sqlalchemys(settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        cart = uuid.uuid4()
        at = datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=UTC)
        await _write_audit(
            session,
            rows=[
                {"at": at, "cart": cart, "amount": Decimal("35.5"), "seat": 7},
                {"at": at + timedelta(seconds=1), "cart": cart, "amount": None, "seat": None},
            ],
        )
        directly, through_sqlalchemy = await _read_both_ways(session, cart=cart)
    assert [tuple(row) for row in directly] == [tuple(row) for row in through_sqlalchemy]
    first = directly[0]
    assert first.at == at
    assert first.at.tzinfo is UTC
    assert first.cart_id == cart
    assert isinstance(first.cart_id, uuid.UUID)
    assert first.amount == Decimal("35.50")
    assert str(first.amount) == "35.50"
    assert (first.seat_id, first.action) == (7, "seat_held")
    assert directly[1].amount is None


@WRITE_UNITS
async def test_a_failed_statement_is_sqlalchemys_error_and_rolls_back(
    settings: Settings, clock: FakeClock, write_unit: Any
) -> None:
    @write_unit
    async def insert_twice(session: AsyncSession, *, cart: uuid.UUID) -> None:
        await direct.execute(session, INSERT_CART, {"id": cart, "at": clock.now})
        await direct.execute(session, INSERT_CART, {"id": cart, "at": clock.now})

    @query
    async def carts_with(session: AsyncSession, *, cart: uuid.UUID) -> int:
        found = await direct.scalar(
            session,
            direct.Direct(
                sa.select(sa.func.count()).where(cart_t.c.id == _B("c", type_=cart_t.c.id.type))
            ),
            {"c": cart},
        )
        return int(found)

    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        cart = uuid.uuid4()
        with pytest.raises(sa.exc.IntegrityError) as failed:
            await insert_twice(session, cart=cart)
        assert failed.value.orig is not None
        assert await carts_with(session, cart=cart) == 0  # the first insert was rolled back


async def test_what_cannot_run_directly_says_so(settings: Settings, clock: FakeClock) -> None:
    @query
    async def expanding(session: AsyncSession) -> Any:
        return await direct.rows(session, CARTS_IN, {"ids": [uuid.uuid4()]})

    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        with pytest.raises(TypeError, match="expanding parameter 'ids'"):
            await expanding(session)
        with pytest.raises(RuntimeError, match="inside a unit of work"):
            await direct.rows(session, AUDIT_ROW, {"cart": uuid.uuid4()})


async def test_sql_echo_shows_direct_statements(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings.model_copy(update={"sql_echo": True}), clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
            await _read_both_ways(session, cart=uuid.uuid4())
    echoed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[direct]")]
    assert len(echoed) == 1, echoed
    assert "audit_log" in echoed[0]


LATER_AUDIT = direct.Direct(
    audit_t.insert()
    .values(
        at=_B("at", type_=audit_t.c.at.type),
        actor=_B("actor"),
        action="seat_held",
        cart_id=_B("cart", type_=audit_t.c.cart_id.type),
        amount=_B("amount", type_=audit_t.c.amount.type),
        seat_id=_B("seat"),
    )
    .inline()
)
# the same statement, prepared by every pooled PostgreSQL connection (what waits is `EXECUTE`)
PREPARED_AUDIT = direct.Direct(LATER_AUDIT.statement, waits=True)
WAITING_KINDS = pytest.mark.parametrize(
    "waiting", [LATER_AUDIT, PREPARED_AUDIT], ids=["sent-in-full", "prepared"]
)
_ACTORS = sa.select(audit_t.c.actor, audit_t.c.amount, audit_t.c.at, audit_t.c.seat_id).where(
    audit_t.c.cart_id == _B("cart", type_=audit_t.c.cart_id.type)
)
ACTORS = direct.Direct(_ACTORS.order_by(audit_t.c.id))
# values that would end or bend a badly quoted SQL literal
AWKWARD = [
    "O'Brien",
    "back\\slash \\' and \\\\",
    "$1 $2 :name %s ?",
    "E'x'; DROP TABLE cart; --",
    "Zoë ✓ 票",
    "",
]


def _queries_sent(session: AsyncSession) -> int:
    """asyncpg's count of the queries sent on the unit of work's connection."""
    _, adapted = direct._bound(session)
    count: int = adapted._connection._protocol.queries_count
    return count


@WAITING_KINDS
@WRITE_UNITS
async def test_statements_sent_later_keep_their_values_and_order(
    settings: Settings, clock: FakeClock, write_unit: Any, waiting: direct.Direct
) -> None:
    at = datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=UTC)

    @write_unit
    async def write_then_read(session: AsyncSession, *, cart: uuid.UUID) -> tuple[Any, Any]:
        await direct.later_many(
            session,
            waiting,
            [
                {"at": at, "actor": actor, "cart": cart, "amount": Decimal("12.34"), "seat": n}
                for n, actor in enumerate(AWKWARD)
            ],
        )
        await direct.later(
            session,
            waiting,
            {"at": at, "actor": "last", "cart": cart, "amount": None, "seat": None},
        )
        # what waits is sent before any later statement, direct or SQLAlchemy's
        directly = await direct.rows(session, ACTORS, {"cart": cart})
        await direct.later(
            session, waiting, {"at": at, "actor": "x", "cart": cart, "amount": 1, "seat": 9}
        )
        through_sqlalchemy = (await session.execute(_ACTORS, {"cart": cart})).all()
        return directly, through_sqlalchemy

    @query
    async def read(session: AsyncSession, *, cart: uuid.UUID) -> list[Any]:
        return await direct.rows(session, ACTORS, {"cart": cart})

    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        cart = uuid.uuid4()
        directly, through_sqlalchemy = await write_then_read(session, cart=cart)
        committed = await read(session, cart=cart)
    assert [row.actor for row in directly] == [*AWKWARD, "last"]
    assert len(through_sqlalchemy) == len(AWKWARD) + 2
    assert [row.actor for row in committed] == [*AWKWARD, "last", "x"]
    first = committed[0]
    assert (first.amount, first.at, first.seat_id) == (Decimal("12.34"), at, 0)
    assert (committed[-2].amount, committed[-2].seat_id) == (None, None)
    assert committed[-1].amount == Decimal("1.00")


@WRITE_UNITS
async def test_statements_sent_later_share_the_next_round_trip(
    settings: Settings, clock: FakeClock, db_kind: str, write_unit: Any
) -> None:
    if db_kind != "postgres":
        pytest.skip("on SQLite a statement is a function call: `later` runs it at once")
    at = clock.now

    @write_unit
    async def three_writes_one_read(session: AsyncSession, *, cart: uuid.UUID) -> list[int]:
        sent = [_queries_sent(session)]
        for seat in range(3):
            row = {"at": at, "actor": "a", "cart": cart, "amount": None, "seat": seat}
            await direct.later(session, LATER_AUDIT, row)
        sent.append(_queries_sent(session))
        await direct.rows(session, ACTORS, {"cart": cart})
        sent.append(_queries_sent(session))
        await direct.later(session, LATER_AUDIT, {**row, "seat": 3})
        return sent

    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        before_waiting, waited, read = await three_writes_one_read(session, cart=uuid.uuid4())
    assert waited == before_waiting  # nothing sent yet
    assert read == waited + 2  # what waited, in one query, then the read


@WRITE_UNITS
async def test_a_statement_that_fails_after_waiting_fails_its_unit(
    settings: Settings, clock: FakeClock, write_unit: Any
) -> None:
    @write_unit
    async def insert_twice_later(session: AsyncSession, *, cart: uuid.UUID) -> None:
        await direct.later(session, INSERT_CART, {"id": cart, "at": clock.now})
        await direct.later(session, INSERT_CART, {"id": cart, "at": clock.now})

    @write_unit
    async def insert_once_later(session: AsyncSession, *, cart: uuid.UUID) -> None:
        await direct.later(session, INSERT_CART, {"id": cart, "at": clock.now})

    @write_unit
    async def insert_later_then_fail(session: AsyncSession, *, cart: uuid.UUID) -> None:
        await direct.later(session, INSERT_CART, {"id": cart, "at": clock.now})
        raise LookupError("the unit fails after the statement waited")

    @query
    async def exists(session: AsyncSession, *, cart: uuid.UUID) -> bool:
        return bool(await session.scalar(sa.select(sa.exists().where(cart_t.c.id == cart))))

    # one pooled connection: each unit after a failure runs on the connection that failed
    one_connection = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    app = create_app(one_connection, clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        twice, failed, once = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        with pytest.raises(sa.exc.IntegrityError):
            await insert_twice_later(session, cart=twice)
        with pytest.raises(LookupError):
            await insert_later_then_fail(session, cart=failed)
        await insert_once_later(session, cart=once)
        assert not await exists(session, cart=twice)
        assert not await exists(session, cart=failed)
        assert await exists(session, cart=once)


_INSERT_CART_SA = cart_t.insert()


@pytest.mark.parametrize("fail", [False, True], ids=["commits", "fails"])
async def test_a_short_unit_shares_its_transaction_with_sqlalchemys_statements(
    settings: Settings, clock: FakeClock, fail: bool
) -> None:
    """Direct statements and SQLAlchemy's in one short unit commit or roll back together, and
    the unit hands its connection back to the pool either way."""

    @short_command
    async def write_both_ways(session: AsyncSession, *, carts: tuple[uuid.UUID, uuid.UUID]) -> int:
        await direct.later(session, INSERT_CART, {"id": carts[0], "at": clock.now})
        await session.execute(
            _INSERT_CART_SA,
            {"id": carts[1], "status": "open", "created_at": clock.now, "updated_at": clock.now},
        )
        seen = await session.scalar(
            sa.select(sa.func.count()).where(cart_t.c.id.in_(carts))  # through SQLAlchemy
        )
        if fail:
            raise LookupError("the unit fails after both writes")
        return int(seen or 0)

    @short_query
    async def carts_there(session: AsyncSession, *, carts: tuple[uuid.UUID, uuid.UUID]) -> int:
        found = await session.scalar(sa.select(sa.func.count()).where(cart_t.c.id.in_(carts)))
        return int(found or 0)

    one_connection = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    app = create_app(one_connection, clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        carts = (uuid.uuid4(), uuid.uuid4())
        if fail:
            with pytest.raises(LookupError):
                await write_both_ways(session, carts=carts)
            assert await carts_there(session, carts=carts) == 0
        else:
            assert await write_both_ways(session, carts=carts) == 2  # each saw the other's
            assert await carts_there(session, carts=carts) == 2
        assert not session.in_transaction()
        assert app.state.engine.sync_engine.pool.checkedout() == 0


async def test_a_short_unit_cancelled_mid_statement_leaves_a_working_pool(
    settings: Settings, clock: FakeClock, db_kind: str
) -> None:
    """A client that goes away (or a timeout) cancels a unit while its statement runs: the
    transaction is not committed and the next unit on the only pooled connection works."""
    if db_kind != "postgres":
        pytest.skip("needs a statement that runs for seconds (pg_sleep)")
    sleep = direct.Direct(sa.select(sa.func.pg_sleep(_B("s")).label("slept")))

    @short_command
    async def insert_then_sleep(session: AsyncSession, *, cart: uuid.UUID) -> None:
        await direct.execute(session, INSERT_CART, {"id": cart, "at": clock.now})
        await direct.rows(session, sleep, {"s": 30})

    @short_query
    async def exists(session: AsyncSession, *, cart: uuid.UUID) -> bool:
        return bool(await session.scalar(sa.select(sa.exists().where(cart_t.c.id == cart))))

    one_connection = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    app = create_app(one_connection, clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        cart = uuid.uuid4()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await insert_then_sleep(session, cart=cart)
        async with asyncio.timeout(10):  # not behind the 30 s sleep
            assert not await exists(session, cart=cart)
        assert app.state.engine.sync_engine.pool.checkedout() == 0


@pytest.mark.parametrize(
    ("waiting", "sent_as"),
    [(LATER_AUDIT, "INSERT INTO audit_log"), (PREPARED_AUDIT, "EXECUTE ticketing_waits_")],
    ids=["sent-in-full", "prepared"],
)
async def test_a_statement_that_waits_goes_as_execute_when_prepared(
    settings: Settings,
    clock: FakeClock,
    db_kind: str,
    caplog: pytest.LogCaptureFixture,
    waiting: direct.Direct,
    sent_as: str,
) -> None:
    if db_kind != "postgres":
        pytest.skip("on SQLite a statement is a function call: `later` runs it at once")

    @short_command
    async def write(session: AsyncSession, *, cart: uuid.UUID) -> None:
        row = {"at": clock.now, "actor": "it's", "cart": cart, "amount": None, "seat": 1}
        await direct.later(session, waiting, row)

    app = create_app(settings.model_copy(update={"sql_echo": True}), clock=clock)
    async with app.router.lifespan_context(app), app.state.sessionmaker() as session:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
            await write(session, cart=uuid.uuid4())
    sent = [r.getMessage() for r in caplog.records if "COMMIT" in r.getMessage()]
    assert len(sent) == 1, sent
    assert sent_as in sent[0]
    assert "E'it''s'" in sent[0]
