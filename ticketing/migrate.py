"""Schema migrations (Alembic, shipped inside the package) run against the app's own engine."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do: it only has to be the same for every process that migrates this database.
_MIGRATION_LOCK_KEY = 7_263_549_118


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision`; concurrent callers on PostgreSQL take turns."""
    async with engine.connect() as connection:
        await connection.execution_options(ticketing_write=True)
        await connection.begin()
        if connection.dialect.name == "postgresql":
            await connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        await connection.run_sync(
            lambda sync_connection: command.upgrade(alembic_config(sync_connection), revision)
        )
        await connection.commit()
