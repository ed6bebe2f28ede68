"""The ASGI application: one engine per app (made in the lifespan), REST routes, docs offline."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from rest.body_limit import BodyLimit
from rest.cors import install_cors
from rest.deps import document_bearer_scheme
from rest.problems import install_problem_handlers, install_problem_openapi
from rest.routes import auth, catalog, health, orders, page, tickets, webhooks
from schema.graphql import create_router, graphiql_assets
from ticketing.accounts.throttle import open_throttle
from ticketing.catalog.live import SeatFeed
from ticketing.catalog.seatmaps import SeatMaps
from ticketing.db import Database
from ticketing.idempotency import forget_old_keys
from ticketing.notifications.delivery import Deliverer
from ticketing.payments.refunds import settle_cancelled_events
from ticketing.payments.sweep import release_lapsed
from ticketing.settings import Settings
from ticketing.tickets.keys import ticket_keys

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _sweep_forever(app: FastAPI, interval: float) -> None:
    """Periodically write down lapsed holds and overdue payments (correctness never waits on it),
    settle what a cancellation left unsettled (a crash) and forget idempotency keys older than a
    day."""
    while True:
        await asyncio.sleep(interval)
        try:
            await release_lapsed(app.state.db, now=app.state.clock())
            await settle_cancelled_events(app.state.db, now=app.state.clock())
            await forget_old_keys(app.state.db, now=app.state.clock())
        except Exception:  # a failed sweep is retried next interval; it must not kill the app
            log.exception("sweep of lapsed holds and payments failed")


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = app.state.db = Database.of(settings)
        seat_maps = app.state.seat_maps = SeatMaps(db)
        app.state.seat_feed = SeatFeed(
            db,
            seat_maps,
            clock=clock,
            max_followers=settings.max_subscribers,
            sending_share=settings.live_sending_share,
        )
        app.state.throttle = open_throttle(redis_url=settings.redis_url)
        # every worker reads (or, the first time, makes) the one key: checked at start-up
        app.state.ticket_keys = await asyncio.to_thread(ticket_keys, settings)
        if settings.payments.mode == "test":
            log.warning(
                "payments run in TEST mode: anyone may complete a payment. Set "
                "TICKETING_PAYMENTS__SECRET to accept only the provider's signed callbacks."
            )
        # What exists now (modules, classes, the app) lives as long as the process: kept out of
        # the cyclic collector's full passes, during which the loop serves nobody.
        gc.freeze()
        sweeper = None
        if settings.sweep_interval_seconds > 0:
            sweeper = asyncio.create_task(_sweep_forever(app, settings.sweep_interval_seconds))
        # The embedded setup delivers its own outbox; separate `ticketing worker`s may as well.
        deliverer = (
            Deliverer(db, settings, clock=clock, keys=app.state.ticket_keys)
            if settings.delivery.in_serve
            else None
        )
        stop_delivery = asyncio.Event()
        delivering = asyncio.create_task(deliverer.run(stop_delivery)) if deliverer else None
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            if deliverer is not None and delivering is not None:
                stop_delivery.set()  # the message being sent is finished and recorded
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(delivering, settings.delivery.timeout_seconds * 2)
                await deliverer.aclose()
            app.state.seat_feed.close()
            await app.state.throttle.aclose()
            await db.dispose()
            gc.unfreeze()

    app = FastAPIOffline(
        title="Ticketing API",
        version="0.1.0",
        summary="Seat maps, carts and payments for events.",
        description=(
            "Browse venues and events, hold seats in a cart (its id is a uuid you make), book the "
            "cart into a payment, and complete or fail the payment. Errors are RFC 9457 problem "
            "details with a stable `code`."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # outside the body limit: its 413 carries CORS headers, so a page can read why
    install_cors(app, allowed=settings.cors_origins)
    install_problem_handlers(app)
    install_problem_openapi(app)
    docs = list(app.router.routes)  # /openapi.json, /docs, /redoc and their assets
    # A request is matched against the routes in order, each check costing FastAPI time: the
    # seat maps, then the cart and payment steps, come first, the docs last.
    app.include_router(catalog.seat_maps)
    app.include_router(orders.router)
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(auth.router)
    app.include_router(webhooks.router)
    app.include_router(page.router)
    page_assets = page.page_assets()
    if page_assets.is_dir():
        app.mount(page.ASSETS_PATH, StaticFiles(directory=page_assets), name="page")
    app.include_router(tickets.router)
    assets = graphiql_assets()
    if settings.graphiql and assets.is_dir():
        app.mount("/graphql/static", StaticFiles(directory=assets), name="graphiql")
    graphql = create_router(settings)
    app.include_router(graphql, prefix="/graphql", include_in_schema=False)
    app.state.graphql_results = graphql.result_cache  # its hits and size, for whoever watches
    app.router.routes[:] = [route for route in app.router.routes if route not in docs] + docs
    _document_in_reading_order(
        app,
        [
            health.router,
            catalog.router,
            catalog.seat_maps,
            orders.router,
            tickets.router,
            auth.router,
            webhooks.router,
        ],
    )
    return app


def _document_in_reading_order(app: FastAPI, routers: list[APIRouter]) -> None:
    """The OpenAPI document lists paths in these routers' order, not in matching order."""
    paths = [route.path for router in routers for route in router.routes if hasattr(route, "path")]
    rank = {path: index for index, path in enumerate(dict.fromkeys(paths))}
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        document_bearer_scheme(document)
        document["paths"] = dict(
            sorted(document["paths"].items(), key=lambda item: rank.get(item[0], len(rank)))
        )
        return document

    app.openapi = openapi  # type: ignore[method-assign]
