"""Subscription messages executed once per operation and shared: graphql-core would otherwise run
the same selection on the same message once per subscriber."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    Visitor,
    visit,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

SharedResults = dict[int, tuple[OperationDefinitionNode, ExecutionResult]]


class SharedMessage:
    """A subscription message that every subscriber of a worker is sent as the same object: the
    result of each operation on it is kept in its `shared_results`. Its fields must not depend on
    the viewer."""

    shared_results: SharedResults


class SharedEventResults(StrawberryGraphQLCoreExecutionContext):
    """Executes a subscription event whose payload is a `SharedMessage` once per operation whose
    selection uses no variable; any other event, query or mutation as usual."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        message = self.root_value
        operation = self.operation
        if not isinstance(message, SharedMessage) or not _shareable(
            operation, self.fragment_definitions
        ):
            return super().execute_operation(serially)
        results = message.shared_results
        found = results.get(id(operation))
        if found is not None and found[0] is operation:
            return found[1]
        result = super().execute_operation(serially)
        if isinstance(result, ExecutionResult):  # an awaitable is never shared
            results[id(operation)] = (operation, result)
        return result


_SHAREABLE: dict[int, tuple[OperationDefinitionNode, bool]] = {}
_SHAREABLE_LIMIT = 1024
"""Operations remembered; a parsed document's operation is reused (the parser cache), so few
distinct ones come by."""


def _shareable(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> bool:
    known = _SHAREABLE.get(id(operation))
    if known is not None and known[0] is operation:
        return known[1]
    shareable = _uses_no_variables_below_root(operation, fragments)
    if len(_SHAREABLE) >= _SHAREABLE_LIMIT:
        _SHAREABLE.clear()
    _SHAREABLE[id(operation)] = (operation, shareable)
    return shareable


class _Variables(Visitor):
    """Whether a selection names a variable, and the fragments it spreads."""

    def __init__(self) -> None:
        super().__init__()
        self.used = False
        self.spread: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: object) -> None:
        self.used = True

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.spread.add(node.name.value)


def _uses_no_variables_below_root(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> bool:
    """True for a subscription whose root fields are plain fields and whose selections below
    them (with the fragments they spread) name no variable: the root fields' arguments only
    choose the stream, so every subscriber of it gets the same result for the same message."""
    if operation.operation is not OperationType.SUBSCRIPTION or operation.directives:
        return False
    found = _Variables()
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return False
        if selection.selection_set is not None:
            visit(selection.selection_set, found)
    visited: set[str] = set()
    while not found.used and found.spread - visited:
        name = min(found.spread - visited)
        visited.add(name)
        fragment = fragments.get(name)
        if fragment is None:
            return False
        visit(fragment, found)
    return not found.used
