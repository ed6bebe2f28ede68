"""Accounts: register, sign in (OAuth 2 password flow), sign out, who am I, my orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from rest.deps import AuthPolicyDep, ClientDep, CustomerDep, DbDep, NowDep
from rest.problems import problem_responses
from rest.schemas import CartOut, OrdersOut, PaymentOut, RegisterIn, TokenOut, UserOut
from ticketing.accounts import accounts
from ticketing.errors import ErrorCode
from ticketing.orders import carts
from ticketing.payments import payments

router = APIRouter(tags=["accounts"])
SIGNED_IN = problem_responses(ErrorCode.AUTH_REQUIRED, ErrorCode.INVALID_TOKEN)


@router.post(
    "/auth/register",
    status_code=201,
    summary="Create a customer account",
    description="Registrations and sign-ins from one client address share a rate limit (429 "
    "TOO_MANY_ATTEMPTS with `Retry-After`).",
    responses=problem_responses(ErrorCode.EMAIL_TAKEN, ErrorCode.TOO_MANY_ATTEMPTS),
)
async def register(
    body: RegisterIn, db: DbDep, now: NowDep, policy: AuthPolicyDep, client: ClientDep
) -> UserOut:
    user = await accounts.register(
        db, email=body.email, password=body.password, now=now, policy=policy, client=client
    )
    return UserOut.of(user)


@router.post(
    "/auth/token",
    summary="Sign in: a bearer token for email (as `username`) and password",
    description="OAuth 2 password flow (form fields `username`, `password`), so the Authorize "
    "button of these docs works. Answered 429 TOO_MANY_ATTEMPTS with `Retry-After`: beyond the "
    "client address's rate (shared with registrations); while this address waits after repeated "
    "wrong passwords for this email (the wait doubles with each further one); or beyond the "
    "email's ceiling from addresses that have not signed in to it recently. An unknown "
    "email is answered like a wrong password.",
    responses=problem_responses(ErrorCode.INVALID_CREDENTIALS, ErrorCode.TOO_MANY_ATTEMPTS),
)
async def sign_in(
    # OAuth 2's password form (what OAuth2PasswordRequestForm reads), saying what FastAPI does:
    # an empty field counts as a missing one.
    username: Annotated[str, Form(min_length=1, description="The account's email.")],
    password: Annotated[str, Form(min_length=1, json_schema_extra={"format": "password"})],
    db: DbDep,
    now: NowDep,
    policy: AuthPolicyDep,
    client: ClientDep,
    grant_type: Annotated[str, Form(pattern="^password$")] = "password",  # a form has no null
) -> TokenOut:
    token = await accounts.sign_in(
        db,
        email=username,
        password=password,
        now=now,
        policy=policy,
        client=client,
    )
    return TokenOut.of(token, now=now)


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Sign out: revoke the bearer token of this request",
    responses=SIGNED_IN,
)
async def sign_out(request: Request, _customer: CustomerDep, db: DbDep, now: NowDep) -> Response:
    await accounts.sign_out(db, authorization=request.headers.get("authorization"), now=now)
    return Response(status_code=204)


@router.get("/me", summary="The signed-in account", responses=SIGNED_IN)
async def me(customer: CustomerDep, db: DbDep) -> UserOut:
    return UserOut.of(await accounts.get_user(db, user_id=customer.user_id))


@router.get(
    "/me/orders",
    summary="The signed-in customer's carts and payments (with tickets)",
    responses=SIGNED_IN,
)
async def my_orders(customer: CustomerDep, db: DbDep, now: NowDep) -> OrdersOut:
    found_carts = await carts.list_carts(db, owner=customer, now=now)
    found_payments = await payments.list_payments(db, owner=customer, now=now)
    return OrdersOut(
        carts=[CartOut.of(c) for c in found_carts],
        payments=[PaymentOut.of(p) for p in found_payments],
    )
