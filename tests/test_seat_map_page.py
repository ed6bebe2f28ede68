"""The seat-map page at `/`: served from the installed package, kept out of the OpenAPI document,
a clear problem when the build left it out; and, in a real browser (Debian's chromium driven by
Playwright, the network cut off from everything but the app), two visitors against
`ticketing serve`: one buys a seat while the other sees it taken without reloading, and a hold
that lapses frees its seat on both screens."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from rest.routes import page as page_route
from tests.conftest import Templates, fresh_database
from tests.server import TICKETING, cli_env, serving
from tests.test_graphiql_browser import chromium
from ticketing.payments import signatures

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

__all__ = ["chromium"]  # the fixture, shared with the GraphiQL test

HOLD_SECONDS = 4
"""Long enough to hold, book and pay by clicks; short enough to wait for a hold to lapse."""
LIVE_WITHIN_MS = 1000
"""How soon the other visitor's map shows a change, without reloading."""


async def test_the_page_is_served_at_the_root(client: httpx.AsyncClient) -> None:
    index = await client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/app/app.js">' in index.text
    assert "default-src 'self'" in index.headers["content-security-policy"]
    script = await client.get("/app/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert (await client.get("/app/app.css")).status_code == 200


async def test_what_is_not_the_page_is_a_problem(client: httpx.AsyncClient) -> None:
    missing = await client.get("/app/nope.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "NOT_FOUND"
    posted = await client.post("/")
    assert posted.status_code == 405
    assert posted.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_the_page_is_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/" not in paths
    assert not [path for path in paths if path.startswith("/app")]


async def test_an_install_without_the_page_says_so(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(page_route, "page_assets", lambda: tmp_path / "not-built")
    response = await client.get("/")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "NOT_FOUND"
    assert problem["instance"] == "/"
    assert "npm" in problem["detail"]


def seat(seat_id: int) -> str:
    return f'svg [data-seat-id="{seat_id}"]'


async def status_becomes(page: Page, seat_id: int, status: str, *, within_ms: float) -> None:
    """The seat's `data-status` on this page becomes `status` within `within_ms`."""
    await page.wait_for_function(
        "([selector, status]) => document.querySelector(selector)?.dataset.status === status",
        arg=[seat(seat_id), status],
        timeout=within_ms,
    )


@pytest.fixture
async def page_server(db_kind: str, database_url: str) -> AsyncIterator[str]:
    """`ticketing serve` with the demo data: two workers on PostgreSQL (a change made in one
    worker must reach a subscriber of the other), one on SQLite."""
    workers = 2 if db_kind == "postgres" else 1
    with serving(
        database_url, workers=workers, demo=True, TICKETING_CART__HOLD_SECONDS=str(HOLD_SECONDS)
    ) as base_url:
        yield base_url


@pytest.mark.slow
async def test_two_visitors_one_buys_the_other_sees_it_live(
    chromium: str, page_server: str
) -> None:
    from playwright.async_api import Route, async_playwright, expect

    base_url = page_server
    outside: list[str] = []
    refused: list[str] = []  # what the page's content security policy blocked

    async def only_the_app(route: Route) -> None:
        if route.request.url.startswith(base_url):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async def visit(context: BrowserContext) -> Page:
        await context.route("**/*", only_the_app)
        page = await context.new_page()
        page.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        await page.goto(f"{base_url}/#event=1")
        await page.wait_for_selector(f"{seat(5)}[data-status='available']", timeout=20_000)
        await expect(page.locator("#connection")).to_have_attribute(
            "data-connected", "true", timeout=10_000
        )
        return page

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            buyer_context = await browser.new_context(viewport={"width": 1280, "height": 800})
            watcher_context = await browser.new_context(viewport={"width": 390, "height": 844})
            buyer = await visit(buyer_context)
            watcher = await visit(watcher_context)
            # The buyer holds seat 5 (the first price level): it is theirs, the cart counts down.
            await buyer.click(seat(5))
            cart = buyer.locator("#cart")
            await cart.locator('li[data-seat-id="5"]').wait_for(timeout=5_000)
            # ... and, from then, the other visitor sees it taken within a second, no reload.
            await status_becomes(watcher, 5, "held", within_ms=LIVE_WITHIN_MS)
            await expect(buyer.locator(seat(5))).to_have_class("seat mine")
            await expect(cart.locator(".countdown")).to_contain_text("Held for 0:0")
            await expect(watcher.locator(seat(5))).to_have_attribute(
                "aria-label", "Stalls, row A, seat 5: held, 59.00 EUR"
            )

            # Book, complete the test payment, see the ticket.
            await cart.get_by_role("button", name="Book").click()
            await cart.get_by_role("button", name="Complete test payment").click()
            ticket = cart.locator('.ticket[data-seat-id="5"]')
            await ticket.wait_for(timeout=5_000)
            assert "Stalls, row A, seat 5" in await ticket.inner_text()
            await status_becomes(watcher, 5, "sold", within_ms=LIVE_WITHIN_MS)
            await expect(watcher.locator(seat(5))).to_have_attribute("tabindex", "-1")

            # The watcher holds seat 6 and lets the hold lapse: the seat is free again on both
            # screens, still without reloading.
            # (on the phone, a tap just off the seat, as fingers are wider than seats)
            box = await watcher.locator(seat(6)).bounding_box()
            assert box is not None
            centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            await watcher.mouse.click(centre_x, centre_y - box["height"] * 0.7)
            await watcher.locator('#cart li[data-seat-id="6"]').wait_for(timeout=5_000)
            held_at = time.monotonic()
            await status_becomes(buyer, 6, "held", within_ms=LIVE_WITHIN_MS)
            lapse = (HOLD_SECONDS + 1) * 1000 + LIVE_WITHIN_MS
            await status_becomes(watcher, 6, "available", within_ms=lapse)
            await status_becomes(buyer, 6, "available", within_ms=lapse)
            assert time.monotonic() - held_at >= HOLD_SECONDS - 1
            await expect(watcher.locator(seat(6))).not_to_have_class("seat mine")
            await expect(watcher.locator("#cart")).to_contain_text("Choose a seat")
        finally:
            await browser.close()
    assert outside == []
    assert refused == []


@pytest.mark.slow
async def test_signed_payments_wait_for_the_provider(
    chromium: str, templates: Templates, tmp_path: Path
) -> None:
    """With a payments secret the page offers no test button: it waits, and shows the tickets
    (a seat's and two standing places') once the provider's signed callback has completed the
    payment."""
    from playwright.async_api import async_playwright, expect

    secret = "whsec_page_test"
    async with fresh_database("sqlite", templates, tmp_path) as database_url:
        with serving(
            database_url, workers=1, demo=True, TICKETING_PAYMENTS__SECRET=secret
        ) as base_url:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium, headless=True, args=["--no-sandbox"]
                )
                try:
                    page = await browser.new_page()
                    await page.goto(f"{base_url}/#event=1")
                    await page.click(seat(7))
                    cart = page.locator("#cart")
                    await cart.locator('li[data-seat-id="7"]').wait_for()
                    # and two places on the standing floor, at the same (first) price level
                    await page.get_by_label("Places in Standing Floor").fill("2")
                    await page.get_by_role("button", name="Hold places").click()
                    await expect(cart.locator(".items li")).to_have_count(3)
                    floor = page.locator('svg .area[data-section-id="4"]')
                    await expect(floor).to_have_attribute("data-available", "298")
                    await expect(floor).to_contain_text("298 places left")
                    await cart.get_by_role("button", name="Book").click()
                    await expect(cart).to_contain_text("Waiting for the payment provider")
                    await expect(
                        cart.get_by_role("button", name="Complete test payment")
                    ).to_have_count(0)

                    cart_id = await page.evaluate("sessionStorage.getItem('ticketing.cartId')")
                    async with httpx.AsyncClient(base_url=base_url) as provider:
                        answer = await provider.post(
                            "/graphql",
                            json={"query": f'{{ cart(id: "{cart_id}") {{ payment {{ id }} }} }}'},
                        )
                    payment_id = answer.json()["data"]["cart"]["payment"]["id"]
                    header = signatures.sign(
                        secret,
                        payment_id=uuid.UUID(payment_id),
                        outcome="complete",
                        timestamp=int(time.time()),
                    )
                    async with httpx.AsyncClient(base_url=base_url) as provider:
                        done = await provider.post(
                            f"/payments/{payment_id}/complete",
                            headers={"Ticketing-Signature": header},
                        )
                    assert done.status_code == 200, done.text
                    await cart.locator('.ticket[data-seat-id="7"]').wait_for(timeout=5_000)
                    await expect(cart.locator(".ticket")).to_have_count(3)
                    await expect(cart.locator(".ticket").last).to_contain_text(
                        "Standing Floor (standing)"
                    )
                finally:
                    await browser.close()


@pytest.mark.slow
async def test_a_price_change_redraws_the_map_without_reloading_the_page(
    chromium: str, templates: Templates, tmp_path: Path
) -> None:
    """A manager's new prices change the layout: the subscription says `reload`, and the page
    reads the map again by itself."""
    from playwright.async_api import async_playwright, expect

    password = "manager-password"
    async with fresh_database("sqlite", templates, tmp_path) as database_url:
        with serving(database_url, workers=1, demo=True) as base_url:
            made = await asyncio.to_thread(
                subprocess.run,
                [*TICKETING, "users", "create", "manager@example.com", "--manager"],
                env=cli_env(database_url, TICKETING_USER_PASSWORD=password),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert made.returncode == 0, made.stderr
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium, headless=True, args=["--no-sandbox"]
                )
                try:
                    page = await browser.new_page()
                    await page.goto(f"{base_url}/#event=1")
                    label = "Stalls, row A, seat 5: available, 59.00 EUR"
                    await expect(page.locator(seat(5))).to_have_attribute("aria-label", label)
                    await expect(page.locator("#connection")).to_have_attribute(
                        "data-connected", "true"
                    )
                    await page.evaluate("window.sameDocument = true")

                    async with httpx.AsyncClient(base_url=base_url) as manager:
                        token = await manager.post(
                            "/auth/token",
                            data={"username": "manager@example.com", "password": password},
                        )
                        assert token.status_code == 200, token.text
                        bearer = {"authorization": f"Bearer {token.json()['access_token']}"}
                        changed = await manager.post(
                            "/graphql",
                            headers=bearer,
                            json={
                                "query": """mutation { setPrices(input: {eventId: "1", prices: [
                                    {sectionId: "1", priceLevel: "Adult", amount: "61.00"}]})
                                    { userErrors { code message } } }"""
                            },
                        )
                        assert changed.json()["data"]["setPrices"]["userErrors"] == []

                    new_label = "Stalls, row A, seat 5: available, 61.00 EUR"
                    await expect(page.locator(seat(5))).to_have_attribute(
                        "aria-label", new_label, timeout=5_000
                    )
                    assert await page.evaluate("window.sameDocument") is True
                finally:
                    await browser.close()
