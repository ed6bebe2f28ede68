"""Service tests call the commands directly: the database without the HTTP app."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import FakeClock
from ticketing.accounts import accounts
from ticketing.db import Database
from ticketing.domain import Principal
from ticketing.settings import Settings

_numbers = itertools.count(1)


@pytest.fixture
def db(own_db: Database) -> Database:
    return own_db


@pytest.fixture
async def customer(db: Database, settings: Settings, clock: FakeClock) -> Principal:
    """A registered customer (carts and payments refer to real accounts)."""
    user = await accounts.register(
        db,
        email=f"customer{next(_numbers)}@example.com",
        password="correct horse battery",
        now=clock.now,
        policy=settings.auth,
        client=None,
    )
    return Principal(user_id=user.id, email=user.email, role=user.role)
