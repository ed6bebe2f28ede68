"""The one place configuration is read from the environment (`TICKETING_*`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from limits import parse
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ticketing.origins import normalize_origin


def _rate(value: str) -> str:
    parse(value)  # a ValueError names the notation problem at start-up, not at a sign-in
    return value


RateLimit = Annotated[str, AfterValidator(_rate)]
"""A rate in `limits`' notation, e.g. "30/minute"."""


def _origin_list(value: object) -> object:
    """The environment's text as a JSON list or as comma-separated origins."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        return json.loads(value)  # a JSONDecodeError is a ValueError: refused at start-up
    return [part.strip() for part in value.split(",") if part.strip()]


def _origins(values: tuple[str, ...]) -> tuple[str, ...]:
    if "*" in values:
        # Any site could then read sign-in answers from its visitors' browsers, from addresses the
        # throttle has never seen, and keep subscriptions open from them: origins are listed.
        raise ValueError("`*` is not accepted: list each origin (https://shop.example.com)")
    return tuple(dict.fromkeys(normalize_origin(value) for value in values))


Origins = Annotated[
    tuple[str, ...], NoDecode, BeforeValidator(_origin_list), AfterValidator(_origins)
]
"""Web origins (`scheme://host[:port]`), kept as browsers write them in `Origin` headers."""


class CartPolicy(BaseModel):
    """The limits the cart and payment services apply (`TICKETING_CART__*`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hold_seconds: int = Field(default=900, gt=0)
    payment_timeout_seconds: int = Field(default=900, gt=0)
    max_seats_per_cart: int = Field(default=10, gt=0)
    # When false, booking a cart needs a signed-in customer (401 AUTH_REQUIRED otherwise).
    anonymous_checkout: bool = True


class PaymentPolicy(BaseModel):
    """Who may finish a payment (`TICKETING_PAYMENTS__*`): with a secret, the provider's signed
    callbacks only (`ticketing.payments.signatures`); without, anyone (test payments)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: SecretStr | None = None
    signature_tolerance_seconds: int = Field(default=300, gt=0)

    @property
    def mode(self) -> Literal["test", "signed"]:
        return "test" if self.secret_value is None else "signed"

    @property
    def secret_value(self) -> str | None:
        return self.secret.get_secret_value() or None if self.secret else None


class AuthPolicy(BaseModel):
    """How accounts sign in (`TICKETING_AUTH__*`): tokens, the password hash's cost, and the
    limits against abuse."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_ttl_seconds: int = Field(default=86400, gt=0)
    # argon2id cost (RFC 9106's low-memory profile by default); tests may lower it.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    # Sign-ins and registrations together, per client address (both API doors).
    client_rate_limit: RateLimit = "30/minute"
    # Wrong passwords one address may try for one email before each further one doubles the
    # wait (from one second up to the maximum) before that address may try that email again.
    free_failures: int = Field(default=3, ge=0)
    max_delay_seconds: int = Field(default=900, gt=0)
    # Attempts for one email from addresses that have not signed in to it within
    # `known_address_seconds`: slows a guesser with many addresses, not the owner.
    account_rate_limit: RateLimit = "20/hour"
    known_address_seconds: int = Field(default=30 * 86400, gt=0)


class DeliveryPolicy(BaseModel):
    """How the outbox's messages are delivered (`TICKETING_DELIVERY__*`): retries, leases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # `ticketing serve` runs a delivery worker in each of its processes; off when separate
    # `ticketing worker` processes deliver.
    in_serve: bool = True
    # Attempts before a message becomes a dead letter (status `dead`).
    max_attempts: int = Field(default=8, ge=1)
    # The wait after the first failure, doubled after each further one (with jitter), capped.
    backoff_seconds: float = Field(default=30, gt=0)
    max_backoff_seconds: float = Field(default=3600, gt=0)
    # Messages a worker takes at once, and how long they are its own: a worker that dies
    # leaves them to others when the lease ends.
    batch_size: int = Field(default=50, gt=0)
    lease_seconds: float = Field(default=120, gt=0)
    # How often an idle worker looks for due messages.
    poll_seconds: float = Field(default=1, gt=0)
    # Per SMTP conversation or webhook request.
    timeout_seconds: float = Field(default=10, gt=0)


class WebhookPolicy(BaseModel):
    """Webhook targets (`TICKETING_WEBHOOKS__*`): they are called from the server, so private
    and loopback addresses are refused unless allowed (tests, a trusted network)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow_private: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TICKETING_", env_nested_delimiter="__", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///./ticketing.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...",
    )
    # Files the service keeps for itself: the generated ticket-signing key, and e-mails written
    # as .eml when no SMTP host is set. Next to the default SQLite file; give each deployment
    # its own, shared by its workers.
    data_dir: Path = Path("./ticketing-data")
    # The Ed25519 key that signs tickets' QR payloads: a PEM file's path or the PEM itself
    # (PKCS#8, unencrypted). Unset: generated once into data_dir and kept there.
    ticket_signing_key: SecretStr | None = None
    # Pool per worker process; PostgreSQL's max_connections must cover workers x (pool + overflow).
    db_pool_size: int = Field(default=10, gt=0)
    db_max_overflow: int = Field(default=20, ge=0)
    # Units of work a worker process runs at once; the others wait their turn, in order, so
    # that an admitted one never waits for the event loop while holding its locks. Seat-map
    # freshness checks have a small lane of their own besides (ticketing.db.unit.CHECK_SLOTS).
    db_concurrency: int = Field(default=16, gt=0)
    # Live seat-map subscriptions a worker process follows at once; more are refused (busy)
    # rather than let one client's sockets starve the others.
    max_subscribers: int = Field(default=10_000, gt=0)
    # The most of a worker's time that sending one event's live map may take: after a fan-out
    # that took t, the next waits t * (1 / share - 1). Lower favours sales over the map's delay.
    live_sending_share: float = Field(default=0.25, gt=0, le=1)
    # How long a command waits for a lock (SQLite's write lock, a PostgreSQL row lock) before it
    # is answered 503 with Retry-After instead of queueing for ever.
    lock_timeout_ms: int = Field(default=5000, gt=0)
    # How long a request waits in line for a pooled connection before it is answered 503: an
    # on-sale rush queues here (a client would rather wait a few seconds than retry).
    pool_timeout_ms: int = Field(default=30000, gt=0)
    # How often each worker writes down lapsed holds and overdue payments; 0 turns it off.
    sweep_interval_seconds: float = Field(default=30, ge=0)
    # Where the abuse counters live: each worker's memory by default; a Redis URL
    # (redis://host:6379/0) makes every worker process share them.
    redis_url: str | None = None
    # Larger request bodies (JSON, GraphQL, the sign-in form) are refused with 413 unread.
    max_body_bytes: int = Field(default=65536, gt=0)
    sql_echo: bool = False
    # Pages of other origins that may call the API from a browser (CORS) and open WebSockets;
    # empty: only the app's own origin.
    cors_origins: Origins = ()
    # Production may switch off the schema's introspection and the in-browser IDE.
    graphql_introspection: bool = True
    graphiql: bool = True
    # E-mail (flat names, as operators know them): without a host, messages go to
    # data_dir/mail as .eml files.
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, gt=0, lt=65536)  # default: by smtp_tls
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "tickets@localhost"
    delivery: DeliveryPolicy = DeliveryPolicy()
    webhooks: WebhookPolicy = WebhookPolicy()
    cart: CartPolicy = CartPolicy()
    payments: PaymentPolicy = PaymentPolicy()
    auth: AuthPolicy = AuthPolicy()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
