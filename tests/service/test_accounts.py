"""Accounts: registering, signing in, tokens and roles; ticketing.accounts called directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from tests.conftest import FakeClock
from tests.service.steps import refused
from ticketing.accounts import accounts
from ticketing.accounts.throttle import open_throttle
from ticketing.db import Database
from ticketing.domain import Principal, Role, TokenView, UserView
from ticketing.errors import ErrorCode
from ticketing.settings import AuthPolicy, Settings

PASSWORD = "correct horse battery"


@dataclass
class Accounts:
    """The account commands on this test's database and clock, from one network address."""

    db: Database
    clock: FakeClock
    policy: AuthPolicy
    network: accounts.Client

    async def register(self, email: str, password: str = PASSWORD) -> UserView:
        return await accounts.register(
            self.db,
            email=email,
            password=password,
            now=self.clock.now,
            policy=self.policy,
            client=None,
        )

    async def sign_in(self, email: str, password: str = PASSWORD) -> TokenView:
        return await accounts.sign_in(
            self.db,
            email=email,
            password=password,
            now=self.clock.now,
            policy=self.policy,
            client=self.network,
        )


@pytest.fixture
def people(db: Database, clock: FakeClock, settings: Settings) -> Accounts:
    network = accounts.Client(address="203.0.113.7", throttle=open_throttle(redis_url=None))
    return Accounts(db=db, clock=clock, policy=settings.auth, network=network)


async def test_a_registered_customer_signs_in_and_the_token_stands_for_the_account(
    db: Database, clock: FakeClock, people: Accounts
) -> None:
    user = await people.register(" Fan@Example.com ")
    assert (user.email, user.role) == ("fan@example.com", Role.CUSTOMER)
    token = await people.sign_in("FAN@example.com")
    assert token.expires_at == clock.now + timedelta(seconds=people.policy.token_ttl_seconds)
    assert await accounts.authenticate(db, token=token.access_token, now=clock.now) == Principal(
        user_id=user.id, email="fan@example.com", role=Role.CUSTOMER
    )


async def test_an_email_has_one_account_whatever_its_case(people: Accounts) -> None:
    await people.register("a@b.co")
    with refused(ErrorCode.EMAIL_TAKEN):
        await people.register("A@b.co")


async def test_a_short_password_is_refused(people: Accounts) -> None:
    with refused(ErrorCode.VALIDATION_ERROR):
        await people.register("c@b.co", password="short")


async def test_a_wrong_password_and_an_unknown_email_are_the_same_refusal(
    people: Accounts,
) -> None:
    await people.register("fan@example.com")
    refusals = []
    for email, password in (("fan@example.com", "wrong password!"), ("who@example.com", PASSWORD)):
        with refused(ErrorCode.INVALID_CREDENTIALS) as refusal:
            await people.sign_in(email, password)
        refusals.append(refusal.value.message)
    assert refusals[0] == refusals[1]


async def test_a_token_ends_at_its_expiry_or_when_signed_out(
    db: Database, clock: FakeClock, people: Accounts
) -> None:
    await people.register("fan@example.com")
    expiring = (await people.sign_in("fan@example.com")).access_token
    at_expiry = clock.now + timedelta(seconds=people.policy.token_ttl_seconds)
    await accounts.authenticate(db, token=expiring, now=at_expiry - timedelta(seconds=1))
    with refused(ErrorCode.INVALID_TOKEN):
        await accounts.authenticate(db, token=expiring, now=at_expiry)

    signed_out = (await people.sign_in("fan@example.com")).access_token
    await accounts.sign_out(db, authorization=f"Bearer {signed_out}", now=clock.now)
    with refused(ErrorCode.INVALID_TOKEN):
        await accounts.authenticate(db, token=signed_out, now=clock.now)
    with refused(ErrorCode.INVALID_TOKEN):  # signing out twice
        await accounts.sign_out(db, authorization=f"Bearer {signed_out}", now=clock.now)


async def test_promoting_an_account_makes_its_tokens_a_managers(
    db: Database, clock: FakeClock, people: Accounts
) -> None:
    await people.register("boss@example.com")
    token = await people.sign_in("boss@example.com")
    assert (await accounts.promote(db, email="Boss@example.com")).role is Role.MANAGER
    caller = await accounts.authenticate(db, token=token.access_token, now=clock.now)
    assert caller.is_manager
    with refused(ErrorCode.NOT_FOUND):
        await accounts.promote(db, email="nobody@example.com")
