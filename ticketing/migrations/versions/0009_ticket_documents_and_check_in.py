"""Ticket documents and check-in: an unguessable code per ticket (existing tickets get random
ones), when and by whom it was checked in, when it was voided; the scanner role.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 18:20:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ticketing.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("checked_in_at", ticketing.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("checked_in_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("voided_at", ticketing.models.UTCDateTime(timezone=True), nullable=True)
        )
    _give_existing_tickets_codes(op.get_bind())
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.alter_column("code", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_ticket_code"), ["code"])
        batch_op.create_foreign_key(
            batch_op.f("fk_ticket_checked_in_by_user_account"),
            "user_account",
            ["checked_in_by"],
            ["id"],
        )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_user_account_role"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_user_account_role"), "role IN ('customer', 'manager', 'scanner')"
        )


def _give_existing_tickets_codes(bind: sa.Connection) -> None:
    """The same kind of code new tickets get (ticketing.tickets.codes): random, url-safe."""
    ticket = sa.Table("ticket", sa.MetaData(), autoload_with=bind)
    ids = bind.execute(sa.select(ticket.c.id)).scalars().all()
    if ids:
        bind.execute(
            sa.update(ticket)
            .where(ticket.c.id == sa.bindparam("ticket"))
            .values(code=sa.bindparam("new_code")),
            [{"ticket": ticket_id, "new_code": secrets.token_urlsafe(16)} for ticket_id in ids],
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_user_account_role"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_user_account_role"), "role IN ('customer', 'manager')"
        )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_ticket_checked_in_by_user_account"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_ticket_code"), type_="unique")
        batch_op.drop_column("voided_at")
        batch_op.drop_column("checked_in_by")
        batch_op.drop_column("checked_in_at")
        batch_op.drop_column("code")
