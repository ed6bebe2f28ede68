"""Each seat carries the stamp of the transaction that changed its status; no section version.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event_seat", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("changed_in", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_event_seat_event_changed_in", ["event_id", "changed_in"], unique=False
        )
    with op.batch_alter_table("event_section", schema=None) as batch_op:
        batch_op.drop_column("version")


def downgrade() -> None:
    with op.batch_alter_table("event_section", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("event_seat", schema=None) as batch_op:
        batch_op.drop_index("ix_event_seat_event_changed_in")
        batch_op.drop_column("changed_in")
