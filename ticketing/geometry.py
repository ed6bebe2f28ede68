"""Seat-map geometry in venue units (x to the right, y downwards as on a screen): rows laid out
from a description, the default arrangement, and the checks on outlines and seat positions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Point = tuple[float, float]

DECIMALS = 2
"""Positions are kept to a hundredth of a unit, so that computed ones compare and print exactly."""
MAX_COORDINATE = 1_000_000.0
MAX_OUTLINE_POINTS = 500
SEAT_SPACING = 1.0
"""Default distance between two seats of a row, and between two rows."""
SECTION_GAP = 2.0
"""Default space between two sections placed side by side."""
MARGIN = 0.5
"""Default space between a section's outermost seats and its outline."""
LABEL_OFFSET = 1.0
"""Default distance of a section's label above its outline."""


def rounded(point: Point) -> Point:
    # adding 0.0 turns -0.0 into 0.0: both sides of the axis print the same
    return (round(point[0], DECIMALS) + 0.0, round(point[1], DECIMALS) + 0.0)


@dataclass(frozen=True, slots=True)
class RowLayout:
    """How a section's rows are laid out.

    Straight rows: the first seat of the first row is at `start`, seats follow along +x every
    `seat_spacing`, rows follow along +y every `row_spacing`, then the whole is turned by
    `rotation` degrees about `start` (from +x towards +y).
    Curved rows (`curve_radius` given): row i is an arc around the focal point of radius
    `curve_radius + i * row_spacing`, centred on the ray from the focal point through `start`,
    its seats `seat_spacing` apart along the arc, the first on the left of someone facing the
    focal point (on the screen's left when the focal point is above).
    """

    start: Point
    seat_spacing: float = SEAT_SPACING
    row_spacing: float = SEAT_SPACING
    curve_radius: float | None = None
    rotation: float = 0.0

    def row(self, index: int, seats: int, *, focal_point: Point | None = None) -> list[Point]:
        """The positions of the `seats` seats of row `index` (0 is the first row)."""
        if self.curve_radius is None:
            return self._straight_row(index, seats)
        if focal_point is None:
            raise ValueError("curved rows need a focal point")
        return self._curved_row(index, seats, focal_point)

    def rows(self, sizes: Sequence[int], *, focal_point: Point | None = None) -> list[list[Point]]:
        return [self.row(i, n, focal_point=focal_point) for i, n in enumerate(sizes)]

    def _straight_row(self, index: int, seats: int) -> list[Point]:
        angle = math.radians(self.rotation)
        cos, sin = math.cos(angle), math.sin(angle)
        x0, y0 = self.start
        dy = index * self.row_spacing
        points = []
        for seat in range(seats):
            dx = seat * self.seat_spacing
            points.append(rounded((x0 + dx * cos - dy * sin, y0 + dx * sin + dy * cos)))
        return points

    def _curved_row(self, index: int, seats: int, focal_point: Point) -> list[Point]:
        assert self.curve_radius is not None
        fx, fy = focal_point
        centre = math.atan2(self.start[1] - fy, self.start[0] - fx)
        radius = self.curve_radius + index * self.row_spacing
        step = self.seat_spacing / radius
        points = []
        for seat in range(seats):
            # with y downwards, a larger angle is further left for someone facing the focal point
            angle = centre + ((seats - 1) / 2 - seat) * step
            points.append(rounded((fx + radius * math.cos(angle), fy + radius * math.sin(angle))))
        return points


def bounds(points: Iterable[Point]) -> tuple[float, float, float, float]:
    """(min x, min y, max x, max y) of at least one point."""
    xs, ys = zip(*points, strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def rectangle(left: float, top: float, right: float, bottom: float) -> list[Point]:
    return [
        rounded((left, top)),
        rounded((right, top)),
        rounded((right, bottom)),
        rounded((left, bottom)),
    ]


def sector(
    focal_point: Point, *, inner: float, outer: float, direction: float, half_angle: float
) -> list[Point]:
    """The band between two arcs around the focal point, `half_angle` degrees either side of
    `direction` (degrees from +x towards +y): the shape of curved rows. Each arc is drawn with
    a point every few degrees."""
    fx, fy = focal_point
    steps = max(2, math.ceil(2 * half_angle / 5))
    angles = [
        math.radians(direction - half_angle + 2 * half_angle * i / steps) for i in range(steps + 1)
    ]
    outer_arc = [(fx + outer * math.cos(a), fy + outer * math.sin(a)) for a in angles]
    inner_arc = [(fx + inner * math.cos(a), fy + inner * math.sin(a)) for a in reversed(angles)]
    return [rounded(point) for point in outer_arc + inner_arc]


def outline_around(points: Iterable[Point], *, margin: float = MARGIN) -> list[Point]:
    """The rectangle `margin` away from the outermost points."""
    left, top, right, bottom = bounds(points)
    return rectangle(left - margin, top - margin, right + margin, bottom + margin)


def label_above(outline: Sequence[Point]) -> Point:
    """Centred above the outline, where a section's name does not cover its seats."""
    left, top, right, _ = bounds(outline)
    return rounded(((left + right) / 2, top - LABEL_OFFSET))


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a section sits when the manager gave no geometry."""

    rows: list[list[Point]]
    """Seat positions per row (empty for general admission)."""
    outline: list[Point]
    label: Point


def default_placement(
    *, row_sizes: Sequence[int], capacity: int, left: float, top: float = 0.0
) -> Placement:
    """Seats in a grid (or, for general admission, a square floor sized by its capacity) whose
    outline starts at (`left`, `top`)."""
    if any(row_sizes):
        layout = RowLayout(start=(left + MARGIN, top + MARGIN))
        rows = layout.rows(row_sizes)
        outline = outline_around(p for row in rows for p in row)
    else:
        rows = []
        side = max(1.0, float(math.ceil(math.sqrt(capacity))))
        outline = rectangle(left, top, left + side, top + side)
    return Placement(rows=rows, outline=outline, label=label_above(outline))


def next_left(outlines: Iterable[Sequence[Point]], seats: Iterable[Point]) -> float:
    """Where a section placed to the right of everything already drawn begins."""
    points = [p for outline in outlines for p in outline] + list(seats)
    if not points:
        return 0.0
    return round(bounds(points)[2] + SECTION_GAP, DECIMALS)


def is_valid_coordinate(value: float) -> bool:
    return math.isfinite(value) and abs(value) <= MAX_COORDINATE


def area(polygon: Sequence[Point]) -> float:
    """Unsigned area (shoelace formula); zero for a degenerate polygon."""
    twice = sum(
        x1 * y2 - x2 * y1
        for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True)
    )
    return abs(twice) / 2


def contains(polygon: Sequence[Point], point: Point) -> bool:
    """Whether `point` lies inside the polygon or on its edge (even-odd rule)."""
    px, py = point
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True):
        if _on_segment((x1, y1), (x2, y2), point):
            return True
        if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    tolerance = 10.0**-DECIMALS / 2
    cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    if length == 0:
        return math.hypot(p[0] - a[0], p[1] - a[1]) <= tolerance
    return (
        abs(cross) / length <= tolerance
        and min(a[0], b[0]) - tolerance <= p[0] <= max(a[0], b[0]) + tolerance
        and min(a[1], b[1]) - tolerance <= p[1] <= max(a[1], b[1]) + tolerance
    )


def first_overlap(points: Sequence[Point]) -> tuple[int, int] | None:
    """Indexes of the first two points at the same place (to the kept precision), if any."""
    seen: dict[Point, int] = {}
    for index, point in enumerate(points):
        key = rounded(point)
        if key in seen:
            return seen[key], index
        seen[key] = index
    return None
