"""The Alembic migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from tests.conftest import Templates, empty_database
from ticketing.db import create_engine
from ticketing.migrate import upgrade
from ticketing.settings import Settings


def _differences(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            statuses = (
                await connection.execute(sa.text("SELECT id, name FROM seat_status ORDER BY id"))
            ).all()
    finally:
        await engine.dispose()
    assert differences == []
    assert [tuple(s) for s in statuses] == [
        (1, "available"),
        (2, "held"),
        (3, "booked"),
        (4, "sold"),
        (5, "blocked"),
    ]


async def test_existing_venues_get_the_default_arrangement(
    db_kind: str, templates: Templates, tmp_path: Path
) -> None:
    """Migration 0007 places the sections of venues made before it side by side, seats in a
    grid, and copies the positions into their events."""
    async with empty_database(db_kind, templates, tmp_path) as url:
        engine = create_engine(Settings(database_url=url))
        try:
            await upgrade(engine, "0005")
            async with engine.begin() as connection:
                for statement in _BEFORE_GEOMETRY:
                    await connection.execute(sa.text(statement))
            await upgrade(engine)
            async with engine.connect() as connection:
                seats = (
                    await connection.execute(sa.text("SELECT id, x, y FROM seat ORDER BY id"))
                ).all()
                copies = (
                    await connection.execute(
                        sa.text("SELECT seat_id, x, y FROM event_seat ORDER BY seat_id")
                    )
                ).all()
                sections = (
                    await connection.execute(
                        sa.text("SELECT id, outline, label_x, label_y FROM section ORDER BY id")
                    )
                ).all()
                event_sections = (
                    await connection.execute(
                        sa.text("SELECT section_id, outline FROM event_section ORDER BY section_id")
                    )
                ).all()
        finally:
            await engine.dispose()
    # section 2 comes first in the map (position 0); row B is behind row A whatever their ids
    assert [tuple(s) for s in seats] == [
        (1, 3.5, 1.5),
        (2, 3.5, 0.5),
        (3, 4.5, 0.5),
        (4, 0.5, 0.5),
        (5, None, None),
    ]
    assert [tuple(s) for s in copies] == [tuple(s) for s in seats]
    outlines = {s.id: _json(s.outline) for s in sections}
    assert outlines == {
        1: [[3.0, 0.0], [5.0, 0.0], [5.0, 2.0], [3.0, 2.0]],
        2: [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
        3: [[7.0, 0.0], [8.0, 0.0], [8.0, 1.0], [7.0, 1.0]],
    }
    assert [(s.id, s.label_x, s.label_y) for s in sections] == [
        (1, 4.0, -1.0),
        (2, 0.5, -1.0),
        (3, 7.5, -1.0),
    ]
    assert {s.section_id: _json(s.outline) for s in event_sections} == outlines


def _json(value: object) -> object:
    # SQLite hands a JSON column back as text to a textual query
    return json.loads(value) if isinstance(value, str) else value


_BEFORE_GEOMETRY = [
    "INSERT INTO venue (id, name, city, timezone, created_at)"
    " VALUES (1, 'Old Hall', '', 'UTC', '2026-01-01 00:00:00')",
    "INSERT INTO section (id, venue_id, name, kind, capacity, position)"
    " VALUES (1, 1, 'Main', 'seated', 3, 1), (2, 1, 'Box', 'seated', 1, 0),"
    " (3, 1, 'Floor', 'general_admission', 1, 2)",
    "INSERT INTO seat_row (id, section_id, name, position)"
    " VALUES (1, 1, 'B', 1), (2, 1, 'A', 0), (3, 2, 'A', 0)",
    "INSERT INTO seat (id, section_id, row_id, number, type, position) VALUES"
    " (1, 1, 1, '1', 'designated', 2), (2, 1, 2, '1', 'designated', 0),"
    " (3, 1, 2, '2', 'designated', 1), (4, 2, 3, '1', 'designated', 0),"
    " (5, 3, NULL, NULL, 'general_admission', 0)",
    "INSERT INTO event (id, venue_id, name, starts_at, currency, created_at, status, revision)"
    " VALUES (1, 1, 'Old Night', '2027-01-01 20:00:00', 'EUR', '2026-01-01 00:00:00',"
    " 'published', 0)",
    "INSERT INTO event_section (event_id, section_id, name, kind, capacity, position)"
    " SELECT 1, id, name, kind, capacity, position FROM section",
    "INSERT INTO event_seat (event_id, seat_id, section_id, row_id, number, type, position,"
    " status) SELECT 1, id, section_id, row_id, number, type, position, 1 FROM seat",
]
