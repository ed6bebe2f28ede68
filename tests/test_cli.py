"""The console script and the data it seeds, run as a user runs them."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from tests.server import TICKETING, cli_env, run_cli, seed, serving
from tests.sql import fetch
from ticketing.catalog import queries as catalog
from ticketing.db import Database
from ticketing.demo import seed_demo


async def test_seed_creates_the_requested_seats_and_prints_ids(
    database_url: str, db: Database
) -> None:
    seeded = await asyncio.to_thread(seed, database_url, seats=1234, general_admission=56)
    assert set(seeded) == {"venue_id", "event_id"}
    sections = await catalog.list_venue_sections(db, venue_id=seeded["venue_id"])
    seated = [s for s in sections if s.kind == "seated"]
    floor = [s for s in sections if s.kind == "general_admission"]
    assert len(seated) >= 2
    assert sum(s.capacity for s in seated) == 1234
    assert [s.capacity for s in floor] == [56]
    counts = dict(
        await fetch(
            db,
            sa.text("SELECT type, COUNT(*) FROM event_seat WHERE event_id = :e GROUP BY type"),
            {"e": seeded["event_id"]},
        )
    )
    assert counts == {"designated": 1234, "general_admission": 56}
    levels = await catalog.list_price_levels(db, event_id=seeded["event_id"])
    assert [level.name for level in levels] == ["Adult", "Child", "VIP"]


async def test_db_upgrade_is_repeatable(database_url: str) -> None:
    for _ in range(2):
        result = await asyncio.to_thread(run_cli, database_url, "db", "upgrade")
        assert result.returncode == 0, result.stderr


async def test_seed_refuses_nonsense(database_url: str) -> None:
    result = await asyncio.to_thread(run_cli, database_url, "seed", "--seats", "0")
    assert result.returncode != 0
    assert "--seats" in result.stderr


async def test_demo_data_is_a_realistic_venue_with_two_upcoming_events(
    db: Database,
) -> None:
    now = datetime.now(UTC)
    await seed_demo(db, now=now)
    (venue,) = await catalog.list_venues(db)
    assert venue.name
    sections = await catalog.list_venue_sections(db, venue_id=venue.id)
    assert len([s for s in sections if s.kind == "seated"]) >= 3
    assert len([s for s in sections if s.kind == "general_admission"]) == 1
    events = await catalog.list_events(db)
    assert len(events) == 2
    assert all(event.starts_at > now for event in events)
    assert {event.currency for event in events} == {"EUR"}
    maps = []
    for event in events:
        stalls = next(s for s in sections if s.kind == "seated")
        seats = await catalog.list_section_seats(
            db, event_id=event.id, section_id=stalls.id, now=now
        )
        assert seats[0].row == "A"
        assert {s.row for s in seats} >= {"A", "B", "C"}
        assert [p.name for p in seats[0].price_options] == ["Adult", "Child", "VIP"]
        maps.append([p.amount for p in seats[0].price_options])
    assert maps[0] != maps[1], "the two events should be priced differently"


@pytest.mark.slow
async def test_serve_migrates_seeds_demo_once_and_answers(database_url: str) -> None:
    with serving(database_url, workers=1) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            assert (await http.get("/health")).json() == {"status": "ok", "payments": "test"}
            assert (await http.get("/events")).json() == []  # --no-demo
    # Without --no-demo the empty database gets the demo, and only once.
    for _ in range(2):
        process = await asyncio.create_subprocess_exec(
            *TICKETING,
            "serve",
            "--port",
            "0",
            "--workers",
            "1",
            env=cli_env(database_url, TICKETING_SWEEP_INTERVAL_SECONDS="0"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        while b"Uvicorn running" not in (line := await process.stderr.readline()):
            assert line, "serve exited before it started"
        process.terminate()
        await process.wait()
    with serving(database_url, workers=1) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            events = (await http.get("/events")).json()
    assert [e["name"] for e in events] == [
        "The Midnight Owls: Live in Concert",
        "Lisbon Chamber Orchestra: Winter Nights",
    ]


async def test_seed_section_size_makes_one_big_section(database_url: str, db: Database) -> None:
    seeded = await asyncio.to_thread(
        run_cli, database_url, "seed", "--seats", "300", "--section-size", "300"
    )
    assert seeded.returncode == 0, seeded.stderr
    venue_id = json.loads(seeded.stdout)["venue_id"]
    sections = await catalog.list_venue_sections(db, venue_id=venue_id)
    assert [(s.kind, s.capacity) for s in sections] == [("seated", 300)]


async def test_users_create_and_promote(database_url: str, db: Database) -> None:
    env = cli_env(database_url, TICKETING_USER_PASSWORD="a long secret")
    created = await asyncio.to_thread(
        subprocess.run,
        [*TICKETING, "users", "create", "Boss@Example.com", "--manager"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["role"] == "manager"
    customer = await asyncio.to_thread(
        subprocess.run,
        [*TICKETING, "users", "create", "fan@example.com"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(customer.stdout)["role"] == "customer"
    again = await asyncio.to_thread(
        subprocess.run,
        [*TICKETING, "users", "create", "fan@example.com"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode != 0
    assert "exists already" in again.stderr
    promoted = await asyncio.to_thread(run_cli, database_url, "users", "promote", "fan@example.com")
    assert json.loads(promoted.stdout)["role"] == "manager"
    missing = await asyncio.to_thread(run_cli, database_url, "users", "promote", "no@example.com")
    assert missing.returncode != 0
    roles = dict(await fetch(db, sa.text("SELECT email, role FROM user_account")))
    assert roles == {"boss@example.com": "manager", "fan@example.com": "manager"}
    # without the variable and without a terminal, it refuses instead of hanging
    no_password = await asyncio.to_thread(run_cli, database_url, "users", "create", "x@example.com")
    assert no_password.returncode != 0
    assert "TICKETING_USER_PASSWORD" in no_password.stderr
