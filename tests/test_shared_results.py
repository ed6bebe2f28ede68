"""A subscription message sent to many subscribers is executed once per operation, and only when
its selection cannot differ between them (no variables below the subscription field)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import ParserCache

from schema.shared_results import SharedEventResults, SharedMessage, SharedResults


@strawberry.type
class Message(SharedMessage):
    text: str
    shared_results: strawberry.Private[SharedResults] = dataclasses.field(default_factory=dict)

    @strawberry.field
    def shout(self, info: strawberry.Info) -> str:
        info.context["executed"] += 1
        return self.text.upper()


class Broadcast:
    """Hands every subscriber the same message objects, as the seat-map pump does."""

    def __init__(self, messages: list[Message | None]) -> None:
        self.messages = messages


@strawberry.type
class Query:
    ping: str = "pong"


def _schema(broadcast: Broadcast) -> strawberry.Schema:
    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def messages(self, channel: str) -> AsyncGenerator[Message | None, None]:
            for message in broadcast.messages:
                yield message

    return strawberry.Schema(
        query=Query,
        subscription=Subscription,
        # one document per query text, as the app's parser cache gives
        extensions=[ParserCache],
        execution_context_class=SharedEventResults,
    )


async def _results(
    schema: strawberry.Schema, query: str, variables: dict[str, Any], context: dict[str, int]
) -> list[Any]:
    stream = await schema.subscribe(query, variable_values=variables, context_value=context)
    assert not isinstance(stream, strawberry.types.ExecutionResult), stream
    results = []
    async for result in stream:
        assert not result.errors, result.errors
        results.append(result.data)
    return results


PLAIN = "subscription($c: String!) { messages(channel: $c) { text shout } }"


async def test_subscribers_of_one_operation_share_each_message_whatever_their_arguments() -> None:
    schema = _schema(Broadcast([Message(text="a"), None, Message(text="b")]))
    context = {"executed": 0}
    results = await asyncio.gather(
        *(_results(schema, PLAIN, {"c": channel}, context) for channel in ("x", "y", "z"))
    )
    expected = [
        {"messages": {"text": "a", "shout": "A"}},
        {"messages": None},
        {"messages": {"text": "b", "shout": "B"}},
    ]
    assert results == [expected] * 3
    assert context["executed"] == 2  # once per message, not once per message and subscriber


@pytest.mark.parametrize(
    "query",
    [
        "subscription($c: String!, $loud: Boolean!) {"
        " messages(channel: $c) { text shout @include(if: $loud) } }",
        "subscription($c: String!, $loud: Boolean!) {"
        " messages(channel: $c) { ...Loud } } fragment Loud on Message {"
        " text shout @include(if: $loud) }",
    ],
)
async def test_a_selection_that_uses_variables_is_executed_for_each_subscriber(query: str) -> None:
    schema = _schema(Broadcast([Message(text="a")]))
    context = {"executed": 0}
    loud = await _results(schema, query, {"c": "x", "loud": True}, context)
    quiet = await _results(schema, query, {"c": "x", "loud": False}, context)
    assert loud == [{"messages": {"text": "a", "shout": "A"}}]
    assert quiet == [{"messages": {"text": "a"}}]
    assert context["executed"] == 1
