"""Signed messages: `Ticketing-Signature: t=<unix seconds>,v1=<hex>`, as Stripe signs.

v1 is the hex HMAC-SHA256 with the shared secret of `"<t>.<payment id>.<outcome>"` for the payment
provider's callbacks, and of `"<t>.<request body>"` for our webhook deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable
from datetime import datetime

from ticketing.errors import ErrorCode, TicketingError

HEADER = "Ticketing-Signature"
SCHEME = "v1"
OUTCOMES = ("complete", "failed")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def signed_payload(*, timestamp: int, payment_id: uuid.UUID, outcome: str) -> bytes:
    return f"{timestamp}.{payment_id}.{outcome}".encode()


def sign(secret: str, *, payment_id: uuid.UUID, outcome: str, timestamp: int) -> str:
    """The header value a provider sends to report `outcome` for this payment."""
    payload = signed_payload(timestamp=timestamp, payment_id=payment_id, outcome=outcome)
    return _header(secret, payload, timestamp)


def sign_body(secret: str, *, body: bytes, timestamp: int) -> str:
    """The header value of a webhook delivery of `body`."""
    return _header(secret, str(timestamp).encode() + b"." + body, timestamp)


def _header(secret: str, payload: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},{SCHEME}={digest}"


def verify(
    secret: str,
    header: str | None,
    *,
    payment_id: uuid.UUID,
    outcome: str,
    now: datetime,
    tolerance_seconds: int,
) -> None:
    """Accept the header only if one of its v1 signatures is this payment's and outcome's,
    made within `tolerance_seconds` of `now` (either way: clocks drift); INVALID_SIGNATURE else.

    Several v1 values may be sent while a provider rotates its secret.
    """

    def expected(timestamp: int) -> str:
        return sign(secret, payment_id=payment_id, outcome=outcome, timestamp=timestamp)

    _verify(
        header,
        expected,
        now=now,
        tolerance_seconds=tolerance_seconds,
        what="this payment and outcome",
    )


def verify_body(
    secret: str, header: str | None, *, body: bytes, now: datetime, tolerance_seconds: int
) -> None:
    """What a webhook receiver does: accept `body` only when the header signs it, made within
    `tolerance_seconds` of `now`; INVALID_SIGNATURE else."""

    def expected(timestamp: int) -> str:
        return sign_body(secret, body=body, timestamp=timestamp)

    _verify(header, expected, now=now, tolerance_seconds=tolerance_seconds, what="this body")


def _verify(
    header: str | None,
    expected_header: Callable[[int], str],
    *,
    now: datetime,
    tolerance_seconds: int,
    what: str,
) -> None:
    if not header:
        raise _invalid(f"This route takes the payment provider's {HEADER} header.")
    timestamps: list[str] = []
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            digests.append(value.lower())
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]) or not digests:
        raise _invalid(f"{HEADER} must read t=<unix seconds>,{SCHEME}=<hex HMAC-SHA256>.")
    timestamp = int(timestamps[0])
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise _invalid(f"{HEADER} was made more than {tolerance_seconds} s away from now.")
    expected_digest = expected_header(timestamp).rpartition("=")[2]
    # compare_digest against every candidate: the time taken tells nothing about the secret
    matches = [hmac.compare_digest(expected_digest, d) for d in digests if _HEX_DIGEST.fullmatch(d)]
    if not any(matches):
        raise _invalid(f"{HEADER} does not match {what}.")


def _invalid(message: str) -> TicketingError:
    return TicketingError(ErrorCode.INVALID_SIGNATURE, message)
