"""The app's webhook deliveries: list them, read one, and ask for one to be sent again.
Authenticated with the app's JWT, as every `/app/...` endpoint is:
https://docs.github.com/en/rest/apps/webhooks

Every delivery the simulator sent is listed with its outcome, newest first, redeliveries as
attempts of their own; deliveries forged by a test (a wrong signature on purpose) were never
GitHub's and are not listed.
"""

from __future__ import annotations

from aiohttp import web

from shadowbot.simulator import render_hooks
from shadowbot.simulator.backend import backend_of, number_param, reply
from shadowbot.simulator.errors import NotFound, ValidationFailed
from shadowbot.simulator.protocol import paginate_by_cursor
from shadowbot.simulator.webhooks import Delivery, WebhookSender

routes = web.RouteTableDef()
DELIVERIES = "/app/hook/deliveries"


def _hooks_of(request: web.Request) -> WebhookSender:
    hooks = backend_of(request).hooks
    if hooks is None:
        raise NotFound()
    return hooks


def _delivery_of(request: web.Request) -> tuple[WebhookSender, Delivery]:
    hooks = _hooks_of(request)
    try:
        found = hooks.find(number_param(request, "delivery_id"))
    except KeyError as error:
        raise NotFound() from error
    if found.forged:
        raise NotFound()
    return hooks, found


@routes.get(DELIVERIES)
async def list_deliveries(request: web.Request) -> web.Response:
    """`per_page` (30, at most 100) and `cursor`, with a `rel="next"` link while more remain."""
    listed = [d for d in _hooks_of(request).deliveries if not d.forged]
    newest_first = sorted(listed, key=lambda d: d.id, reverse=True)
    try:
        chunk, link = paginate_by_cursor(newest_first, request.url, key=lambda d: d.id)
    except ValueError as error:
        raise ValidationFailed(resource="HookDelivery", field="cursor", code="invalid") from error
    body = [render_hooks.delivery(d) for d in chunk]
    return reply(body, headers={"Link": link} if link else None)


@routes.get(DELIVERIES + "/{delivery_id}")
async def get_delivery(request: web.Request) -> web.Response:
    _, found = _delivery_of(request)
    return reply(render_hooks.delivery_detail(found))


@routes.post(DELIVERIES + "/{delivery_id}/attempts")
async def redeliver(request: web.Request) -> web.Response:
    """202 at once; the attempt is sent in the background, same GUID, `redelivery: true`."""
    hooks, found = _delivery_of(request)
    hooks.redeliver_later(found)
    return reply({}, status=202)
