"""Pure rules, no database: seat and payment states, outcomes, cart views, money, manifests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ticketing.demo import stadium_sections
from ticketing.domain import (
    CartItemView,
    CartStatus,
    CartView,
    PaymentStatus,
    SeatStatus,
    SectionKind,
    check_payment_outcome,
    effective_payment_status,
    effective_seat_status,
    money,
)
from ticketing.errors import ErrorCode, TicketingError
from ticketing.management.manifest import SectionSpec, row_name

NOW = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)
PAST = NOW - timedelta(seconds=1)
FUTURE = NOW + timedelta(seconds=1)
PAYMENT_ID = uuid.UUID("6b1f5c3e-0000-4000-8000-000000000001")


# --- Seat status ---------------------------------------------------------------------------


def test_seat_status_ids_and_labels_are_the_public_api() -> None:
    assert [(int(s), s.label) for s in SeatStatus] == [
        (1, "available"),
        (2, "held"),
        (3, "booked"),
        (4, "sold"),
        (5, "blocked"),
    ]
    assert {s for s in SeatStatus if s.expires} == {SeatStatus.HELD, SeatStatus.BOOKED}


@pytest.mark.parametrize("status", [SeatStatus.HELD, SeatStatus.BOOKED])
def test_taken_seat_before_its_deadline_keeps_its_status(status: SeatStatus) -> None:
    assert effective_seat_status(int(status), FUTURE, NOW) is status
    assert effective_seat_status(int(status), NOW + timedelta(days=1), NOW) is status


@pytest.mark.parametrize("status", [SeatStatus.HELD, SeatStatus.BOOKED])
def test_taken_seat_past_its_deadline_is_available(status: SeatStatus) -> None:
    assert effective_seat_status(int(status), PAST, NOW) is SeatStatus.AVAILABLE
    assert effective_seat_status(int(status), NOW - timedelta(days=365), NOW) is (
        SeatStatus.AVAILABLE
    )


@pytest.mark.parametrize("status", [SeatStatus.HELD, SeatStatus.BOOKED])
def test_taken_seat_at_exactly_its_deadline_is_available(status: SeatStatus) -> None:
    assert effective_seat_status(int(status), NOW, NOW) is SeatStatus.AVAILABLE


@pytest.mark.parametrize("status", [SeatStatus.HELD, SeatStatus.BOOKED])
def test_taken_seat_without_deadline_keeps_its_status(status: SeatStatus) -> None:
    assert effective_seat_status(int(status), None, NOW) is status


@pytest.mark.parametrize("expires_at", [None, PAST, NOW, FUTURE, NOW - timedelta(days=3650)])
def test_sold_seat_never_expires(expires_at: datetime | None) -> None:
    assert effective_seat_status(4, expires_at, NOW) is SeatStatus.SOLD


@pytest.mark.parametrize("expires_at", [None, PAST, NOW, FUTURE])
def test_available_seat_stays_available(expires_at: datetime | None) -> None:
    assert effective_seat_status(1, expires_at, NOW) is SeatStatus.AVAILABLE


def test_deadline_comparison_is_by_instant_not_wall_clock() -> None:
    from datetime import timezone

    lisbon_summer = timezone(timedelta(hours=1))
    same_instant = NOW.astimezone(lisbon_summer)
    assert effective_seat_status(2, same_instant, NOW) is SeatStatus.AVAILABLE
    later = (NOW + timedelta(minutes=1)).astimezone(lisbon_summer)
    assert effective_seat_status(2, later, NOW) is SeatStatus.HELD


@pytest.mark.parametrize("status", [0, 6, -1])
def test_unknown_seat_status_is_refused(status: int) -> None:
    with pytest.raises(ValueError, match=str(status)):
        effective_seat_status(status, None, NOW)


# --- Payment status ------------------------------------------------------------------------


def test_pending_payment_before_its_deadline_is_pending() -> None:
    assert effective_payment_status("pending", FUTURE, NOW) is PaymentStatus.PENDING


@pytest.mark.parametrize("deadline", [NOW, PAST, NOW - timedelta(days=1)])
def test_pending_payment_at_or_past_its_deadline_is_expired(deadline: datetime) -> None:
    assert effective_payment_status("pending", deadline, NOW) is PaymentStatus.EXPIRED


@pytest.mark.parametrize("status", ["completed", "failed", "expired"])
@pytest.mark.parametrize("deadline", [PAST, NOW, FUTURE])
def test_finished_payment_keeps_its_status(status: str, deadline: datetime) -> None:
    assert effective_payment_status(status, deadline, NOW) is PaymentStatus(status)


def test_unknown_payment_status_is_refused() -> None:
    with pytest.raises(ValueError, match="charged back"):
        effective_payment_status("charged back", FUTURE, NOW)


def test_payment_status_maps_to_cart_status() -> None:
    assert {p: p.cart_status for p in PaymentStatus} == {
        PaymentStatus.PENDING: CartStatus.BOOKED,
        PaymentStatus.COMPLETED: CartStatus.PAID,
        PaymentStatus.FAILED: CartStatus.FAILED,
        PaymentStatus.EXPIRED: CartStatus.EXPIRED,
        PaymentStatus.REFUNDED: CartStatus.PAID,  # the cart was paid; the money went back
    }
    assert [p for p in PaymentStatus if not p.is_final] == [PaymentStatus.PENDING]


# --- Payment outcomes ----------------------------------------------------------------------


@pytest.mark.parametrize("requested", [PaymentStatus.COMPLETED, PaymentStatus.FAILED])
def test_pending_payment_may_take_either_outcome(requested: PaymentStatus) -> None:
    check_payment_outcome(current=PaymentStatus.PENDING, requested=requested, payment_id=PAYMENT_ID)


@pytest.mark.parametrize("outcome", list(PaymentStatus))
def test_same_outcome_repeated_is_allowed(outcome: PaymentStatus) -> None:
    check_payment_outcome(current=outcome, requested=outcome, payment_id=PAYMENT_ID)


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        (PaymentStatus.COMPLETED, PaymentStatus.FAILED),
        (PaymentStatus.FAILED, PaymentStatus.COMPLETED),
    ],
)
def test_opposite_outcome_is_payment_finalized(
    current: PaymentStatus, requested: PaymentStatus
) -> None:
    with pytest.raises(TicketingError) as caught:
        check_payment_outcome(current=current, requested=requested, payment_id=PAYMENT_ID)
    error = caught.value
    assert error.code is ErrorCode.PAYMENT_FINALIZED
    assert error.context == {"payment_id": str(PAYMENT_ID), "payment_status": current.value}
    assert str(PAYMENT_ID) in error.message
    assert current.value in error.message
    assert error.field is None


@pytest.mark.parametrize("requested", [PaymentStatus.COMPLETED, PaymentStatus.FAILED])
def test_outcome_for_an_expired_payment_is_payment_expired(requested: PaymentStatus) -> None:
    with pytest.raises(TicketingError) as caught:
        check_payment_outcome(
            current=PaymentStatus.EXPIRED, requested=requested, payment_id=PAYMENT_ID
        )
    error = caught.value
    assert error.code is ErrorCode.PAYMENT_EXPIRED
    assert error.context == {"payment_id": str(PAYMENT_ID)}
    assert str(PAYMENT_ID) in error.message


# --- Cart views ----------------------------------------------------------------------------

CART_ID = uuid.UUID("6b1f5c3e-0000-4000-8000-0000000000ca")


def item(
    seat_id: int,
    amount: str,
    *,
    currency: str = "EUR",
    hold_expires_at: datetime | None = None,
    event_id: int = 1,
) -> CartItemView:
    return CartItemView(
        event_id=event_id,
        seat_id=seat_id,
        section_id=1,
        row_id=1,
        price_id=1,
        price_name="Adult",
        amount=Decimal(amount),
        currency=currency,
        hold_expires_at=hold_expires_at,
    )


def test_empty_open_cart() -> None:
    view = CartView.of(cart_id=CART_ID, status=CartStatus.OPEN, items=[], payment_id=None)
    assert view.cart_id == CART_ID
    assert view.status is CartStatus.OPEN
    assert view.items == ()
    assert view.total_amount == Decimal("0.00")
    assert str(view.total_amount) == "0.00"
    assert view.currency is None
    assert view.expires_at is None
    assert view.payment_id is None


def test_open_cart_total_currency_and_earliest_hold() -> None:
    items = [
        item(1, "40.00", hold_expires_at=NOW + timedelta(minutes=15)),
        item(2, "99.50", hold_expires_at=NOW + timedelta(minutes=3)),
        item(3, "20", hold_expires_at=NOW + timedelta(minutes=9)),
    ]
    view = CartView.of(cart_id=CART_ID, status=CartStatus.OPEN, items=items, payment_id=None)
    assert view.total_amount == Decimal("159.50")
    assert str(view.total_amount) == "159.50"
    assert view.currency == "EUR"
    assert view.expires_at == NOW + timedelta(minutes=3)
    assert view.items == tuple(items)


def test_open_cart_ignores_items_without_a_hold_deadline() -> None:
    items = [item(1, "10.00"), item(2, "5.25", hold_expires_at=FUTURE)]
    view = CartView.of(cart_id=CART_ID, status=CartStatus.OPEN, items=items, payment_id=None)
    assert view.expires_at == FUTURE
    assert view.total_amount == Decimal("15.25")
    only_undated = CartView.of(
        cart_id=CART_ID, status=CartStatus.OPEN, items=[item(1, "10.00")], payment_id=None
    )
    assert only_undated.expires_at is None


def test_open_cart_ignores_a_payment_deadline() -> None:
    view = CartView.of(
        cart_id=CART_ID,
        status=CartStatus.OPEN,
        items=[item(1, "1.00", hold_expires_at=FUTURE)],
        payment_id=None,
        payment_expires_at=NOW + timedelta(days=1),
    )
    assert view.expires_at == FUTURE


def test_booked_cart_expires_with_its_payment() -> None:
    deadline = NOW + timedelta(minutes=15)
    view = CartView.of(
        cart_id=CART_ID,
        status=CartStatus.BOOKED,
        items=[item(1, "40.00", hold_expires_at=NOW + timedelta(minutes=1)), item(2, "0.10")],
        payment_id=PAYMENT_ID,
        payment_expires_at=deadline,
    )
    assert view.expires_at == deadline
    assert view.payment_id == PAYMENT_ID
    assert view.total_amount == Decimal("40.10")
    assert view.currency == "EUR"


@pytest.mark.parametrize("status", [CartStatus.PAID, CartStatus.FAILED, CartStatus.EXPIRED])
def test_finished_cart_has_no_deadline(status: CartStatus) -> None:
    view = CartView.of(
        cart_id=CART_ID,
        status=status,
        items=[item(1, "40.00", hold_expires_at=FUTURE)],
        payment_id=PAYMENT_ID,
        payment_expires_at=FUTURE,
    )
    assert view.expires_at is None
    assert view.status is status
    assert view.total_amount == Decimal("40.00")
    assert view.currency == "EUR"


def test_cart_of_mixed_currencies_has_no_single_currency() -> None:
    view = CartView.of(
        cart_id=CART_ID,
        status=CartStatus.OPEN,
        items=[item(1, "1.00", currency="EUR"), item(2, "2.00", currency="USD")],
        payment_id=None,
    )
    assert view.currency is None
    assert view.total_amount == Decimal("3.00")


def test_cart_total_is_exact_to_the_cent() -> None:
    items = [item(n, "0.10") for n in range(1, 11)] + [item(11, "0.20")]
    view = CartView.of(cart_id=CART_ID, status=CartStatus.OPEN, items=items, payment_id=None)
    assert view.total_amount == Decimal("1.20")
    assert str(view.total_amount) == "1.20"


# --- Money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("49.5", "49.50"),
        ("40", "40.00"),
        ("99.50", "99.50"),
        ("0", "0.00"),
        (0, "0.00"),
        (3, "3.00"),
        (Decimal("12.5"), "12.50"),
        (Decimal("1.00"), "1.00"),
        ("10.499", "10.50"),
        ("123456789.99", "123456789.99"),
    ],
)
def test_money_is_exact_to_the_cent(amount: Decimal | int | str, expected: str) -> None:
    value = money(amount)
    assert isinstance(value, Decimal)
    assert str(value) == expected
    assert value == Decimal(expected)
    assert value.as_tuple().exponent == -2


def test_money_is_idempotent() -> None:
    assert money(money("7.1")) == money("7.1")
    assert str(money(money("7.1"))) == "7.10"


def test_money_refuses_non_numbers() -> None:
    with pytest.raises(ArithmeticError):
        money("forty")


# --- Row names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "name"),
    [
        (0, "A"),
        (1, "B"),
        (25, "Z"),
        (26, "AA"),
        (27, "AB"),
        (51, "AZ"),
        (52, "BA"),
        (701, "ZZ"),
        (702, "AAA"),
    ],
)
def test_row_name(index: int, name: str) -> None:
    assert row_name(index) == name


def test_row_names_are_unique() -> None:
    names = [row_name(i) for i in range(2000)]
    assert len(set(names)) == len(names)


# --- Stadium manifests ---------------------------------------------------------------------


def seat_total(sections: list[SectionSpec]) -> int:
    return sum(s.seat_count for s in sections if s.kind is SectionKind.SEATED)


@pytest.mark.parametrize("seats", [1, 2, 3, 25, 26, 100, 999, 1000, 1001, 2999, 50001])
def test_stadium_has_exactly_the_seats_asked_for(seats: int) -> None:
    sections = stadium_sections(seats, 0)
    assert seat_total(sections) == seats
    assert all(s.kind is SectionKind.SEATED for s in sections)
    assert sum(len(r.seat_numbers) for s in sections for r in s.rows) == seats


@pytest.mark.parametrize("seats", [1, 100, 999, 1000, 1001, 50001])
def test_stadium_sections_are_at_most_1000_seats_in_rows_of_at_most_25(seats: int) -> None:
    sections = stadium_sections(seats, 0)
    sizes = [s.seat_count for s in sections]
    assert max(sizes) <= 1000
    assert min(sizes) >= 1
    assert max(sizes) - min(sizes) <= 1, sizes  # evenly split
    for section in sections:
        assert section.rows
        for row in section.rows:
            assert 1 <= len(row.seat_numbers) <= 25
            assert list(row.seat_numbers) == [str(n) for n in range(1, len(row.seat_numbers) + 1)]
        names = [row.name for row in section.rows]
        assert names == [row_name(i) for i in range(len(names))]
        # Only the last row of a section may be short.
        assert all(len(row.seat_numbers) == 25 for row in section.rows[:-1])


def test_stadium_section_counts() -> None:
    assert len(stadium_sections(1, 0)) == 1
    assert len(stadium_sections(2, 0)) == 2
    assert len(stadium_sections(100, 0)) == 3
    assert len(stadium_sections(1000, 0)) == 3
    assert len(stadium_sections(3001, 0)) == 4
    assert len(stadium_sections(50001, 0)) == 51


def test_stadium_section_names_are_unique() -> None:
    names = [s.name for s in stadium_sections(50001, 500)]
    assert len(set(names)) == len(names)
    assert names[:2] == ["Block 101", "Block 102"]


@pytest.mark.parametrize("seats", [0, 1, 1000, 50001])
def test_stadium_general_admission_section_when_asked(seats: int) -> None:
    sections = stadium_sections(seats, 1234)
    ga = [s for s in sections if s.kind is SectionKind.GENERAL_ADMISSION]
    assert len(ga) == 1
    (field,) = ga
    assert field.capacity == 1234
    assert field.seat_count == 1234
    assert list(field.rows) == []
    assert seat_total(sections) == seats
    assert sections[-1] is field


@pytest.mark.parametrize("seats", [1, 1000, 50001])
def test_stadium_has_no_general_admission_unless_asked(seats: int) -> None:
    sections = stadium_sections(seats, 0)
    assert all(s.kind is SectionKind.SEATED for s in sections)


def test_empty_stadium() -> None:
    assert stadium_sections(0, 0) == []
