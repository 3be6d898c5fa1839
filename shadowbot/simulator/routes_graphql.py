"""`POST /graphql`: GitHub's GraphQL API over the simulator's state, queries only.

Authenticated as the REST routes are (the front door checks the installation token), but rate
limited apart from them: each installation has a bucket of GraphQL points, charged what a query
costs (:mod:`graphql_cost`) before it runs, and every answer carries the `x-ratelimit-*` headers
of that bucket with `x-ratelimit-resource: graphql`:
https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api
Everything is answered with HTTP 200 and an `errors` list, as GitHub answers GraphQL requests:
a document that does not parse or validate, or that is not a query, gets `errors` and no `data`
and costs nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)

from shadowbot.simulator.backend import (
    GRAPHQL_PATH,
    INSTALLATION,
    RECORD,
    Backend,
    backend_of,
    json_body,
    reply,
)
from shadowbot.simulator.graphql_common import Context
from shadowbot.simulator.graphql_cost import estimate
from shadowbot.simulator.graphql_resolvers import resolve_field, resolve_type
from shadowbot.simulator.graphql_schema import schema
from shadowbot.simulator.protocol import RateWindow
from shadowbot.simulator.render import Json

routes = web.RouteTableDef()
PATH = GRAPHQL_PATH
# https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#node-limit
MAX_NODES = 500_000
NO_QUERY = "A query attribute must be specified and must be a string."


@routes.post(PATH)
async def graphql(request: web.Request) -> web.Response:
    backend, installation_id = backend_of(request), request[INSTALLATION]
    window = backend.graphql_rates.window(installation_id, backend.clock())
    body = await json_body(request)
    query, variables = body.get("query"), body.get("variables") or {}
    if window.remaining == 0:
        answer = _rate_limited(installation_id)
    elif not isinstance(query, str) or not isinstance(variables, dict):
        answer = {"errors": [{"message": NO_QUERY}]}
    else:
        answer = _run(request, backend, window, query, variables, body.get("operationName"))
    return reply(answer, headers=window.headers())


def _run(
    request: web.Request,
    backend: Backend,
    window: RateWindow,
    query: str,
    variables: dict[str, Any],
    operation_name: object,
) -> Json:
    try:
        document = parse(query)
    except GraphQLError as error:
        return {"errors": [github_shape(error)]}
    request[RECORD].graphql_operation = _kind(document)
    errors = validate(schema(), document)
    if errors:
        return {"errors": [github_shape(error) for error in errors]}
    name = operation_name if isinstance(operation_name, str) else None
    operation = get_operation_ast(document, name)
    if operation is None:  # several operations and no (known) name: execution says which
        return _result(execute_sync(schema(), document, operation_name=name))
    if operation.operation != OperationType.QUERY:
        return {
            "errors": [{"message": f"Schema is not configured for {operation.operation.value}s"}]
        }
    return _query(backend, window, request[INSTALLATION], document, operation, variables)


def _query(
    backend: Backend,
    window: RateWindow,
    installation_id: int,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
) -> Json:
    """Charge the query's cost, then run it. A query costing more than what is left is refused
    whole and charges nothing."""
    cost = estimate(schema(), document, operation, variables)
    if cost.nodes > MAX_NODES:
        message = (
            f"This query requests up to {cost.nodes:,} possible nodes which exceeds the"
            f" maximum limit of {MAX_NODES:,}."
        )
        return {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": message}]}
    if not cost.dry_run:
        if cost.points > window.remaining:
            return _rate_limited(installation_id)
        window.used += cost.points
        backend.graphql_points += cost.points
    context = Context(backend.state, installation_id, window, cost)
    result = execute_sync(
        schema(),
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation.name.value if operation.name else None,
        field_resolver=resolve_field,
        type_resolver=resolve_type,
    )
    return _result(result)


def _rate_limited(installation_id: int) -> Json:
    """A spent GraphQL rate limit is answered with HTTP 200, an error and
    `x-ratelimit-remaining: 0`, not a 403 as REST does: the docs say "the response status will
    still be 200" (#exceeding-the-rate-limit of the page above); the error's `type` is what
    GitHub sends, as clients such as Renovate have recorded it."""
    message = f"API rate limit exceeded for installation ID {installation_id}."
    return {"errors": [{"type": "RATE_LIMITED", "message": message}]}


def _result(result: ExecutionResult) -> Json:
    answer: Json = {"data": result.data}
    if result.errors:
        answer["errors"] = [github_shape(error) for error in result.errors]
    return answer


def github_shape(error: GraphQLError) -> Json:
    """GitHub puts an error's `type` beside its message, not under `extensions`."""
    shaped: Json = dict(error.formatted)
    extensions = dict(shaped.pop("extensions", None) or {})
    kind = extensions.pop("type", None)
    if extensions:
        shaped["extensions"] = extensions
    return {"type": kind, **shaped} if kind else shaped


def _kind(document: DocumentNode) -> str:
    """ "mutation" when the document holds one (an attempted write, whatever happens next),
    else the first operation's type."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    kinds = [operation.operation.value for operation in operations]
    return "mutation" if "mutation" in kinds else (kinds[0] if kinds else "query")
