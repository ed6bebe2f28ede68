"""The one error vocabulary: codes both API doors report, and the exception services raise."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class ErrorCode(enum.StrEnum):
    """Stable machine-readable codes; REST maps them to statuses, GraphQL to an enum."""

    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    SEAT_NOT_AVAILABLE = "SEAT_NOT_AVAILABLE"
    PRICE_NOT_OFFERED = "PRICE_NOT_OFFERED"
    CART_EMPTY = "CART_EMPTY"
    CART_NOT_OPEN = "CART_NOT_OPEN"
    CART_LIMIT = "CART_LIMIT"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    PAYMENT_FINALIZED = "PAYMENT_FINALIZED"
    PAYMENT_EXPIRED = "PAYMENT_EXPIRED"
    SERVICE_BUSY = "SERVICE_BUSY"
    RESULT_TOO_LARGE = "RESULT_TOO_LARGE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    AUTH_REQUIRED = "AUTH_REQUIRED"
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 (an error code)
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    FORBIDDEN = "FORBIDDEN"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    EVENT_NOT_ON_SALE = "EVENT_NOT_ON_SALE"
    SECTION_IN_USE = "SECTION_IN_USE"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    PAYMENT_NOT_COMPLETED = "PAYMENT_NOT_COMPLETED"
    FORGED_TICKET = "FORGED_TICKET"
    WRONG_EVENT = "WRONG_EVENT"
    TICKET_VOID = "TICKET_VOID"
    ALREADY_CHECKED_IN = "ALREADY_CHECKED_IN"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class TicketingError(Exception):
    """An expected failure: the command changed nothing and the caller can act on `code`."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: tuple[str, ...] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.context: dict[str, Any] = dict(context or {})

    @property
    def extensions(self) -> dict[str, Any]:
        """Machine-readable part; GraphQL errors raised from this carry it as `extensions`."""
        return {"code": self.code.value}

    def __repr__(self) -> str:
        return f"TicketingError({self.code.value}, {self.message!r})"


def forbidden(action: str) -> TicketingError:
    return TicketingError(
        ErrorCode.FORBIDDEN, f"Only event managers may {action}.", context={"action": action}
    )


def not_found(what: str, ident: object, *, field: str | None = None) -> TicketingError:
    return TicketingError(
        ErrorCode.NOT_FOUND,
        f"{what} {ident} does not exist.",
        field=(field,) if field else None,
    )
