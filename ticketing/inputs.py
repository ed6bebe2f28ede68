"""Input rules both doors share: ids, text, currencies, uuids (bad ones: VALIDATION_ERROR)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime

from ticketing.errors import ErrorCode, TicketingError

MAX_ID = 2_147_483_647
"""Ids are 32-bit in the database; anything outside is a client error, never a database error."""
ID_RULE = f"a positive integer id of ASCII digits, at most {MAX_ID}"
"""What an id must be, as both doors tell a client."""

_ID = re.compile(r"[0-9]{1,10}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# The canonical text form of RFC 9562 (either case); Python's uuid also takes braces, urn: and
# bare hex, so the same id could be written many ways.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
CART_ID_PATTERN = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[47][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
)
"""A cart id as text: a random uuid (version 4 or 7 of RFC 9562's variant), canonical form."""
_CART_ID = re.compile(CART_ID_PATTERN)
_REFUSED_CATEGORIES = {"Cc", "Cs"}  # control characters, and lone surrogates no database stores
# An instant as text starts with a date and a time of day (ISO 8601); without this, a number of
# seconds since 1970 would pass for one too.
_INSTANT_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


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
        raise invalid(f"{field} must be {ID_RULE}.", field)
    return value


def check_id(value: int, *, field: str) -> int:
    if not 0 < value <= MAX_ID:
        raise invalid(f"{field} must be {ID_RULE}.", field)
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


def is_instant_text(text: str) -> bool:
    """Whether text is written as an instant (date and time), whatever else it needs."""
    return _INSTANT_TEXT.match(text) is not None


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


def parse_uuid(text: str, *, field: str) -> uuid.UUID:
    """A uuid in canonical text form (8-4-4-4-12 hex digits)."""
    if not _UUID.fullmatch(text):
        raise invalid(f"{field} must be a uuid in canonical form ({_EXAMPLE_UUID}).", field)
    return uuid.UUID(text)


def parse_cart_id(text: str, *, field: str = "cart_id") -> uuid.UUID:
    """A cart id as a client sends it: a random uuid (version 4 or 7) in canonical form."""
    if not _CART_ID.fullmatch(text):
        raise _weak_cart_id(field)
    return uuid.UUID(text)


def check_cart_id(value: uuid.UUID, *, field: str = "cart_id") -> uuid.UUID:
    """Whoever knows an unbound cart's id may use the cart: the nil uuid and versions that are
    not random (1, 3, 5, 6, 8) could be guessed. (CART_ID_PATTERN is this rule for text.)"""
    if value.variant != uuid.RFC_4122 or value.version not in (4, 7):
        raise _weak_cart_id(field)
    return value


_EXAMPLE_UUID = "6b1f3c1e-8a43-4b7e-9a51-2f7c1d0e9a11"


def _weak_cart_id(field: str) -> TicketingError:
    return invalid(
        f"{field} must be a random uuid (version 4 or 7) in canonical form, e.g. {_EXAMPLE_UUID}.",
        field,
    )
