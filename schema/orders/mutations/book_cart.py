"""bookCart"""

from __future__ import annotations

import uuid

import strawberry

from schema.common import UserError, attempt
from schema.context import Info
from schema.orders.types import Cart, Payment
from ticketing.services import carts


@strawberry.input
class BookCartInput:
    cart_id: uuid.UUID


@strawberry.type
class BookCartPayload:
    payment: Payment | None
    cart: Cart | None
    user_errors: list[UserError]


async def book_cart(info: Info, input: BookCartInput) -> BookCartPayload:
    context = info.context

    async def run() -> tuple[Payment, Cart]:
        payment = await context.call(
            carts.book_cart, cart_id=input.cart_id, now=context.now, policy=context.policy
        )
        cart = await context.call(carts.get_cart, cart_id=input.cart_id, now=context.now)
        return Payment.of(payment), Cart.of(cart)

    result, errors = await attempt(run())
    payment, cart = result or (None, None)
    return BookCartPayload(payment=payment, cart=cart, user_errors=errors)
