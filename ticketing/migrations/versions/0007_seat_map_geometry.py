"""Seat-map geometry: venue focal point, section outline and label, seat positions (template and
each event's copy). Existing venues get the default arrangement, copied into their events.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing.geometry import default_placement, next_left

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POINT = {"venue": ("focal_x", "focal_y"), "section": ("label_x", "label_y")}


def upgrade() -> None:
    for table, (x, y) in {**_POINT, "event_section": ("label_x", "label_y")}.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(x, sa.Float(), nullable=True))
            batch_op.add_column(sa.Column(y, sa.Float(), nullable=True))
            if table != "venue":
                batch_op.add_column(sa.Column("outline", sa.JSON(), nullable=True))
    for table in ("seat", "event_seat"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("x", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column("y", sa.Float(), nullable=True))
    _arrange_existing_venues(op.get_bind())


def _arrange_existing_venues(bind: sa.Connection) -> None:
    """Sections side by side in their map order, seats in a grid: what new venues get by default.
    Events copy their venue's template, so they take the same positions."""
    meta = sa.MetaData()
    section = sa.Table("section", meta, autoload_with=bind)
    row = sa.Table("seat_row", meta, autoload_with=bind)
    seat = sa.Table("seat", meta, autoload_with=bind)
    event_section = sa.Table("event_section", meta, autoload_with=bind)
    event_seat = sa.Table("event_seat", meta, autoload_with=bind)
    sections = bind.execute(
        sa.select(section.c.id, section.c.venue_id, section.c.capacity, section.c.kind).order_by(
            section.c.venue_id, section.c.position, section.c.id
        )
    ).all()
    left: dict[int, float] = {}
    for section_id, venue_id, capacity, kind in sections:
        rows: dict[int, list[int]] = {}
        if kind == "seated":
            for seat_id, row_id in bind.execute(
                sa.select(seat.c.id, seat.c.row_id)
                .join(row, row.c.id == seat.c.row_id)
                .where(seat.c.section_id == section_id)
                .order_by(row.c.position, row.c.id, seat.c.position, seat.c.id)
            ):
                rows.setdefault(row_id, []).append(seat_id)
        placement = default_placement(
            row_sizes=[len(seats) for seats in rows.values()],
            capacity=capacity,
            left=left.get(venue_id, 0.0),
        )
        left[venue_id] = next_left([placement.outline], [])
        bind.execute(
            sa.update(section)
            .where(section.c.id == section_id)
            .values(
                outline=[list(p) for p in placement.outline],
                label_x=placement.label[0],
                label_y=placement.label[1],
            )
        )
        positions = [
            {"seat": seat_id, "new_x": x, "new_y": y}
            for seats, points in zip(rows.values(), placement.rows, strict=True)
            for seat_id, (x, y) in zip(seats, points, strict=True)
        ]
        if positions:
            bind.execute(
                sa.update(seat)
                .where(seat.c.id == sa.bindparam("seat"))
                .values(x=sa.bindparam("new_x"), y=sa.bindparam("new_y")),
                positions,
            )
    template_section = section.alias("template")
    bind.execute(
        sa.update(event_section).values(
            {
                name: sa.select(template_section.c[name])
                .where(template_section.c.id == event_section.c.section_id)
                .scalar_subquery()
                for name in ("outline", "label_x", "label_y")
            }
        )
    )
    template_seat = seat.alias("template")
    bind.execute(
        sa.update(event_seat).values(
            {
                name: sa.select(template_seat.c[name])
                .where(template_seat.c.id == event_seat.c.seat_id)
                .scalar_subquery()
                for name in ("x", "y")
            }
        )
    )


def downgrade() -> None:
    for table in ("event_seat", "seat"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("y")
            batch_op.drop_column("x")
    for table, (x, y) in {"event_section": ("label_x", "label_y"), **_POINT}.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table != "venue":
                batch_op.drop_column("outline")
            batch_op.drop_column(y)
            batch_op.drop_column(x)
