"""completePayment and failPayment: the two outcomes of a pending payment."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import strawberry

from schema.common import UserError, attempt
from schema.context import Info
from schema.orders.types import Cart, Payment
from ticketing.domain import PaymentView
from ticketing.services import carts, payments


@strawberry.input
class FinishPaymentInput:
    payment_id: uuid.UUID


@strawberry.type
class FinishPaymentPayload:
    payment: Payment | None
    cart: Cart | None
    user_errors: list[UserError]


async def _finish(
    info: Info, payment_id: uuid.UUID, service: Callable[..., Awaitable[PaymentView]]
) -> FinishPaymentPayload:
    context = info.context

    async def run() -> tuple[Payment, Cart]:
        view = await context.call(service, payment_id=payment_id, now=context.now)
        cart = await context.call(carts.get_cart, cart_id=view.cart_id, now=context.now)
        return Payment.of(view), Cart.of(cart)

    result, errors = await attempt(run())
    payment, cart = result or (None, None)
    return FinishPaymentPayload(payment=payment, cart=cart, user_errors=errors)


async def complete_payment(info: Info, input: FinishPaymentInput) -> FinishPaymentPayload:
    return await _finish(info, input.payment_id, payments.complete_payment)


async def fail_payment(info: Info, input: FinishPaymentInput) -> FinishPaymentPayload:
    return await _finish(info, input.payment_id, payments.fail_payment)
