"""Accounts and tokens, carts owned by customers, event drafts and revisions, blocked seats.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sign_in_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempts_since", UTCDateTime(), nullable=True),
        sa.CheckConstraint("role IN ('customer', 'manager')", name=op.f("ck_user_account_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "auth_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_auth_token_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_token_token_hash")),
    )
    op.create_index(op.f("ix_auth_token_user_id"), "auth_token", ["user_id"], unique=False)

    with op.batch_alter_table("cart", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_cart_owner_id"), ["owner_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_cart_owner_id_user_account"), "user_account", ["owner_id"], ["id"]
        )

    # Events that exist already were on sale: they are published.
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=10), server_default="published", nullable=False)
        )
        batch_op.add_column(
            sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint("status", "status IN ('draft', 'published', 'cancelled')")

    op.execute("INSERT INTO seat_status (id, name) VALUES (5, 'blocked')")
    with op.batch_alter_table("event_seat", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_event_seat_cart_iff_taken"), type_="check")
        batch_op.create_check_constraint("cart_iff_taken", "(status IN (1, 5)) = (cart_id IS NULL)")


def downgrade() -> None:
    with op.batch_alter_table("event_seat", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_event_seat_cart_iff_taken"), type_="check")
        batch_op.create_check_constraint("cart_iff_taken", "(status = 1) = (cart_id IS NULL)")
    op.execute("DELETE FROM seat_status WHERE id = 5")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_event_status"), type_="check")
        batch_op.drop_column("revision")
        batch_op.drop_column("status")
    with op.batch_alter_table("cart", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_cart_owner_id_user_account"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_cart_owner_id"))
        batch_op.drop_column("owner_id")
    op.drop_index(op.f("ix_auth_token_user_id"), table_name="auth_token")
    op.drop_table("auth_token")
    op.drop_table("user_account")
