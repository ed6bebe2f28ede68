"""The one place configuration is read from the environment (`TICKETING_*`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from limits import parse
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """How accounts sign in: token lifetime, the password hash's cost, and the limits against
    abuse (rates in `limits`' notation, e.g. "30/minute")."""

    token_ttl_seconds: int = 86400
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    client_rate_limit: str = "30/minute"
    free_failures: int = 3
    max_delay_seconds: int = 900
    account_rate_limit: str = "20/hour"
    known_address_seconds: int = 30 * 86400


@dataclass(frozen=True, slots=True)
class CartPolicy:
    """The configurable limits the cart and payment services apply."""

    hold_seconds: int = 900
    payment_timeout_seconds: int = 900
    max_seats_per_cart: int = 10
    anonymous_checkout: bool = True


@dataclass(frozen=True, slots=True)
class PaymentPolicy:
    """Who may finish a payment: with a secret, the provider's signed callbacks only."""

    secret: str | None = None
    signature_tolerance_seconds: int = 300

    @property
    def mode(self) -> Literal["test", "signed"]:
        """`signed`, or `test`: anyone may report a payment's outcome (demos and tests)."""
        return "test" if self.secret is None else "signed"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETING_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./ticketing.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...",
    )
    cart_hold_seconds: int = Field(default=900, gt=0)
    payment_timeout_seconds: int = Field(default=900, gt=0)
    max_seats_per_cart: int = Field(default=10, gt=0)
    # Pool per worker process; PostgreSQL's max_connections must cover workers x (pool + overflow).
    db_pool_size: int = Field(default=10, gt=0)
    db_max_overflow: int = Field(default=20, ge=0)
    # Units of work (service calls) a worker process runs at once; the others wait their turn,
    # in order, up to pool_timeout_ms. Hundreds at once made every transaction wait for the
    # event loop between its statements, holding its locks meanwhile (seconds-long tails).
    db_concurrency: int = Field(default=16, gt=0)
    # How long a command waits for a lock (SQLite's write lock, a PostgreSQL row lock) before it
    # is answered 503 with Retry-After instead of queueing for ever.
    lock_timeout_ms: int = Field(default=5000, gt=0)
    # How long a request waits in line for a pooled connection before it is answered 503: an
    # on-sale rush queues here (a client would rather wait a few seconds than retry).
    pool_timeout_ms: int = Field(default=30000, gt=0)
    # How often each worker writes down lapsed holds and overdue payments; 0 turns it off.
    sweep_interval_seconds: float = Field(default=30, ge=0)
    # Accounts: bearer tokens expire.
    token_ttl_seconds: int = Field(default=86400, gt=0)
    # Where the abuse counters live: each worker's memory by default; a Redis URL
    # (redis://host:6379/0) makes every worker process share them.
    redis_url: str | None = None
    # Sign-ins and registrations together, per client address (both API doors).
    auth_rate_limit: str = "30/minute"
    # Wrong passwords one address may try for one email before each further one doubles the
    # wait (from one second up to the maximum) before that address may try that email again.
    sign_in_free_failures: int = Field(default=3, ge=0)
    sign_in_max_delay_seconds: int = Field(default=900, gt=0)
    # Sign-in attempts for one email from addresses that have not signed in to it within
    # `sign_in_known_address_seconds`: slows a guesser with many addresses, not the owner.
    sign_in_account_limit: str = "20/hour"
    sign_in_known_address_seconds: int = Field(default=30 * 86400, gt=0)
    # argon2id cost (RFC 9106's low-memory profile by default); tests may lower it.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    # The secret shared with the payment provider: its callbacks are signed with it
    # (ticketing.payments.signatures). Unset: test payments, anyone may complete a payment.
    payment_secret: SecretStr | None = None
    payment_signature_tolerance_seconds: int = Field(default=300, gt=0)
    # When false, booking a cart needs a signed-in customer (401 AUTH_REQUIRED otherwise).
    anonymous_checkout: bool = True
    # Larger request bodies (JSON, GraphQL, the sign-in form) are refused with 413 unread.
    max_body_bytes: int = Field(default=65536, gt=0)
    sql_echo: bool = False
    # Production may switch off the schema's introspection and the in-browser IDE.
    graphql_introspection: bool = True
    graphiql: bool = True

    @field_validator("auth_rate_limit", "sign_in_account_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse(value)  # a ValueError names the notation problem at start-up, not at a sign-in
        return value

    @property
    def cart_policy(self) -> CartPolicy:
        return CartPolicy(
            hold_seconds=self.cart_hold_seconds,
            payment_timeout_seconds=self.payment_timeout_seconds,
            max_seats_per_cart=self.max_seats_per_cart,
            anonymous_checkout=self.anonymous_checkout,
        )

    @property
    def payment_policy(self) -> PaymentPolicy:
        secret = self.payment_secret.get_secret_value() if self.payment_secret else None
        return PaymentPolicy(
            secret=secret or None,
            signature_tolerance_seconds=self.payment_signature_tolerance_seconds,
        )

    @property
    def auth_policy(self) -> AuthPolicy:
        return AuthPolicy(
            token_ttl_seconds=self.token_ttl_seconds,
            argon2_time_cost=self.argon2_time_cost,
            argon2_memory_kib=self.argon2_memory_kib,
            client_rate_limit=self.auth_rate_limit,
            free_failures=self.sign_in_free_failures,
            max_delay_seconds=self.sign_in_max_delay_seconds,
            account_rate_limit=self.sign_in_account_limit,
            known_address_seconds=self.sign_in_known_address_seconds,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
