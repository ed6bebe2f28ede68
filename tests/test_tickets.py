"""Check-in at the door, in both doors: who may scan, the first scan admits, later scans and
other events' tickets, void tickets and forged payloads are refused with their own codes. And
the signing key: from the environment, or made once by whichever worker starts first."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from pydantic import SecretStr

from tests.accounts import PASSWORD, signed_in
from tests.api import ok_json, problem, ts
from tests.conftest import FakeClock
from tests.factories import EventFixture, make_event
from tests.server import cli_env
from tests.sql import fetch
from tests.tickets import bought, payloads_of, scan
from ticketing.db import Database
from ticketing.models import audit_t, ticket_t
from ticketing.settings import Settings
from ticketing.tickets import keys, payload

CHECK_IN = """
mutation Scan($event: ID!, $payload: String!) {
  checkIn(input: {eventId: $event, payload: $payload}) {
    admission { eventId section row seat priceLevel }
    checkedInAt
    userErrors { code message }
  }
}"""


async def _graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = ok_json(response)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def test_first_scan_admits_with_the_seat_and_a_second_says_when_the_first_was(
    client: httpx.AsyncClient, app: FastAPI, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    payment = await bought(client, event, [(event.seat_ids[2], "Child"), event.ga_seat_ids[0]])
    seated, standing = await payloads_of(app, payment)
    door = await signed_in(client, db, scanner=True)

    admitted = ok_json(await scan(client, event.event_id, seated, door))
    assert admitted["event_id"] == event.event_id
    assert (admitted["section"], admitted["row"], admitted["seat"]) == ("Main", "A", "3")
    assert admitted["price_level"] == "Child"
    assert ts(admitted["checked_in_at"]) == clock.now
    first = clock.now

    clock.advance(minutes=5)
    again = problem(await scan(client, event.event_id, seated, door), 409, "ALREADY_CHECKED_IN")
    assert ts(again["checked_in_at"]) == first
    assert first.isoformat() in again["detail"]

    floor = ok_json(await scan(client, event.event_id, standing, door))
    assert (floor["section"], floor["row"], floor["seat"]) == ("Floor", None, None)
    assert floor["price_level"] == "Adult"

    logged = await fetch(
        db,
        sa.select(audit_t.c.action, audit_t.c.actor, audit_t.c.seat_id).where(
            audit_t.c.action == "ticket_checked_in"
        ),
    )
    assert sorted(row.seat_id for row in logged) == sorted(
        [event.seat_ids[2], event.ga_seat_ids[0]]
    )
    assert {row.actor for row in logged} == {f"user:{await _user_id(client, door)}"}


async def _user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    me: int = ok_json(await client.get("/me", headers=headers))["id"]
    return me


async def test_other_events_void_and_forged_tickets_are_refused_with_their_own_codes(
    client: httpx.AsyncClient, app: FastAPI, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    other = await make_event(db, now=clock.now, name="Other Hall")
    (ours,) = await payloads_of(app, await bought(client, event, [event.seat_ids[0]]))
    (theirs,) = await payloads_of(app, await bought(client, other, [other.seat_ids[0]]))
    (voided,) = await payloads_of(app, await bought(client, event, [event.seat_ids[1]]))
    await _void(db, payload.verify(voided, app.state.ticket_keys.public_key).code, clock)
    door = await signed_in(client, db, scanner=True)

    problem(await scan(client, event.event_id, theirs, door), 409, "WRONG_EVENT")
    problem(await scan(client, event.event_id, voided, door), 409, "TICKET_VOID")
    version, body, signature = ours.split(".")
    tampered = f"{version}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{signature}"
    facts = payload.verify(ours, app.state.ticket_keys.public_key)
    foreign = payload.sign(facts, Ed25519PrivateKey.generate())
    for forged in (tampered, foreign, "TKT1.e30.e30", "hello"):
        problem(await scan(client, event.event_id, forged, door), 422, "FORGED_TICKET")

    # the refusals admitted nobody: each ticket still gets in once, at its own event's door
    ok_json(await scan(client, event.event_id, ours, door))
    ok_json(await scan(client, other.event_id, theirs, door))
    checked = await fetch(
        db, sa.select(ticket_t.c.code).where(ticket_t.c.checked_in_at.is_not(None))
    )
    assert len(checked) == 2


async def _void(db: Database, code: str, clock: FakeClock) -> None:
    """What a refund will do (issue 18, later): the ticket is voided."""
    async with db.engine.connect() as connection:
        await connection.execution_options(ticketing_write=True)
        async with connection.begin():
            await connection.execute(
                sa.update(ticket_t).where(ticket_t.c.code == code).values(voided_at=clock.now)
            )


async def test_only_scanners_and_managers_check_tickets_in(
    client: httpx.AsyncClient, app: FastAPI, event: EventFixture, db: Database
) -> None:
    payment = await bought(client, event, event.seat_ids[:2])
    first, second = await payloads_of(app, payment)
    customer = await signed_in(client, db)

    problem(await scan(client, event.event_id, first, None), 401, "AUTH_REQUIRED")
    problem(await scan(client, event.event_id, first, customer), 403, "FORBIDDEN")
    ok_json(await scan(client, event.event_id, first, await signed_in(client, db, scanner=True)))
    ok_json(await scan(client, event.event_id, second, await signed_in(client, db, manager=True)))


async def test_graphql_check_in_by_a_scanner_a_manager_made(
    client: httpx.AsyncClient, app: FastAPI, event: EventFixture, db: Database, clock: FakeClock
) -> None:
    (ticket,) = await payloads_of(app, await bought(client, event, [(event.seat_ids[4], "VIP")]))
    manager = await signed_in(client, db, manager=True)
    email = f"door{os.getpid()}@example.com"
    registered = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    token = ok_json(
        await client.post("/auth/token", data={"username": email, "password": PASSWORD})
    )
    door = {"Authorization": f"Bearer {token['access_token']}"}
    grant = (
        "mutation($email: String!) "
        "{ grantScannerRole(input: {email: $email}) { email role userErrors { code } } }"
    )
    variables = {"event": str(event.event_id), "payload": ticket}

    refused = await _graphql(client, CHECK_IN, variables, door)
    assert [e["code"] for e in refused["checkIn"]["userErrors"]] == ["FORBIDDEN"]
    by_door = await _graphql(client, grant, {"email": email}, door)
    assert by_door["grantScannerRole"] == {
        "email": None,
        "role": None,
        "userErrors": [{"code": "FORBIDDEN"}],
    }
    granted = await _graphql(client, grant, {"email": email.upper()}, manager)
    assert granted["grantScannerRole"] == {"email": email, "role": "SCANNER", "userErrors": []}

    admitted = (await _graphql(client, CHECK_IN, variables, door))["checkIn"]
    assert admitted["userErrors"] == []
    assert admitted["admission"] == {
        "eventId": str(event.event_id),
        "section": "Main",
        "row": "A",
        "seat": "5",
        "priceLevel": "VIP",
    }
    assert ts(admitted["checkedInAt"]) == clock.now
    first = clock.now
    clock.advance(seconds=30)
    again = (await _graphql(client, CHECK_IN, variables, manager))["checkIn"]
    assert again["admission"] is None
    assert [e["code"] for e in again["userErrors"]] == ["ALREADY_CHECKED_IN"]
    assert ts(again["checkedInAt"]) == first
    forged = {**variables, "payload": ticket[:-3] + "xyz"}
    refused = (await _graphql(client, CHECK_IN, forged, door))["checkIn"]
    assert [e["code"] for e in refused["userErrors"]] == ["FORGED_TICKET"]
    assert refused["checkedInAt"] is None


_SHOW_KEY = (
    "from pathlib import Path; import sys; from ticketing.settings import Settings; "
    "from ticketing.tickets.keys import ticket_keys; "
    "sys.stdout.write(ticket_keys(Settings(data_dir=Path(sys.argv[1]))).public_pem.decode())"
)


def test_workers_starting_together_share_one_key_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETING_")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _SHOW_KEY, str(data)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    published = {worker.communicate(timeout=60)[0] for worker in workers}
    assert all(worker.returncode == 0 for worker in workers)
    assert len(published) == 1
    (pem,) = published
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert [p.name for p in data.iterdir()] == [keys.KEY_FILE]
    assert stat.S_IMODE((data / keys.KEY_FILE).stat().st_mode) == 0o600
    # a later start reads the same key
    again = subprocess.run(
        [sys.executable, "-c", _SHOW_KEY, str(data)], env=env, capture_output=True, text=True
    )
    assert again.stdout == pem


def test_signing_key_from_the_environment_as_pem_or_path(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    (tmp_path / "door.pem").write_text(pem)
    expected = keys.public_pem(private.public_key())
    for value in (pem, str(tmp_path / "door.pem")):
        settings = Settings(ticket_signing_key=SecretStr(value), data_dir=tmp_path / "unused")
        assert keys.ticket_keys(settings).public_pem == expected
    assert not (tmp_path / "unused").exists()
    for bad in (str(tmp_path / "missing.pem"), "-----BEGIN PRIVATE KEY-----\nnope\n"):
        with pytest.raises(keys.SigningKeyError):
            keys.ticket_keys(Settings(ticket_signing_key=SecretStr(bad)))


async def test_cli_creates_a_scanner_account(database_url: str) -> None:
    env = cli_env(database_url, TICKETING_USER_PASSWORD=PASSWORD)
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "ticketing.cli",
            "users",
            "create",
            "gate@example.com",
            "--role",
            "scanner",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert '"role": "scanner"' in result.stdout
