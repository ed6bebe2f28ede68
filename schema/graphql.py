"""The Strawberry schema and its router: limits against abusive operations, masked errors,
and GraphiQL served from the installed package (no CDN)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from functools import partial
from importlib import resources
from pathlib import Path

import orjson
import strawberry
from cross_web import HTTPException
from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from graphql import (
    ASTValidationRule,
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
)
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as create_alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_validator
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types import ExecutionContext
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.graphql import OperationType as StrawberryOperationType

from schema.accounts.types import AccountsMutation, AccountsQuery
from schema.cached_operations import SeatMapResultCache
from schema.catalog.queries import CatalogQuery
from schema.catalog.seatmap import (
    SEAT_MAP_LAYOUT_SCALAR,
    SeatMapLayoutJSON,
    SeatMapQuery,
    SeatMapSubscription,
)
from schema.common import UUID
from schema.context import Context, context_getter
from schema.cost import SeatObjectLimit
from schema.manage.mutations import ManageMutation
from schema.manage.webhooks import WebhooksMutation, WebhooksQuery
from schema.orders.mutations import OrdersMutation
from schema.orders.types import OrdersQuery
from schema.result_cache import ResultCache
from schema.shared_results import SharedEventResults
from schema.tickets import TicketsMutation
from ticketing.errors import ErrorCode, TicketingError
from ticketing.settings import Settings

log = logging.getLogger(__name__)

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 4000
AUTHENTICATION_MUTATIONS = frozenset({"signIn", "register"})
"""Root mutations that hash or verify a password: one per operation."""
GRAPHIQL_ASSETS = "graphiql"


@strawberry.type(description="Read the catalog, seat maps, carts, payments and your account.")
class Query(CatalogQuery, SeatMapQuery, OrdersQuery, AccountsQuery, WebhooksQuery):
    pass


@strawberry.type(
    description="Change carts, finish payments, manage your account; managers build venues, "
    "events and prices; scanners check tickets in."
)
class Mutation(OrdersMutation, AccountsMutation, ManageMutation, TicketsMutation, WebhooksMutation):
    pass


@strawberry.type(description="Follow seat maps live, over a WebSocket (graphql-transport-ws).")
class Subscription(SeatMapSubscription):
    pass


class SubscriptionsOnlyOverWebSockets(SchemaExtension):
    """A WebSocket's context lives as long as the connection (one `now`, one freshness per
    event): queries and mutations, which must see the present, go over HTTP."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        request = getattr(execution.context, "request", None)
        over_websocket = request is not None and request.scope["type"] == "websocket"
        if over_websocket and execution.operation_type is not StrawberryOperationType.SUBSCRIPTION:
            error = GraphQLError(
                "Send queries and mutations over HTTP; a WebSocket serves subscriptions.",
                extensions={"code": ErrorCode.VALIDATION_ERROR.value},
            )
            execution.result = ExecutionResult(data=None, errors=[error])
        yield


def _should_mask(error: GraphQLError) -> bool:
    """Hide what went wrong inside a resolver (a bug); show the client its own mistakes.

    Errors without a path happened before execution (syntax, validation, limits, a variable
    that is not a valid UUID or DateTime): they describe the request, never the server.
    """
    original = error.original_error
    if error.path is None or original is None:
        return False
    # Our own expected failures (e.g. SERVICE_BUSY in a query) carry messages meant for clients.
    return not isinstance(original, TicketingError)


class MaskUnexpectedErrors(MaskErrors):
    """Masks what went wrong inside a resolver; the masked error keeps a code to branch on."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_should_mask, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": ErrorCode.INTERNAL_ERROR.value}
        return masked

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # The stock hook tests every result against a runtime-checkable Protocol, a slow
        # isinstance that each subscription message paid; a result without errors has none to mask.
        if any(getattr(result, name, None) for name in ("errors", "incremental", "completed")):
            yield from super().on_stream_result(result)
        else:
            yield None


class TicketingSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Every error gets a code (the REST problem codes), and what went wrong on our side is
        logged with its trace; a client's own mistake is only its answer.

        Errors before execution (syntax, validation, limits, variables) are the request's fault;
        some never pass through the extensions' hooks, but every error passes here.
        """
        ours = []
        for error in errors:
            failed_inside = error.path is not None and not isinstance(
                error.original_error, TicketingError
            )
            if failed_inside:
                ours.append(error)
            if not (error.extensions or {}).get("code"):
                code = ErrorCode.INTERNAL_ERROR if failed_inside else ErrorCode.VALIDATION_ERROR
                error.extensions = {**(error.extensions or {}), "code": code.value}
        super().process_errors(ours, execution_context)


# Parsed documents take about a hundred times their text in memory: only short operations (an
# app's own, not a stranger's largest) are kept, so that the caches stay small whatever is sent.
CACHED_OPERATION_CHARS = 2048
CACHED_OPERATIONS = 128


class SmallOperationParserCache(ParserCache):
    def __init__(self) -> None:
        super().__init__(maxsize=CACHED_OPERATIONS)

    def on_parse(self) -> Iterator[None]:
        if len(self.execution_context.query or "") > CACHED_OPERATION_CHARS:
            yield  # parsed by the schema, and not kept
        else:
            yield from super().on_parse()


class SmallOperationValidationCache(ValidationCache):
    def __init__(self) -> None:
        super().__init__(maxsize=CACHED_OPERATIONS)

    def on_validate(self) -> Iterator[None]:
        if len(self.execution_context.query or "") > CACHED_OPERATION_CHARS:
            yield  # validated by the schema, and not kept
        else:
            yield from super().on_validate()


class OneAuthenticationMutation(ValidationRule):
    """At most one signIn or register per operation, however written (aliases, fragments):
    each costs a password hash, and one request must not buy many of them."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: object) -> None:
        if node.operation is not OperationType.MUTATION:
            return
        count = self._count(node.selection_set, visited=set())
        if count > 1:
            self.report_error(
                GraphQLError(
                    f"An operation may run at most one signIn or register mutation; this one "
                    f"has {count}. Send them as separate requests.",
                    node,
                    extensions={"code": ErrorCode.VALIDATION_ERROR.value},
                )
            )

    def _count(self, selection_set: SelectionSetNode, *, visited: set[str]) -> int:
        """Root fields named like an authentication mutation, through fragments (each counted
        once: a fragment cycle is another rule's error)."""
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += selection.name.value in AUTHENTICATION_MUTATIONS
            elif isinstance(selection, InlineFragmentNode):
                count += self._count(selection.selection_set, visited=visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is not None and name not in visited:
                    visited.add(name)
                    count += self._count(fragment.selection_set, visited=visited)
        return count


# The limits' validation rules are made once: ValidationCache keys on the rule classes, and a
# limiter extension made per operation would make new classes (and miss the cache) every time.
_LIMIT_RULES: list[type[ASTValidationRule]] = [
    create_depth_validator(MAX_DEPTH, should_ignore=None),
    create_alias_validator(MAX_ALIASES),
    OneAuthenticationMutation,
]


def create_schema(settings: Settings | None = None) -> strawberry.Schema:
    seat_objects = SeatObjectLimit()
    # Factories: each operation gets fresh extension instances.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(AddValidationRules, _LIMIT_RULES),
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        MaskUnexpectedErrors,
        SubscriptionsOnlyOverWebSockets,
        SmallOperationParserCache,
        SmallOperationValidationCache,
        SeatMapResultCache,
        # after the cache: a cached answer is not executed, and needs no estimate
        seat_objects.extension,
    ]
    if settings is not None and not settings.graphql_introspection:
        extensions.append(DisableIntrospection)
    schema = TicketingSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        scalar_overrides={uuid.UUID: UUID, SeatMapLayoutJSON: SEAT_MAP_LAYOUT_SCALAR},
        execution_context_class=SharedEventResults,
    )
    seat_objects.bind(schema)
    return schema


def graphiql_assets() -> Path:
    """Where the build put GraphiQL's files (npm packages, copied in by the build hook)."""
    return Path(str(resources.files("schema") / "static" / GRAPHIQL_ASSETS))


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends graphql-transport-ws messages as text frames, as the protocol asks (browsers'
    clients parse strings): our JSON encoder makes bytes, which would go as binary frames."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLRouterOffline(GraphQLRouter[Context, None]):
    """Serves its own GraphiQL page whose scripts and styles come from this app, and keeps the
    app's cached query results (`result_cache`)."""

    websocket_adapter_class = TextFrameWebSocketAdapter

    def __init__(
        self,
        schema: strawberry.Schema,
        *,
        result_cache: ResultCache,
        graphiql: bool,
        allowed_origins: Sequence[str] = (),
    ) -> None:
        super().__init__(
            schema,
            context_getter=context_getter(result_cache),
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=False,
            # A WebSocket handshake without Origin (no browser), from the app's own origin
            # (Origin's host and port are the Host) or from one of these goes on; any other is
            # refused before accept, a 403 (browsers apply no CORS to WebSockets).
            allowed_origins=allowed_origins,
        )
        self.result_cache = result_cache

    def decode_json(self, data: str | bytes) -> object:
        decoded = orjson.loads(data)  # its JSONDecodeError is json's: a 400 for the client
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object with a `query`.")
        return decoded

    def encode_json(self, data: object) -> bytes:
        # orjson: several times faster than json on big results, and it embeds the seat map's
        # pre-encoded layout (an orjson.Fragment) as it is.
        return orjson.dumps(data)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        zipped: bytes | None = getattr(sub_response, "ticketing_gzip_body", None)
        if zipped is None:
            return super().create_response(response_data, sub_response)
        # a cached answer to a client that accepts gzip: its body, compressed once
        response = Response(zipped, media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
        return response

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        base = f"{request.scope.get('root_path', '')}/graphql/static"
        return HTMLResponse(GRAPHIQL_PAGE.replace("{{base}}", base))


def create_router(settings: Settings) -> GraphQLRouterOffline:
    """The router of one app: its own schema and result cache."""
    return GraphQLRouterOffline(
        create_schema(settings),
        result_cache=ResultCache(),
        graphiql=settings.graphiql,
        allowed_origins=settings.cors_origins,
    )


GRAPHIQL_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Ticketing GraphiQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="{{base}}/graphiql.min.css">
  <link rel="stylesheet" href="{{base}}/plugin-explorer.css">
  <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script src="{{base}}/react.production.min.js"></script>
  <script src="{{base}}/react-dom.production.min.js"></script>
  <script src="{{base}}/js.cookie.min.js"></script>
  <script src="{{base}}/graphiql.min.js"></script>
  <script src="{{base}}/plugin-explorer.umd.js"></script>
  <script>
    const csrfToken = Cookies.get("csrftoken");
    const fetcher = GraphiQL.createFetcher({
      url: window.location.pathname,
      headers: csrfToken ? { "x-csrftoken": csrfToken } : {},
    });
    const explorer = GraphiQLPluginExplorer.explorerPlugin();
    const example = "# Seat map of the first event\\n" +
      "{\\n  events(first: 1) {\\n    nodes {\\n      name\\n      startsAt\\n" +
      "      sections { id name kind availableCount }\\n    }\\n  }\\n}\\n";
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultEditorToolsVisibility: true,
        plugins: [explorer],
        defaultQuery: example,
      }),
    );
  </script>
</body>
</html>
"""
