"""Cart and payment mutations, one module each; composed into `OrdersMutation`."""

from __future__ import annotations

import strawberry

from schema.orders.mutations.add_general_admission_to_cart import add_general_admission_to_cart
from schema.orders.mutations.add_seat_to_cart import add_seat_to_cart
from schema.orders.mutations.book_cart import book_cart
from schema.orders.mutations.finish_payment import complete_payment, fail_payment
from schema.orders.mutations.remove_seat_from_cart import remove_seat_from_cart


@strawberry.type
class OrdersMutation:
    add_seat_to_cart = strawberry.mutation(
        resolver=add_seat_to_cart,
        description="Hold a seat in a cart at a price level until the hold lapses.",
    )
    add_general_admission_to_cart = strawberry.mutation(
        resolver=add_general_admission_to_cart,
        description="Hold `quantity` places of a general-admission section: all or none.",
    )
    remove_seat_from_cart = strawberry.mutation(
        resolver=remove_seat_from_cart, description="Release a seat this cart holds."
    )
    book_cart = strawberry.mutation(
        resolver=book_cart,
        description="Book the cart: its seats become BOOKED under a new pending payment. "
        "Booking a booked cart again returns its payment.",
    )
    complete_payment = strawberry.mutation(
        resolver=complete_payment,
        description="Test payments only: the payment went through, seats SOLD, tickets issued. "
        "Repeatable. With TICKETING_PAYMENTS__SECRET set the payment provider reports it through "
        "its signed callback (POST /payments/{id}/complete), and this is FORBIDDEN.",
    )
    fail_payment = strawberry.mutation(
        resolver=fail_payment,
        description="The payment failed, or its customer abandons it: seats AVAILABLE again, "
        "cart FAILED. Repeatable. With TICKETING_PAYMENTS__SECRET set, only the signed-in customer "
        "who booked the cart may call it (FORBIDDEN otherwise).",
    )
