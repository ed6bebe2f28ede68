"""addSeatToCart"""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from schema.common import UserError, attempt, parse_id
from schema.context import Info
from schema.orders.types import Cart
from ticketing.orders import holds


@strawberry.input(description="A seat of an event and the price level to hold it at.")
class AddSeatToCartInput:
    cart_id: uuid.UUID = strawberry.field(description="Any uuid the client made for this cart.")
    event_id: strawberry.ID = strawberry.field(description="The id of the seat's event.")
    seat_id: strawberry.ID = strawberry.field(description="The venue template's seat id.")
    price_id: strawberry.ID = strawberry.field(description="One of the seat's price option ids.")


@strawberry.type(description="The cart holding the seat, or the errors why nothing changed.")
class AddSeatToCartPayload:
    cart: Cart | None = strawberry.field(description="The cart after the change; null on error.")
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed; empty on success."
    )


async def add_seat_to_cart(
    info: Info,
    input: Annotated[AddSeatToCartInput, strawberry.argument(description="What to change.")],
) -> AddSeatToCartPayload:
    context = info.context

    async def run() -> Cart:
        view = await context.call(
            holds.add_seat_to_cart,
            cart_id=input.cart_id,
            event_id=parse_id(input.event_id, field="event_id"),
            seat_id=parse_id(input.seat_id, field="seat_id"),
            price_id=parse_id(input.price_id, field="price_id"),
            now=context.now,
            policy=context.policy,
            caller=await context.viewer(),
            idempotency_key=context.idempotency_key,
        )
        return Cart.of(view)

    cart, errors = await attempt(run())
    return AddSeatToCartPayload(cart=cart, user_errors=errors)
