"""The published contract: OpenAPI lists the whole URL set and its problems; docs work offline."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
ID_PARAMS = {"venue_id", "event_id", "section_id", "seat_id"}
UUID_PARAMS = {"cart_id", "payment_id"}

# (method, path) -> (is a list, properties the 200 body must have)
VENUE = {"id", "name", "city", "timezone", "focal_point"}
SECTION = {"id", "venue_id", "name", "kind", "capacity", "position"}
EVENT = {"id", "name", "venue_id", "venue_name", "starts_at", "currency", "status"}
SEAT = {
    "section_id",
    "row_id",
    "seat_id",
    "row",
    "number",
    "type",
    "x",
    "y",
    "status",
    "price_options",
}
CART = {"cart_id", "status", "items", "total_amount", "currency", "expires_at", "payment_id"}
BOOKING = {"payment_id", "cart_id", "status", "total_amount", "currency", "expires_at"}
PAYMENT = BOOKING | {"created_at", "finalized_at", "tickets"}

ROUTES: dict[tuple[str, str], tuple[bool, set[str]]] = {
    ("get", "/health"): (False, {"status", "payments"}),
    ("get", "/venues"): (True, VENUE),
    ("get", "/venues/{venue_id}"): (False, VENUE),
    ("get", "/venues/{venue_id}/sections"): (True, SECTION),
    ("get", "/events"): (True, EVENT),
    ("get", "/events/{event_id}"): (False, EVENT),
    ("get", "/events/{event_id}/sections"): (True, SECTION | {"event_id", "available_count"}),
    ("get", "/events/{event_id}/sections/{section_id}/seats"): (True, SEAT),
    ("get", "/orders/carts/{cart_id}"): (False, CART),
    ("post", "/orders/carts/{cart_id}"): (False, CART),
    ("delete", "/orders/carts/{cart_id}/events/{event_id}/seats/{seat_id}"): (False, CART),
    ("put", "/orders/carts/{cart_id}/book"): (False, BOOKING),
    ("get", "/payments/{payment_id}"): (False, PAYMENT),
    ("post", "/payments/{payment_id}/complete"): (False, PAYMENT),
    ("post", "/payments/{payment_id}/failed"): (False, PAYMENT),
}
WITHOUT_INPUT = {("get", "/health"), ("get", "/venues")}
WITH_INPUT = sorted(set(ROUTES) - WITHOUT_INPUT)


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = response.json()
    return document


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        prefix = "#/components/schemas/"
        assert schema["$ref"].startswith(prefix), schema
        schema = spec["components"]["schemas"][schema["$ref"].removeprefix(prefix)]
    return schema


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    assert path in spec["paths"], f"{path} missing from {sorted(spec['paths'])}"
    assert method in spec["paths"][path], f"{method.upper()} {path} missing"
    op: dict[str, Any] = spec["paths"][path][method]
    return op


def route_id(route: tuple[str, str]) -> str:
    return f"{route[0].upper()} {route[1]}"


async def test_openapi_document_basics(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Ticketing API"
    assert spec["info"]["version"]


async def test_openapi_lists_every_route_of_the_url_set(spec: dict[str, Any]) -> None:
    listed = {
        (method, path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in {"get", "post", "put", "patch", "delete"}
    }
    missing = set(ROUTES) - listed
    assert not missing, sorted(missing)
    # No other method is documented on the URL set's paths.
    on_our_paths = {(m, p) for m, p in listed if p in {path for _, path in ROUTES}}
    assert on_our_paths == set(ROUTES)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=route_id)
async def test_route_has_a_200_response_schema(
    spec: dict[str, Any], route: tuple[str, str]
) -> None:
    method, path = route
    is_list, properties = ROUTES[route]
    ok = operation(spec, method, path)["responses"]["200"]
    schema = ok["content"]["application/json"]["schema"]
    assert schema
    schema = resolve(spec, schema)
    if is_list:
        assert schema["type"] == "array", schema
        schema = resolve(spec, schema["items"])
    assert schema["type"] == "object", schema
    assert set(schema["properties"]) == properties


@pytest.mark.parametrize("route", sorted(ROUTES), ids=route_id)
async def test_route_has_summary_and_operation_id(
    spec: dict[str, Any], route: tuple[str, str]
) -> None:
    op = operation(spec, *route)
    assert op["summary"]
    assert op["operationId"]


async def test_operation_ids_are_unique(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("route", WITH_INPUT, ids=route_id)
async def test_route_with_input_documents_a_422_problem(
    spec: dict[str, Any], route: tuple[str, str]
) -> None:
    responses = operation(spec, *route)["responses"]
    assert "422" in responses, sorted(responses)
    content = responses["422"]["content"]
    assert PROBLEM_JSON in content, content
    assert content[PROBLEM_JSON].get("schema") == {"$ref": PROBLEM_REF}, content
    # Whatever else is listed must describe the same body: the client always gets a Problem.
    for media_type, entry in content.items():
        if "schema" in entry:
            assert entry["schema"] == {"$ref": PROBLEM_REF}, (media_type, entry)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=route_id)
async def test_no_route_documents_the_framework_validation_error(
    spec: dict[str, Any], route: tuple[str, str]
) -> None:
    """Errors are problem details; FastAPI's own `HTTPValidationError` shape is never sent."""
    responses = operation(spec, *route)["responses"]
    assert "HTTPValidationError" not in repr(responses)


async def test_cart_post_documents_409_and_404_problems(spec: dict[str, Any]) -> None:
    responses = operation(spec, "post", "/orders/carts/{cart_id}")["responses"]
    for status in ("404", "409", "422"):
        assert status in responses, sorted(responses)
        assert responses[status]["content"][PROBLEM_JSON].get("schema") == {"$ref": PROBLEM_REF}, (
            responses[status]
        )
    description = responses["409"]["description"]
    for code in ("SEAT_NOT_AVAILABLE", "CART_NOT_OPEN", "CART_LIMIT", "CURRENCY_MISMATCH"):
        assert code in description
    assert "PRICE_NOT_OFFERED" in responses["422"]["description"]
    assert "VALIDATION_ERROR" in responses["422"]["description"]


@pytest.mark.parametrize(
    ("route", "status"),
    [
        (("delete", "/orders/carts/{cart_id}/events/{event_id}/seats/{seat_id}"), "409"),
        (("put", "/orders/carts/{cart_id}/book"), "409"),
        (("post", "/payments/{payment_id}/complete"), "409"),
        (("post", "/payments/{payment_id}/failed"), "409"),
        (("get", "/venues/{venue_id}"), "404"),
        (("get", "/events/{event_id}"), "404"),
        (("get", "/events/{event_id}/sections/{section_id}/seats"), "404"),
        (("get", "/payments/{payment_id}"), "404"),
    ],
    ids=lambda value: route_id(value) if isinstance(value, tuple) else value,
)
async def test_route_documents_its_problems(
    spec: dict[str, Any], route: tuple[str, str], status: str
) -> None:
    responses = operation(spec, *route)["responses"]
    assert status in responses, sorted(responses)
    assert responses[status]["content"][PROBLEM_JSON].get("schema") == {"$ref": PROBLEM_REF}


async def test_problem_schema(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "code", "errors"} <= set(
        problem["properties"]
    )
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(problem["required"])
    codes = resolve(spec, problem["properties"]["code"])
    assert "VALIDATION_ERROR" in codes["enum"]
    assert "INTERNAL_ERROR" in codes["enum"]


@pytest.mark.parametrize("route", WITH_INPUT, ids=route_id)
async def test_path_parameters_document_their_bounds(
    spec: dict[str, Any], route: tuple[str, str]
) -> None:
    method, path = route
    names = set(re.findall(r"{(\w+)}", path))
    params = {
        p["name"]: p
        for p in operation(spec, method, path).get("parameters", [])
        if p["in"] == "path"
    }
    assert set(params) == names
    for name, param in params.items():
        assert param["required"] is True
        schema = param["schema"]
        if name in ID_PARAMS:
            assert schema["type"] == "integer"
            assert schema["minimum"] == 1
            assert schema["maximum"] == 2_147_483_647
        else:
            assert name in UUID_PARAMS
            assert schema["type"] == "string"
            assert schema["format"] == "uuid"


async def test_cart_post_body_schema(spec: dict[str, Any]) -> None:
    body = operation(spec, "post", "/orders/carts/{cart_id}")["requestBody"]
    assert body["required"] is True
    schema = resolve(spec, body["content"]["application/json"]["schema"])
    assert set(schema["properties"]) == {"event_id", "seat_id", "price_id"}
    assert set(schema["required"]) == {"event_id", "seat_id", "price_id"}
    assert schema["additionalProperties"] is False
    for prop in schema["properties"].values():
        assert prop["type"] == "integer"
        assert prop["minimum"] == 1
        assert prop["maximum"] == 2_147_483_647


async def test_events_query_parameters(spec: dict[str, Any]) -> None:
    params = {p["name"]: p for p in operation(spec, "get", "/events")["parameters"]}
    assert set(params) == {"venue_id", "starts_after"}
    assert all(p["in"] == "query" and not p.get("required", False) for p in params.values())


# --- Offline docs --------------------------------------------------------------------------

ASSET = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)


def asset_urls(html: str) -> list[str]:
    return ASSET.findall(html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_load_their_assets_from_the_app_itself(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    urls = asset_urls(html)
    assert any(u.endswith(".js") for u in urls), urls
    if page == "/docs":
        assert any(u.endswith(".css") for u in urls), urls
    for url in urls:
        assert not re.match(r"^(https?:)?//", url, re.I), f"{page} loads {url} from outside"
        assert url.startswith("/"), url
    # Nothing else on the page reaches out to a CDN either.
    assert not re.search(r"""["'(]\s*(https?:)?//(?!test\b)""", html), html
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    assert "/openapi.json" in html


async def test_docs_asset_types(client: httpx.AsyncClient) -> None:
    urls = asset_urls((await client.get("/docs")).text)
    for url in urls:
        content_type = (await client.get(url)).headers["content-type"]
        if url.endswith(".js"):
            assert "javascript" in content_type, (url, content_type)
        elif url.endswith(".css"):
            assert content_type.startswith("text/css"), (url, content_type)


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok", "payments": "test"}


async def test_bearer_sign_in_is_declared_for_the_authorize_button(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    (scheme,) = schemes.values()
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "auth/token"
    token = operation(spec, "post", "/auth/token")
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert {"username", "password"} <= set(resolve(spec, form["schema"])["properties"])
    assert "401" in token["responses"]
    assert "429" in token["responses"]
    # routes that act for the caller declare the scheme
    assert operation(spec, "get", "/me").get("security")
    assert operation(spec, "put", "/orders/carts/{cart_id}/book").get("security")


# --- The document states the service's rules (what a schema-valid request gets) -----------


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("fan@example.com", "long enough"),
        ("Fan.Club+1@example.co.uk", "x" * 1024),
        ("fan", "long enough"),
        ("fan@localhost", "long enough"),
        ("fan @example.com", "long enough"),
        ("fan\u0085@example.com", "long enough"),
        ("fan@@example.com", "long enough"),
        ("fan@example.com", "short"),
    ],
)
async def test_register_documents_the_rules_it_applies(
    client: httpx.AsyncClient, spec: dict[str, Any], email: str, password: str
) -> None:
    """The document's pattern and lengths accept what registering accepts, and only that."""
    body = operation(spec, "post", "/auth/register")["requestBody"]
    fields = resolve(spec, body["content"]["application/json"]["schema"])["properties"]
    documented = bool(re.search(fields["email"]["pattern"], email)) and (
        fields["password"]["minLength"] <= len(password) <= fields["password"]["maxLength"]
    )
    registered = await client.post("/auth/register", json={"email": email, "password": password})
    assert registered.status_code == (201 if documented else 422), registered.text


async def test_sign_in_form_documents_its_fields_as_a_form_sends_them(
    client: httpx.AsyncClient, spec: dict[str, Any]
) -> None:
    form = operation(spec, "post", "/auth/token")["requestBody"]["content"]
    fields = resolve(spec, form["application/x-www-form-urlencoded"]["schema"])["properties"]
    assert fields["username"]["minLength"] == fields["password"]["minLength"] == 1
    # a form field is text or absent, never null
    assert fields["grant_type"] == {
        "type": "string",
        "pattern": "^password$",
        "default": "password",
        "title": "Grant Type",
    }
    response = await client.post("/auth/token", data={"username": "", "password": ""})
    assert response.status_code == 422, response.text


async def test_general_admission_quantity_documents_its_minimum(spec: dict[str, Any]) -> None:
    body = operation(spec, "post", "/orders/carts/{cart_id}/general-admission")["requestBody"]
    fields = resolve(spec, body["content"]["application/json"]["schema"])["properties"]
    assert fields["quantity"]["minimum"] == 1  # 0 and less: VALIDATION_ERROR (test_bad_input)


def _with_security(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, operations in spec["paths"].items()
        for method, op in operations.items()
        if op.get("security")
    ]


async def test_every_route_reading_a_token_documents_invalid_token(spec: dict[str, Any]) -> None:
    """A client whose token expired gets 401 INVALID_TOKEN from any route it sends it to."""
    routes = _with_security(spec)
    assert len(routes) == 18, routes  # tickets.pdf and checkins among them
    for method, path in routes:
        unauthorized = operation(spec, method, path)["responses"]["401"]
        assert "INVALID_TOKEN" in unauthorized["description"], (method, path)
        assert unauthorized["content"][PROBLEM_JSON]["schema"] == {"$ref": PROBLEM_REF}


@pytest.mark.parametrize(
    "path",
    ["/events", "/events/1", "/events/1/sections", "/events/1/seats", "/events/1/sections/1/seats"],
)
async def test_an_expired_token_on_a_catalog_route_is_invalid_token(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers={"Authorization": "Bearer tkt_expired"})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "INVALID_TOKEN"


async def test_sign_in_is_optional_where_anonymous_callers_are_served(
    spec: dict[str, Any],
) -> None:
    """`{}` among the requirements: no token is fine; only the account routes and check-in
    need one."""
    required = {
        (method, path)
        for method, path in _with_security(spec)
        if {} not in operation(spec, method, path)["security"]
    }
    assert required == {
        ("post", "/auth/logout"),
        ("get", "/me"),
        ("get", "/me/orders"),
        ("post", "/events/{event_id}/checkins"),
    }


async def test_every_route_with_a_body_documents_payload_too_large(spec: dict[str, Any]) -> None:
    with_body = [
        (method, path)
        for path, operations in spec["paths"].items()
        for method, op in operations.items()
        if "requestBody" in op
    ]
    assert len(with_body) == 5, with_body
    for method, path in with_body:
        too_large = operation(spec, method, path)["responses"]["413"]
        assert "PAYLOAD_TOO_LARGE" in too_large["description"], (method, path)
