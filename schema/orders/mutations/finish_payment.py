"""completePayment and failPayment: the two outcomes of a pending payment."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from schema.common import UserError, attempt
from schema.context import Info
from schema.orders.types import Cart, Payment
from ticketing.domain import PaymentView
from ticketing.orders import carts
from ticketing.payments import payments


@strawberry.input(description="The payment to finish.")
class FinishPaymentInput:
    payment_id: uuid.UUID = strawberry.field(
        description="The payment's id, as returned by bookCart in `payment.id`."
    )


@strawberry.type(description="The finished payment and its cart, or the errors why not.")
class FinishPaymentPayload:
    payment: Payment | None = strawberry.field(
        description="The payment with its outcome (and tickets once completed); null on error."
    )
    cart: Cart | None = strawberry.field(
        description="The payment's cart, now PAID or FAILED; null on error."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed; empty on success."
    )


PaymentInput = Annotated[
    FinishPaymentInput, strawberry.argument(description="The payment to finish.")
]


async def _finish(
    info: Info, payment_id: uuid.UUID, service: Callable[..., Awaitable[PaymentView]]
) -> FinishPaymentPayload:
    context = info.context

    async def run() -> tuple[Payment, Cart]:
        # GraphQL is the customers' door: the provider's signed callbacks are REST routes
        view = await context.call(
            service,
            payment_id=payment_id,
            now=context.now,
            policy=context.settings.payments,
            caller=await context.viewer(),
            idempotency_key=context.idempotency_key,
        )
        cart = await context.call(
            carts.get_cart, cart_id=view.cart_id, now=context.now, caller=await context.viewer()
        )
        return Payment.of(view), Cart.of(cart)

    result, errors = await attempt(run())
    payment, cart = result or (None, None)
    return FinishPaymentPayload(payment=payment, cart=cart, user_errors=errors)


async def complete_payment(info: Info, input: PaymentInput) -> FinishPaymentPayload:
    return await _finish(info, input.payment_id, payments.complete_payment)


async def fail_payment(info: Info, input: PaymentInput) -> FinishPaymentPayload:
    return await _finish(info, input.payment_id, payments.fail_payment)
