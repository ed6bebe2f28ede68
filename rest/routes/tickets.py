"""Tickets at the door: the key that verifies their QR codes, and check-in."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from rest.deps import SIGNED_IN, EventId, service_call
from rest.problems import problem_responses
from rest.schemas import AdmissionOut, CheckInIn
from ticketing.errors import ErrorCode
from ticketing.tickets import checkin

router = APIRouter()
PEM = "application/x-pem-file"


@router.get(
    "/tickets/public-key",
    tags=["tickets"],
    summary="The Ed25519 public key (PEM) that verifies tickets' QR payloads offline",
    response_class=Response,
    responses={
        200: {
            "content": {PEM: {"schema": {"type": "string"}}},
            "description": "The key; it carries an ETag (send it in If-None-Match).",
        },
        304: {"description": "Not modified: the `If-None-Match` ETag is still current."},
    },
)
async def public_key(request: Request) -> Response:
    keys = service_call(request).ticket_keys
    headers = {"ETag": keys.etag, "Cache-Control": "public, max-age=3600"}
    if keys.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(keys.public_pem, media_type=PEM, headers=headers)


@router.post(
    "/events/{event_id}/checkins",
    tags=["tickets"],
    summary="Check a scanned ticket in: the first scan admits, later ones are refused",
    description="For scanners and event managers. The payload is the text of the ticket's QR "
    "code. A second scan of one ticket is 409 ALREADY_CHECKED_IN with `checked_in_at`, the time "
    "of the first.",
    responses=problem_responses(
        ErrorCode.AUTH_REQUIRED,
        ErrorCode.FORBIDDEN,
        ErrorCode.FORGED_TICKET,
        ErrorCode.WRONG_EVENT,
        ErrorCode.TICKET_VOID,
        ErrorCode.ALREADY_CHECKED_IN,
        ErrorCode.NOT_FOUND,
    ),
    openapi_extra=SIGNED_IN,
)
async def check_in(event_id: EventId, body: CheckInIn, request: Request) -> AdmissionOut:
    call = service_call(request)
    admission = await checkin.check_in(
        call.db,
        event_id=event_id,
        ticket_payload=body.payload,
        public_key=call.ticket_keys.public_key,
        caller=await call.viewer(),
        now=call.now,
    )
    return AdmissionOut.of(admission)
