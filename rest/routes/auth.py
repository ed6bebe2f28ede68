"""Accounts: register, sign in (OAuth 2 password flow), sign out, who am I, my orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from rest.deps import SIGNED_IN, service_call
from rest.problems import problem_responses
from rest.schemas import CartOut, OrdersOut, PaymentOut, RegisterIn, TokenOut, UserOut
from ticketing.accounts import accounts
from ticketing.errors import ErrorCode
from ticketing.orders import carts
from ticketing.payments import payments

router = APIRouter(tags=["accounts"])
SIGNED_IN_PROBLEMS = problem_responses(ErrorCode.AUTH_REQUIRED, ErrorCode.INVALID_TOKEN)


@router.post(
    "/auth/register",
    status_code=201,
    summary="Create a customer account",
    description="Registrations and sign-ins from one client address share a rate limit (429 "
    "TOO_MANY_ATTEMPTS with `Retry-After`).",
    responses=problem_responses(ErrorCode.EMAIL_TAKEN, ErrorCode.TOO_MANY_ATTEMPTS),
)
async def register(body: RegisterIn, request: Request) -> UserOut:
    call = service_call(request)
    user = await accounts.register(
        call.db,
        email=body.email,
        password=body.password,
        now=call.now,
        policy=call.auth,
        client=call.client,
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
    request: Request,
    grant_type: Annotated[str, Form(pattern="^password$")] = "password",  # a form has no null
) -> TokenOut:
    call = service_call(request)
    token = await accounts.sign_in(
        call.db,
        email=username,
        password=password,
        now=call.now,
        policy=call.auth,
        client=call.client,
    )
    return TokenOut.of(token, now=call.now)


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Sign out: revoke the bearer token of this request",
    responses=SIGNED_IN_PROBLEMS,
    openapi_extra=SIGNED_IN,
)
async def sign_out(request: Request) -> Response:
    call = service_call(request)
    await accounts.sign_out(call.db, authorization=call.authorization, now=call.now)
    return Response(status_code=204)


@router.get(
    "/me",
    summary="The signed-in account",
    responses=SIGNED_IN_PROBLEMS,
    openapi_extra=SIGNED_IN,
)
async def me(request: Request) -> UserOut:
    call = service_call(request)
    customer = await call.customer()
    return UserOut.of(await accounts.get_user(call.db, user_id=customer.user_id))


@router.get(
    "/me/orders",
    summary="The signed-in customer's carts and payments (with tickets)",
    responses=SIGNED_IN_PROBLEMS,
    openapi_extra=SIGNED_IN,
)
async def my_orders(request: Request) -> OrdersOut:
    call = service_call(request)
    customer = await call.customer()
    found_carts = await carts.list_carts(call.db, owner=customer, now=call.now)
    found_payments = await payments.list_payments(call.db, owner=customer, now=call.now)
    return OrdersOut(
        carts=[CartOut.of(c) for c in found_carts],
        payments=[PaymentOut.of(p) for p in found_payments],
    )
