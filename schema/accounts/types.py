"""The signed-in account and its orders; `AccountsQuery` and `AccountsMutation`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.common import Role, UserError, attempt
from schema.context import Info
from schema.orders.types import Cart, Payment
from ticketing import domain
from ticketing.accounts import accounts
from ticketing.orders import carts
from ticketing.payments import payments


@strawberry.type(description="An account: a customer, or a manager (who is a customer too).")
class User:
    id: strawberry.ID = strawberry.field(description="The account's id.")
    email: str = strawberry.field(description="Lower-cased email; also the sign-in name.")
    role: Role = strawberry.field(description="CUSTOMER, MANAGER or SCANNER.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When the account was registered.")
    # Users are shown only to themselves (me, register, signIn): their orders are theirs to see.
    principal: strawberry.Private[domain.Principal]

    @classmethod
    def of(cls, view: domain.UserView) -> User:
        return cls(
            id=strawberry.ID(str(view.id)),
            email=view.email,
            role=view.role,
            created_at=view.created_at,
            principal=domain.Principal(user_id=view.id, email=view.email, role=view.role),
        )

    @strawberry.field(description="The account's carts, newest first (at most 100).")
    async def carts(self, info: Info) -> list[Cart]:
        context = info.context
        found = await context.call(carts.list_carts, owner=self.principal, now=context.now)
        return [Cart.of(c) for c in found]

    @strawberry.field(
        description="The account's payments, newest first (at most 100); completed ones list "
        "their tickets."
    )
    async def payments(self, info: Info) -> list[Payment]:
        context = info.context
        found = await context.call(payments.list_payments, owner=self.principal, now=context.now)
        return [Payment.of(p) for p in found]


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The signed-in account (Authorization: Bearer); null if none.")
    async def me(self, info: Info) -> User | None:
        context = info.context
        viewer = await context.viewer()
        if viewer is None:
            return None
        return User.of(await context.call(accounts.get_user, user_id=viewer.user_id))


@strawberry.input(description="Email and password of an account.")
class CredentialsInput:
    email: str = strawberry.field(description="The account's email (any case).")
    password: str = strawberry.field(description="At least 8 characters.")


@strawberry.type(description="The new account, or why not.")
class RegisterPayload:
    user: User | None = strawberry.field(description="The new account; null on error.")
    user_errors: list[UserError] = strawberry.field(description="Why not; empty on success.")


@strawberry.type(description="A bearer token: send it as `Authorization: Bearer <token>`.")
class SignInPayload:
    token: str | None = strawberry.field(description="Shown once; null on error.")
    expires_at: datetime | None = strawberry.field(description="When the token expires.")
    user: User | None = strawberry.field(description="The signed-in account; null on error.")
    user_errors: list[UserError] = strawberry.field(description="Why not; empty on success.")


@strawberry.type(description="Whether the token of this request was revoked.")
class SignOutPayload:
    signed_out: bool = strawberry.field(description="True once the token is revoked.")
    user_errors: list[UserError] = strawberry.field(description="Why not; empty on success.")


async def register(
    info: Info,
    input: Annotated[CredentialsInput, strawberry.argument(description="The new account.")],
) -> RegisterPayload:
    context = info.context
    user, errors = await attempt(
        context.call(
            accounts.register,
            email=input.email,
            password=input.password,
            now=context.now,
            policy=context.settings.auth,
            client=context.client,
        )
    )
    return RegisterPayload(user=None if user is None else User.of(user), user_errors=errors)


async def sign_in(
    info: Info,
    input: Annotated[CredentialsInput, strawberry.argument(description="Who signs in.")],
) -> SignInPayload:
    context = info.context
    token, errors = await attempt(
        context.call(
            accounts.sign_in,
            email=input.email,
            password=input.password,
            now=context.now,
            policy=context.settings.auth,
            client=context.client,
        )
    )
    if token is None:
        return SignInPayload(token=None, expires_at=None, user=None, user_errors=errors)
    return SignInPayload(
        token=token.access_token,
        expires_at=token.expires_at,
        user=User.of(token.user),
        user_errors=[],
    )


async def sign_out(info: Info) -> SignOutPayload:
    context = info.context
    _, errors = await attempt(
        context.call(accounts.sign_out, authorization=context.authorization, now=context.now)
    )
    return SignOutPayload(signed_out=not errors, user_errors=errors)


@strawberry.type
class AccountsMutation:
    register = strawberry.mutation(
        resolver=register,
        description="Create a customer account. Registrations and sign-ins from one client "
        "address share a rate limit (TOO_MANY_ATTEMPTS; the message says when to try again).",
    )
    sign_in = strawberry.mutation(
        resolver=sign_in,
        description="A bearer token for email and password. TOO_MANY_ATTEMPTS (the message says "
        "when to try again): beyond the client address's rate (shared with register); while this "
        "address waits after repeated wrong passwords for this email (the wait doubles with each "
        "further one); or beyond the email's ceiling from addresses that have not signed "
        "in to it recently. An unknown email is answered like a wrong password. One signIn or "
        "register per operation.",
    )
    sign_out = strawberry.mutation(
        resolver=sign_out, description="Revoke the bearer token this request carries."
    )
