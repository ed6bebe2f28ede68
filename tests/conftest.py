"""Fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL, an app, a client.

PostgreSQL comes from TICKETING_TEST_POSTGRES_URL. When no server answers, its tests are skipped
with the reason, except under CI=true, where they fail: CI must run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from rest.app import create_app
from tests.factories import EventFixture, make_event
from ticketing.db import Database, create_engine
from ticketing.migrate import upgrade
from ticketing.settings import AuthPolicy, CartPolicy, Settings

POSTGRES_URL = os.environ.get(
    "TICKETING_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DATABASES = ["sqlite", "postgres"]
FUZZ_CASES = pytest.StashKey[list[str]]()
"""Lines tests/test_fuzz.py reports: how many cases each fuzzing run generated."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(FUZZ_CASES, [])
    if lines:
        terminalreporter.section("fuzzing: generated cases")
        for line in lines:
            terminalreporter.write_line(line)


def _admin_url(database: str | None = None) -> str:
    url = make_url(POSTGRES_URL)
    return url.set(database=database or url.database).render_as_string(hide_password=False)


async def _postgres_answers() -> str | None:
    engine = create_async_engine(_admin_url(), connect_args={"timeout": 5})
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


async def _postgres_admin(*statements: str) -> None:
    engine = create_async_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@dataclass
class Templates:
    """Databases migrated once per test session, copied for every test."""

    sqlite_file: Path
    postgres_name: str | None
    postgres_problem: str | None


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{sqlite_file}"))
    problem = asyncio.run(_postgres_answers())
    name = None
    if problem is None:
        name = f"ticketing_template_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
        asyncio.run(_migrate(_admin_url(name)))
    yield Templates(sqlite_file=sqlite_file, postgres_name=name, postgres_problem=problem)
    if name is not None:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def require_postgres(templates: Templates) -> str:
    if templates.postgres_name is None:
        reason = f"PostgreSQL at {POSTGRES_URL} does not answer ({templates.postgres_problem})"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true the PostgreSQL tests must run")
        pytest.skip(f"{reason}; set TICKETING_TEST_POSTGRES_URL to run them")
    return templates.postgres_name


@pytest.fixture(params=DATABASES)
def db_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@contextlib.asynccontextmanager
async def fresh_database(kind: str, templates: Templates, directory: Path) -> AsyncIterator[str]:
    """A database with the schema at head and no rows (a SQLite file in `directory`); dropped
    afterwards."""
    if kind == "sqlite":
        target = directory / "ticketing.db"
        shutil.copyfile(templates.sqlite_file, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    template = require_postgres(templates)
    name = f"ticketing_test_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _admin_url(name)
    finally:
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def empty_database(kind: str, templates: Templates, directory: Path) -> AsyncIterator[str]:
    """A database without any table (for migrating from an older revision); dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'empty.db'}"
        return
    require_postgres(templates)
    name = f"ticketing_empty_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _admin_url(name)
    finally:
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database_url(db_kind: str, templates: Templates, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database for this test."""
    async with fresh_database(db_kind, templates, tmp_path) as url:
        yield url


class FakeClock:
    """The app's clock in tests: real time at start, moved forward by hand to expire things."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        sweep_interval_seconds=0,
        cart=CartPolicy(hold_seconds=900, payment_timeout_seconds=900, max_seats_per_cart=10),
        db_pool_size=20,
        db_max_overflow=60,
        auth=AuthPolicy(
            # the cheapest argon2id: tests register many accounts, and hashing cost is not tested
            argon2_time_cost=1,
            argon2_memory_kib=256,
            # tests register and sign in many accounts from one address;
            # tests/test_sign_in_abuse.py tightens these to test the limits themselves
            client_rate_limit="100000/minute",
            account_rate_limit="100000/hour",
        ),
    )


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def db(app: FastAPI) -> Database:
    """The app's own database, for arranging data and checking invariants."""
    database: Database = app.state.db
    return database


@pytest.fixture
async def own_db(settings: Settings) -> AsyncIterator[Database]:
    """A database of its own, for service tests without the HTTP app."""
    database = Database.of(settings)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def event(db: Database, clock: FakeClock) -> EventFixture:
    """The standard test event (see `make_event`), on sale."""
    return await make_event(db, now=clock.now)
