"""Thin helpers over POST /graphql, so GraphQL tests read as the client's operations."""

from __future__ import annotations

from typing import Any

import httpx

GRAPHQL_PATH = "/graphql"


async def gql_raw(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    """POST one operation; the response is returned as it came, whatever its status."""
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return await client.post(GRAPHQL_PATH, json=payload)


async def gql_json(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST one operation and return its whole JSON body (`data` and/or `errors`).

    Asserts only that the server did not fail (no 5xx) and answered JSON.
    """
    response = await gql_raw(client, query, variables)
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    return body


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    allow_errors: bool = False,
) -> dict[str, Any]:
    """POST one operation, assert HTTP 200 and (unless allowed) no `errors`; return `data`."""
    response = await gql_raw(client, query, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if not allow_errors:
        assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body.get("data") or {}
    return data


def error_messages(body: dict[str, Any]) -> list[str]:
    """The `message` of every GraphQL error of a response body (empty when there are none)."""
    return [str(error.get("message", "")) for error in body.get("errors") or []]
