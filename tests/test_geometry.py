"""Seat-map geometry, no database: computed rows, the default arrangement, outline checks."""

from __future__ import annotations

import math

import pytest

from ticketing.geometry import (
    RowLayout,
    area,
    contains,
    default_placement,
    first_overlap,
    label_above,
    next_left,
    outline_around,
    sector,
)


def test_straight_rows_start_at_the_start_point_and_follow_the_spacings() -> None:
    layout = RowLayout(start=(10.0, 20.0), seat_spacing=2.0, row_spacing=3.0)
    assert layout.rows([3, 2]) == [
        [(10.0, 20.0), (12.0, 20.0), (14.0, 20.0)],
        [(10.0, 23.0), (12.0, 23.0)],
    ]


def test_rotation_turns_the_rows_about_the_start_point() -> None:
    quarter = RowLayout(start=(10.0, 20.0), seat_spacing=2.0, row_spacing=3.0, rotation=90)
    # seats now run along +y, and rows stack along -x
    assert quarter.rows([2, 2]) == [[(10.0, 20.0), (10.0, 22.0)], [(7.0, 20.0), (7.0, 22.0)]]
    slanted = RowLayout(start=(0.0, 0.0), seat_spacing=2.0, rotation=30)
    assert slanted.row(0, 2) == [(0.0, 0.0), (1.73, 1.0)]


def test_curved_rows_are_arcs_around_the_focal_point_centred_on_the_start_direction() -> None:
    layout = RowLayout(
        start=(0.0, 10.0), seat_spacing=10 * math.pi / 6, row_spacing=10.0, curve_radius=10.0
    )
    front, back = layout.rows([3, 3], focal_point=(0.0, 0.0))
    # 30 degrees apart on a radius of 10, first seat on the left of the screen
    assert front == [(-5.0, 8.66), (0.0, 10.0), (5.0, 8.66)]
    # the same spacing along an arc twice as far is 15 degrees
    assert back == [(-5.18, 19.32), (0.0, 20.0), (5.18, 19.32)]


def test_curved_rows_follow_the_focal_point_wherever_it_is() -> None:
    layout = RowLayout(start=(100.0, 50.0), seat_spacing=1.0, row_spacing=1.0, curve_radius=20.0)
    row = layout.row(2, 9, focal_point=(50.0, 50.0))
    for x, y in row:
        assert math.hypot(x - 50.0, y - 50.0) == pytest.approx(22.0, abs=0.01)
    assert row[4] == (72.0, 50.0)  # the middle seat is on the ray through the start point
    # facing the focal point (towards -x, y downwards), the first seat is on one's left: below
    assert row[0][1] > row[-1][1]


def test_curved_rows_need_a_focal_point() -> None:
    with pytest.raises(ValueError, match="focal point"):
        RowLayout(start=(0.0, 0.0), curve_radius=5.0).row(0, 3)


def test_default_placement_is_a_grid_inside_a_rectangle_with_the_label_above() -> None:
    placement = default_placement(row_sizes=[3, 2], capacity=0, left=4.0)
    assert placement.rows == [[(4.5, 0.5), (5.5, 0.5), (6.5, 0.5)], [(4.5, 1.5), (5.5, 1.5)]]
    assert placement.outline == [(4.0, 0.0), (7.0, 0.0), (7.0, 2.0), (4.0, 2.0)]
    assert placement.label == (5.5, -1.0)


def test_default_general_admission_floor_is_a_square_sized_by_its_capacity() -> None:
    placement = default_placement(row_sizes=[], capacity=10, left=0.0)
    assert placement.rows == []
    assert placement.outline == [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)]
    assert placement.label == (2.0, -1.0)


def test_sections_are_placed_side_by_side() -> None:
    assert next_left([], []) == 0.0
    first = default_placement(row_sizes=[2], capacity=0, left=0.0)
    left = next_left([first.outline], [p for row in first.rows for p in row])
    assert left == 4.0  # the first outline ends at x = 2, then the gap
    second = default_placement(row_sizes=[1], capacity=0, left=left)
    assert second.rows == [[(4.5, 0.5)]]


def test_outlines_and_labels() -> None:
    outline = outline_around([(1.0, 1.0), (3.0, 2.0)], margin=1.0)
    assert outline == [(0.0, 0.0), (4.0, 0.0), (4.0, 3.0), (0.0, 3.0)]
    assert area(outline) == 12.0
    assert area([(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]) == 0.0
    assert label_above(outline) == (2.0, -1.0)


def test_points_inside_on_the_edge_and_outside_a_polygon() -> None:
    # an L shape: the notch at the top right is outside
    shape = [(0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (4.0, 1.0), (4.0, 3.0), (0.0, 3.0)]
    assert contains(shape, (1.0, 1.0))
    assert contains(shape, (3.0, 2.0))
    assert contains(shape, (4.0, 2.0))  # on an edge
    assert contains(shape, (0.0, 0.0))  # on a corner
    assert not contains(shape, (3.0, 0.5))
    assert not contains(shape, (5.0, 2.0))
    assert not contains(shape, (-0.01, 1.0))


def test_first_overlap_names_the_two_seats_at_one_point() -> None:
    assert first_overlap([(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)]) is None
    assert first_overlap([(0.0, 0.0), (1.0, 0.0), (1.001, 0.0)]) == (1, 2)


def test_a_sector_is_the_band_between_two_arcs_around_the_focal_point() -> None:
    band = sector((0.0, 0.0), inner=1.0, outer=2.0, direction=90, half_angle=5)
    assert band == [(0.17, 1.99), (0.0, 2.0), (-0.17, 1.99), (-0.09, 1.0), (0.0, 1.0), (0.09, 1.0)]
    assert contains(band, (0.0, 1.5))
    assert not contains(band, (0.0, 0.5))
    assert not contains(band, (1.0, 1.5))
