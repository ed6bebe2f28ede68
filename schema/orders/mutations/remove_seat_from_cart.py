"""removeSeatFromCart"""

from __future__ import annotations

import uuid

import strawberry

from schema.common import UserError, attempt, parse_id
from schema.context import Info
from schema.orders.types import Cart
from ticketing.services import carts


@strawberry.input(description="A seat this cart holds.")
class RemoveSeatFromCartInput:
    cart_id: uuid.UUID
    event_id: strawberry.ID
    seat_id: strawberry.ID


@strawberry.type
class RemoveSeatFromCartPayload:
    cart: Cart | None
    user_errors: list[UserError]


async def remove_seat_from_cart(
    info: Info, input: RemoveSeatFromCartInput
) -> RemoveSeatFromCartPayload:
    context = info.context

    async def run() -> Cart:
        view = await context.call(
            carts.remove_seat_from_cart,
            cart_id=input.cart_id,
            event_id=parse_id(input.event_id, field="event_id"),
            seat_id=parse_id(input.seat_id, field="seat_id"),
            now=context.now,
        )
        return Cart.of(view)

    cart, errors = await attempt(run())
    return RemoveSeatFromCartPayload(cart=cart, user_errors=errors)
