"""FastAPI dependencies: the app's database, the command's `now`, the policies, the caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BeforeValidator

from ticketing import idempotency, inputs
from ticketing.accounts import accounts
from ticketing.catalog.seatmaps import SeatMaps
from ticketing.db import Database
from ticketing.domain import Principal
from ticketing.errors import TicketingError
from ticketing.inputs import MAX_ID
from ticketing.settings import AuthPolicy, CartPolicy, PaymentPolicy

# Declares the bearer scheme in OpenAPI (the Authorize button of /docs signs in through
# POST /auth/token); the token itself is read by `viewer_of`.
bearer = OAuth2PasswordBearer(tokenUrl="auth/token", auto_error=False)


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# Dependencies are `async def`: FastAPI runs a plain `def` one in a worker thread, a thread hop
# per request for nothing.


async def get_now(request: Request) -> datetime:
    """Taken once per request and passed down, so that one command sees one instant."""
    now: datetime = request.app.state.clock()
    return now


async def get_policy(request: Request) -> CartPolicy:
    policy: CartPolicy = request.app.state.settings.cart_policy
    return policy


async def get_auth_policy(request: Request) -> AuthPolicy:
    policy: AuthPolicy = request.app.state.settings.auth_policy
    return policy


async def get_client(request: Request) -> accounts.Client:
    """The caller's address and the app's throttle, for the sign-in and registration limits."""
    address = request.client.host if request.client else None
    return accounts.Client(address=address, throttle=request.app.state.throttle)


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


async def get_viewer(
    request: Request, _token: Annotated[str | None, Depends(bearer)]
) -> Principal | None:
    return await viewer_of(request)


async def get_customer(viewer: Annotated[Principal | None, Depends(get_viewer)]) -> Principal:
    return accounts.required(viewer)


async def get_seat_maps(request: Request) -> SeatMaps:
    seat_maps: SeatMaps = request.app.state.seat_maps
    return seat_maps


@dataclass(frozen=True, slots=True)
class Call:
    """What a service call needs of a request: the database, the instant, the policy, the
    caller."""

    db: Database
    now: datetime
    policy: CartPolicy
    payments: PaymentPolicy
    viewer: Principal | None
    idempotency_key: str | None


async def service_call(request: Request) -> Call:
    """The hot cart and payment routes take this instead of injected dependencies: FastAPI
    solves each injected dependency per request. Routes using it declare what it reads with
    `SERVICE_CALL`."""
    state = request.app.state
    settings = state.settings
    return Call(
        state.db,
        state.clock(),
        settings.cart_policy,
        settings.payment_policy,
        await viewer_of(request),
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
SIGN_IN_OPTIONAL: dict[str, object] = {"security": [{bearer.scheme_name: []}, {}]}
"""`openapi_extra` of a route that serves anonymous callers too (`{}`: no token is fine); a
bearer token, when sent, is checked (401 INVALID_TOKEN). FastAPI would declare it required."""
SERVICE_CALL: dict[str, object] = {
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
"""`openapi_extra` of a route on `service_call`: the optional bearer token and the
Idempotency-Key header it reads itself (as `ViewerDep` and `IdempotencyKeyDep` declare them)."""

IdempotencyKeyDep = Annotated[
    str | None,
    Header(
        alias=idempotency.KEY_HEADER,
        description=_IDEMPOTENCY_KEY_DOC,
        json_schema_extra=_IDEMPOTENCY_KEY_SCHEMA,
    ),
]
DbDep = Annotated[Database, Depends(get_db)]
NowDep = Annotated[datetime, Depends(get_now)]
PolicyDep = Annotated[CartPolicy, Depends(get_policy)]
SeatMapsDep = Annotated[SeatMaps, Depends(get_seat_maps)]
AuthPolicyDep = Annotated[AuthPolicy, Depends(get_auth_policy)]
ClientDep = Annotated[accounts.Client, Depends(get_client)]
ViewerDep = Annotated[Principal | None, Depends(get_viewer)]
CustomerDep = Annotated[Principal, Depends(get_customer)]


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
