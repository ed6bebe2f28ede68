"""PostgreSQL: a statement that changes seats of `event_seat` notifies `ticketing_seats` with each
event's id, delivered on commit, so seat-map watchers in every process hear of it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A statement-level trigger: one notification per event a statement touched (and none when it
# changed nothing), in the statement itself, so a command costs no round trip for it.
FUNCTION = """
CREATE FUNCTION ticketing_seats_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ticketing_seats', changed_event.event_id::text)
    FROM (SELECT DISTINCT event_id FROM changed) AS changed_event;
    RETURN NULL;
END
$$
"""
TRIGGER = """
CREATE TRIGGER event_seat_changed AFTER UPDATE ON event_seat
REFERENCING NEW TABLE AS changed
FOR EACH STATEMENT EXECUTE FUNCTION ticketing_seats_changed()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's writers are the process that listens: notes are delivered in process
    op.execute(FUNCTION)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER event_seat_changed ON event_seat")
    op.execute("DROP FUNCTION ticketing_seats_changed()")
