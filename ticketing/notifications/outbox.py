"""The outbox: the messages a change announces, written by the statements of its own transaction,
so a rolled-back change sends nothing and a committed one always has its messages."""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.domain import CartStatus
from ticketing.models import cart_t, item_t, outbox_t, payment_t, user_t, webhook_t

EMAIL = "email"
WEBHOOK = "webhook"


class Kind(enum.StrEnum):
    """What a message announces; also the `type` of a webhook delivery."""

    ORDER_CONFIRMED = "order_confirmed"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_EXPIRED = "payment_expired"
    HOLD_EXPIRED = "hold_expired"
    EVENT_CANCELLED = "event_cancelled"
    ORDER_REFUNDED = "order_refunded"


PAYLOAD = sa.bindparam("outbox_payload", type_=sa.Text())
"""The facts of the messages a statement writes (JSON), known before the statement runs."""

_NAMES = ("kind", "channel", "recipient", "webhook_id", "event_id", "payload")
_INSERT = outbox_t.insert()


def payload_of(**facts: object) -> str:
    return json.dumps({name: str(value) for name, value in facts.items()}, sort_keys=True)


def _literal(value: Any, column: str) -> sa.ColumnElement[Any]:
    return sa.literal(value, type_=outbox_t.c[column].type).label(column)


def insert_from(*selects: sa.Select[Any], now: sa.ColumnElement[Any]) -> sa.Insert:
    """Outbox rows made by SELECTs of `_NAMES` (missing ones NULL), due at once."""
    aligned = []
    for select in selects:
        given = {column.name: column for column in select.selected_columns}
        columns = [
            given[name] if name in given else sa.cast(sa.null(), outbox_t.c[name].type).label(name)
            for name in _NAMES
        ]
        at = sa.type_coerce(now, outbox_t.c.created_at.type)
        aligned.append(
            select.with_only_columns(
                *columns,
                at.label("created_at"),
                at.label("next_attempt_at"),
                _literal("pending", "status"),
                _literal(0, "attempts"),
                maintain_column_froms=True,
            )
        )
    rows = sa.union_all(*aligned) if len(aligned) > 1 else aligned[0]
    names = [*_NAMES, "created_at", "next_attempt_at", "status", "attempts"]
    return _INSERT.from_select(names, rows)


def email_to_owner(kind: Kind, carts: sa.FromClause) -> sa.Select[Any]:
    """An e-mail to the signed-in customer of each cart in `carts` (a `cart_id` column); carts
    checked out anonymously have no address and get none."""
    return sa.select(
        _literal(kind.value, "kind"),
        _literal(EMAIL, "channel"),
        user_t.c.email.label("recipient"),
        PAYLOAD.label("payload"),
    ).select_from(
        carts.join(cart_t, cart_t.c.id == carts.c.cart_id).join(
            user_t, user_t.c.id == cart_t.c.owner_id
        )
    )


def webhooks_of(kind: Kind, events: sa.FromClause) -> sa.Select[Any]:
    """A delivery to each endpoint of each event in `events` (an `event_id` column) and to each
    endpoint of every event."""
    return sa.select(
        _literal(kind.value, "kind"),
        _literal(WEBHOOK, "channel"),
        webhook_t.c.url.label("recipient"),
        webhook_t.c.id.label("webhook_id"),
        events.c.event_id,
        PAYLOAD.label("payload"),
    ).select_from(
        events.join(
            webhook_t,
            sa.or_(webhook_t.c.event_id == events.c.event_id, webhook_t.c.event_id.is_(None)),
        )
    )


def payment_messages(
    kind: Kind,
    *,
    payment: sa.ColumnElement[Any],
    now: sa.ColumnElement[Any],
    only_if: sa.ColumnElement[bool] | None = None,
) -> sa.Insert:
    """What a payment's end announces: an e-mail to its customer and a delivery to the webhooks
    of its events (`only_if`: none unless it holds, for a statement that may change nothing)."""
    carts = sa.select(payment_t.c.cart_id).where(payment_t.c.id == payment)
    events = sa.select(item_t.c.event_id).where(item_t.c.payment_id == payment).distinct()
    if only_if is not None:
        carts, events = carts.where(only_if), events.where(only_if)
    return insert_from(
        email_to_owner(kind, carts.subquery("announced_cart")),
        webhooks_of(kind, events.subquery("announced_events")),
        now=now,
    )


_AFFECTED_CARTS = (CartStatus.OPEN.value, CartStatus.BOOKED.value, CartStatus.PAID.value)


_EVENT = sa.bindparam("outbox_event", type_=sa.Integer())
_NOW = sa.bindparam("outbox_now", type_=outbox_t.c.created_at.type)


def _event_messages(kind: Kind) -> sa.Insert:
    customers = (
        sa.select(item_t.c.cart_id)
        .join(cart_t, cart_t.c.id == item_t.c.cart_id)
        .where(item_t.c.event_id == _EVENT, item_t.c.active, cart_t.c.status.in_(_AFFECTED_CARTS))
        .subquery("affected")
    )
    event = sa.select(_EVENT.label("event_id")).subquery("changed_event")
    return insert_from(
        email_to_owner(kind, customers).distinct(), webhooks_of(kind, event), now=_NOW
    )


_EVENT_MESSAGES = {kind: _event_messages(kind) for kind in (Kind.EVENT_CANCELLED,)}


def event_messages(kind: Kind, *, event_id: int, now: datetime) -> tuple[sa.Insert, dict[str, Any]]:
    """What a change of a whole event announces: one e-mail per customer with seats of it in a
    cart (held, booked or paid), and a delivery to each of the event's webhooks."""
    params = {"outbox_payload": payload_of(event_id=event_id), "outbox_event": event_id}
    return _EVENT_MESSAGES[kind], {**params, "outbox_now": now}


async def write_cart_messages(
    conn: AsyncConnection,
    kind: Kind,
    *,
    facts: Mapping[uuid.UUID, Mapping[str, Any]],
    now: datetime,
) -> None:
    """An e-mail to the signed-in customer of each open cart in `facts` (cart id: its facts)."""
    if not facts:
        return
    owners = (
        await conn.execute(
            sa.select(cart_t.c.id, user_t.c.email)
            .join(user_t, user_t.c.id == cart_t.c.owner_id)
            .where(cart_t.c.id.in_(list(facts)), cart_t.c.status == CartStatus.OPEN.value)
        )
    ).all()
    rows = [
        {
            "kind": kind.value,
            "channel": EMAIL,
            "recipient": owner.email,
            "payload": json.dumps({"cart_id": str(owner.id), **facts[owner.id]}, sort_keys=True),
            "created_at": now,
            "next_attempt_at": now,
            "status": "pending",
            "attempts": 0,
        }
        for owner in owners
    ]
    if rows:
        await conn.execute(_INSERT, rows)


def seats_fact(seats: Sequence[tuple[int, int]]) -> list[list[int]]:
    return [[event_id, seat_id] for event_id, seat_id in sorted(seats)]
