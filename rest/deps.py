"""What routes take from a request: the service call (`Call`), ids and instants as parameters,
and the OpenAPI declarations of the bearer token and the Idempotency-Key header."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BeforeValidator

from ticketing import idempotency, inputs
from ticketing.accounts import accounts
from ticketing.catalog.seatmaps import SeatMaps
from ticketing.db import Database
from ticketing.domain import Principal
from ticketing.errors import TicketingError
from ticketing.inputs import MAX_ID
from ticketing.settings import AuthPolicy, CartPolicy, PaymentPolicy, Settings
from ticketing.tickets.keys import TicketKeys

# The bearer scheme as OpenAPI declares it (the Authorize button of /docs signs in through
# POST /auth/token); routes read the token through `Call.viewer`.
bearer = OAuth2PasswordBearer(tokenUrl="auth/token", auto_error=False)


async def viewer_of(request: Request) -> Principal | None:
    """The signed-in caller, or None for an anonymous request; a bad token is INVALID_TOKEN
    (never silently anonymous). Looked up once per request."""
    if "viewer" in request.scope.get("state", {}):
        viewer: Principal | None = request.state.viewer
        return viewer
    viewer = await accounts.viewer(
        request.app.state.db,
        authorization=request.headers.get("authorization"),
        now=request.app.state.clock(),
    )
    request.state.viewer = viewer
    return viewer


@dataclass(frozen=True, slots=True)
class Call:
    """What a service call needs of a request: the database, the instant, the policies, the
    caller. Routes make it with `service_call` rather than injecting dependencies: FastAPI
    solves each injected dependency per request, which the on-sale routes would feel."""

    request: Request
    db: Database
    now: datetime
    settings: Settings
    idempotency_key: str | None

    @property
    def policy(self) -> CartPolicy:
        return self.settings.cart

    @property
    def payments(self) -> PaymentPolicy:
        return self.settings.payments

    @property
    def auth(self) -> AuthPolicy:
        return self.settings.auth

    @property
    def seat_maps(self) -> SeatMaps:
        seat_maps: SeatMaps = self.request.app.state.seat_maps
        return seat_maps

    @property
    def ticket_keys(self) -> TicketKeys:
        keys: TicketKeys = self.request.app.state.ticket_keys
        return keys

    @property
    def client(self) -> accounts.Client:
        """The caller's address and the app's throttle, for the sign-in and registration
        limits."""
        request = self.request
        address = request.client.host if request.client else None
        return accounts.Client(address=address, throttle=request.app.state.throttle)

    @property
    def authorization(self) -> str | None:
        return self.request.headers.get("authorization")

    async def viewer(self) -> Principal | None:
        """The signed-in caller (None: anonymous); routes that declare SIGN_IN_OPTIONAL or
        SIGNED_IN read it."""
        return await viewer_of(self.request)

    async def customer(self) -> Principal:
        """The signed-in caller of a route that needs one (SIGNED_IN)."""
        return accounts.required(await self.viewer())


def service_call(request: Request) -> Call:
    """`now` is taken here, once per request, so that one command sees one instant."""
    state = request.app.state
    return Call(
        request,
        state.db,
        state.clock(),
        state.settings,
        request.headers.get(idempotency.KEY_HEADER),
    )


_IDEMPOTENCY_KEY_SCHEMA = {
    "pattern": f"^{idempotency.KEY_PATTERN}$",
    "minLength": 1,
    "maxLength": idempotency.MAX_KEY_LENGTH,
}
_IDEMPOTENCY_KEY_DOC = (
    "Optional: a retry with the same key and request gets the first answer and acts once (kept "
    "24 h); the same key with another request is 422 IDEMPOTENCY_KEY_REUSED."
)
SIGNED_IN: dict[str, object] = {"security": [{bearer.scheme_name: []}]}
"""`openapi_extra` of a route that needs a signed-in caller (`Call.customer`)."""
SIGN_IN_OPTIONAL: dict[str, object] = {"security": [{bearer.scheme_name: []}, {}]}
"""`openapi_extra` of a route that serves anonymous callers too (`{}`: no token is fine); a
bearer token, when sent, is checked (401 INVALID_TOKEN)."""
COMMAND: dict[str, object] = {
    **SIGN_IN_OPTIONAL,
    "parameters": [
        {
            "name": idempotency.KEY_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string", **_IDEMPOTENCY_KEY_SCHEMA},
            "description": _IDEMPOTENCY_KEY_DOC,
        }
    ],
}
"""`openapi_extra` of a command route: the optional bearer token and the Idempotency-Key
header, which `Call` reads (the service checks the key)."""


def document_bearer_scheme(document: dict[str, Any]) -> None:
    """Declare the bearer scheme the routes' `security` names (no route injects `bearer`)."""
    schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[bearer.scheme_name] = bearer.model.model_dump(
        mode="json", by_alias=True, exclude_none=True
    )


def _ascii_id(value: object) -> object:
    """A path or query id as text: int() would also take "1_0" or another script's digits."""
    if isinstance(value, str) and inputs.lookup_id(value) is None:
        raise ValueError(f"must be {inputs.ID_RULE}")
    return value


AsciiId = BeforeValidator(_ascii_id)
VenueId = Annotated[int, Path(ge=1, le=MAX_ID, description="Venue id."), AsciiId]
EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="Event id."), AsciiId]
SectionId = Annotated[
    int,
    Path(ge=1, le=MAX_ID, description="Section id of the venue template (same in every event)."),
    AsciiId,
]
SeatId = Annotated[
    int,
    Path(ge=1, le=MAX_ID, description="Seat id of the venue template, scoped by the event."),
    AsciiId,
]


def _cart_id(value: object) -> object:
    if isinstance(value, str):
        try:
            return inputs.parse_cart_id(value)
        except TicketingError as exc:
            raise ValueError(exc.message) from None
    return value


CartId = Annotated[
    uuid.UUID,
    Path(
        description="The cart's id: a random uuid (version 4 or 7) the client made.",
        json_schema_extra={"pattern": f"^{inputs.CART_ID_PATTERN}$"},
    ),
    BeforeValidator(_cart_id),
]


def _instant_text(value: object) -> object:
    if isinstance(value, str) and not inputs.is_instant_text(value):
        raise ValueError("must be a date and time, ISO 8601 with offset (2027-01-01T20:00:00Z)")
    return value


InstantText = BeforeValidator(_instant_text)
"""A query instant is written as one: pydantic would also read a number as seconds since 1970."""
