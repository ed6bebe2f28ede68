"""Accounts: registration, sign-in with throttling, bearer tokens, roles.

Passwords are hashed with argon2id off the event loop, never in a transaction; tokens kept hashed.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.accounts.throttle import Throttle
from ticketing.db import Database, command, query
from ticketing.domain import Principal, Role, TokenView, UserView
from ticketing.errors import ErrorCode, TicketingError
from ticketing.inputs import clean_text
from ticketing.models import token_t, user_t
from ticketing.settings import AuthPolicy

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_PREFIX = "tkt_"  # noqa: S105 (a marker, not a secret)
EMAIL_PATTERN = r"[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s.\x00-\x1f\x7f-\x9f]+"
"""An email as accounts take it, once stripped of surrounding spaces: one @, a dot in the
domain, no spaces or control characters (the OpenAPI document publishes it)."""
_EMAIL = re.compile(EMAIL_PATTERN)


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def _policy_hasher(policy: AuthPolicy) -> PasswordHasher:
    return _hasher(policy.argon2_time_cost, policy.argon2_memory_kib)


@lru_cache(maxsize=8)
def _decoy_hash(time_cost: int, memory_kib: int) -> str:
    """Checked when no account has the email, so that an unknown email costs the same time."""
    return _hasher(time_cost, memory_kib).hash(secrets.token_urlsafe(16))


async def hash_password(password: str, policy: AuthPolicy) -> str:
    return await asyncio.to_thread(_policy_hasher(policy).hash, password)


async def _password_matches(password: str, password_hash: str | None, policy: AuthPolicy) -> bool:
    hasher = _policy_hasher(policy)
    if password_hash is None:
        decoy = await asyncio.to_thread(
            _decoy_hash, policy.argon2_time_cost, policy.argon2_memory_kib
        )
        password_hash = decoy
        password = "\0" + password  # never matches the decoy by chance
    # JSON can carry half a UTF-16 pair, which no register() accepted: encoded as it came, it
    # just does not match (and costs the same check)
    secret = password.encode("utf-8", "surrogatepass")
    try:
        return await asyncio.to_thread(hasher.verify, password_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    normalized = clean_text(email, field="email", max_length=254).lower()
    if not _EMAIL.fullmatch(normalized):
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR, "email must be an email address.", field=("email",)
        )
    return normalized


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR,
            f"password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
            field=("password",),
        )
    if any(0xD800 <= ord(char) <= 0xDFFF for char in password):  # not text: cannot be hashed
        raise TicketingError(
            ErrorCode.VALIDATION_ERROR, "password must be valid Unicode text.", field=("password",)
        )


@dataclass(frozen=True, slots=True)
class Client:
    """Who is asking over the network: their address (None when the server cannot tell) and the
    app's throttle that counts their attempts."""

    address: str | None
    throttle: Throttle


def _user(row: Any) -> UserView:
    return UserView(id=row[0], email=row[1], role=Role(row[2]), created_at=row[3])


_USER_COLUMNS = (user_t.c.id, user_t.c.email, user_t.c.role, user_t.c.created_at)


async def register(
    db: Database,
    *,
    email: str,
    password: str,
    now: datetime,
    policy: AuthPolicy,
    role: Role = Role.CUSTOMER,
    client: Client | None,
) -> UserView:
    """A new account; EMAIL_TAKEN when the email has one already (the unique index decides).

    A network client's registrations count towards its address's rate (TOO_MANY_ATTEMPTS)."""
    if client is not None:
        await client.throttle.count_request(address=client.address, policy=policy)
    email = normalize_email(email)
    _check_password(password)
    password_hash = await hash_password(password, policy)
    return await _insert_user(db, email=email, password_hash=password_hash, role=role, now=now)


@command
async def _insert_user(
    conn: AsyncConnection, *, email: str, password_hash: str, role: Role, now: datetime
) -> UserView:
    insert = (
        postgresql.insert(user_t) if conn.dialect.name == "postgresql" else sqlite.insert(user_t)
    )
    row = (
        await conn.execute(
            insert.values(email=email, password_hash=password_hash, role=role.value, created_at=now)
            .on_conflict_do_nothing(index_elements=["email"])
            .returning(*_USER_COLUMNS)
        )
    ).one_or_none()
    if row is None:
        raise TicketingError(
            ErrorCode.EMAIL_TAKEN,
            f"An account with the email {email} exists already; sign in instead.",
            field=("email",),
        )
    return _user(row)


def _invalid_credentials() -> TicketingError:
    return TicketingError(ErrorCode.INVALID_CREDENTIALS, "Wrong email or password.")


async def sign_in(
    db: Database,
    *,
    email: str,
    password: str,
    now: datetime,
    policy: AuthPolicy,
    client: Client,
) -> TokenView:
    """A new bearer token for the account, if the password is right.

    TOO_MANY_ATTEMPTS beyond the client address's rate, while the (address, email) pair waits
    after repeated wrong passwords, or past the email's ceiling from an address that has not
    signed in to it recently (`ticketing.accounts.throttle`). An unknown email is counted,
    checked (one argon2 verification) and answered exactly like a wrong password.
    """
    await client.throttle.count_request(address=client.address, policy=policy)
    try:
        email = normalize_email(email)
    except TicketingError:
        raise _invalid_credentials() from None
    async with client.throttle.sign_in_attempt(
        address=client.address, email=email, now=now, policy=policy
    ) as attempt:
        account = await _find_account(db, email=email)
        matches = await _password_matches(password, None if account is None else account[1], policy)
        if account is None or not matches:
            await attempt.failed()
            raise _invalid_credentials()
        await attempt.succeeded()
    return await _issue_token(db, user_id=account[0], now=now, policy=policy)


@query
async def _find_account(conn: AsyncConnection, *, email: str) -> tuple[int, str] | None:
    """The account's id and password hash (None: no account has the email)."""
    row = (
        await conn.execute(
            sa.select(user_t.c.id, user_t.c.password_hash).where(user_t.c.email == email)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


@command
async def _issue_token(
    conn: AsyncConnection, *, user_id: int, now: datetime, policy: AuthPolicy
) -> TokenView:
    row = (await conn.execute(sa.select(*_USER_COLUMNS).where(user_t.c.id == user_id))).one()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=policy.token_ttl_seconds)
    await conn.execute(
        sa.insert(token_t).values(
            token_hash=token_digest(token), user_id=user_id, created_at=now, expires_at=expires_at
        )
    )
    return TokenView(access_token=token, expires_at=expires_at, user=_user(row))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None without a header); any
    other header is INVALID_TOKEN, never taken as anonymous."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TicketingError(
            ErrorCode.INVALID_TOKEN, "The Authorization header must be `Bearer <token>`."
        )
    return token.strip()


def auth_required() -> TicketingError:
    return TicketingError(ErrorCode.AUTH_REQUIRED, "Sign in first: this needs a bearer token.")


def _invalid_token() -> TicketingError:
    return TicketingError(
        ErrorCode.INVALID_TOKEN,
        "The bearer token is unknown, expired or signed out; sign in again.",
    )


async def viewer(db: Database, *, authorization: str | None, now: datetime) -> Principal | None:
    """The signed-in caller of a request, from its Authorization header: None for an anonymous
    request; a bad header or token is INVALID_TOKEN, never taken as anonymous."""
    token = bearer_token(authorization)
    if token is None:
        return None
    return await authenticate(db, token=token, now=now)


def required(viewer: Principal | None) -> Principal:
    """The caller of what needs a signed-in account (AUTH_REQUIRED for an anonymous one)."""
    if viewer is None:
        raise auth_required()
    return viewer


@query
async def authenticate(conn: AsyncConnection, *, token: str, now: datetime) -> Principal:
    """The account a bearer token stands for; INVALID_TOKEN when expired, revoked or unknown."""
    row = (
        await conn.execute(
            sa.select(user_t.c.id, user_t.c.email, user_t.c.role)
            .join(token_t, token_t.c.user_id == user_t.c.id)
            .where(
                token_t.c.token_hash == token_digest(token),
                token_t.c.revoked_at.is_(None),
                token_t.c.expires_at > now,
            )
        )
    ).one_or_none()
    if row is None:
        raise _invalid_token()
    return Principal(user_id=row[0], email=row[1], role=Role(row[2]))


async def sign_out(db: Database, *, authorization: str | None, now: datetime) -> None:
    """Revoke the bearer token of a request's Authorization header; any later request with it
    is INVALID_TOKEN. Signing out needs a signed-in caller: AUTH_REQUIRED without a token."""
    token = bearer_token(authorization)
    if token is None:
        raise auth_required()
    await _revoke_token(db, token=token, now=now)


@command
async def _revoke_token(conn: AsyncConnection, *, token: str, now: datetime) -> None:
    revoked = await conn.scalar(
        sa.update(token_t)
        .where(
            token_t.c.token_hash == token_digest(token),
            token_t.c.revoked_at.is_(None),
            token_t.c.expires_at > now,
        )
        .values(revoked_at=now)
        .returning(token_t.c.id)
    )
    if revoked is None:
        raise _invalid_token()


@query
async def get_user(conn: AsyncConnection, *, user_id: int) -> UserView:
    row = (
        await conn.execute(sa.select(*_USER_COLUMNS).where(user_t.c.id == user_id))
    ).one_or_none()
    if row is None:
        raise _invalid_token()  # the account is gone: its tokens stand for nobody
    return _user(row)


@command
async def promote(conn: AsyncConnection, *, email: str, role: Role = Role.MANAGER) -> UserView:
    """Give an account a role (the operator's console: any role)."""
    email = normalize_email(email)
    row = (
        await conn.execute(
            sa.update(user_t)
            .where(user_t.c.email == email)
            .values(role=role.value)
            .returning(*_USER_COLUMNS)
        )
    ).one_or_none()
    if row is None:
        raise TicketingError(ErrorCode.NOT_FOUND, f"No account has the email {email}.")
    return _user(row)


@command
async def grant_scanner_role(
    conn: AsyncConnection, *, caller: Principal | None, email: str
) -> UserView:
    """A manager lets a customer's account check tickets in (a scanner stays one; a manager
    keeps his role, which checks tickets in already)."""
    if caller is None or not caller.is_manager:
        raise TicketingError(
            ErrorCode.FORBIDDEN,
            "Only event managers may grant the scanner role.",
            context={"action": "grant the scanner role"},
        )
    email = normalize_email(email)
    row = (
        await conn.execute(
            sa.update(user_t)
            .where(
                user_t.c.email == email,
                user_t.c.role.in_([Role.CUSTOMER.value, Role.SCANNER.value]),
            )
            .values(role=Role.SCANNER.value)
            .returning(*_USER_COLUMNS)
        )
    ).one_or_none()
    if row is not None:
        return _user(row)
    if await conn.scalar(sa.select(user_t.c.id).where(user_t.c.email == email)) is None:
        raise TicketingError(
            ErrorCode.NOT_FOUND, f"No account has the email {email}.", field=("email",)
        )
    raise TicketingError(
        ErrorCode.VALIDATION_ERROR,
        f"{email} is a manager, who checks tickets in already.",
        field=("email",),
    )
