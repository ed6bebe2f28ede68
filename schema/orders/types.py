"""GraphQL types of carts, payments and tickets, built from the domain's views."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from schema.catalog.types import PriceOption
from schema.common import NO_CURRENCY, CartStatus, Money, PaymentStatus
from schema.context import Info
from ticketing import domain
from ticketing.errors import ErrorCode, TicketingError
from ticketing.orders import carts
from ticketing.payments import payments


@strawberry.type(description="A seat held, booked or bought in a cart, at the price it was taken.")
class CartItem:
    event_id: strawberry.ID = strawberry.field(description="The id of the seat's event.")
    seat_id: strawberry.ID = strawberry.field(description="The venue template's seat id.")
    section_id: strawberry.ID = strawberry.field(
        description="The venue template's id of the seat's section."
    )
    row_id: strawberry.ID | None = strawberry.field(
        description="The venue template's id of the seat's row; null for GA places."
    )
    price_option: PriceOption = strawberry.field(
        description="The price level the seat was taken at, and its price then."
    )
    hold_expires_at: datetime | None = strawberry.field(
        description="When this seat's hold lapses (open carts only)."
    )

    @classmethod
    def of(cls, view: domain.CartItemView) -> CartItem:
        return cls(
            event_id=strawberry.ID(str(view.event_id)),
            seat_id=strawberry.ID(str(view.seat_id)),
            section_id=strawberry.ID(str(view.section_id)),
            row_id=None if view.row_id is None else strawberry.ID(str(view.row_id)),
            price_option=PriceOption(
                id=strawberry.ID(str(view.price_id)),
                name=view.price_name,
                price=Money(amount=view.amount, currency=view.currency),
            ),
            hold_expires_at=view.hold_expires_at,
        )


@strawberry.type(description="A cart: seats held for a customer, then booked into a payment.")
class Cart:
    id: uuid.UUID = strawberry.field(description="Made by the client; an unused id is empty.")
    status: CartStatus = strawberry.field(  # type: ignore[valid-type]
        description="Status right now: a booked cart whose payment is overdue reads EXPIRED."
    )
    items: list[CartItem] = strawberry.field(
        description="Open: its live holds (lapsed ones drop out). Later: the seats it booked."
    )
    total: Money = strawberry.field(
        description="Sum of the items' prices; 0.00 XXX when the cart is empty."
    )
    expires_at: datetime | None = strawberry.field(
        description="Open: the earliest hold's expiry. Booked: the payment's deadline."
    )
    payment_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, view: domain.CartView) -> Cart:
        return cls(
            id=view.cart_id,
            status=view.status,
            items=[CartItem.of(item) for item in view.items],
            total=Money(amount=view.total_amount, currency=view.currency or NO_CURRENCY),
            expires_at=view.expires_at,
            payment_id=view.payment_id,
        )

    @strawberry.field(description="The payment created when the cart was booked.")
    async def payment(self, info: Info) -> Payment | None:
        if self.payment_id is None:
            return None
        # a list of carts (`me { carts }`) loads its payments together
        view = await info.context.payments.load(self.payment_id)
        return None if view is None else Payment.of(view)


@strawberry.type(description="A ticket: the document that admits one person to one seat.")
class Ticket:
    id: uuid.UUID = strawberry.field(description="Random (uuid4), issued with the ticket.")
    event_id: strawberry.ID = strawberry.field(description="The id of the event it admits to.")
    event_name: str = strawberry.field(description="The event's name.")
    starts_at: datetime = strawberry.field(description="When the event starts, with offset (UTC).")
    venue_name: str = strawberry.field(description="The name of the event's venue.")
    section: str = strawberry.field(description='The seat\'s section name, e.g. "Stalls".')
    row: str | None = strawberry.field(description='Row label, e.g. "C"; null for GA places.')
    number: str | None = strawberry.field(description="Seat number; null for GA places.")
    seat_id: strawberry.ID = strawberry.field(description="The venue template's seat id.")
    price_name: str = strawberry.field(description='The price level paid, e.g. "Adult".')
    price: Money = strawberry.field(description="The amount paid for this ticket.")

    @classmethod
    def of(cls, view: domain.TicketView) -> Ticket:
        return cls(
            id=view.id,
            event_id=strawberry.ID(str(view.event_id)),
            event_name=view.event_name,
            starts_at=view.starts_at,
            venue_name=view.venue_name,
            section=view.section_name,
            row=view.row,
            number=view.number,
            seat_id=strawberry.ID(str(view.seat_id)),
            price_name=view.price_name,
            price=Money(amount=view.amount, currency=view.currency),
        )


@strawberry.type(description="The payment of a booked cart.")
class Payment:
    id: uuid.UUID = strawberry.field(description="Random (uuid4), never guessable.")
    status: PaymentStatus = strawberry.field(  # type: ignore[valid-type]
        description="Status right now: a pending payment past `expiresAt` reads EXPIRED."
    )
    total: Money = strawberry.field(description="The amount to pay: the booked cart's total.")
    created_at: datetime = strawberry.field(description="When the cart was booked (UTC).")
    expires_at: datetime = strawberry.field(description="Complete the payment before this.")
    finalized_at: datetime | None = strawberry.field(
        description="When it completed, failed or expired (UTC); null while pending."
    )
    tickets: list[Ticket] = strawberry.field(description="Issued when the payment completes.")
    cart_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, view: domain.PaymentView) -> Payment:
        return cls(
            id=view.payment_id,
            status=view.status,
            total=Money(amount=view.total_amount, currency=view.currency),
            created_at=view.created_at,
            expires_at=view.expires_at,
            finalized_at=view.finalized_at,
            tickets=[Ticket.of(t) for t in view.tickets],
            cart_id=view.cart_id,
        )

    @strawberry.field(
        description="Completed payments: where to fetch the tickets as a PDF (one page per ticket, "
        "with its QR code), a path on this API; send the same Authorization header. Null before "
        "the payment completed."
    )
    def tickets_pdf_url(self) -> str | None:
        if self.status is not domain.PaymentStatus.COMPLETED:
            return None
        return f"/payments/{self.id}/tickets.pdf"

    @strawberry.field(description="The booked cart this payment pays for.")
    async def cart(self, info: Info) -> Cart:
        context = info.context
        return Cart.of(
            await context.call(
                carts.get_cart, cart_id=self.cart_id, now=context.now, caller=await context.viewer()
            )
        )


@strawberry.type
class OrdersQuery:
    @strawberry.field(description="A cart; an unused id is an empty open cart.")
    async def cart(
        self,
        info: Info,
        id: Annotated[uuid.UUID, strawberry.argument(description="The cart id the client made.")],
    ) -> Cart:
        context = info.context
        return Cart.of(
            await context.call(
                carts.get_cart, cart_id=id, now=context.now, caller=await context.viewer()
            )
        )

    @strawberry.field(description="A payment; null when there is none with this id.")
    async def payment(
        self,
        info: Info,
        id: Annotated[
            uuid.UUID, strawberry.argument(description="The payment id bookCart returned.")
        ],
    ) -> Payment | None:
        context = info.context
        try:
            view = await context.call(
                payments.get_payment, payment_id=id, now=context.now, caller=await context.viewer()
            )
        except TicketingError as exc:
            if exc.code is not ErrorCode.NOT_FOUND:
                raise
            return None
        return Payment.of(view)
