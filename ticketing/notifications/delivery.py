"""The delivery worker: claims due outbox messages under a lease, sends them (SMTP, .eml files,
signed webhooks), records each as sent, retried later with backoff, or dead."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketing.db import Database, command, query
from ticketing.models import outbox_t, webhook_t
from ticketing.notifications.messages import (
    Outgoing,
    compose_mail,
    confirmation_attachments,
    email_message,
    message_id,
    webhook_body,
)
from ticketing.notifications.outbox import EMAIL, Kind
from ticketing.notifications.webhooks import refused_address
from ticketing.payments import signatures
from ticketing.settings import DeliveryPolicy, Settings
from ticketing.tickets.keys import TicketKeys, ticket_keys

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PENDING, SENT, DEAD = "pending", "sent", "dead"
MESSAGE_ID_HEADER = "Ticketing-Message-Id"
_OUTGOING = tuple(outbox_t.c[field.name] for field in dataclasses.fields(Outgoing))


def utc_now() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


# --- the outbox's state changes ---------------------------------------------------------------


@query
async def count_due(conn: AsyncConnection, *, now: datetime) -> int:
    """Messages a worker could take now (a read, so idle workers take no write lock)."""
    due = await conn.scalar(
        sa.select(sa.func.count())
        .select_from(outbox_t)
        .where(outbox_t.c.status == PENDING, outbox_t.c.next_attempt_at <= now)
    )
    return int(due or 0)


@command
async def claim(
    conn: AsyncConnection, *, worker: str, now: datetime, limit: int, lease_seconds: float
) -> list[Outgoing]:
    """Take up to `limit` due messages for `lease_seconds`: nobody else takes them meanwhile
    (PostgreSQL skips rows another worker is claiming; SQLite has one writer at a time)."""
    due = (
        sa.select(outbox_t.c.id)
        .where(outbox_t.c.status == PENDING, outbox_t.c.next_attempt_at <= now)
        .order_by(outbox_t.c.next_attempt_at, outbox_t.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await conn.execute(
        sa.update(outbox_t)
        .where(
            outbox_t.c.id.in_(due.scalar_subquery()),
            outbox_t.c.status == PENDING,
            outbox_t.c.next_attempt_at <= now,
        )
        .values(
            claimed_by=worker,
            next_attempt_at=now + timedelta(seconds=lease_seconds),
            attempts=outbox_t.c.attempts + 1,
        )
        .returning(*_OUTGOING)
    )
    return sorted((Outgoing(*row) for row in rows), key=lambda message: message.id)


@command
async def mark_sent(conn: AsyncConnection, *, message_id: int, now: datetime) -> None:
    await conn.execute(
        sa.update(outbox_t)
        .where(outbox_t.c.id == message_id, outbox_t.c.status == PENDING)
        .values(status=SENT, sent_at=now, claimed_by=None, last_error=None)
    )


@command
async def mark_failed(
    conn: AsyncConnection,
    *,
    message: Outgoing,
    worker: str,
    error: str,
    now: datetime,
    policy: DeliveryPolicy,
    permanent: bool = False,
) -> str:
    """Retry later, with exponential backoff and jitter, or give up (dead) after the last
    attempt; only while the message is still this worker's claim."""
    dead = permanent or message.attempts >= policy.max_attempts
    wait = min(policy.backoff_seconds * 2 ** (message.attempts - 1), policy.max_backoff_seconds)
    await conn.execute(
        sa.update(outbox_t)
        .where(
            outbox_t.c.id == message.id,
            outbox_t.c.status == PENDING,
            outbox_t.c.claimed_by == worker,
        )
        .values(
            status=DEAD if dead else PENDING,
            next_attempt_at=now + timedelta(seconds=wait * random.uniform(0.5, 1.0)),
            claimed_by=None,
            last_error=error[:2000],
        )
    )
    return DEAD if dead else PENDING


@command
async def give_back(
    conn: AsyncConnection, *, message_ids: Sequence[int], worker: str, now: datetime
) -> None:
    """Claimed messages this worker did not try (its lease was running out): due again now."""
    await conn.execute(
        sa.update(outbox_t)
        .where(
            outbox_t.c.id.in_(list(message_ids)),
            outbox_t.c.status == PENDING,
            outbox_t.c.claimed_by == worker,
        )
        .values(claimed_by=None, next_attempt_at=now, attempts=outbox_t.c.attempts - 1)
    )


@query
async def webhook_secret(conn: AsyncConnection, *, webhook_id: int) -> str | None:
    secret: str | None = await conn.scalar(
        sa.select(webhook_t.c.secret).where(webhook_t.c.id == webhook_id)
    )
    return secret


# --- transports -------------------------------------------------------------------------------


class UndeliverableError(Exception):
    """A message that no retry will deliver (its webhook was deleted)."""


class Mailbox:
    """E-mail out: over SMTP when a host is set (one connection per batch), else into
    `data_dir/mail` as .eml files named by the message (a retry rewrites the same file)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._smtp: aiosmtplib.SMTP | None = None
        self.directory = Path(settings.data_dir) / "mail"

    async def send(self, email: EmailMessage, *, name: str) -> None:
        if self._settings.smtp_host is None:
            await asyncio.to_thread(self._write, email, name)
            return
        if self._smtp is None:
            self._smtp = await self._connect()
        try:
            await self._smtp.send_message(email)
        except Exception:
            await self.close()  # a broken conversation is not reused
            raise

    def _write(self, email: EmailMessage, name: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{name}.eml"
        partial = target.with_suffix(".eml.partial")
        partial.write_bytes(bytes(email))
        partial.replace(target)  # whole or absent, for whoever reads the directory

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self._settings
        tls = settings.smtp_tls
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port or {"none": 25, "starttls": 587, "tls": 465}[tls],
            use_tls=tls == "tls",
            start_tls=tls == "starttls",
            username=settings.smtp_username,
            password=password,
            timeout=settings.delivery.timeout_seconds,
        )
        await smtp.connect()
        return smtp

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(Exception):
                await smtp.quit()


# --- the worker -------------------------------------------------------------------------------


class Deliverer:
    """One worker: takes batches of due messages and delivers them, one after another."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        keys: TicketKeys | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._policy = settings.delivery
        self._clock = clock
        self.name = worker_name()
        self.mailbox = Mailbox(settings)
        self._keys = keys
        """The tickets' signing keys: given by an app that has them, else read when first needed."""
        self._http = httpx.AsyncClient(timeout=self._policy.timeout_seconds, follow_redirects=False)

    async def deliver_due(self) -> int:
        """One batch; returns how many messages it took."""
        if not await count_due(self._db, now=self._clock()):
            return 0
        started = time.monotonic()
        batch = await claim(
            self._db,
            worker=self.name,
            now=self._clock(),
            limit=self._policy.batch_size,
            lease_seconds=self._policy.lease_seconds,
        )
        # Stop trying while there is time to record the outcome within the lease: past it,
        # another worker may take the message and send it too.
        deadline = started + self._policy.lease_seconds - 2 * self._policy.timeout_seconds
        try:
            for index, message in enumerate(batch):
                if time.monotonic() > deadline:
                    rest = [later.id for later in batch[index:]]
                    await give_back(self._db, message_ids=rest, worker=self.name, now=self._clock())
                    break
                await self._deliver(message)
        finally:
            await self.mailbox.close()
        return len(batch)

    async def _deliver(self, message: Outgoing) -> None:
        try:
            if message.channel == EMAIL:
                await self._send_email(message)
            else:
                await self._call_webhook(message)
        except Exception as exc:
            permanent = isinstance(exc, UndeliverableError)
            status = await mark_failed(
                self._db,
                message=message,
                worker=self.name,
                error=f"{type(exc).__name__}: {exc}",
                now=self._clock(),
                policy=self._policy,
                permanent=permanent,
            )
            log.log(
                logging.ERROR if status == DEAD else logging.WARNING,
                "message %d (%s to %s), attempt %d: %s%s",
                message.id,
                message.kind,
                message.recipient,
                message.attempts,
                exc,
                "; a dead letter now" if status == DEAD else "; retried later",
            )
            return
        # Sent and not yet recorded: a crash here is the one window in which the message
        # could go twice; the same Message-ID (webhooks: the same id) lets the receiver tell.
        await mark_sent(self._db, message_id=message.id, now=self._clock())

    async def _send_email(self, message: Outgoing) -> None:
        mail = await compose_mail(self._db, message=message)
        if message.kind == Kind.ORDER_CONFIRMED:
            if self._keys is None:  # read (or made) once, off the event loop
                self._keys = await asyncio.to_thread(ticket_keys, self._settings)
            attachments = await confirmation_attachments(
                self._db,
                payment_id=uuid.UUID(message.facts["payment_id"]),
                keys=self._keys,
                now=self._clock(),
            )
            mail = dataclasses.replace(mail, attachments=attachments)
        email = email_message(message, mail, mail_from=self._settings.mail_from)
        await self.mailbox.send(email, name=f"{message.id:08d}-{message.kind}")

    async def _call_webhook(self, message: Outgoing) -> None:
        assert message.webhook_id is not None
        secret = await webhook_secret(self._db, webhook_id=message.webhook_id)
        if secret is None:
            raise UndeliverableError(f"webhook {message.webhook_id} was deleted")
        refused = await asyncio.to_thread(
            refused_address, message.recipient, allow_private=self._settings.webhooks.allow_private
        )
        if refused is not None:
            raise RuntimeError(f"not called: {refused}")
        body = webhook_body(message)
        timestamp = int(self._clock().timestamp())
        response = await self._http.post(
            message.recipient,
            content=body,
            headers={
                "content-type": "application/json",
                signatures.HEADER: signatures.sign_body(secret, body=body, timestamp=timestamp),
                MESSAGE_ID_HEADER: message_id(message, self._settings.mail_from),
                "user-agent": "ticketing-webhooks",
            },
        )
        if not response.is_success:
            raise RuntimeError(f"answered {response.status_code}")

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver until `stop` is set (or the task is cancelled); a failed round (the database
        away) is tried again after the poll interval."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                taken = await self.deliver_due()
            except Exception:
                log.exception("delivery round failed")
                taken = 0
            if not taken:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._policy.poll_seconds)

    async def aclose(self) -> None:
        await self.mailbox.close()
        await self._http.aclose()
