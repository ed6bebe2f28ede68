"""RFC 9457 problem details: the one place that maps error codes to HTTP statuses."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketing.errors import ErrorCode, TicketingError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.SEAT_NOT_AVAILABLE: 409,
    ErrorCode.PRICE_NOT_OFFERED: 422,
    ErrorCode.CART_EMPTY: 409,
    ErrorCode.CART_NOT_OPEN: 409,
    ErrorCode.CART_LIMIT: 409,
    ErrorCode.CURRENCY_MISMATCH: 409,
    ErrorCode.PAYMENT_FINALIZED: 409,
    ErrorCode.PAYMENT_EXPIRED: 409,
    ErrorCode.SERVICE_BUSY: 503,
    ErrorCode.RESULT_TOO_LARGE: 422,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.AUTH_REQUIRED: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.INVALID_SIGNATURE: 401,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.EMAIL_TAKEN: 409,
    ErrorCode.EVENT_NOT_ON_SALE: 409,
    ErrorCode.SECTION_IN_USE: 409,
    ErrorCode.TOO_MANY_SUBSCRIPTIONS: 429,  # GraphQL subscriptions only
    ErrorCode.PAYMENT_NOT_COMPLETED: 409,
    ErrorCode.FORGED_TICKET: 422,
    ErrorCode.WRONG_EVENT: 409,
    ErrorCode.TICKET_VOID: 409,
    ErrorCode.ALREADY_CHECKED_IN: 409,
    ErrorCode.INTERNAL_ERROR: 500,
}


class FieldProblem(BaseModel):
    field: str = Field(
        description="Where the bad value is, e.g. `body.price_id` or `path.cart_id`."
    )
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem; `code` is the stable value to branch on."""

    type: str = Field(examples=["urn:ticketing:problem:seat-not-available"])
    title: str = Field(examples=["Conflict"])
    status: int = Field(examples=[409])
    detail: str = Field(examples=["Seat 17 of event 3 is not available."])
    instance: str = Field(examples=["/orders/carts/6b1f.../"])
    code: ErrorCode
    errors: list[FieldProblem] | None = None
    event_id: int | None = None
    seat_id: int | None = None
    cart_id: str | None = None
    payment_id: str | None = None
    price_id: int | None = None
    limit: int | None = Field(default=None, description="CART_LIMIT: seats a cart may hold.")
    cart_status: str | None = None
    payment_status: str | None = None
    checked_in_at: str | None = Field(
        default=None, description="ALREADY_CHECKED_IN: when the ticket was first checked in."
    )


PROBLEM_REF = "#/components/schemas/Problem"


def problem_responses(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry documenting which problems a route can answer."""
    by_status: dict[int, list[str]] = {}
    for code in (*codes, ErrorCode.VALIDATION_ERROR, ErrorCode.SERVICE_BUSY):
        by_status.setdefault(STATUS_BY_CODE[code], []).append(code.value)
    return {
        status: {
            "model": Problem,  # registers the schema; install_problem_openapi moves it below
            "content": {PROBLEM_JSON: {}},
            "description": f"{HTTPStatus(status).phrase}: code {' | '.join(sorted(set(names)))}",
        }
        for status, names in by_status.items()
    }


# Context a service attaches to an error that clients may branch on, as problem extension members.
_EXTRA_MEMBERS = {
    "event_id",
    "seat_id",
    "cart_id",
    "payment_id",
    "price_id",
    "limit",
    "cart_status",
    "payment_status",
    "checked_in_at",
}


def problem_document(
    *, code: ErrorCode, detail: str, instance: str, status: int | None = None
) -> dict[str, Any]:
    status = status or STATUS_BY_CODE[code]
    return {
        "type": f"urn:ticketing:problem:{code.value.lower().replace('_', '-')}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code.value,
    }


def problem_response(
    request: Request,
    *,
    code: ErrorCode,
    detail: str,
    status: int | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = problem_document(code=code, detail=detail, instance=request.url.path, status=status)
    if errors:
        body["errors"] = errors
    for key, value in (extra or {}).items():
        if key in _EXTRA_MEMBERS:
            body.setdefault(key, value)
    headers: dict[str, str] = {}
    if code in (ErrorCode.SERVICE_BUSY, ErrorCode.TOO_MANY_ATTEMPTS):
        headers["Retry-After"] = str((extra or {}).get("retry_after", 1))
    elif code is ErrorCode.INVALID_TOKEN:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    elif code in (ErrorCode.AUTH_REQUIRED, ErrorCode.INVALID_CREDENTIALS):
        headers["WWW-Authenticate"] = "Bearer"
    elif code is ErrorCode.INVALID_SIGNATURE:
        headers["WWW-Authenticate"] = "Ticketing-Signature"
    return JSONResponse(
        body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers or None
    )


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route accepts for this path (the Allow header must list them all)."""
    path = request.url.path
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        path_regex = getattr(route, "path_regex", None)
        if path_regex is not None and path_regex.match(path):
            methods.update(route.methods or ())
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(TicketingError)
    async def on_ticketing_error(request: Request, exc: TicketingError) -> JSONResponse:
        errors = None
        if exc.field and exc.code is ErrorCode.VALIDATION_ERROR:
            errors = [{"field": ".".join(exc.field), "message": exc.message}]
        return problem_response(
            request, code=exc.code, detail=exc.message, errors=errors, extra=exc.context
        )

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                # A body that is not JSON at all is the body's problem, not a character's.
                "field": "body" if err.get("type") == "json_invalid" else _location(err["loc"]),
                "message": str(err.get("msg", "")),
            }
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request."
        return problem_response(
            request, code=ErrorCode.VALIDATION_ERROR, detail=detail, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8, a form without its
            # boundary): the body's problem, answered like a body that is not JSON
            detail = exc.detail if isinstance(exc.detail, str) else "The body cannot be read."
            return problem_response(
                request,
                code=ErrorCode.VALIDATION_ERROR,
                detail=detail,
                errors=[{"field": "body", "message": detail}],
            )
        code = {
            404: ErrorCode.NOT_FOUND,
            405: ErrorCode.METHOD_NOT_ALLOWED,
        }.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
        if exc.status_code >= 500:
            code = ErrorCode.INTERNAL_ERROR
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        response = problem_response(request, code=code, detail=detail, status=exc.status_code)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            # Starlette names only the first route matching the path; list every method.
            response.headers["Allow"] = ", ".join(_allowed_methods(app, request))
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged with its trace for operators; the client learns nothing about the internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request, code=ErrorCode.INTERNAL_ERROR, detail="An unexpected error occurred."
        )


def install_problem_openapi(app: FastAPI) -> None:
    """Document every error response as what the API sends: a Problem as problem+json.

    FastAPI would put `responses` models under application/json and add its own
    HTTPValidationError for 422, a shape this API never sends.
    """
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = default_openapi()
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                _document_shared_problems(operation)
                for status, response in operation.get("responses", {}).items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
                        if status == "422" and "code" not in response["description"]:
                            response["description"] = "Unprocessable Content: code VALIDATION_ERROR"
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _document_shared_problems(operation: dict[str, Any]) -> None:
    """Problems every route of a kind can answer, whatever it declares itself."""
    security = operation.get("security", [])
    # a route's own requirement and a shared one (rest.deps.SIGN_IN_OPTIONAL) may name the same
    operation["security"] = [r for i, r in enumerate(security) if r not in security[:i]]
    if not operation["security"]:
        del operation["security"]
    else:  # rest.deps.viewer_of checks any token sent
        _document_problem(operation, ErrorCode.INVALID_TOKEN)
    if "requestBody" in operation:  # rest.body_limit refuses larger bodies unread
        _document_problem(operation, ErrorCode.PAYLOAD_TOO_LARGE)


def _document_problem(operation: dict[str, Any], code: ErrorCode) -> None:
    status = STATUS_BY_CODE[code]
    responses = operation.setdefault("responses", {})
    documented = responses.get(str(status))
    if documented is None:
        responses[str(status)] = {"description": f"{HTTPStatus(status).phrase}: code {code.value}"}
    elif code.value not in documented["description"]:
        documented["description"] += f" | {code.value}"
