"""event_section.version: a change counter per section, for fresh seat-map caches in every worker.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event_section", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("event_section", schema=None) as batch_op:
        batch_op.drop_column("version")
