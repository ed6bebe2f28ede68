"""Managers' webhook endpoints: `webhooks` to list them, `createWebhook`, `deleteWebhook`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from schema.common import UserError, attempt, lookup_id, parse_id
from schema.context import Info
from ticketing.notifications import webhooks


@strawberry.type(description="A URL told of one event's changes, or of every event's.")
class Webhook:
    id: strawberry.ID = strawberry.field(description="The webhook's id.")
    url: str = strawberry.field(description="Where deliveries are POSTed.")
    event_id: strawberry.ID | None = strawberry.field(description="Null: every event.")
    created_at: datetime = strawberry.field(description="When a manager registered it.")

    @classmethod
    def of(cls, view: webhooks.WebhookView) -> Webhook:
        return cls(
            id=strawberry.ID(str(view.id)),
            url=view.url,
            event_id=None if view.event_id is None else strawberry.ID(str(view.event_id)),
            created_at=view.created_at,
        )


@strawberry.input(description="A URL to call, for one event or (no eventId) every event.")
class CreateWebhookInput:
    url: str = strawberry.field(
        description="http or https, no credentials; called from the server, so loopback and "
        "private addresses are refused."
    )
    event_id: strawberry.ID | None = strawberry.field(default=None, description="The event.")


@strawberry.type(description="The new webhook and its secret, or why not.")
class CreateWebhookPayload:
    webhook: Webhook | None = strawberry.field(description="Null on error.")
    secret: str | None = strawberry.field(
        description="Signs every delivery (Ticketing-Signature); shown only now: keep it."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="The webhook to delete.")
class DeleteWebhookInput:
    webhook_id: strawberry.ID = strawberry.field(description="The webhook's id.")


@strawberry.type(description="The deleted webhook, or why not.")
class DeleteWebhookPayload:
    webhook: Webhook | None = strawberry.field(description="The deleted webhook; null on error.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed.")


WHAT = strawberry.argument(description="What to do.")


async def create_webhook(
    info: Info, input: Annotated[CreateWebhookInput, WHAT]
) -> CreateWebhookPayload:
    context = info.context

    async def run() -> webhooks.CreatedWebhook:
        return await context.call(
            webhooks.create_webhook,
            caller=await context.viewer(),
            url=input.url,
            event_id=None if input.event_id is None else parse_id(input.event_id, field="event_id"),
            policy=context.settings.webhooks,
            now=context.now,
        )

    created, errors = await attempt(run())
    if created is None:
        return CreateWebhookPayload(webhook=None, secret=None, user_errors=errors)
    return CreateWebhookPayload(
        webhook=Webhook.of(created.webhook), secret=created.secret, user_errors=[]
    )


async def delete_webhook(
    info: Info, input: Annotated[DeleteWebhookInput, WHAT]
) -> DeleteWebhookPayload:
    context = info.context

    async def run() -> webhooks.WebhookView:
        return await context.call(
            webhooks.delete_webhook,
            caller=await context.viewer(),
            webhook_id=lookup_id(input.webhook_id) or 0,
        )

    deleted, errors = await attempt(run())
    return DeleteWebhookPayload(
        webhook=None if deleted is None else Webhook.of(deleted), user_errors=errors
    )


@strawberry.type
class WebhooksMutation:
    create_webhook = strawberry.mutation(
        resolver=create_webhook,
        description="Managers: a URL that receives signed deliveries of changes (order "
        "confirmed, payment failed or expired, event cancelled), retried until a 2xx.",
    )
    delete_webhook = strawberry.mutation(
        resolver=delete_webhook, description="Managers: tell this URL nothing more."
    )


@strawberry.type
class WebhooksQuery:
    @strawberry.field(description="Managers: the registered webhooks; FORBIDDEN for others.")
    async def webhooks(self, info: Info) -> list[Webhook]:
        context = info.context
        found = await context.call(webhooks.list_webhooks, caller=await context.viewer())
        return [Webhook.of(view) for view in found]
