"""Helpers: accounts signed in through the API doors, as a client would."""

from __future__ import annotations

import itertools

import httpx

from ticketing.accounts import accounts
from ticketing.db import Database
from ticketing.domain import Role

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


async def signed_in(
    client: httpx.AsyncClient,
    db: Database | None = None,
    *,
    manager: bool = False,
    scanner: bool = False,
) -> dict[str, str]:
    """Register a new account (promoted to manager or scanner through the service, as the CLI
    does), sign in through POST /auth/token, and return the Authorization header to send."""
    email = f"person{next(_numbers)}@example.com"
    registered = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    if manager or scanner:
        assert db is not None
        await accounts.promote(db, email=email, role=Role.MANAGER if manager else Role.SCANNER)
    token = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}
