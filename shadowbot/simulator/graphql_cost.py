"""What a GraphQL query costs, worked out from the document before it runs, as GitHub does:
https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#predicting-the-point-value-of-a-query

Add up the requests needed to fulfil each connection, assuming every `first`/`last` is reached:
a connection is fetched once per parent object, so `reactions(first: 100)` on each of 100
comments is 100 requests, and its children are requested on up to 100 x 100 objects. The root
fields count as one request. Divide by 100, round to the nearest whole number (halves up), and
never charge less than 1 point. GitHub's worked example (repositories 1 + issues 100 + labels
5,000 = 5,101 requests) is 51 points.

The same walk counts the nodes the query may return (`rateLimit.nodeCount`, and GitHub's limit
of 500,000 per query): each connection's `first`/`last` times its parents, and each id given to
`nodes(ids:)`. Pure: no state, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_input_type,
    type_from_ast,
    value_from_ast,
)

# GitHub refuses `first`/`last` over 100 when the query runs; the estimate caps them the same.
MAX_PAGE = 100


@dataclass(frozen=True)
class Cost:
    requests: int
    nodes: int
    # `rateLimit(dryRun: true)`: report the cost without charging it.
    dry_run: bool = False

    @property
    def points(self) -> int:
        """Requests / 100, rounded half up (Python's round() would take 250 down to 2)."""
        return max(1, (self.requests + 50) // 100)


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
) -> Cost:
    """The cost of running `operation` of a validated `document` with `variables`."""
    walk = _Walk(schema, document, _with_defaults(schema, operation, variables))
    root = schema.query_type
    if root is not None:
        walk.selections(operation.selection_set, root, parents=1)
    return Cost(1 + walk.requests, walk.nodes, walk.dry_run)


def _with_defaults(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> dict[str, Any]:
    """The variables given, plus the defaults the operation declares for those left out."""
    values = dict(variables)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        kind = type_from_ast(schema, definition.type)
        if name not in values and definition.default_value is not None and is_input_type(kind):
            values[name] = value_from_ast(definition.default_value, kind)
    return values


class _Walk:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            item.name.value: item
            for item in document.definitions
            if isinstance(item, FragmentDefinitionNode)
        }
        self.requests = 0
        self.nodes = 0
        self.dry_run = False

    def selections(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, parents: int
    ) -> None:
        """Count what `selection_set` asks of each of `parents` objects of type `parent`.
        Fragments count in full whatever their type condition: the worst case, as GitHub
        assumes every page is full. Validation has ruled out fragment cycles."""
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                self.field(selection, parent, parents)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.condition(selection.type_condition, parent)
                self.selections(selection.selection_set, inner, parents)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                inner = self.condition(fragment.type_condition, parent)
                self.selections(fragment.selection_set, inner, parents)

    def field(self, node: FieldNode, parent: GraphQLNamedType, parents: int) -> None:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return
        definition = parent.fields.get(node.name.value)
        if definition is None:  # __typename and introspection cost nothing
            return
        arguments = self.arguments(node, definition)
        named = get_named_type(definition.type)
        children = parents
        if named.name.endswith("Connection"):
            self.requests += parents
            children = parents * max(_page(arguments.get("first")), _page(arguments.get("last")))
            self.nodes += children
        elif "ids" in arguments:
            ids = arguments["ids"]
            children = parents * (len(ids) if isinstance(ids, list) else 0)
            self.nodes += children
        elif node.name.value == "rateLimit" and arguments.get("dryRun") is True:
            self.dry_run = True
        self.selections(node.selection_set, named, children)

    def arguments(self, node: FieldNode, definition: GraphQLField) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for argument in node.arguments or ():
            spec = definition.args.get(argument.name.value)
            if spec is not None:
                values[argument.name.value] = value_from_ast(
                    argument.value, spec.type, self.variables
                )
        return values

    def condition(
        self, condition: NamedTypeNode | None, parent: GraphQLNamedType
    ) -> GraphQLNamedType:
        found = self.schema.get_type(condition.name.value) if condition else None
        return found or parent


def _page(value: object) -> int:
    """A `first`/`last` argument as a page size: 0 when missing or not a number."""
    if not isinstance(value, int) or isinstance(value, bool):
        return 0
    return min(max(value, 0), MAX_PAGE)
