"""Refunds: a payment may be refunded (status and time), and the guard "one ticket per seat"
becomes "one valid ticket per seat", so that a refunded seat can be sold again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ticketing.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "status IN ('pending', 'completed', 'failed', 'expired', 'refunded')"
OLD_STATUSES = "status IN ('pending', 'completed', 'failed', 'expired')"
VALID = sa.text("voided_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refunded_at", ticketing.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint(batch_op.f("ck_payment_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_payment_status"), STATUSES)
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_ticket_event_id_seat_id"), type_="unique")
        batch_op.create_index(
            "uq_ticket_valid_seat",
            ["event_id", "seat_id"],
            unique=True,
            sqlite_where=VALID,
            postgresql_where=VALID,
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("uq_ticket_valid_seat")
        batch_op.create_unique_constraint(
            batch_op.f("uq_ticket_event_id_seat_id"), ["event_id", "seat_id"]
        )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_payment_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_payment_status"), OLD_STATUSES)
        batch_op.drop_column("refunded_at")
