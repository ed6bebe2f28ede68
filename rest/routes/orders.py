"""Carts (client-made uuids) and payments."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from rest.deps import COMMAND, SIGN_IN_OPTIONAL, CartId, EventId, SeatId, service_call
from rest.problems import problem_responses
from rest.schemas import AddGeneralAdmissionIn, AddSeatIn, BookingOut, CartOut, PaymentOut
from ticketing.domain import Principal, ProviderSignature
from ticketing.errors import ErrorCode
from ticketing.orders import booking, carts, holds
from ticketing.payments import payments, signatures
from ticketing.tickets import documents

router = APIRouter()
PDF = "application/pdf"


@router.get(
    "/orders/carts/{cart_id}",
    tags=["carts"],
    summary="A cart (an unused id is empty)",
    responses=problem_responses(),
    openapi_extra=SIGN_IN_OPTIONAL,
)
async def get_cart(cart_id: CartId, request: Request) -> CartOut:
    call = service_call(request)
    cart = await carts.get_cart(call.db, cart_id=cart_id, now=call.now, caller=await call.viewer())
    return CartOut.of(cart)


@router.post(
    "/orders/carts/{cart_id}",
    tags=["carts"],
    summary="Hold a seat in this cart",
    responses=problem_responses(
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ErrorCode.NOT_FOUND,
        ErrorCode.SEAT_NOT_AVAILABLE,
        ErrorCode.PRICE_NOT_OFFERED,
        ErrorCode.CART_NOT_OPEN,
        ErrorCode.CART_LIMIT,
        ErrorCode.CURRENCY_MISMATCH,
    ),
    openapi_extra=COMMAND,
)
async def add_seat(cart_id: CartId, body: AddSeatIn, request: Request) -> CartOut:
    call = service_call(request)
    cart = await holds.add_seat_to_cart(
        call.db,
        cart_id=cart_id,
        event_id=body.event_id,
        seat_id=body.seat_id,
        price_id=body.price_id,
        now=call.now,
        policy=call.policy,
        caller=await call.viewer(),
        idempotency_key=call.idempotency_key,
    )
    return CartOut.of(cart)


@router.post(
    "/orders/carts/{cart_id}/general-admission",
    tags=["carts"],
    summary="Hold places in a general-admission section (all or none)",
    responses=problem_responses(
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ErrorCode.NOT_FOUND,
        ErrorCode.SEAT_NOT_AVAILABLE,
        ErrorCode.PRICE_NOT_OFFERED,
        ErrorCode.CART_NOT_OPEN,
        ErrorCode.CART_LIMIT,
        ErrorCode.CURRENCY_MISMATCH,
    ),
    openapi_extra=COMMAND,
)
async def add_general_admission(
    cart_id: CartId, body: AddGeneralAdmissionIn, request: Request
) -> CartOut:
    call = service_call(request)
    cart = await holds.add_general_admission_to_cart(
        call.db,
        cart_id=cart_id,
        event_id=body.event_id,
        section_id=body.section_id,
        price_id=body.price_id,
        quantity=body.quantity,
        now=call.now,
        policy=call.policy,
        caller=await call.viewer(),
        idempotency_key=call.idempotency_key,
    )
    return CartOut.of(cart)


@router.delete(
    "/orders/carts/{cart_id}/events/{event_id}/seats/{seat_id}",
    tags=["carts"],
    summary="Release a seat held by this cart",
    responses=problem_responses(
        ErrorCode.IDEMPOTENCY_KEY_REUSED, ErrorCode.NOT_FOUND, ErrorCode.CART_NOT_OPEN
    ),
    openapi_extra=COMMAND,
)
async def remove_seat(
    cart_id: CartId, event_id: EventId, seat_id: SeatId, request: Request
) -> CartOut:
    call = service_call(request)
    cart = await holds.remove_seat_from_cart(
        call.db,
        cart_id=cart_id,
        event_id=event_id,
        seat_id=seat_id,
        now=call.now,
        caller=await call.viewer(),
        idempotency_key=call.idempotency_key,
    )
    return CartOut.of(cart)


@router.put(
    "/orders/carts/{cart_id}/book",
    tags=["carts"],
    summary="Book the cart: its seats become booked under a new payment (idempotent)",
    responses=problem_responses(
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ErrorCode.CART_EMPTY,
        ErrorCode.NOT_FOUND,
        ErrorCode.AUTH_REQUIRED,
        ErrorCode.EVENT_NOT_ON_SALE,
    ),
    openapi_extra=COMMAND,
)
async def book_cart(cart_id: CartId, request: Request) -> BookingOut:
    call = service_call(request)
    payment = await booking.book_cart(
        call.db,
        cart_id=cart_id,
        now=call.now,
        policy=call.policy,
        caller=await call.viewer(),
        idempotency_key=call.idempotency_key,
    )
    return BookingOut.of(payment)


@router.get(
    "/payments/{payment_id}",
    tags=["payments"],
    summary="A payment, with its tickets once completed",
    responses=problem_responses(ErrorCode.NOT_FOUND),
    openapi_extra=SIGN_IN_OPTIONAL,
)
async def get_payment(payment_id: uuid.UUID, request: Request) -> PaymentOut:
    call = service_call(request)
    payment = await payments.get_payment(
        call.db, payment_id=payment_id, now=call.now, caller=await call.viewer()
    )
    return PaymentOut.of(payment)


@router.get(
    "/payments/{payment_id}/tickets.pdf",
    tags=["payments"],
    summary="The tickets of a completed payment as a PDF, one page per ticket with its QR code",
    response_class=Response,
    responses={
        200: {"content": {PDF: {"schema": {"type": "string", "format": "binary"}}}},
        **problem_responses(ErrorCode.NOT_FOUND, ErrorCode.PAYMENT_NOT_COMPLETED),
    },
    openapi_extra=SIGN_IN_OPTIONAL,
)
async def tickets_pdf(payment_id: uuid.UUID, request: Request) -> Response:
    call = service_call(request)
    pdf = await documents.order_pdf(
        call.db,
        payment_id=payment_id,
        now=call.now,
        caller=await call.viewer(),
        keys=call.ticket_keys,
    )
    return Response(
        pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": f'inline; filename="tickets-{payment_id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


FINISH_PROBLEMS = problem_responses(
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ErrorCode.NOT_FOUND,
    ErrorCode.PAYMENT_FINALIZED,
    ErrorCode.PAYMENT_EXPIRED,
    ErrorCode.INVALID_SIGNATURE,
    ErrorCode.FORBIDDEN,
)
FINISH_DESCRIPTION = (
    "The payment provider's callback. With `TICKETING_PAYMENTS__SECRET` set, it is signed: "
    '`Ticketing-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payment id>.<outcome>">` '
    "(outcome `complete` or `failed`, within 300 s); a repeated call returns the same answer "
    "and changes nothing more. Without a secret (test payments) anyone may call it."
)


def _provider_signature(request: Request, viewer: Principal | None) -> ProviderSignature | None:
    """These routes are the provider's callbacks: a request without a bearer token speaks for
    the provider (and is checked for its signature); with one, for that customer."""
    header = request.headers.get(signatures.HEADER)
    return ProviderSignature(header) if header is not None or viewer is None else None


@router.post(
    "/payments/{payment_id}/complete",
    tags=["payments"],
    summary="The payment succeeded: seats sold, tickets issued (idempotent)",
    description=FINISH_DESCRIPTION,
    responses=FINISH_PROBLEMS,
    openapi_extra=COMMAND,
)
async def complete_payment(payment_id: uuid.UUID, request: Request) -> PaymentOut:
    call = service_call(request)
    viewer = await call.viewer()
    payment = await payments.complete_payment(
        call.db,
        payment_id=payment_id,
        now=call.now,
        policy=call.payments,
        signature=_provider_signature(request, viewer),
        caller=viewer,
        idempotency_key=call.idempotency_key,
    )
    return PaymentOut.of(payment)


@router.post(
    "/payments/{payment_id}/failed",
    tags=["payments"],
    summary="The payment failed: seats back on sale (idempotent)",
    description=FINISH_DESCRIPTION
    + " A signed-in customer may also abandon his own pending payment here (bearer token).",
    responses=FINISH_PROBLEMS,
    openapi_extra=COMMAND,
)
async def fail_payment(payment_id: uuid.UUID, request: Request) -> PaymentOut:
    call = service_call(request)
    viewer = await call.viewer()
    payment = await payments.fail_payment(
        call.db,
        payment_id=payment_id,
        now=call.now,
        policy=call.payments,
        signature=_provider_signature(request, viewer),
        caller=viewer,
        idempotency_key=call.idempotency_key,
    )
    return PaymentOut.of(payment)
