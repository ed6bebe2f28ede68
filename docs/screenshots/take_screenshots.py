"""Takes the README's screenshots of the seat-map page; run from the repository, with the package
installed (its page built) and Debian's chromium: `python docs/screenshots/take_screenshots.py`.

Serves the demo data on a throwaway SQLite file, sells and holds some seats as other customers
would (over GraphQL), then holds two seats in the browser, at desktop and at phone size."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.server import serving  # noqa: E402

HERE = Path(__file__).resolve().parent
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
MINE = {"desktop": ("9", "10"), "phone": ("11", "12")}
"""Seats the visitor holds in each screenshot (each is another visitor)."""
SOLD = [*range(47, 55), *range(66, 76), *range(250, 262), *range(380, 386)]
HELD = [*range(120, 126), *range(300, 304)]


def others_buy(base_url: str) -> None:
    """Other customers: some seats sold, some held, a group on the standing floor."""

    def graphql(query: str, **variables: object) -> dict[str, object]:
        answer = httpx.post(f"{base_url}/graphql", json={"query": query, "variables": variables})
        answer.raise_for_status()
        data: dict[str, object] = answer.json()["data"]
        return data

    hold = """mutation($cart: UUID!, $seat: ID!) { addSeatToCart(input: {cartId: $cart,
        eventId: "1", seatId: $seat, priceId: "1"}) { userErrors { code } } }"""
    # a cart holds at most 10 seats by default
    carts = [(SOLD[i : i + 8], True) for i in range(0, len(SOLD), 8)] + [(HELD, False)]
    for seats, pay in carts:
        cart = str(uuid.uuid4())
        for seat in seats:
            graphql(hold, cart=cart, seat=str(seat))
        if pay:
            booked = graphql(
                "mutation($cart: UUID!) { bookCart(input: {cartId: $cart}) { payment { id } } }",
                cart=cart,
            )
            payment = booked["bookCart"]["payment"]["id"]  # type: ignore[index]
            graphql(
                """mutation($p: UUID!) {
                    completePayment(input: {paymentId: $p}) { cart { status } } }""",
                p=payment,
            )
    standing = """mutation($cart: UUID!) { addGeneralAdmissionToCart(input: {cartId: $cart,
        eventId: "1", sectionId: "4", priceId: "1", quantity: 8}) { userErrors { code } } }"""
    for _ in range(5):
        graphql(standing, cart=str(uuid.uuid4()))


async def shoot(base_url: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        try:
            for name, (width, height) in SIZES.items():
                page = await browser.new_page(
                    viewport={"width": width, "height": height}, device_scale_factor=1
                )
                await page.goto(f"{base_url}/#event=1")
                await page.wait_for_selector('[data-seat-id="5"]')
                await page.locator("#connection[data-connected=true]").wait_for()
                for seat in MINE[name]:
                    await page.click(f'svg [data-seat-id="{seat}"]')
                    await page.locator(f'#cart li[data-seat-id="{seat}"]').wait_for()
                await page.hover('svg [data-seat-id="31"]')
                await page.wait_for_timeout(1500)
                await page.screenshot(path=HERE / f"seat-map-{name}.png", full_page=True)
                await page.close()
        finally:
            await browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'screenshots.db'}"
        with serving(url, workers=1, demo=True) as base_url:
            others_buy(base_url)
            asyncio.run(shoot(base_url))


if __name__ == "__main__":
    main()
