"""Limits against sign-in abuse, counted in `limits`' storage (each worker's memory, or Redis
shared by every worker): per client address, growing delays per (address, email), and a
ceiling per email for addresses that have not signed in to it."""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import AsyncIterator
from datetime import datetime
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.asyncio import ConnectionPool

from ticketing.errors import ErrorCode, TicketingError
from ticketing.settings import AuthPolicy

FIRST_DELAY_SECONDS = 1
# A pair's failures are forgotten this long after the first of them (at least twice the
# longest delay, so that the delays can grow to it).
FAILURE_MEMORY_SECONDS = 86400
# How long a crashed worker's claim on an (address, email) pair can block that pair.
BUSY_SECONDS = 60
NO_ADDRESS = "unknown"  # every client whose address the server cannot tell shares one count


@lru_cache(maxsize=16)
def _rate(notation: str) -> RateLimitItem:
    return parse(notation)


def _digest(email: str) -> str:
    # Keys carry a digest, not the email: the shared storage holds no addresses of people.
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _seconds_text(seconds: int) -> str:
    return "1 second" if seconds == 1 else f"{seconds} seconds"


def too_many_attempts(what: str, *, seconds: float) -> TicketingError:
    retry_after = max(1, math.ceil(seconds))
    return TicketingError(
        ErrorCode.TOO_MANY_ATTEMPTS,
        f"{what}; try again in {_seconds_text(retry_after)}.",
        context={"retry_after": retry_after},
    )


def delay_after(failures: int, *, policy: AuthPolicy) -> int:
    """Seconds an address waits before trying an email again after this many wrong passwords
    in a row: none for the free ones, then doubling from one second up to the maximum."""
    beyond = failures - policy.free_failures
    if beyond <= 0:
        return 0
    return min(FIRST_DELAY_SECONDS << min(beyond - 1, 32), policy.max_delay_seconds)


class Throttle:
    """The counters of one app (made in its lifespan), and the rules that read them."""

    def __init__(self, storage: Storage, *, pool: ConnectionPool | None = None) -> None:
        self.storage = storage
        self._pool = pool
        self._per_address = FixedWindowRateLimiter(storage)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def count_request(self, *, address: str | None, policy: AuthPolicy) -> None:
        """Count one sign-in or registration from this address: TOO_MANY_ATTEMPTS beyond the
        policy's rate. A fixed window of `limits`, whose end is exactly the Retry-After."""
        rate = _rate(policy.client_rate_limit)
        client = address or NO_ADDRESS
        if await self._per_address.hit(rate, "auth-client", client):
            return
        stats = await self._per_address.get_window_stats(rate, "auth-client", client)
        raise too_many_attempts(
            "Too many sign-in and registration requests from your address",
            # limits' windows run on the wall clock, not on the app's clock
            seconds=stats.reset_time - time.time(),
        )

    @contextlib.asynccontextmanager
    async def sign_in_attempt(
        self, *, address: str | None, email: str, now: datetime, policy: AuthPolicy
    ) -> AsyncIterator[SignInAttempt]:
        """Let one password check for this (address, email) through, or TOO_MANY_ATTEMPTS.

        One check per pair at a time (simultaneous guesses do not slip past a delay), none while
        the pair's delay runs, and none beyond the email's ceiling from an address that has not
        signed in to it recently. Keys depend on the email only, never on whether an account has
        it, so an unknown email is counted and answered exactly like a known one.
        """
        client = address or NO_ADDRESS
        account = _digest(email)
        attempt = SignInAttempt(
            self.storage,
            pair=f"{client}/{account}",
            known_key=f"signin/known/{account}/{client}",
            now=now,
            policy=policy,
        )
        busy = f"signin/busy/{attempt.pair}"
        if await self.storage.incr(busy, BUSY_SECONDS) > 1:
            raise too_many_attempts("Another sign-in for this email is in progress", seconds=1)
        try:
            held_until = await self.storage.get(attempt.held_until_key)
            if attempt.at < held_until:
                raise too_many_attempts(
                    "Too many sign-in attempts", seconds=held_until - attempt.at
                )
            signed_in_at = await self.storage.get(attempt.known_key)
            if not signed_in_at or attempt.at - signed_in_at >= policy.known_address_seconds:
                await self._count_unknown_address(account=account, at=attempt.at, policy=policy)
            yield attempt
        finally:
            await self.storage.clear(busy)

    async def _count_unknown_address(self, *, account: str, at: int, policy: AuthPolicy) -> None:
        # A fixed window on the app's clock: counted before the password is checked, so that
        # simultaneous guesses from many addresses cannot overshoot the ceiling.
        rate = _rate(policy.account_rate_limit)
        window = rate.get_expiry()
        index = at // window
        key = f"signin/account/{account}/{index}"
        if await self.storage.incr(key, 2 * window) > rate.amount:
            raise too_many_attempts(
                "Too many sign-in attempts for this email", seconds=(index + 1) * window - at
            )


class SignInAttempt:
    """A password check the throttle let through; its outcome is recorded with `failed` or
    `succeeded`. Only the holder of the pair's busy mark writes the pair's keys."""

    def __init__(
        self, storage: Storage, *, pair: str, known_key: str, now: datetime, policy: AuthPolicy
    ) -> None:
        self.storage = storage
        self.pair = pair
        self.known_key = known_key
        self.held_until_key = f"signin/held-until/{pair}"
        self.at = int(now.timestamp())
        self.policy = policy

    async def _set(self, key: str, value: int, *, expiry: int) -> None:
        # The storage counts; a value is set by clearing then adding it (no other writer: busy).
        await self.storage.clear(key)
        await self.storage.incr(key, expiry, amount=value)

    async def failed(self) -> None:
        memory = max(FAILURE_MEMORY_SECONDS, 2 * self.policy.max_delay_seconds)
        failures = await self.storage.incr(f"signin/failures/{self.pair}", memory)
        delay = delay_after(failures, policy=self.policy)
        if delay:
            await self._set(self.held_until_key, self.at + delay, expiry=memory)

    async def succeeded(self) -> None:
        await self.storage.clear(f"signin/failures/{self.pair}")
        await self.storage.clear(self.held_until_key)
        await self._set(self.known_key, self.at, expiry=self.policy.known_address_seconds)


def open_throttle(*, redis_url: str | None) -> Throttle:
    """Counters in this process's memory, or in Redis (every worker then shares them)."""
    if redis_url is None:
        return Throttle(MemoryStorage())
    pool = ConnectionPool.from_url(redis_url)
    storage = RedisStorage(
        f"async+{redis_url}",
        implementation="redispy",
        # limits documents `connection_pool` but types its options as scalars; owning the pool
        # lets the app close its connections at shutdown.
        connection_pool=pool,  # type: ignore[arg-type]
    )
    return Throttle(storage, pool=pool)
