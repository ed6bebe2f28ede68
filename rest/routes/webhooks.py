"""Managers' webhook endpoints: register, list, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from rest.deps import SIGNED_IN, service_call
from rest.problems import problem_responses
from rest.schemas import CreatedWebhookOut, WebhookIn, WebhookOut
from ticketing.errors import ErrorCode
from ticketing.notifications import webhooks

router = APIRouter(tags=["webhooks"])
_PROBLEMS = problem_responses(
    ErrorCode.AUTH_REQUIRED, ErrorCode.INVALID_TOKEN, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND
)


@router.post(
    "/webhooks",
    status_code=201,
    summary="Managers: register a URL told of one event's changes, or of every event's",
    description="Deliveries are POSTs of JSON signed like the payment callbacks "
    '(`Ticketing-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) with the '
    "secret answered here, once; retried with backoff until a 2xx.",
    responses=_PROBLEMS,
    openapi_extra=SIGNED_IN,
)
async def create_webhook(body: WebhookIn, request: Request) -> CreatedWebhookOut:
    call = service_call(request)
    created = await webhooks.create_webhook(
        call.db,
        caller=await call.customer(),
        url=body.url,
        event_id=body.event_id,
        policy=call.settings.webhooks,
        now=call.now,
    )
    return CreatedWebhookOut.model_validate({**_fields(created.webhook), "secret": created.secret})


@router.get(
    "/webhooks",
    summary="Managers: the registered webhooks (without their secrets)",
    responses=_PROBLEMS,
    openapi_extra=SIGNED_IN,
)
async def list_webhooks(request: Request) -> list[WebhookOut]:
    call = service_call(request)
    found = await webhooks.list_webhooks(call.db, caller=await call.customer())
    return [WebhookOut.model_validate(_fields(view)) for view in found]


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    summary="Managers: tell this URL nothing more",
    responses=_PROBLEMS,
    openapi_extra=SIGNED_IN,
)
async def delete_webhook(webhook_id: int, request: Request) -> Response:
    call = service_call(request)
    await webhooks.delete_webhook(call.db, caller=await call.customer(), webhook_id=webhook_id)
    return Response(status_code=204)


def _fields(view: webhooks.WebhookView) -> dict[str, object]:
    return {
        "id": view.id,
        "url": view.url,
        "event_id": view.event_id,
        "created_at": view.created_at,
    }
