"""refundPayment: a manager refunds a completed order (its tickets void, its seats on sale)."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from schema.common import UserError, attempt
from schema.context import Info
from schema.orders.types import Payment
from ticketing.payments import refunds


@strawberry.input(description="The order to refund.")
class RefundPaymentInput:
    payment_id: uuid.UUID = strawberry.field(description="The order's payment id.")


@strawberry.type(description="The refunded payment, or why not.")
class RefundPaymentPayload:
    payment: Payment | None = strawberry.field(
        description="The payment, now REFUNDED (refunding it again changes nothing); null on error."
    )
    user_errors: list[UserError] = strawberry.field(description="Why not; empty on success.")


async def refund_payment(
    info: Info,
    input: Annotated[RefundPaymentInput, strawberry.argument(description="The order.")],
) -> RefundPaymentPayload:
    context = info.context

    async def run() -> Payment:
        view = await context.call(
            refunds.refund_payment,
            caller=await context.viewer(),
            payment_id=input.payment_id,
            now=context.now,
        )
        return Payment.of(view)

    payment, errors = await attempt(run())
    return RefundPaymentPayload(payment=payment, user_errors=errors)
