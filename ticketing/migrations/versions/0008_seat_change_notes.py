"""PostgreSQL: the seat-change trigger of 0006 goes. Its NOTIFY, in every writer's transaction,
took the notification queue's lock at each commit, so writers committed one at a time; commands
now note their changes, and each process announces them after the commit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER event_seat_changed ON event_seat")
    op.execute("DROP FUNCTION ticketing_seats_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION ticketing_seats_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('ticketing_seats', changed_event.event_id::text)
            FROM (SELECT DISTINCT event_id FROM changed) AS changed_event;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER event_seat_changed AFTER UPDATE ON event_seat
        REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION ticketing_seats_changed()
        """
    )
