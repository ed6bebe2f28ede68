"""A ticket's QR payload: what a door needs to know, signed so that a scanner can trust it
offline. `TKT1.<body>.<signature>`: base64url of compact JSON, base64url of an Ed25519
signature over the text before the second dot (the version is signed too)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ticketing.errors import ErrorCode, TicketingError

VERSION = "TKT1"
MAX_PAYLOAD = 2048
# JSON keys, short for a small QR code
_KEYS = {
    "code": "c",
    "event_id": "e",
    "event_name": "n",
    "starts_at": "t",
    "venue": "v",
    "section": "s",
    "row": "r",
    "seat": "m",
    "price_level": "p",
}


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What the payload says: the ticket's code and what the door checks without a network."""

    code: str
    event_id: int
    event_name: str
    starts_at: str  # ISO 8601, the venue's local time with its offset
    venue: str
    section: str
    row: str | None  # None, with seat, for a general-admission place
    seat: str | None
    price_level: str

    @property
    def place(self) -> str:
        if self.row is None or self.seat is None:
            return f"{self.section}, general admission"
        return f"{self.section}, row {self.row}, seat {self.seat}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def local_start(starts_at: datetime, timezone: str) -> str:
    """The event's start in its venue's time zone, to the minute, with the offset."""
    return starts_at.astimezone(ZoneInfo(timezone)).isoformat(timespec="minutes")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(facts: TicketFacts, key: Ed25519PrivateKey) -> str:
    body = orjson.dumps({_KEYS[name]: value for name, value in facts.as_dict().items()})
    signed = f"{VERSION}.{_b64(body)}"
    return f"{signed}.{_b64(key.sign(signed.encode('ascii')))}"


def _forged(reason: str) -> TicketingError:
    return TicketingError(ErrorCode.FORGED_TICKET, f"Not a valid ticket: {reason}.")


def verify(payload: str, key: Ed25519PublicKey) -> TicketFacts:
    """The facts of a payload signed by `key`; FORGED_TICKET, with the reason, for anything
    else (another format, a changed byte, another key)."""
    payload = payload.strip()
    if len(payload) > MAX_PAYLOAD or not payload.isascii():
        raise _forged("not a ticket payload")
    version, _, rest = payload.partition(".")
    body_text, _, signature_text = rest.partition(".")
    if version != VERSION or not body_text or not signature_text:
        raise _forged(f"not a {VERSION} ticket payload")
    try:
        signature = _unb64(signature_text)
        body = _unb64(body_text)
    except (binascii.Error, ValueError):
        raise _forged("the payload is not base64url") from None
    try:
        key.verify(signature, f"{version}.{body_text}".encode("ascii"))
    except InvalidSignature:
        raise _forged(
            "the signature does not match (changed, or signed with another key)"
        ) from None
    try:
        fields = orjson.loads(body)
        facts = TicketFacts(**{name: fields[short] for name, short in _KEYS.items()})
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise _forged("the signed body is not a ticket") from None
    return facts
