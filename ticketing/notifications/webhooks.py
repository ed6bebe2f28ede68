"""Webhook endpoints: managers register URLs told of one event's changes or of every event's;
each gets a secret, shown once, that signs its deliveries."""

from __future__ import annotations

import dataclasses
import ipaddress
import secrets
import socket
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.catalog.queries import require_event
from ticketing.db import command, query
from ticketing.domain import Principal
from ticketing.errors import not_found
from ticketing.inputs import invalid
from ticketing.management.commands import require_manager
from ticketing.models import webhook_t
from ticketing.settings import WebhookPolicy

MAX_URL_LENGTH = 2000


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookView:
    id: int
    url: str
    event_id: int | None
    """None: every event's changes."""
    created_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class CreatedWebhook:
    webhook: WebhookView
    secret: str
    """The key of the deliveries' HMAC-SHA256 signatures; not shown again."""


def check_url(url: str, policy: WebhookPolicy) -> str:
    """http or https, a host, no credentials; a literal loopback, private or link-local address
    (or localhost) only when the policy allows private targets: the server calls these URLs."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise invalid(f"A webhook URL has at most {MAX_URL_LENGTH} characters.", "url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as exc:
        raise invalid(f"Not a URL: {exc}.", "url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("A webhook URL is http:// or https:// with a host.", "url")
    if parts.username is not None or parts.password is not None:
        raise invalid("A webhook URL carries no credentials: deliveries are signed.", "url")
    if not policy.allow_private and _is_private(parts.hostname):
        raise invalid(
            "A webhook URL must name a public host: the server calls it, and loopback or "
            "private addresses are refused.",
            "url",
        )
    return url


def _is_private(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not _is_public_address(host)
    except ValueError:
        return False  # a name: checked again, resolved, at each delivery (refused_address)


def _is_public_address(address: str) -> bool:
    """A global address (not loopback, private, link-local...); ValueError for a host name."""
    return ipaddress.ip_address(address.split("%")[0]).is_global


def refused_address(url: str, *, allow_private: bool) -> str | None:
    """Why the server must not call `url` (a loopback, private, link-local or otherwise
    non-public address), or None. Host names are resolved: what they name now counts."""
    if allow_private:
        return None
    host = urlsplit(url).hostname or ""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        return f"{host} does not resolve: {exc}"
    for address in addresses:
        if not _is_public_address(address):
            return f"{host} is a non-public address ({address})"
    return None


def _view(row: Any) -> WebhookView:
    return WebhookView(id=row.id, url=row.url, event_id=row.event_id, created_at=row.created_at)


_COLUMNS = (webhook_t.c.id, webhook_t.c.url, webhook_t.c.event_id, webhook_t.c.created_at)


@command
async def create_webhook(
    conn: AsyncConnection,
    *,
    caller: Principal | None,
    url: str,
    event_id: int | None,
    policy: WebhookPolicy,
    now: datetime,
) -> CreatedWebhook:
    """A manager registers `url` for one event's changes, or (no event) every event's."""
    manager = require_manager(caller, "manage webhooks")
    url = check_url(url, policy)
    if event_id is not None:
        await require_event(conn, event_id, caller)
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = (
        await conn.execute(
            webhook_t.insert()
            .values(
                url=url,
                event_id=event_id,
                secret=secret,
                created_by=manager.user_id or None,
                created_at=now,
            )
            .returning(*_COLUMNS)
        )
    ).one()
    return CreatedWebhook(webhook=_view(row), secret=secret)


@query
async def list_webhooks(conn: AsyncConnection, *, caller: Principal | None) -> list[WebhookView]:
    require_manager(caller, "manage webhooks")
    rows = await conn.execute(sa.select(*_COLUMNS).order_by(webhook_t.c.id))
    return [_view(row) for row in rows]


@command
async def delete_webhook(
    conn: AsyncConnection, *, caller: Principal | None, webhook_id: int
) -> WebhookView:
    """The endpoint is told nothing more; its deliveries still pending end as dead letters."""
    require_manager(caller, "manage webhooks")
    row = (
        await conn.execute(
            webhook_t.delete().where(webhook_t.c.id == webhook_id).returning(*_COLUMNS)
        )
    ).one_or_none()
    if row is None:
        raise not_found("Webhook", webhook_id, field="webhook_id")
    return _view(row)
