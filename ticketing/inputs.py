"""Input rules both doors share: ids, text, currencies, cart ids (bad ones: VALIDATION_ERROR)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime

from ticketing.errors import ErrorCode, TicketingError

MAX_ID = 2_147_483_647
"""Ids are 32-bit in the database; anything outside is a client error, never a database error."""

_ID = re.compile(r"[0-9]{1,10}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# The canonical text form of RFC 9562 (either case), version 4 (random) or 7 (time and random),
# the RFC's variant: a cart id is a capability, so it must be one a client drew at random.
_CART_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE
)
_REFUSED_CATEGORIES = {"Cc", "Cs"}  # control characters, and lone surrogates no database stores


def invalid(message: str, field: str) -> TicketingError:
    return TicketingError(ErrorCode.VALIDATION_ERROR, message, field=(field,))


def lookup_id(text: str) -> int | None:
    """An id written as ASCII digits within range; None for anything that cannot be one."""
    # int() alone takes other scripts' digits, spaces and underscores, and is slow on long input
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def parse_id(text: str, *, field: str) -> int:
    value = lookup_id(text)
    if value is None:
        raise invalid(f"{field} must be a positive integer id (ASCII digits).", field)
    return value


def check_id(value: int, *, field: str) -> int:
    if not 0 < value <= MAX_ID:
        raise invalid(f"{field} must be between 1 and {MAX_ID}.", field)
    return value


def clean_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """Text as stored: stripped, within length, without control characters."""
    value = value.strip()
    if required and not value:
        raise invalid(f"{field} must not be empty.", field)
    if len(value) > max_length:
        raise invalid(f"{field} has at most {max_length} characters.", field)
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in value):
        raise invalid(f"{field} must not contain control characters.", field)
    return value


def check_instant(value: datetime, *, field: str) -> datetime:
    """An instant with a UTC offset that UTC can represent (no naive or out-of-range times)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise invalid(f"{field} needs a UTC offset (e.g. 2027-01-01T00:00:00+00:00).", field)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise invalid(f"{field} is out of range.", field) from None


def parse_currency(value: str, *, field: str = "currency") -> str:
    """An ISO 4217 code: three ASCII letters, stored upper case."""
    code = value.strip()
    if not (code.isascii() and _CURRENCY.fullmatch(code.upper())):
        raise invalid(f"{field} is an ISO 4217 code of three letters, such as EUR.", field)
    return code.upper()


def parse_cart_id(text: str, *, field: str = "cart_id") -> uuid.UUID:
    """A cart id as a client sends it: a random uuid (version 4 or 7) in canonical form."""
    if not _CART_ID.fullmatch(text):
        raise _weak_cart_id(field)
    return uuid.UUID(text)


def check_cart_id(value: uuid.UUID, *, field: str = "cart_id") -> uuid.UUID:
    """`parse_cart_id` for a uuid parsed already: the nil uuid and guessable versions are
    refused (whoever knows an unbound cart's id may use it)."""
    if value.variant != uuid.RFC_4122 or value.version not in (4, 7):
        raise _weak_cart_id(field)
    return value


def _weak_cart_id(field: str) -> TicketingError:
    return invalid(
        f"{field} must be a random uuid (version 4 or 7) in canonical form, e.g. "
        "6b1f3c1e-8a43-4b7e-9a51-2f7c1d0e9a11.",
        field,
    )
