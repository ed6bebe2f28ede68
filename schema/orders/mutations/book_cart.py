"""bookCart"""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from schema.common import UserError, attempt
from schema.context import Info
from schema.orders.types import Cart, Payment
from ticketing.orders import booking, carts


@strawberry.input(description="The cart to book; a cart booked before returns its payment.")
class BookCartInput:
    cart_id: uuid.UUID = strawberry.field(description="The client-made uuid of the cart.")


@strawberry.type(description="The booked cart and its payment, or the errors why not.")
class BookCartPayload:
    payment: Payment | None = strawberry.field(
        description="The new pending payment, or the one the cart already had; null on error."
    )
    cart: Cart | None = strawberry.field(
        description="The cart after booking (BOOKED, or its later status); null on error."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed; empty on success."
    )


async def book_cart(
    info: Info, input: Annotated[BookCartInput, strawberry.argument(description="What to change.")]
) -> BookCartPayload:
    context = info.context

    async def run() -> tuple[Payment, Cart]:
        payment = await context.call(
            booking.book_cart,
            cart_id=input.cart_id,
            now=context.now,
            policy=context.policy,
            caller=await context.viewer(),
            idempotency_key=context.idempotency_key,
        )
        cart = await context.call(
            carts.get_cart, cart_id=input.cart_id, now=context.now, caller=await context.viewer()
        )
        return Payment.of(payment), Cart.of(cart)

    result, errors = await attempt(run())
    payment, cart = result or (None, None)
    return BookCartPayload(payment=payment, cart=cart, user_errors=errors)
