"""What must hold after a benchmark's writes: no seat sold without exactly one completed payment,
no seat in two active carts."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

INVARIANTS = {
    "sold seats": "SELECT COUNT(*) FROM event_seat WHERE event_id = :e AND status = 4",
    "sold seats without exactly one completed payment": """
        SELECT COUNT(*) FROM event_seat s WHERE s.event_id = :e AND s.status = 4 AND (
          SELECT COUNT(*) FROM ticket t JOIN payment p ON p.id = t.payment_id
          WHERE t.event_id = s.event_id AND t.seat_id = s.seat_id
            AND p.status = 'completed') <> 1""",
    "seats in two active cart items": """
        SELECT COUNT(*) FROM (SELECT seat_id FROM cart_item WHERE event_id = :e AND active
                              GROUP BY seat_id HAVING COUNT(*) > 1) AS doubled""",
}


async def check_invariants(database_url: str, event_id: int) -> dict[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return {
                name: int(await connection.scalar(sa.text(sql), {"e": event_id}) or 0)
                for name, sql in INVARIANTS.items()
            }
    finally:
        await engine.dispose()
