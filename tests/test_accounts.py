"""Accounts through REST and GraphQL: register, sign in, throttling, sign out, me."""
# ruff: noqa: UP031  (GraphQL documents are kept whole, with %-placeholders)

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tests.accounts import PASSWORD, signed_in
from tests.conftest import FakeClock
from tests.sql import fetch
from ticketing.db import Database
from ticketing.models import token_t, user_t
from ticketing.settings import Settings


async def test_register_sign_in_me_and_sign_out(client: httpx.AsyncClient, db: Database) -> None:
    registered = await client.post(
        "/auth/register", json={"email": " Fan@Example.com ", "password": PASSWORD}
    )
    assert registered.status_code == 201
    assert registered.json()["email"] == "fan@example.com"
    assert registered.json()["role"] == "customer"
    ((stored,),) = await fetch(db, sa.select(user_t.c.password_hash))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored

    token = await client.post(
        "/auth/token", data={"username": "FAN@example.com", "password": PASSWORD}
    )
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    # only a digest of the token is stored
    digests = [row.token_hash for row in await fetch(db, sa.select(token_t.c.token_hash))]
    assert body["access_token"] not in digests
    headers = {"Authorization": f"Bearer {body['access_token']}"}

    me = await client.get("/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["email"] == "fan@example.com"

    out = await client.post("/auth/logout", headers=headers)
    assert out.status_code == 204
    after = await client.get("/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["code"] == "INVALID_TOKEN"
    assert after.headers["www-authenticate"].startswith("Bearer")


async def test_register_twice_and_bad_input(client: httpx.AsyncClient) -> None:
    first = await client.post("/auth/register", json={"email": "a@b.co", "password": PASSWORD})
    assert first.status_code == 201
    again = await client.post("/auth/register", json={"email": "A@b.co", "password": PASSWORD})
    assert again.status_code == 409
    assert again.json()["code"] == "EMAIL_TAKEN"
    short = await client.post("/auth/register", json={"email": "c@b.co", "password": "short"})
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "password"
    bad = await client.post("/auth/register", json={"email": "nope", "password": PASSWORD})
    assert bad.status_code == 422


async def test_wrong_password_unknown_email_and_anonymous(client: httpx.AsyncClient) -> None:
    await client.post("/auth/register", json={"email": "x@y.io", "password": PASSWORD})
    wrong = await client.post("/auth/token", data={"username": "x@y.io", "password": "nope-nope"})
    unknown = await client.post("/auth/token", data={"username": "z@y.io", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_CREDENTIALS"
        assert response.json()["detail"] == "Wrong email or password."
    anonymous = await client.get("/me")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "AUTH_REQUIRED"
    garbage = await client.get("/me", headers={"Authorization": "Bearer tkt_not-a-token"})
    assert garbage.json()["code"] == "INVALID_TOKEN"
    # a bad token is never taken as anonymous, on a public route either
    events = await client.get("/events", headers={"Authorization": "Bearer tkt_not-a-token"})
    assert events.status_code == 401


async def test_repeated_wrong_passwords_make_the_address_wait_then_it_signs_in(
    client: httpx.AsyncClient, clock: FakeClock, settings: Settings
) -> None:
    """No account lock any more: the address waits (tests/test_sign_in_abuse.py has the rest)."""
    await client.post("/auth/register", json={"email": "t@y.io", "password": PASSWORD})
    for _ in range(settings.auth.free_failures + 1):
        wrong = await client.post("/auth/token", data={"username": "t@y.io", "password": "x" * 9})
        assert wrong.status_code == 401
    # the right password is not even checked while the address waits
    waiting = await client.post("/auth/token", data={"username": "t@y.io", "password": PASSWORD})
    assert waiting.status_code == 429
    assert waiting.json()["code"] == "TOO_MANY_ATTEMPTS"
    assert waiting.headers["retry-after"] == "1"
    clock.advance(seconds=1)
    ok = await client.post("/auth/token", data={"username": "t@y.io", "password": PASSWORD})
    assert ok.status_code == 200


async def test_tokens_expire(client: httpx.AsyncClient, clock: FakeClock) -> None:
    headers = await signed_in(client)
    assert (await client.get("/me", headers=headers)).status_code == 200
    clock.advance(seconds=86401)
    assert (await client.get("/me", headers=headers)).json()["code"] == "INVALID_TOKEN"


async def test_graphql_register_sign_in_me_sign_out(client: httpx.AsyncClient) -> None:
    async def gql(query: str, headers: dict[str, str] | None = None) -> dict[str, object]:
        response = await client.post("/graphql", json={"query": query}, headers=headers)
        assert response.status_code == 200
        body: dict[str, object] = response.json()
        return body

    registered = await gql(
        'mutation { register(input: {email: "g@q.io", password: "%s"}) '
        "{ user { email role } userErrors { code } } }" % PASSWORD
    )
    assert registered["data"] == {
        "register": {"user": {"email": "g@q.io", "role": "CUSTOMER"}, "userErrors": []}
    }
    wrong = await gql(
        'mutation { signIn(input: {email: "g@q.io", password: "wrong-wrong"}) '
        "{ token userErrors { code } } }"
    )
    assert wrong["data"] == {
        "signIn": {"token": None, "userErrors": [{"code": "INVALID_CREDENTIALS"}]}
    }
    signed = await gql(
        'mutation { signIn(input: {email: "g@q.io", password: "%s"}) { token } }' % PASSWORD
    )
    token = signed["data"]["signIn"]["token"]  # type: ignore[index]
    headers = {"Authorization": f"Bearer {token}"}
    me = await gql("{ me { email role carts { id } payments { id } } }", headers)
    assert me["data"] == {
        "me": {"email": "g@q.io", "role": "CUSTOMER", "carts": [], "payments": []}
    }
    assert (await gql("{ me { email } }"))["data"] == {"me": None}
    out = await gql("mutation { signOut { signedOut userErrors { code } } }", headers)
    assert out["data"] == {"signOut": {"signedOut": True, "userErrors": []}}
    revoked = await gql("{ me { email } }", headers)
    assert revoked["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"  # type: ignore[index]


async def test_sign_out_needs_a_signed_in_caller_through_either_door(
    client: httpx.AsyncClient,
) -> None:
    anonymous = await client.post("/auth/logout")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "AUTH_REQUIRED"
    malformed = await client.post("/auth/logout", headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401
    assert malformed.json()["code"] == "INVALID_TOKEN"
    mutation = "mutation { signOut { signedOut userErrors { code } } }"
    for headers, code in (({}, "AUTH_REQUIRED"), ({"Authorization": "Basic abc"}, "INVALID_TOKEN")):
        response = await client.post("/graphql", json={"query": mutation}, headers=headers)
        assert response.json()["data"] == {
            "signOut": {"signedOut": False, "userErrors": [{"code": code}]}
        }
