"""The ASGI application: one engine per app (made in the lifespan), REST routes, docs offline."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from rest.problems import install_problem_handlers, install_problem_openapi
from rest.routes import auth, catalog, health, orders
from schema.graphql import create_router, graphiql_assets
from schema.result_cache import ResultCache
from ticketing.db import create_engine, create_sessionmaker
from ticketing.services.payments import release_lapsed
from ticketing.services.seatmaps import SeatMaps
from ticketing.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def _sweep_forever(app: FastAPI, interval: float) -> None:
    """Periodically write down lapsed holds and overdue payments (correctness never waits on it)."""
    while True:
        await asyncio.sleep(interval)
        try:
            async with app.state.sessionmaker() as session:
                await release_lapsed(session, now=app.state.clock())
        except Exception:  # a failed sweep is retried next interval; it must not kill the app
            log.exception("sweep of lapsed holds and payments failed")


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.seat_maps = SeatMaps(
            app.state.sessionmaker,
            database_url=settings.database_url,
            timeout_s=settings.lock_timeout_ms / 1000,
        )
        app.state.graphql_results = ResultCache()
        # What exists now (modules, classes, the app) lives as long as the process: out of the
        # cyclic collector's full passes (~20-40 ms each for the ~90,000 objects of a started
        # app, measured; the loop serves nobody meanwhile). Handed back at shutdown.
        gc.freeze()
        sweeper = None
        if settings.sweep_interval_seconds > 0:
            sweeper = asyncio.create_task(_sweep_forever(app, settings.sweep_interval_seconds))
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            await app.state.seat_maps.aclose()
            await engine.dispose()
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
    install_problem_handlers(app)
    install_problem_openapi(app)
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(orders.router)
    app.include_router(auth.router)
    assets = graphiql_assets()
    if settings.graphiql and assets.is_dir():
        app.mount("/graphql/static", StaticFiles(directory=assets), name="graphiql")
    app.include_router(create_router(settings), prefix="/graphql", include_in_schema=False)
    return app
