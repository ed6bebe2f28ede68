"""addGeneralAdmissionToCart"""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from schema.common import UserError, attempt, parse_id
from schema.context import Info
from schema.orders.types import Cart
from ticketing.orders import holds


@strawberry.input(description="How many places of a general-admission section, at which price.")
class AddGeneralAdmissionToCartInput:
    cart_id: uuid.UUID = strawberry.field(description="Any uuid the client made for this cart.")
    event_id: strawberry.ID = strawberry.field(description="The id of the section's event.")
    section_id: strawberry.ID = strawberry.field(description="A GENERAL_ADMISSION section.")
    price_id: strawberry.ID = strawberry.field(
        description="The price level's id; only places offered at it are taken."
    )
    quantity: int = strawberry.field(description="Places to hold, all or none.")


@strawberry.type(description="The cart holding the places, or the errors why nothing changed.")
class AddGeneralAdmissionToCartPayload:
    cart: Cart | None = strawberry.field(description="The cart after the change; null on error.")
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed; empty on success."
    )


async def add_general_admission_to_cart(
    info: Info,
    input: Annotated[
        AddGeneralAdmissionToCartInput, strawberry.argument(description="What to change.")
    ],
) -> AddGeneralAdmissionToCartPayload:
    context = info.context

    async def run() -> Cart:
        view = await context.call(
            holds.add_general_admission_to_cart,
            cart_id=input.cart_id,
            event_id=parse_id(input.event_id, field="event_id"),
            section_id=parse_id(input.section_id, field="section_id"),
            price_id=parse_id(input.price_id, field="price_id"),
            quantity=input.quantity,
            now=context.now,
            policy=context.policy,
            caller=await context.viewer(),
            idempotency_key=context.idempotency_key,
        )
        return Cart.of(view)

    cart, errors = await attempt(run())
    return AddGeneralAdmissionToCartPayload(cart=cart, user_errors=errors)
