"""Initial schema: venue template, event manifests, carts, payments, tickets, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 14:10:07.587840
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ticketing.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("cart_id", sa.Uuid(), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("seat_id", sa.Integer(), nullable=True),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("amount", ticketing.models.Money(precision=12, scale=2), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_cart_id"), ["cart_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_payment_id"), ["payment_id"], unique=False)

    op.create_table(
        "cart",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'booked', 'paid', 'failed', 'expired')", name=op.f("ck_cart_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart")),
    )
    op.create_table(
        "seat_status",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_status")),
        sa.UniqueConstraint("name", name=op.f("uq_seat_status_name")),
    )
    op.bulk_insert(
        sa.table("seat_status", sa.column("id", sa.Integer()), sa.column("name", sa.String())),
        [
            {"id": 1, "name": "available"},
            {"id": 2, "name": "held"},
            {"id": 3, "name": "booked"},
            {"id": 4, "name": "sold"},
        ],
    )
    op.create_table(
        "venue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venue")),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("venue_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("starts_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["venue_id"], ["venue.id"], name=op.f("fk_event_venue_id_venue")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_venue_id"), ["venue_id"], unique=False)

    op.create_table(
        "payment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cart_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("total_amount", ticketing.models.Money(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finalized_at", ticketing.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'failed', 'expired')",
            name=op.f("ck_payment_status"),
        ),
        sa.ForeignKeyConstraint(["cart_id"], ["cart.id"], name=op.f("fk_payment_cart_id_cart")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("cart_id", name=op.f("uq_payment_cart_id")),
    )
    op.create_table(
        "section",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("venue_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('seated', 'general_admission')", name=op.f("ck_section_kind")),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_section_capacity")),
        sa.ForeignKeyConstraint(["venue_id"], ["venue.id"], name=op.f("fk_section_venue_id_venue")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_section")),
        sa.UniqueConstraint("venue_id", "name", name=op.f("uq_section_venue_id_name")),
    )
    with op.batch_alter_table("section", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_section_venue_id"), ["venue_id"], unique=False)

    op.create_table(
        "event_section",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_event_section_event_id_event")
        ),
        sa.ForeignKeyConstraint(
            ["section_id"], ["section.id"], name=op.f("fk_event_section_section_id_section")
        ),
        sa.PrimaryKeyConstraint("event_id", "section_id", name=op.f("pk_event_section")),
    )
    op.create_table(
        "price_level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_price_level_event_id_event")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_level")),
        sa.UniqueConstraint("event_id", "name", name=op.f("uq_price_level_event_id_name")),
    )
    with op.batch_alter_table("price_level", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_price_level_event_id"), ["event_id"], unique=False)

    op.create_table(
        "seat_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["section_id"], ["section.id"], name=op.f("fk_seat_row_section_id_section")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_row")),
        sa.UniqueConstraint("section_id", "name", name=op.f("uq_seat_row_section_id_name")),
    )
    with op.batch_alter_table("seat_row", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seat_row_section_id"), ["section_id"], unique=False)

    op.create_table(
        "event_row",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id", "section_id"],
            ["event_section.event_id", "event_section.section_id"],
            name=op.f("fk_event_row_event_id_section_id_event_section"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_event_row_event_id_event")
        ),
        sa.ForeignKeyConstraint(
            ["row_id"], ["seat_row.id"], name=op.f("fk_event_row_row_id_seat_row")
        ),
        sa.PrimaryKeyConstraint("event_id", "row_id", name=op.f("pk_event_row")),
    )
    op.create_table(
        "seat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(type = 'designated') = (row_id IS NOT NULL AND number IS NOT NULL)",
            name=op.f("ck_seat_designated_has_position"),
        ),
        sa.CheckConstraint(
            "type IN ('designated', 'general_admission')", name=op.f("ck_seat_type")
        ),
        sa.ForeignKeyConstraint(["row_id"], ["seat_row.id"], name=op.f("fk_seat_row_id_seat_row")),
        sa.ForeignKeyConstraint(
            ["section_id"], ["section.id"], name=op.f("fk_seat_section_id_section")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat")),
    )
    with op.batch_alter_table("seat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seat_row_id"), ["row_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_seat_section_id"), ["section_id"], unique=False)

    op.create_table(
        "event_seat",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("seat_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=True),
        sa.Column("row_name", sa.String(length=50), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", ticketing.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 1) = (cart_id IS NULL)", name=op.f("ck_event_seat_cart_iff_taken")
        ),
        sa.CheckConstraint(
            "(status IN (2, 3)) = (expires_at IS NOT NULL)", name=op.f("ck_event_seat_deadline")
        ),
        sa.ForeignKeyConstraint(
            ["event_id", "section_id"],
            ["event_section.event_id", "event_section.section_id"],
            name=op.f("fk_event_seat_event_id_section_id_event_section"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_event_seat_event_id_event")
        ),
        sa.ForeignKeyConstraint(
            ["row_id"], ["seat_row.id"], name=op.f("fk_event_seat_row_id_seat_row")
        ),
        sa.ForeignKeyConstraint(["seat_id"], ["seat.id"], name=op.f("fk_event_seat_seat_id_seat")),
        sa.ForeignKeyConstraint(
            ["status"], ["seat_status.id"], name=op.f("fk_event_seat_status_seat_status")
        ),
        sa.PrimaryKeyConstraint("event_id", "seat_id", name=op.f("pk_event_seat")),
    )
    with op.batch_alter_table("event_seat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_seat_cart_id"), ["cart_id"], unique=False)
        batch_op.create_index(
            "ix_event_seat_event_section", ["event_id", "section_id"], unique=False
        )

    op.create_table(
        "cart_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("seat_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=True),
        sa.Column("price_level_id", sa.Integer(), nullable=False),
        sa.Column("amount", ticketing.models.Money(precision=12, scale=2), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("held_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hold_expires_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("released_at", ticketing.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["cart_id"], ["cart.id"], name=op.f("fk_cart_item_cart_id_cart")),
        sa.ForeignKeyConstraint(
            ["event_id", "seat_id"],
            ["event_seat.event_id", "event_seat.seat_id"],
            name=op.f("fk_cart_item_event_id_seat_id_event_seat"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_cart_item_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["price_level_id"],
            ["price_level.id"],
            name=op.f("fk_cart_item_price_level_id_price_level"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_item")),
    )
    with op.batch_alter_table("cart_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cart_item_cart_id"), ["cart_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cart_item_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(
            "uq_cart_item_active_seat",
            ["event_id", "seat_id"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )

    op.create_table(
        "event_seat_price",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("seat_id", sa.Integer(), nullable=False),
        sa.Column("price_level_id", sa.Integer(), nullable=False),
        sa.Column("amount", ticketing.models.Money(precision=12, scale=2), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_event_seat_price_amount")),
        sa.ForeignKeyConstraint(
            ["event_id", "seat_id"],
            ["event_seat.event_id", "event_seat.seat_id"],
            name=op.f("fk_event_seat_price_event_id_seat_id_event_seat"),
        ),
        sa.ForeignKeyConstraint(
            ["price_level_id"],
            ["price_level.id"],
            name=op.f("fk_event_seat_price_price_level_id_price_level"),
        ),
        sa.PrimaryKeyConstraint(
            "event_id", "seat_id", "price_level_id", name=op.f("pk_event_seat_price")
        ),
    )
    op.create_table(
        "ticket",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("seat_id", sa.Integer(), nullable=False),
        sa.Column("price_level_id", sa.Integer(), nullable=False),
        sa.Column("amount", ticketing.models.Money(precision=12, scale=2), nullable=False),
        sa.Column("issued_at", ticketing.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id", "seat_id"],
            ["event_seat.event_id", "event_seat.seat_id"],
            name=op.f("fk_ticket_event_id_seat_id_event_seat"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_ticket_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["price_level_id"],
            ["price_level.id"],
            name=op.f("fk_ticket_price_level_id_price_level"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
        sa.UniqueConstraint("event_id", "seat_id", name=op.f("uq_ticket_event_id_seat_id")),
    )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_payment_id"), ["payment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_payment_id"))

    op.drop_table("ticket")
    op.drop_table("event_seat_price")
    with op.batch_alter_table("cart_item", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_cart_item_active_seat",
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )
        batch_op.drop_index(batch_op.f("ix_cart_item_payment_id"))
        batch_op.drop_index(batch_op.f("ix_cart_item_cart_id"))

    op.drop_table("cart_item")
    with op.batch_alter_table("event_seat", schema=None) as batch_op:
        batch_op.drop_index("ix_event_seat_event_section")
        batch_op.drop_index(batch_op.f("ix_event_seat_cart_id"))

    op.drop_table("event_seat")
    with op.batch_alter_table("seat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seat_section_id"))
        batch_op.drop_index(batch_op.f("ix_seat_row_id"))

    op.drop_table("seat")
    op.drop_table("event_row")
    with op.batch_alter_table("seat_row", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seat_row_section_id"))

    op.drop_table("seat_row")
    with op.batch_alter_table("price_level", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_level_event_id"))

    op.drop_table("price_level")
    op.drop_table("event_section")
    with op.batch_alter_table("section", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_section_venue_id"))

    op.drop_table("section")
    op.drop_table("payment")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_venue_id"))
        batch_op.drop_index(batch_op.f("ix_event_starts_at"))

    op.drop_table("event")
    op.drop_table("venue")
    op.drop_table("seat_status")
    op.drop_table("cart")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_payment_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_cart_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
