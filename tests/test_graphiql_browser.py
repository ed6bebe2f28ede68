"""GraphiQL in a real browser (Debian's chromium driven by Playwright), with the network cut off
from everything but the app: the page loads from the installed package, runs a query, shows it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.server import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def chromium() -> str:
    if not os.path.exists(CHROMIUM):
        reason = "Debian's chromium is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{reason}; .ci/run installs it")
        pytest.skip(reason)
    return CHROMIUM


@pytest.mark.slow
async def test_graphiql_runs_a_query_with_no_internet(chromium: str, tmp_path: Path) -> None:
    from playwright.async_api import Route, async_playwright

    database_url = f"sqlite+aiosqlite:///{tmp_path / 'browser.db'}"
    with serving(database_url, workers=1, demo=True) as base_url:
        outside: list[str] = []

        async def only_the_app(route: Route) -> None:
            if route.request.url.startswith(base_url):
                await route.continue_()
            else:
                outside.append(route.request.url)
                await route.abort()

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            try:
                page = await browser.new_page()
                await page.route("**/*", only_the_app)
                await page.goto(f"{base_url}/graphql")
                await page.wait_for_selector(".graphiql-container", timeout=20_000)
                await page.wait_for_selector(".graphiql-query-editor .CodeMirror")
                await page.evaluate(
                    """document.querySelector('.graphiql-query-editor .CodeMirror')
                        .CodeMirror.setValue('{ venues { name sections { name kind } } }')"""
                )
                await page.click(".graphiql-execute-button")
                response = page.locator(".graphiql-response")
                await response.get_by_text("Standing Floor").wait_for(timeout=20_000)
                text = await response.inner_text()
            finally:
                await browser.close()
    assert "Harbour Point Concert Hall" in text
    assert "GENERAL_ADMISSION" in text
    assert outside == []
