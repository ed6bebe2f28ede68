"""The one place configuration is read from the environment (`TICKETING_*`)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True, slots=True)
class CartPolicy:
    """The configurable limits the cart and payment services apply."""

    hold_seconds: int = 900
    payment_timeout_seconds: int = 900
    max_seats_per_cart: int = 10


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
    # How long a command waits for a lock (SQLite's write lock, a PostgreSQL row lock) before it
    # is answered 503 with Retry-After instead of queueing for ever.
    lock_timeout_ms: int = Field(default=5000, gt=0)
    # How long a request waits in line for a pooled connection before it is answered 503: an
    # on-sale rush queues here (a client would rather wait a few seconds than retry).
    pool_timeout_ms: int = Field(default=30000, gt=0)
    # How often each worker writes down lapsed holds and overdue payments; 0 turns it off.
    sweep_interval_seconds: float = Field(default=30, ge=0)
    sql_echo: bool = False
    # Production may switch off the schema's introspection and the in-browser IDE.
    graphql_introspection: bool = True
    graphiql: bool = True

    @property
    def cart_policy(self) -> CartPolicy:
        return CartPolicy(
            hold_seconds=self.cart_hold_seconds,
            payment_timeout_seconds=self.payment_timeout_seconds,
            max_seats_per_cart=self.max_seats_per_cart,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
