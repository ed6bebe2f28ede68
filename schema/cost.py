"""What an operation's seats as objects would cost, bounded before it runs: an operation over the
budget is refused with RESULT_TOO_LARGE before any resolver, having loaded no seat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import strawberry
from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    VariableValues,
    build_schema,
    get_argument_values,
    get_directive_values,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    get_variable_values,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
)
from strawberry.extensions import SchemaExtension

from schema.catalog.queries import MAX_PAGE
from schema.common import lookup_id
from schema.context import Context
from ticketing.catalog import queries as catalog
from ticketing.domain import EventSize, SectionKind
from ticketing.errors import ErrorCode, TicketingError
from ticketing.management.commands import MAX_PRICE_LEVELS

MAX_OPERATION_COST = 30_000
"""What one operation may ask of seats as objects, in fields (see `SeatLists.seat_cost`): a
1,000-seat section with statuses and price options fits; larger maps are for `seatMap`."""

SEAT_COST = 2
"""One seat object, made and completed, before its selected fields. Every seat also makes its
price options, selected or not: one more per two price levels of the event."""


@dataclass(slots=True)
class SeatLists:
    """Seat lists asked for each seat of a section: how many, and what each seat of them costs
    in fields, `fixed + per_level * price levels` (price options multiply by the levels)."""

    count: int = 0
    fixed: int = 0
    per_level: int = 0

    def add(self, other: SeatLists) -> None:
        self.count += other.count
        self.fixed += other.fixed
        self.per_level += other.per_level

    def seat_cost(self, price_levels: int) -> int:
        return (
            self.count * (SEAT_COST + price_levels // 2)
            + self.fixed
            + self.per_level * price_levels
        )


@dataclass(slots=True)
class Estimate:
    seats: int = 0
    """Seat objects the operation would build, at most."""
    cost: int = 0
    """Their fields, at most (see `SeatLists.seat_cost`)."""

    def add(self, capacity: int, lists: SeatLists, price_levels: int) -> None:
        self.seats += capacity * lists.count
        self.cost += capacity * lists.seat_cost(price_levels)


@dataclass(slots=True)
class EventDemand:
    """The seat lists an operation asks of one event, per seat of its sections."""

    every: SeatLists = field(default_factory=SeatLists)
    """Of every section (`sections { seats }`)."""
    seated: SeatLists = field(default_factory=SeatLists)
    """Of every seated section: general admission has no rows (`sections { rows { seats } }`)."""
    named: list[tuple[int, SeatLists, SeatLists]] = field(default_factory=list)
    """`section(id:)`: (section id, its seats, its seats through rows)."""

    def __bool__(self) -> bool:
        return bool(
            self.every.count
            or self.seated.count
            or any(e.count or s.count for _, e, s in self.named)
        )

    def add(self, other: EventDemand) -> None:
        self.every.add(other.every)
        self.seated.add(other.seated)
        self.named.extend(other.named)

    def estimate(self, size: EventSize, into: Estimate) -> None:
        """With the event's own sections: each holds its capacity in seats, no more."""
        levels = size.price_levels
        for kind, capacity in size.sections.values():
            into.add(capacity, self.every, levels)
            if kind is SectionKind.SEATED:
                into.add(capacity, self.seated, levels)
        for section_id, every, seated in self.named:
            found = size.sections.get(section_id)
            if found is not None:
                kind, capacity = found
                into.add(capacity, every, levels)
                if kind is SectionKind.SEATED:
                    into.add(capacity, seated, levels)

    def bound(self, seats: int, price_levels: int, into: Estimate) -> None:
        """For events holding `seats` together, whatever their sections: every list, even one
        named section's, could hold all of them."""
        lists = SeatLists()
        lists.add(self.every)
        lists.add(self.seated)
        for _, every, seated in self.named:
            lists.add(every)
            lists.add(seated)
        into.add(seats, lists, price_levels)


@dataclass(slots=True)
class Demands:
    """Where the operation's seats come from, each with what it asks of them."""

    events: list[tuple[int, EventDemand]] = field(default_factory=list)
    """`event(id:)`."""
    pages: list[tuple[int, EventDemand]] = field(default_factory=list)
    """`events(first:)`: (first, what each event of the page is asked)."""
    changed: list[tuple[int, EventDemand]] = field(default_factory=list)
    """A mutation's payload event, by its id."""
    created: list[tuple[int, EventDemand]] = field(default_factory=list)
    """`createEvent`'s new event, by the id of the venue whose seat map it copies."""

    def __bool__(self) -> bool:
        return bool(self.events or self.pages or self.changed or self.created)


class OperationWalk:
    """The operation's selections, walked as execution collects fields: fragments and inline
    fragments merged in, `@skip`/`@include` applied with the operation's variables, one entry
    per response key (an alias is one more, a repeated key merges)."""

    def __init__(
        self,
        types: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> None:
        self.types = types
        self.fragments = fragments
        self.variables = variables
        self.event = self._object("Event")
        self.section = self._object("EventSection")
        self.row = self._object("EventRow")
        self.seat = self._object("EventSeat")
        self.connection = self._object("EventConnection")
        self.edge = self._object("EventEdge")
        self.payload = self._object("EventPayload")

    def _object(self, name: str) -> GraphQLObjectType:
        found = self.types.get_type(name)
        assert isinstance(found, GraphQLObjectType), name
        return found

    def demands(self, operation: OperationDefinitionNode) -> Demands:
        demands = Demands()
        if operation.operation is OperationType.QUERY:
            root = self.types.query_type
        elif operation.operation is OperationType.MUTATION:
            root = self.types.mutation_type
        else:
            return demands
        assert root is not None
        for nodes in self.collect(root, [operation.selection_set]).values():
            definition = root.fields.get(nodes[0].name.value)
            if definition is None:  # __typename, introspection
                continue
            returns = get_named_type(definition.type)
            if returns not in (self.event, self.connection, self.payload):
                continue
            arguments = self.arguments(root, nodes[0])
            if arguments is None:  # the field fails before it resolves anything
                continue
            if returns is self.event:
                event_id = lookup_id(arguments["id"])
                demand = self.event_demand(nodes)
                if event_id is not None and demand:
                    demands.events.append((event_id, demand))
            elif returns is self.connection:
                first = arguments["first"]
                demand = self.page_demand(nodes)
                if 0 < first <= MAX_PAGE and demand:
                    demands.pages.append((first, demand))
            elif returns is self.payload:
                self._payload(arguments["input"], nodes, demands)
        return demands

    def _payload(self, given: dict[str, Any], nodes: list[FieldNode], demands: Demands) -> None:
        demand = EventDemand()
        for event_nodes in self.subfields(self.payload, nodes).values():
            if event_nodes[0].name.value == "event":
                demand.add(self.event_demand(event_nodes))
        if not demand:
            return
        if "eventId" in given:
            event_id = lookup_id(given["eventId"])
            if event_id is not None:
                demands.changed.append((event_id, demand))
        else:
            venue_id = lookup_id(given["venueId"])
            if venue_id is not None:
                demands.created.append((venue_id, demand))

    def page_demand(self, nodes: list[FieldNode]) -> EventDemand:
        demand = EventDemand()
        for group in self.subfields(self.connection, nodes).values():
            name = group[0].name.value
            if name == "nodes":
                demand.add(self.event_demand(group))
            elif name == "edges":
                for edge_group in self.subfields(self.edge, group).values():
                    if edge_group[0].name.value == "node":
                        demand.add(self.event_demand(edge_group))
        return demand

    def event_demand(self, nodes: list[FieldNode]) -> EventDemand:
        demand = EventDemand()
        for group in self.subfields(self.event, nodes).values():
            name = group[0].name.value
            if name == "sections":
                every, seated = self.section_demand(group)
                demand.every.add(every)
                demand.seated.add(seated)
            elif name == "section":
                arguments = self.arguments(self.event, group[0])
                section_id = None if arguments is None else lookup_id(arguments["id"])
                if section_id is not None:  # else it resolves to null
                    demand.named.append((section_id, *self.section_demand(group)))
        return demand

    def section_demand(self, nodes: list[FieldNode]) -> tuple[SeatLists, SeatLists]:
        """(Seats of the section, seats through its rows); a `status:` filter is not counted
        on: it may keep every seat."""
        every, seated = SeatLists(), SeatLists()
        for group in self.subfields(self.section, nodes).values():
            name = group[0].name.value
            if name == "seats":
                every.add(self.seat_list(group))
            elif name == "rows":
                for row_group in self.subfields(self.row, group).values():
                    if row_group[0].name.value == "seats":
                        seated.add(self.seat_list(row_group))
        return every, seated

    def seat_list(self, nodes: list[FieldNode]) -> SeatLists:
        fixed, per_level = self.fields_cost(self.seat, nodes)
        return SeatLists(count=1, fixed=fixed, per_level=per_level)

    def fields_cost(self, parent: GraphQLObjectType, nodes: list[FieldNode]) -> tuple[int, int]:
        """(fixed, per price level) fields of these selections on one `parent` object: one per
        field, and per object below it one more plus its own fields."""
        fixed = per_level = 0
        for group in self.subfields(parent, nodes).values():
            definition = parent.fields.get(group[0].name.value)
            if definition is None:  # __typename
                fixed += 1
                continue
            named = get_named_type(definition.type)
            if is_leaf_type(named):
                fixed += 1
                continue
            assert isinstance(named, GraphQLObjectType), named
            sub_fixed, sub_per_level = self.fields_cost(named, group)
            if is_list_type(get_nullable_type(definition.type)):
                # a seat's only list, its price options: at most one per price level
                assert not sub_per_level, "a list within a seat's price options"
                fixed += 1
                per_level += 1 + sub_fixed
            else:
                fixed += 2 + sub_fixed
                per_level += sub_per_level
        return fixed, per_level

    # --- GraphQL's field collection, as execution does it ---------------------------------------

    def subfields(
        self, parent: GraphQLObjectType, nodes: list[FieldNode]
    ) -> dict[str, list[FieldNode]]:
        return self.collect(parent, [n.selection_set for n in nodes if n.selection_set])

    def collect(
        self, parent: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        """Response key -> its field nodes, in order."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self._collect(parent, selection_set, fields, visited)
        return fields

    def _collect(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fields: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._applies(condition.name.value, parent):
                    self._collect(parent, selection.selection_set, fields, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self.fragments.get(name)
                if fragment is not None and self._applies(
                    fragment.type_condition.name.value, parent
                ):
                    self._collect(parent, fragment.selection_set, fields, visited)

    def _included(self, selection: SelectionNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, selection, self.variables)
        if skip is not None and skip["if"] is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, selection, self.variables)
        return include is None or include["if"] is not False

    def _applies(self, condition: str, parent: GraphQLObjectType) -> bool:
        found = self.types.get_type(condition)
        if found is parent:
            return True
        return is_abstract_type(found) and self.types.is_sub_type(found, parent)

    def arguments(self, parent: GraphQLObjectType, node: FieldNode) -> dict[str, Any] | None:
        """The field's arguments as execution coerces them; None when they are invalid."""
        try:
            return get_argument_values(parent.fields[node.name.value], node, self.variables)
        except GraphQLError:
            return None


async def estimate(context: Context, demands: Demands) -> Estimate:
    """Reads only what is small and cached: the events' section capacities (their heads, read
    once per revision, with the versions the operation reads anyway), for `events(first:)` one
    aggregate over all events, and for a new event its venue's sections."""
    total = Estimate()
    for event_id, demand in demands.events:
        size = await context.event_size(event_id)
        if size is not None:  # else the event resolves to null
            demand.estimate(size, total)
    for first, demand in demands.pages:
        bound = await context.call(
            catalog.largest_events, count=first, viewer=await context.viewer()
        )
        demand.bound(bound.seats, bound.price_levels, total)
    # a mutation may add price levels (setPrices, createEvent's seat prices) before its payload
    for event_id, demand in demands.changed:
        size = await context.event_size(event_id, apart=True)
        if size is not None:
            demand.estimate(replace(size, price_levels=MAX_PRICE_LEVELS), total)
    for venue_id, demand in demands.created:
        found = await context.call(catalog.load_venue_sections, venue_ids=[venue_id])
        sections = {s.id: (s.kind, s.capacity) for s in found.get(venue_id, [])}
        demand.estimate(EventSize(sections=sections, price_levels=MAX_PRICE_LEVELS), total)
    return total


def too_large(estimate: Estimate) -> GraphQLError:
    return GraphQLError(
        f"This operation asks for up to {estimate.seats:,} seats as objects, an estimated "
        f"{estimate.cost:,} fields with those selected on each; the limit is "
        f"{MAX_OPERATION_COST:,} fields per operation. Query `seatMap` (compact, any size) or "
        "fewer seats at a time.",
        extensions={"code": ErrorCode.RESULT_TOO_LARGE.value},
    )


class SeatObjectBudget(SchemaExtension):
    """Refuses an operation whose seats as objects would cost more than MAX_OPERATION_COST,
    after parsing and validation and before execution."""

    def __init__(self, types: GraphQLSchema) -> None:
        super().__init__()
        self._types = types

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        # a cached answer (SeatMapResultCache) is not executed, and needs no estimate
        if execution.result is None and isinstance(context, Context):
            found = await self._estimate(context)
            if found is not None and found.cost > MAX_OPERATION_COST:
                execution.result = ExecutionResult(data=None, errors=[too_large(found)])
        yield

    async def _estimate(self, context: Context) -> Estimate | None:
        """None when the operation asks for no seat, or when execution resolves nothing anyway
        (no such operation, invalid variables, a bad token: every path to seats needs the
        viewer first)."""
        execution = self.execution_context
        document = execution.graphql_document
        operation = (
            None if document is None else get_operation_ast(document, execution.operation_name)
        )
        if document is None or operation is None:
            return None
        variables = get_variable_values(
            self._types, operation.variable_definitions or (), execution.variables or {}
        )
        if not isinstance(variables, VariableValues):
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        demands = OperationWalk(self._types, fragments, variables).demands(operation)
        if not demands:
            return None
        try:
            await context.viewer()
        except TicketingError:
            return None
        return await estimate(context, demands)


class SeatObjectLimit:
    """The budget of one schema: its extension, given the schema's types (built once from its
    SDL: graphql-core's own helpers coerce arguments and variables as execution does)."""

    def __init__(self) -> None:
        self._types: GraphQLSchema | None = None

    def bind(self, schema: strawberry.Schema) -> None:
        self._types = build_schema(schema.as_str())

    def extension(self) -> SeatObjectBudget:
        assert self._types is not None, "bind() the schema first"
        return SeatObjectBudget(self._types)
