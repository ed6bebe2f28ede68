"""Ticket codes: random and url-safe, made by Python or, inside one statement, by PostgreSQL."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

CODE_BYTES = 16


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def postgres_code() -> sa.ColumnElement[str]:
    """The same kind of code from PostgreSQL's strong random source (gen_random_uuid), for
    tickets issued by a statement that makes as many codes as it inserts rows."""
    raw = sa.func.encode(
        sa.func.uuid_send(sa.func.gen_random_uuid()), sa.literal_column("'base64'")
    )
    return sa.func.rtrim(
        sa.func.translate(raw, sa.literal_column("'+/'"), sa.literal_column("'-_'")),
        sa.literal_column("'='"),
    )
