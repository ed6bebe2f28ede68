"""CORS for pages on the origins of TICKETING_CORS_ORIGINS, by Starlette's middleware (the
GraphQL router checks WebSocket handshakes against the same list)."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from rest.problems import PROBLEM_JSON, problem_document
from ticketing import idempotency
from ticketing.errors import ErrorCode

CORS_METHODS = ("GET", "POST", "PUT", "DELETE")
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", idempotency.KEY_HEADER, "If-None-Match")
"""What a browser app sends beyond the safelisted headers (the payment provider's signature
header comes from a server, never a page)."""
CORS_EXPOSED_HEADERS = ("ETag", "Retry-After", "WWW-Authenticate")


def install_cors(app: FastAPI, *, allowed: Collection[str]) -> None:
    """Answers CORS for the listed origins; none listed: no CORS headers at all (pages of the
    app's own origin need none)."""
    if allowed:
        app.add_middleware(
            ProblemCORSMiddleware,
            allow_origins=list(allowed),
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            # bearer tokens go in a header a page sets itself; no cookie is ever ours to send
            allow_credentials=False,
        )


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as a problem document like every
    other refusal (a browser hides it from the page, but a developer's tools show it)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                response = self.preflight_response(request_headers=headers)
                if response.status_code >= 400:
                    response = _refused_preflight(response, path=scope["path"])
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _refused_preflight(refusal: Response, *, path: str) -> Response:
    document = problem_document(
        code=ErrorCode.FORBIDDEN,
        detail=f"{bytes(refusal.body).decode()}: browsers may not send this cross-origin "
        "request (see TICKETING_CORS_ORIGINS).",
        instance=path,
    )
    response = JSONResponse(document, status_code=document["status"], media_type=PROBLEM_JSON)
    for name in ("vary", "access-control-allow-methods", "access-control-max-age"):
        if name in refusal.headers:
            response.headers[name] = refusal.headers[name]
    return response
