"""The inventory invariants every test (and every race) must leave true, checked in SQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import Database, query

CHECKS = {
    "seat in two carts": """
        SELECT event_id, seat_id FROM cart_item WHERE active
        GROUP BY event_id, seat_id HAVING COUNT(*) > 1""",
    "sold seat without exactly one completed payment": """
        SELECT s.event_id, s.seat_id FROM event_seat s
        WHERE s.status = 4 AND (
            SELECT COUNT(*) FROM ticket t JOIN payment p ON p.id = t.payment_id
            WHERE t.event_id = s.event_id AND t.seat_id = s.seat_id AND p.status = 'completed'
              AND t.voided_at IS NULL
        ) <> 1""",
    "valid ticket for a seat that is not sold": """
        SELECT t.event_id, t.seat_id FROM ticket t JOIN event_seat s
          ON s.event_id = t.event_id AND s.seat_id = t.seat_id
        WHERE t.voided_at IS NULL AND s.status <> 4""",
    "valid ticket of a payment that is not completed": """
        SELECT t.event_id, t.seat_id FROM ticket t JOIN payment p ON p.id = t.payment_id
        WHERE t.voided_at IS NULL AND p.status <> 'completed'""",
    "taken seat without an active item of its cart": """
        SELECT s.event_id, s.seat_id FROM event_seat s
        WHERE s.status IN (2, 3, 4) AND NOT EXISTS (
            SELECT 1 FROM cart_item i WHERE i.active AND i.cart_id = s.cart_id
              AND i.event_id = s.event_id AND i.seat_id = s.seat_id)""",
    "completed payment whose seats are not all sold to it": """
        SELECT i.event_id, i.seat_id FROM cart_item i JOIN payment p ON p.id = i.payment_id
        JOIN event_seat s ON s.event_id = i.event_id AND s.seat_id = i.seat_id
        WHERE i.active AND p.status = 'completed' AND (s.status <> 4 OR s.cart_id <> p.cart_id)""",
}


@query
async def violations(conn: AsyncConnection) -> dict[str, list[tuple[object, ...]]]:
    found: dict[str, list[tuple[object, ...]]] = {}
    for name, sql in CHECKS.items():
        rows = [tuple(row) for row in await conn.execute(sa.text(sql))]
        if rows:
            found[name] = rows
    return found


async def assert_invariants(db: Database) -> None:
    found = await violations(db)
    assert found == {}, f"inventory invariants broken: {found}"
