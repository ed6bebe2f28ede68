"""Sign-in abuse: one password mutation per GraphQL operation, a rate per client address,
growing waits per (address, email), a per-email ceiling that spares known addresses, unknown
emails answered like known ones, and counts shared through Redis by every worker."""
# ruff: noqa: UP031  (GraphQL documents are kept whole, with %-placeholders)

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio
import sqlalchemy as sa
from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from fastapi import FastAPI

from rest.app import create_app
from tests.accounts import PASSWORD
from tests.conftest import IN_CI, FakeClock
from tests.graphql_client import gql, gql_raw
from tests.sql import fetch
from ticketing.db import Database
from ticketing.models import user_t
from ticketing.settings import AuthPolicy, Settings

WRONG = "not the password"
ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"
# A Redis database of these tests' own: they flush it.
REDIS_URL = os.environ.get("TICKETING_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@dataclass
class Hashing:
    """What argon2 was asked to do: hashes made, and the cost of every hash verified."""

    hashed: int = 0
    verified: list[Parameters] = field(default_factory=list)


@pytest.fixture
def hashing(monkeypatch: pytest.MonkeyPatch) -> Hashing:
    record = Hashing()
    hash_password, verify_password = PasswordHasher.hash, PasswordHasher.verify

    def counting_hash(self: PasswordHasher, password: str | bytes, **kwargs: Any) -> str:
        record.hashed += 1
        return hash_password(self, password, **kwargs)

    def counting_verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
        record.verified.append(extract_parameters(hash if isinstance(hash, str) else hash.decode()))
        return verify_password(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    return record


@contextlib.asynccontextmanager
async def started(settings: Settings, clock: FakeClock, **auth: Any) -> AsyncIterator[FastAPI]:
    """An app of its own, with these sign-in settings changed, its lifespan running."""
    policy = AuthPolicy.model_validate({**settings.auth.model_dump(), **auth})  # names checked
    changed = settings.model_copy(update={"auth": policy})
    app = create_app(changed, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@contextlib.asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from this address."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


def answer(response: httpx.Response) -> tuple[int, str, str | None]:
    """What a client sees of a refused or granted sign-in: status, code, Retry-After."""
    code = "OK" if response.status_code == 200 else response.json()["code"]
    return response.status_code, code, response.headers.get("retry-after")


def start_of_hour(clock: FakeClock) -> None:
    """Put the clock at the start of a UTC hour, so hourly windows are predictable."""
    clock.now = clock.now.replace(minute=0, second=0) + timedelta(hours=1)


# --- one authentication mutation per operation -----------------------------------------------

SIGN_IN = 'signIn(input: {email: "twice@x.io", password: "%s"}) { token }' % PASSWORD
REGISTER = 'register(input: {email: "%%s@x.io", password: "%s"}) { user { id } }' % PASSWORD

TWO_AUTHENTICATIONS = {
    "aliased signIn": "mutation { a: %s b: %s }" % (SIGN_IN, SIGN_IN),
    "aliased register": "mutation { a: %s b: %s }" % (REGISTER % "first", REGISTER % "second"),
    "signIn and register": "mutation { %s %s }" % (SIGN_IN, REGISTER % "third"),
    "through a fragment": "mutation { ...Twice } fragment Twice on Mutation { a: %s b: %s }"
    % (REGISTER % "fourth", REGISTER % "fifth"),
    "through inline fragments": "mutation { ... on Mutation { a: %s } ... { b: %s } }"
    % (SIGN_IN, REGISTER % "sixth"),
}


@pytest.mark.parametrize("document", TWO_AUTHENTICATIONS.values(), ids=TWO_AUTHENTICATIONS.keys())
async def test_two_authentication_mutations_in_one_operation_are_refused_unrun(
    client: httpx.AsyncClient, db: Database, hashing: Hashing, document: str
) -> None:
    registered = await client.post(
        "/auth/register", json={"email": "twice@x.io", "password": PASSWORD}
    )
    assert registered.status_code == 201
    hashing.hashed = 0

    response = await gql_raw(client, document)
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "VALIDATION_ERROR"}
    assert "at most one signIn or register" in error["message"]
    # nothing ran: no password was hashed or checked, no account was made
    assert hashing.hashed == 0
    assert hashing.verified == []
    emails = [row.email for row in await fetch(db, sa.select(user_t.c.email))]
    assert emails == ["twice@x.io"]


async def test_one_authentication_mutation_per_operation_runs(client: httpx.AsyncClient) -> None:
    data = await gql(client, "mutation { %s }" % (REGISTER % "once"))
    assert data["register"]["user"]["id"]


# --- per client address ----------------------------------------------------------------------


async def test_client_address_rate_covers_both_doors_and_answers_429(
    settings: Settings, clock: FakeClock, hashing: Hashing
) -> None:
    async with (
        started(settings, clock, client_rate_limit="3/minute") as app,
        client_at(app, ATTACKER) as attacker,
        client_at(app, OWNER) as owner,
    ):
        assert (
            await owner.post("/auth/register", json={"email": "r@x.io", "password": PASSWORD})
        ).status_code == 201
        # two REST requests and one GraphQL mutation: the address's three
        assert (
            await attacker.post("/auth/register", json={"email": "s@x.io", "password": PASSWORD})
        ).status_code == 201
        assert (await sign_in(attacker, "r@x.io", WRONG)).status_code == 401
        wrong = await gql(
            attacker,
            'mutation { signIn(input: {email: "r@x.io", password: "%s"}) '
            "{ token userErrors { code } } }" % WRONG,
        )
        assert wrong["signIn"]["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
        checked = len(hashing.verified)

        refused = await sign_in(attacker, "r@x.io", PASSWORD)
        assert refused.status_code == 429
        assert refused.json()["code"] == "TOO_MANY_ATTEMPTS"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["retry-after"] in refused.json()["detail"]
        again = await attacker.post(
            "/auth/register", json={"email": "t@x.io", "password": PASSWORD}
        )
        assert again.status_code == 429
        graphql = await gql(
            attacker,
            'mutation { signIn(input: {email: "r@x.io", password: "%s"}) '
            "{ token userErrors { code message } } }" % PASSWORD,
        )
        (error,) = graphql["signIn"]["userErrors"]
        assert error["code"] == "TOO_MANY_ATTEMPTS"
        assert "try again in" in error["message"]
        assert graphql["signIn"]["token"] is None
        assert len(hashing.verified) == checked  # refused before any password check

        # another address has its own count
        assert (await sign_in(owner, "r@x.io", PASSWORD)).status_code == 200


# --- growing waits per (address, email) ------------------------------------------------------


async def test_wrong_passwords_make_that_address_wait_longer_for_that_email(
    settings: Settings, clock: FakeClock, hashing: Hashing
) -> None:
    async with (
        started(settings, clock, free_failures=2, max_delay_seconds=8) as app,
        client_at(app, ATTACKER) as attacker,
        client_at(app, OWNER) as owner,
    ):
        await owner.post("/auth/register", json={"email": "w@x.io", "password": PASSWORD})
        for _ in range(2):  # the free failures
            assert answer(await sign_in(attacker, "w@x.io", WRONG)) == (
                401,
                "INVALID_CREDENTIALS",
                None,
            )
        waits = []
        for _ in range(5):
            assert answer(await sign_in(attacker, "w@x.io", WRONG))[1] == "INVALID_CREDENTIALS"
            checked = len(hashing.verified)
            status, code, retry_after = answer(await sign_in(attacker, "w@x.io", PASSWORD))
            assert (status, code) == (429, "TOO_MANY_ATTEMPTS")
            assert len(hashing.verified) == checked  # the right password was not even checked
            # the owner, from his own address, is not held
            assert (await sign_in(owner, "w@x.io", PASSWORD)).status_code == 200
            assert retry_after is not None
            waits.append(int(retry_after))
            clock.advance(seconds=int(retry_after) - 1)
            assert answer(await sign_in(attacker, "w@x.io", WRONG)) == (
                429,
                "TOO_MANY_ATTEMPTS",
                "1",
            )
            clock.advance(seconds=1)
        assert waits == [1, 2, 4, 8, 8]

        # the right password, once the wait is over, signs in and forgives the failures
        assert (await sign_in(attacker, "w@x.io", PASSWORD)).status_code == 200
        for _ in range(2):
            assert answer(await sign_in(attacker, "w@x.io", WRONG)) == (
                401,
                "INVALID_CREDENTIALS",
                None,
            )
        # another email from the same address has its own count
        assert answer(await sign_in(attacker, "other@x.io", WRONG)) == (
            401,
            "INVALID_CREDENTIALS",
            None,
        )


# --- the per-email ceiling -------------------------------------------------------------------


async def test_ceiling_slows_new_addresses_but_not_a_known_one(
    settings: Settings, clock: FakeClock
) -> None:
    start_of_hour(clock)
    async with started(
        settings,
        clock,
        account_rate_limit="4/hour",
        known_address_seconds=600,
    ) as app:
        async with client_at(app, OWNER) as owner:
            await owner.post("/auth/register", json={"email": "c@x.io", "password": PASSWORD})
            # from an address not known yet: the first of the hour's four attempts
            assert (await sign_in(owner, "c@x.io", PASSWORD)).status_code == 200
        # a guesser with many addresses: each tries once
        for number in range(3):
            async with client_at(app, f"203.0.113.{number}") as guesser:
                assert (await sign_in(guesser, "c@x.io", WRONG)).status_code == 401
        clock.advance(seconds=60)
        for number in range(3, 6):
            async with client_at(app, f"203.0.113.{number}") as guesser:
                password = PASSWORD if number == 5 else WRONG  # the right one is not checked
                assert answer(await sign_in(guesser, "c@x.io", password)) == (
                    429,
                    "TOO_MANY_ATTEMPTS",
                    str(3600 - 60),
                )
        async with client_at(app, OWNER) as owner:
            # the owner, from where he signed in before, is not held by the ceiling
            assert answer(await sign_in(owner, "c@x.io", WRONG))[:2] == (401, "INVALID_CREDENTIALS")
            assert (await sign_in(owner, "c@x.io", PASSWORD)).status_code == 200
            # ...for as long as that address is known: counted from its last sign-in (t=60)
            clock.advance(seconds=599)
            assert (await sign_in(owner, "c@x.io", PASSWORD)).status_code == 200
            clock.advance(seconds=600)
            assert answer(await sign_in(owner, "c@x.io", PASSWORD)) == (
                429,
                "TOO_MANY_ATTEMPTS",
                str(3600 - 1259),
            )
        # a new window lets new addresses try again
        clock.advance(seconds=3600 - 1259)
        async with client_at(app, "203.0.113.6") as guesser:
            assert (await sign_in(guesser, "c@x.io", PASSWORD)).status_code == 200


# --- unknown emails --------------------------------------------------------------------------

WRONG_PASSWORD = (401, "INVALID_CREDENTIALS", None, "Wrong email or password.")
# Free failures 2, waits up to 8 s, ceiling 4 an hour; the clock moves 1 s after the fourth
# attempt and 2 s after the sixth.
EXPECTED_ANSWERS = [
    WRONG_PASSWORD,
    WRONG_PASSWORD,
    WRONG_PASSWORD,  # the third failure: wait 1 s
    (429, "TOO_MANY_ATTEMPTS", "1", "Too many sign-in attempts; try again in 1 second."),
    WRONG_PASSWORD,  # wait 2 s; the fourth counted towards the ceiling
    (429, "TOO_MANY_ATTEMPTS", "2", "Too many sign-in attempts; try again in 2 seconds."),
    *[
        (
            429,
            "TOO_MANY_ATTEMPTS",
            "3597",
            "Too many sign-in attempts for this email; try again in 3597 seconds.",
        )
    ]
    * 3,
]
CLOCK_MOVES = {4: 1, 6: 2}


async def test_unknown_email_is_answered_counted_and_checked_like_a_known_one(
    settings: Settings, clock: FakeClock, hashing: Hashing
) -> None:
    start_of_hour(clock)
    async with (
        started(
            settings,
            clock,
            free_failures=2,
            max_delay_seconds=8,
            account_rate_limit="4/hour",
        ) as app,
        client_at(app, OWNER) as owner,
        client_at(app, ATTACKER) as attacker,
    ):
        await owner.post("/auth/register", json={"email": "known@x.io", "password": PASSWORD})
        answers: dict[str, list[tuple[int, str, str | None, str]]] = {
            "known@x.io": [],
            "nobody@x.io": [],
        }
        checks: dict[str, list[Parameters]] = {email: [] for email in answers}
        for number in range(1, len(EXPECTED_ANSWERS) + 1):
            for email, seen in answers.items():
                before = len(hashing.verified)
                response = await sign_in(attacker, email, WRONG)
                seen.append((*answer(response), response.json()["detail"]))
                checks[email].extend(hashing.verified[before:])
            clock.advance(seconds=CLOCK_MOVES.get(number, 0))
        assert answers["known@x.io"] == EXPECTED_ANSWERS
        assert answers["nobody@x.io"] == EXPECTED_ANSWERS
        # one argon2 verification per wrong-password answer, at one cost: the same timing band
        assert len(checks["known@x.io"]) == 4
        (cost,) = {
            (c.type, c.time_cost, c.memory_cost, c.parallelism) for c in checks["known@x.io"]
        }
        assert cost == (Type.ID, settings.auth.argon2_time_cost, settings.auth.argon2_memory_kib, 1)
        assert checks["nobody@x.io"] == checks["known@x.io"]


# --- shared by workers through Redis ---------------------------------------------------------


async def _flush_redis() -> str | None:
    """Empty the tests' Redis database; the reason when Redis does not answer."""
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
        return None
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    problem = await _flush_redis()
    if problem is not None:
        reason = f"Redis at {REDIS_URL} does not answer ({problem})"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true the Redis tests must run")
        pytest.skip(f"{reason}; set TICKETING_TEST_REDIS_URL to run them")
    yield REDIS_URL
    await _flush_redis()


async def test_workers_share_the_counts_through_redis(
    settings: Settings, clock: FakeClock, redis_url: str
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_url})
    tight: dict[str, Any] = {"client_rate_limit": "4/minute", "free_failures": 1}
    async with (
        started(shared, clock, **tight) as first_app,
        started(shared, clock, **tight) as second_app,
        client_at(first_app, ATTACKER) as first,
        client_at(second_app, ATTACKER) as second,
    ):
        assert (
            await first.post("/auth/register", json={"email": "q@x.io", "password": PASSWORD})
        ).status_code == 201
        # the (address, email) failures: one free on each worker, then the wait on either
        assert (
            await first.post("/auth/token", data={"username": "q@x.io", "password": WRONG})
        ).status_code == 401
        assert (
            await second.post("/auth/token", data={"username": "q@x.io", "password": WRONG})
        ).status_code == 401
        held = await first.post("/auth/token", data={"username": "q@x.io", "password": PASSWORD})
        assert answer(held) == (429, "TOO_MANY_ATTEMPTS", "1")
        # the address's rate: four requests so far across both workers
        over = await second.post("/auth/register", json={"email": "u@x.io", "password": PASSWORD})
        assert over.status_code == 429
        assert "from your address" in over.json()["detail"]
