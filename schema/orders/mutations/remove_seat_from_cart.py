"""removeSeatFromCart"""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from schema.common import UserError, attempt, parse_id
from schema.context import Info
from schema.orders.types import Cart
from ticketing.orders import holds


@strawberry.input(description="A seat this cart holds.")
class RemoveSeatFromCartInput:
    cart_id: uuid.UUID = strawberry.field(description="The client-made uuid of the cart.")
    event_id: strawberry.ID = strawberry.field(description="The id of the seat's event.")
    seat_id: strawberry.ID = strawberry.field(description="The venue template's seat id.")


@strawberry.type(description="The cart without the seat, or the errors why nothing changed.")
class RemoveSeatFromCartPayload:
    cart: Cart | None = strawberry.field(description="The cart after the change; null on error.")
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed; empty on success."
    )


async def remove_seat_from_cart(
    info: Info,
    input: Annotated[RemoveSeatFromCartInput, strawberry.argument(description="What to change.")],
) -> RemoveSeatFromCartPayload:
    context = info.context

    async def run() -> Cart:
        view = await context.call(
            holds.remove_seat_from_cart,
            cart_id=input.cart_id,
            event_id=parse_id(input.event_id, field="event_id"),
            seat_id=parse_id(input.seat_id, field="seat_id"),
            now=context.now,
            caller=await context.viewer(),
            idempotency_key=context.idempotency_key,
        )
        return Cart.of(view)

    cart, errors = await attempt(run())
    return RemoveSeatFromCartPayload(cart=cart, user_errors=errors)
