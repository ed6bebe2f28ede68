"""Service tests call the commands directly: the database without the HTTP app."""

from __future__ import annotations

import pytest

from ticketing.db import Database


@pytest.fixture
def db(own_db: Database) -> Database:
    return own_db
