"""Accounts: registering, signing in, tokens and roles; ticketing.accounts called directly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import FakeClock
from tests.service.steps import refused
from ticketing.accounts import accounts
from ticketing.accounts.throttle import open_throttle
from ticketing.db import Database
from ticketing.domain import Principal, Role
from ticketing.errors import ErrorCode
from ticketing.settings import AuthPolicy, Settings

PASSWORD = "correct horse battery"


@pytest.fixture
def policy(settings: Settings) -> AuthPolicy:
    return settings.auth_policy


@pytest.fixture
def network() -> accounts.Client:
    """One network address, with the throttle's counters in memory."""
    return accounts.Client(address="203.0.113.7", throttle=open_throttle(redis_url=None))


async def test_a_registered_customer_signs_in_and_the_token_stands_for_the_account(
    db: Database, clock: FakeClock, policy: AuthPolicy, network: accounts.Client
) -> None:
    user = await accounts.register(
        db, email=" Fan@Example.com ", password=PASSWORD, now=clock.now, policy=policy, client=None
    )
    assert (user.email, user.role) == ("fan@example.com", Role.CUSTOMER)
    token = await accounts.sign_in(
        db, email="FAN@example.com", password=PASSWORD, now=clock.now, policy=policy, client=network
    )
    assert token.expires_at == clock.now + timedelta(seconds=policy.token_ttl_seconds)
    assert await accounts.authenticate(db, token=token.access_token, now=clock.now) == Principal(
        user_id=user.id, email="fan@example.com", role=Role.CUSTOMER
    )


async def test_an_email_has_one_account_whatever_its_case(
    db: Database, clock: FakeClock, policy: AuthPolicy
) -> None:
    await accounts.register(
        db, email="a@b.co", password=PASSWORD, now=clock.now, policy=policy, client=None
    )
    with refused(ErrorCode.EMAIL_TAKEN):
        await accounts.register(
            db, email="A@b.co", password=PASSWORD, now=clock.now, policy=policy, client=None
        )


async def test_a_short_password_is_refused(
    db: Database, clock: FakeClock, policy: AuthPolicy
) -> None:
    with refused(ErrorCode.VALIDATION_ERROR):
        await accounts.register(
            db, email="c@b.co", password="short", now=clock.now, policy=policy, client=None
        )


async def test_a_wrong_password_and_an_unknown_email_are_the_same_refusal(
    db: Database, clock: FakeClock, policy: AuthPolicy, network: accounts.Client
) -> None:
    await accounts.register(
        db, email="fan@example.com", password=PASSWORD, now=clock.now, policy=policy, client=None
    )
    refusals = []
    for email, password in (("fan@example.com", "wrong password!"), ("who@example.com", PASSWORD)):
        with refused(ErrorCode.INVALID_CREDENTIALS) as refusal:
            await accounts.sign_in(
                db, email=email, password=password, now=clock.now, policy=policy, client=network
            )
        refusals.append(refusal.value.message)
    assert refusals[0] == refusals[1]


async def test_a_token_ends_at_its_expiry_or_when_signed_out(
    db: Database, clock: FakeClock, policy: AuthPolicy, network: accounts.Client
) -> None:
    await accounts.register(
        db, email="fan@example.com", password=PASSWORD, now=clock.now, policy=policy, client=None
    )

    async def new_token() -> str:
        issued = await accounts.sign_in(
            db,
            email="fan@example.com",
            password=PASSWORD,
            now=clock.now,
            policy=policy,
            client=network,
        )
        return issued.access_token

    expiring = await new_token()
    at_expiry = clock.now + timedelta(seconds=policy.token_ttl_seconds)
    await accounts.authenticate(db, token=expiring, now=at_expiry - timedelta(seconds=1))
    with refused(ErrorCode.INVALID_TOKEN):
        await accounts.authenticate(db, token=expiring, now=at_expiry)

    signed_out = await new_token()
    await accounts.sign_out(db, token=signed_out, now=clock.now)
    with refused(ErrorCode.INVALID_TOKEN):
        await accounts.authenticate(db, token=signed_out, now=clock.now)
    with refused(ErrorCode.INVALID_TOKEN):  # signing out twice
        await accounts.sign_out(db, token=signed_out, now=clock.now)


async def test_promoting_an_account_makes_its_tokens_a_managers(
    db: Database, clock: FakeClock, policy: AuthPolicy, network: accounts.Client
) -> None:
    await accounts.register(
        db, email="boss@example.com", password=PASSWORD, now=clock.now, policy=policy, client=None
    )
    token = await accounts.sign_in(
        db,
        email="boss@example.com",
        password=PASSWORD,
        now=clock.now,
        policy=policy,
        client=network,
    )
    promoted = await accounts.promote(db, email="Boss@example.com")
    assert promoted.role is Role.MANAGER
    caller = await accounts.authenticate(db, token=token.access_token, now=clock.now)
    assert caller.is_manager
    with refused(ErrorCode.NOT_FOUND):
        await accounts.promote(db, email="nobody@example.com")
