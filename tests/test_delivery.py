"""The delivery worker against a real SMTP server (aiosmtpd) and a real HTTP receiver (uvicorn)
in the test process: messages arrive once, wait out an SMTP outage, survive a killed worker."""

from __future__ import annotations

import asyncio
import collections
import email
import email.policy
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import FakeClock
from tests.factories import MANAGER, EventFixture
from tests.server import TICKETING, cli_env, free_port
from tests.service.steps import CARTS, PAYMENTS
from ticketing.accounts import accounts
from ticketing.db import Database, command, query
from ticketing.domain import Principal, Role
from ticketing.errors import TicketingError
from ticketing.models import cart_t, outbox_t, payment_t, user_t
from ticketing.notifications import webhooks
from ticketing.notifications.delivery import Deliverer
from ticketing.orders.booking import book_cart
from ticketing.orders.holds import add_seat_to_cart
from ticketing.payments import signatures
from ticketing.payments.payments import complete_payment
from ticketing.settings import DeliveryPolicy, Settings, WebhookPolicy
from ticketing.tickets.documents import order_pdf
from ticketing.tickets.keys import ticket_keys

FAST = DeliveryPolicy(
    in_serve=False,
    max_attempts=3,
    backoff_seconds=60,
    lease_seconds=60,
    poll_seconds=0.05,
    timeout_seconds=5,
    batch_size=50,
)


class Inbox:
    """What the SMTP server received, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 OK"

    def ids(self) -> collections.Counter[str]:
        with self.lock:
            return collections.Counter(str(m["Message-ID"]) for m in self.messages)


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_tls": "none",
            "mail_from": "Tickets <tickets@shop.example>",
            "delivery": FAST,
        }
    )


@pytest.fixture
def db(own_db: Database) -> Database:
    """These tests need no HTTP app: the service's database alone (conftest's `event` too)."""
    return own_db


async def _paid_order(
    db: Database, event: EventFixture, clock: FakeClock, settings: Settings, seats: list[int]
) -> uuid.UUID:
    user = await accounts.register(
        db,
        email=f"fan{uuid.uuid4().hex[:6]}@example.com",
        password="correct horse battery",
        now=clock.now,
        policy=settings.auth,
        client=None,
    )
    fan = Principal(user_id=user.id, email=user.email, role=user.role)
    cart = uuid.uuid4()
    for seat in seats:
        await add_seat_to_cart(
            db,
            cart_id=cart,
            event_id=event.event_id,
            seat_id=seat,
            price_id=event.price_ids["Adult"],
            now=clock.now,
            policy=CARTS,
            caller=fan,
        )
    payment = await book_cart(db, cart_id=cart, now=clock.now, policy=CARTS, caller=fan)
    await complete_payment(
        db, payment_id=payment.payment_id, now=clock.now, policy=PAYMENTS, caller=fan
    )
    return payment.payment_id


@query
async def statuses(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(outbox_t.c.status, sa.func.count()).group_by(outbox_t.c.status)
    )
    return {row[0]: row[1] for row in rows}


@query
async def attempts_and_errors(conn: AsyncConnection) -> list[tuple[str, int, str | None]]:
    rows = await conn.execute(
        sa.select(outbox_t.c.status, outbox_t.c.attempts, outbox_t.c.last_error).order_by(
            outbox_t.c.id
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def _until(condition: Any, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _until_marked_sent(db: Database, count: int, within: float = 30) -> None:
    """A message reaches the receiver before its worker marks it sent; wait for the mark."""
    deadline = time.monotonic() + within
    while await statuses(db) != {"sent": count}:
        assert time.monotonic() < deadline, await statuses(db)
        await asyncio.sleep(0.05)


async def test_the_order_confirmation_arrives_once(
    db: Database,
    event: EventFixture,
    clock: FakeClock,
    mail_settings: Settings,
    smtp: SmtpServer,
) -> None:
    payment_id = await _paid_order(db, event, clock, mail_settings, event.seat_ids[:2])
    deliverer = Deliverer(db, mail_settings, clock=clock)
    try:
        assert await deliverer.deliver_due() == 1
        assert await deliverer.deliver_due() == 0  # sent: not taken again
    finally:
        await deliverer.aclose()
    [received] = smtp.inbox.messages
    assert received["Subject"] == "Your tickets: Test Hall Night"
    assert received["From"] == "Tickets <tickets@shop.example>"
    assert str(received["To"]).startswith("fan")
    assert str(received["Message-ID"]).endswith("@shop.example>")
    body = received.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert str(payment_id) in text
    assert text.count("Main, row A seat") == 2
    # the tickets' PDF, the very document the customer downloads (rendering is deterministic)
    [attachment] = list(received.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"tickets-{payment_id}.pdf"
    owner = await _owner(db, payment_id)
    downloaded = await order_pdf(
        db, payment_id=payment_id, now=clock.now, caller=owner, keys=ticket_keys(mail_settings)
    )
    assert attachment.get_content() == downloaded
    assert await statuses(db) == {"sent": 1}


async def _owner(db: Database, payment_id: uuid.UUID) -> Principal:
    """The customer whose order it is, as the API knows them when they are signed in."""
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(user_t.c.id, user_t.c.email, user_t.c.role)
                .join(cart_t, cart_t.c.owner_id == user_t.c.id)
                .join(payment_t, payment_t.c.cart_id == cart_t.c.id)
                .where(payment_t.c.id == payment_id)
            )
        ).one()
    return Principal(user_id=row.id, email=row.email, role=Role(row.role))


async def test_a_stopped_smtp_server_delays_messages_without_losing_them(
    db: Database,
    event: EventFixture,
    clock: FakeClock,
    mail_settings: Settings,
    smtp: SmtpServer,
) -> None:
    smtp.stop()
    await _paid_order(db, event, clock, mail_settings, event.seat_ids[:1])
    await _paid_order(db, event, clock, mail_settings, event.seat_ids[1:2])
    deliverer = Deliverer(db, mail_settings, clock=clock)
    try:
        assert await deliverer.deliver_due() == 2
        assert smtp.inbox.messages == []
        assert await statuses(db) == {"pending": 2}
        assert await deliverer.deliver_due() == 0  # not due again before the backoff
        smtp.start()
        assert await deliverer.deliver_due() == 0
        clock.advance(seconds=FAST.backoff_seconds)  # the first wait is at most one backoff
        assert await deliverer.deliver_due() == 2
    finally:
        await deliverer.aclose()
    assert sorted(smtp.inbox.ids().values()) == [1, 1]
    assert [(status, attempts) for status, attempts, _ in await attempts_and_errors(db)] == [
        ("sent", 2),
        ("sent", 2),
    ]


async def test_without_an_smtp_host_messages_become_eml_files(
    db: Database, event: EventFixture, clock: FakeClock, settings: Settings
) -> None:
    await _paid_order(db, event, clock, settings, event.seat_ids[:1])
    deliverer = Deliverer(db, settings, clock=clock)
    try:
        assert await deliverer.deliver_due() == 1
    finally:
        await deliverer.aclose()
    [written] = list((settings.data_dir / "mail").glob("*.eml"))
    parsed = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Your tickets: Test Hall Night"


@command
async def _enqueue(conn: AsyncConnection, *, event_id: int, count: int, now: datetime) -> None:
    await conn.execute(
        outbox_t.insert(),
        [
            {
                "kind": "event_cancelled",
                "channel": "email",
                "recipient": f"customer{index}@example.com",
                "payload": json.dumps({"event_id": str(event_id)}),
                "created_at": now,
                "next_attempt_at": now,
                "status": "pending",
                "attempts": 0,
            }
            for index in range(count)
        ],
    )


MANY = 1000
PATIENT_S = 60
"""The exactly-once test's wait for an SMTP reply: on a loaded CI machine a reply once took longer
than the test policy's timeout, and its message was (rightly) retried."""


async def test_two_workers_deliver_a_thousand_messages_exactly_once(
    db: Database,
    event: EventFixture,
    mail_settings: Settings,
    smtp: SmtpServer,
    db_kind: str,
) -> None:
    """On PostgreSQL two `ticketing worker` processes; on SQLite two workers of one process,
    each with its own engine.

    What is tested is the claims: two workers never take one message. A send whose reply the
    worker stopped waiting for is sent again later (at least once, with the same Message-ID; the
    SIGKILL test below allows that one), so a loaded machine gets time enough to reply."""
    patient = {"timeout_seconds": PATIENT_S, "lease_seconds": 10 * PATIENT_S}
    mail_settings = mail_settings.model_copy(
        update={"delivery": mail_settings.delivery.model_copy(update=patient)}
    )
    await _enqueue(db, event_id=event.event_id, count=MANY, now=datetime.now(UTC))
    if db_kind == "postgres":
        workers = [
            _worker_process(
                mail_settings,
                smtp,
                TICKETING_DELIVERY__TIMEOUT_SECONDS=str(PATIENT_S),
                TICKETING_DELIVERY__LEASE_SECONDS=str(10 * PATIENT_S),
            )
            for _ in range(2)
        ]
        try:
            await _until(lambda: sum(smtp.inbox.ids().values()) >= MANY, within=120)
            await _until_marked_sent(db, MANY)
            await asyncio.sleep(1)  # anything sent twice would arrive meanwhile
        finally:
            for worker in workers:
                worker.terminate()
            outputs = [worker.communicate(timeout=30)[0] for worker in workers]
        assert all("delivering e-mail to 127.0.0.1" in output for output in outputs), outputs
    else:
        stop = asyncio.Event()
        databases = [Database.of(mail_settings) for _ in range(2)]
        deliverers = [Deliverer(database, mail_settings) for database in databases]
        runs = [asyncio.create_task(deliverer.run(stop)) for deliverer in deliverers]
        try:
            await _until(lambda: sum(smtp.inbox.ids().values()) >= MANY, within=120)
            await _until_marked_sent(db, MANY)
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            await asyncio.gather(*runs)
            for deliverer, database in zip(deliverers, databases, strict=True):
                await deliverer.aclose()
                await database.dispose()
    received = smtp.inbox.ids()
    assert len(received) == MANY
    assert set(received.values()) == {1}
    assert await statuses(db) == {"sent": MANY}


def _worker_process(settings: Settings, smtp: SmtpServer, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*TICKETING, "worker"],
        env=cli_env(
            settings.database_url,
            TICKETING_SMTP_HOST="127.0.0.1",
            TICKETING_SMTP_PORT=str(smtp.port),
            TICKETING_SMTP_TLS="none",
            TICKETING_MAIL_FROM="tickets@shop.example",
            TICKETING_DELIVERY__POLL_SECONDS="0.1",
            TICKETING_DELIVERY__BATCH_SIZE="20",
            **env,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class SlowInbox(Inbox):
    """Takes a while per message, so that a worker is killed in the middle of a batch."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.slow
async def test_a_worker_killed_mid_batch_loses_nothing_and_its_successor_delivers_the_rest(
    db: Database,
    event: EventFixture,
    mail_settings: Settings,
    smtp: SmtpServer,
    db_kind: str,
) -> None:
    if db_kind != "postgres":
        pytest.skip("worker processes on one PostgreSQL")
    smtp.stop()
    smtp.inbox = SlowInbox()
    smtp.start()
    count = 300
    await _enqueue(db, event_id=event.event_id, count=count, now=datetime.now(UTC))
    lease = {"TICKETING_DELIVERY__LEASE_SECONDS": "4", "TICKETING_DELIVERY__TIMEOUT_SECONDS": "1"}
    first = _worker_process(mail_settings, smtp, **lease)
    try:
        await _until(lambda: sum(smtp.inbox.ids().values()) >= 50, within=60)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
    at_kill = sum(smtp.inbox.ids().values())
    assert at_kill < count, "the worker was killed before it had sent everything"
    second = _worker_process(mail_settings, smtp, **lease)
    try:
        await _until(lambda: len(smtp.inbox.ids()) >= count, within=120)
        await asyncio.sleep(1)
    finally:
        second.terminate()
        second.communicate(timeout=30)
    received = smtp.inbox.ids()
    assert len(received) == count  # none lost
    twice = [message for message, times in received.items() if times > 1]
    # At most the one message that was on the wire when the worker died (sent, not yet
    # recorded) can come twice, with the same Message-ID for the receiver to drop.
    assert len(twice) <= 1, twice
    print(f"killed after {at_kill} of {count} sent; {len(twice)} sent twice")  # for the record
    assert await statuses(db) == {"sent": count}


# --- webhooks ---------------------------------------------------------------------------------


class Receiver:
    """An HTTP endpoint served by uvicorn: answers `answers` in turn (then 204), keeps bodies."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.answers = list(answers or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/ticketing"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode(): value.decode() for key, value in scope["headers"]}
        self.requests.append((headers, body))
        status = self.answers.pop(0) if self.answers else 204
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    endpoint = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(endpoint, host="127.0.0.1", port=endpoint.port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    await _until(lambda: server.started, within=10)
    yield endpoint
    server.should_exit = True
    await serving


async def _hooked_order(
    db: Database, event: EventFixture, clock: FakeClock, settings: Settings, url: str
) -> tuple[str, uuid.UUID]:
    created = await webhooks.create_webhook(
        db,
        caller=MANAGER,
        url=url,
        event_id=event.event_id,
        policy=WebhookPolicy(allow_private=True),
        now=clock.now,
    )
    payment_id = await _paid_order(db, event, clock, settings, event.seat_ids[:1])
    return created.secret, payment_id


async def test_a_webhook_delivery_is_signed_and_verifies_at_the_receiver(
    db: Database,
    event: EventFixture,
    clock: FakeClock,
    settings: Settings,
    receiver: Receiver,
) -> None:
    secret, payment_id = await _hooked_order(db, event, clock, settings, receiver.url)
    deliverer = Deliverer(db, settings.model_copy(update={"delivery": FAST}), clock=clock)
    try:
        assert await deliverer.deliver_due() == 2  # the customer's e-mail (.eml) and the hook
    finally:
        await deliverer.aclose()
    [(headers, body)] = receiver.requests
    signatures.verify_body(
        secret,
        headers["ticketing-signature"],
        body=body,
        now=datetime.now(UTC),
        tolerance_seconds=300,
    )
    sent = json.loads(body)
    assert sent["type"] == "order_confirmed"
    assert sent["event_id"] == event.event_id
    assert sent["data"] == {"payment_id": str(payment_id)}
    with pytest.raises(TicketingError):  # a forged body does not verify
        signatures.verify_body(
            secret,
            headers["ticketing-signature"],
            body=body.replace(b"order_confirmed", b"order_cancelled"),
            now=datetime.now(UTC),
            tolerance_seconds=300,
        )


async def test_a_receiver_that_fails_gets_retries_then_the_delivery(
    db: Database,
    event: EventFixture,
    clock: FakeClock,
    settings: Settings,
    receiver: Receiver,
) -> None:
    receiver.answers = [500, 503]
    await _hooked_order(db, event, clock, settings, receiver.url)
    deliverer = Deliverer(db, settings.model_copy(update={"delivery": FAST}), clock=clock)
    try:
        await deliverer.deliver_due()
        for wait in (1, 2):  # the waits double, with jitter
            assert await deliverer.deliver_due() == 0
            clock.advance(seconds=FAST.backoff_seconds * wait)
            await deliverer.deliver_due()
    finally:
        await deliverer.aclose()
    assert len(receiver.requests) == 3
    assert len({body for _, body in receiver.requests}) == 1  # the same delivery each time
    assert [row[:2] for row in await attempts_and_errors(db)] == [("sent", 1), ("sent", 3)]


async def test_a_delivery_that_always_fails_is_a_dead_letter_after_the_last_attempt(
    db: Database,
    event: EventFixture,
    clock: FakeClock,
    settings: Settings,
    receiver: Receiver,
) -> None:
    receiver.answers = [500] * 10
    await _hooked_order(db, event, clock, settings, receiver.url)
    deliverer = Deliverer(db, settings.model_copy(update={"delivery": FAST}), clock=clock)
    try:
        for _ in range(FAST.max_attempts + 2):
            await deliverer.deliver_due()
            clock.advance(seconds=FAST.max_backoff_seconds)
    finally:
        await deliverer.aclose()
    assert len(receiver.requests) == FAST.max_attempts
    hook = (await attempts_and_errors(db))[1]
    assert hook == ("dead", FAST.max_attempts, "RuntimeError: answered 500")


async def test_private_webhook_targets_are_refused_unless_allowed(
    db: Database, clock: FakeClock
) -> None:
    for url in (
        "http://127.0.0.1:8000/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "ftp://hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "hooks.example.com/x",
    ):
        with pytest.raises(TicketingError) as refused:
            await webhooks.create_webhook(
                db, caller=MANAGER, url=url, event_id=None, policy=WebhookPolicy(), now=clock.now
            )
        assert refused.value.code.value == "VALIDATION_ERROR", url
    allowed = await webhooks.create_webhook(
        db,
        caller=MANAGER,
        url="http://127.0.0.1:8000/x",
        event_id=None,
        policy=WebhookPolicy(allow_private=True),
        now=clock.now,
    )
    assert allowed.secret.startswith("whsec_")
