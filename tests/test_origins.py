"""Browsers on other origins: CORS on HTTP for TICKETING_CORS_ORIGINS, and WebSocket handshakes
from the app's own origin, a listed one or no browser at all, refused from any other."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from httpx_ws import WebSocketDisconnect, WebSocketUpgradeError, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from pydantic import ValidationError

from rest.app import create_app
from tests.api import new_cart, problem
from tests.conftest import FakeClock
from tests.factories import EventFixture
from tests.server import serving
from ticketing.origins import normalize_origin
from ticketing.settings import Settings

SHOP = "https://shop.example.com"
FOREIGN = "https://evil.example.net"
WAIT_S = 5.0


@pytest.mark.parametrize(
    ("written", "origin"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("HTTPS://Shop.Example.com:443", "https://shop.example.com"),
        ("http://localhost:5173", "http://localhost:5173"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_an_origin_is_kept_as_browsers_write_it(written: str, origin: str) -> None:
    assert normalize_origin(written) == origin


@pytest.mark.parametrize(
    "written",
    [
        "*",
        "null",
        "shop.example.com",
        "ftp://shop.example.com",
        "wss://shop.example.com",
        "https://shop.example.com/",
        "https://shop.example.com/shop",
        "https://shop.example.com?x=1",
        "https://shop.example.com?",
        "https://shop.example.com#top",
        "https://user@shop.example.com",
        "https://*.example.com",
        "https://shop.example.com:99999",
        "https://",
        "https://exämple.com",
        " https://shop.example.com",
    ],
)
def test_anything_but_scheme_host_and_port_is_no_origin(written: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        normalize_origin(written)


def test_the_setting_takes_a_json_list_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETING_CORS_ORIGINS", '["https://Shop.example.com", "http://a.test:81"]')
    assert Settings().cors_origins == (SHOP, "http://a.test:81")
    monkeypatch.setenv("TICKETING_CORS_ORIGINS", " https://shop.example.com:443 ,http://a.test:81,")
    assert Settings().cors_origins == (SHOP, "http://a.test:81")
    monkeypatch.setenv("TICKETING_CORS_ORIGINS", "")
    assert Settings().cors_origins == ()
    monkeypatch.delenv("TICKETING_CORS_ORIGINS")
    assert Settings().cors_origins == ()


@pytest.mark.parametrize("value", ["*", "https://shop.example.com/", '["https://a.test"', "null"])
def test_the_setting_refuses_what_is_no_origin(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TICKETING_CORS_ORIGINS", value)
    with pytest.raises(ValidationError, match="cors_origins"):
        Settings()


@pytest.fixture
async def shop_app(settings: Settings, clock: FakeClock) -> AsyncIterator[FastAPI]:
    """The app with the shop's origin listed."""
    application = create_app(settings.model_copy(update={"cors_origins": (SHOP,)}), clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def shop_client(shop_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=shop_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def test_a_preflight_from_a_listed_origin_allows_what_the_api_uses(
    shop_client: httpx.AsyncClient,
) -> None:
    response = await shop_client.options(
        f"/orders/carts/{new_cart()}",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "access-control-allow-credentials" not in response.headers
    methods = response.headers["access-control-allow-methods"].split(", ")
    assert set(methods) == {"GET", "POST", "PUT", "DELETE"}
    allowed = response.headers["access-control-allow-headers"].lower().split(", ")
    assert {"authorization", "content-type", "idempotency-key", "if-none-match"} <= set(allowed)


async def test_a_request_from_a_listed_origin_may_read_the_answer_and_its_etag(
    shop_client: httpx.AsyncClient, event: EventFixture, settings: Settings
) -> None:
    seats = f"/events/{event.event_id}/sections/{event.section_ids['Main']}/seats"
    response = await shop_client.get(seats, headers={"Origin": SHOP})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "Origin" in response.headers["vary"]
    exposed = response.headers["access-control-expose-headers"].split(", ")
    assert {"ETag", "Retry-After", "WWW-Authenticate"} <= set(exposed)
    # refusals too: a page can show a problem document
    missing = await shop_client.get("/events/999999", headers={"Origin": SHOP})
    problem(missing, 404, "NOT_FOUND")
    assert missing.headers["access-control-allow-origin"] == SHOP
    too_large = await shop_client.post(
        "/graphql",
        content=b" " * (settings.max_body_bytes + 1),
        headers={"Origin": SHOP, "Content-Type": "application/json"},
    )
    problem(too_large, 413, "PAYLOAD_TOO_LARGE")
    assert too_large.headers["access-control-allow-origin"] == SHOP


async def test_another_origin_gets_no_cors_headers(shop_client: httpx.AsyncClient) -> None:
    response = await shop_client.get("/health", headers={"Origin": FOREIGN})
    assert response.status_code == 200  # the browser, not the server, withholds the answer
    assert "access-control-allow-origin" not in response.headers
    preflight = await shop_client.options(
        f"/orders/carts/{new_cart()}",
        headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"},
    )
    body = problem(preflight, 403, "FORBIDDEN")
    assert "origin" in body["detail"]
    assert "access-control-allow-origin" not in preflight.headers


async def test_a_preflight_for_a_header_the_api_does_not_take_is_refused(
    shop_client: httpx.AsyncClient,
) -> None:
    preflight = await shop_client.options(
        "/health",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-debug",
        },
    )
    problem(preflight, 403, "FORBIDDEN")


async def test_without_listed_origins_there_are_no_cors_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health", headers={"Origin": SHOP})
    assert response.status_code == 200
    assert _cors_headers(response) == {}
    preflight = await client.options(
        "/health", headers={"Origin": SHOP, "Access-Control-Request-Method": "GET"}
    )
    assert _cors_headers(preflight) == {}
    problem(preflight, 405, "METHOD_NOT_ALLOWED")


@contextlib.asynccontextmanager
async def _handshake(app: FastAPI, origin: str | None) -> AsyncIterator[None]:
    """A graphql-transport-ws connection to the app in-process (its Host is `test`), acked."""
    headers = {} if origin is None else {"Origin": origin}
    async with (
        ASGIWebSocketTransport(app=app) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        aconnect_ws("/graphql", http, subprotocols=["graphql-transport-ws"], headers=headers) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json(timeout=WAIT_S))["type"] == "connection_ack"
        yield


def _refused() -> pytest.RaisesGroup[WebSocketDisconnect]:
    """The handshake closed before accept (policy violation; a server answers it 403)."""
    closed = pytest.RaisesExc(WebSocketDisconnect, check=lambda error: error.code == 1008)
    return pytest.RaisesGroup(closed, flatten_subgroups=True)


@pytest.mark.parametrize(
    "origin",
    [
        None,  # no browser: a program could send any Origin it liked
        "http://test",  # the app's own (the in-process client's Host is `test`)
        "http://TEST:80",
        "https://test",  # host and port: TLS may end at a proxy in front of the app
        SHOP,
        "https://shop.example.com:443",
    ],
)
async def test_a_websocket_from_no_browser_its_own_or_a_listed_origin_is_accepted(
    shop_app: FastAPI, origin: str | None
) -> None:
    async with _handshake(shop_app, origin):
        pass


@pytest.mark.parametrize(
    "origin", [FOREIGN, "http://test:8080", "https://shop.example.com.evil.example.net", "null"]
)
async def test_a_websocket_from_another_origin_is_refused_before_the_protocol(
    shop_app: FastAPI, origin: str
) -> None:
    with _refused():
        async with _handshake(shop_app, origin):
            pass


async def test_without_listed_origins_only_the_own_origin_opens_a_websocket(app: FastAPI) -> None:
    async with _handshake(app, "http://test"):
        pass
    with _refused():
        async with _handshake(app, SHOP):
            pass


@pytest.mark.slow
async def test_a_served_websocket_from_another_origin_is_answered_403(database_url: str) -> None:
    with serving(database_url, workers=1, TICKETING_CORS_ORIGINS=SHOP) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            for origin in (None, base_url, SHOP):
                headers = {} if origin is None else {"Origin": origin}
                async with aconnect_ws(
                    "/graphql", http, subprotocols=["graphql-transport-ws"], headers=headers
                ) as ws:
                    await ws.send_json({"type": "connection_init", "payload": {}})
                    assert (await ws.receive_json(timeout=WAIT_S))["type"] == "connection_ack"
            with pytest.raises(WebSocketUpgradeError) as refused:
                async with aconnect_ws(
                    "/graphql",
                    http,
                    subprotocols=["graphql-transport-ws"],
                    headers={"Origin": FOREIGN},
                ):
                    pass
            assert refused.value.response.status_code == 403
