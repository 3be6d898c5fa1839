"""JSON shapes of the app's webhook deliveries, as the REST API shows them:
https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook and
https://docs.github.com/en/rest/apps/webhooks#get-a-delivery-for-an-app-webhook
"""

from __future__ import annotations

from typing import Any

from shadowbot.simulator.render import Json, iso
from shadowbot.simulator.webhooks import Delivery

# GitHub reports a hook it could not reach as status "failed to connect to host" with status
# code 502 (as real deliveries show); the simulator uses the same code for a receiver that did
# not answer in time, with the status "timed out".
FAILED_STATUS_CODE = 502


def outcome(item: Delivery) -> tuple[str, int]:
    """(`status`, `status_code`): "OK" for any 2xx answer, as GitHub reports a 202."""
    if item.status is None:
        return ("timed out" if item.timed_out else "failed to connect to host"), FAILED_STATUS_CODE
    if 200 <= item.status < 300:
        return "OK", item.status
    return f"Invalid HTTP Response: {item.status}", item.status


def delivery(item: Delivery) -> Json:
    status, status_code = outcome(item)
    return {
        "id": item.id,
        "guid": item.guid,
        "delivered_at": iso(item.delivered_at),
        "redelivery": item.redelivery,
        "duration": round(item.duration, 3),
        "status": status,
        "status_code": status_code,
        "event": item.event,
        "action": item.action,
        "installation_id": _id_of(item.payload.get("installation")),
        "repository_id": _id_of(item.payload.get("repository")),
        "throttled_at": None,
    }


def delivery_detail(item: Delivery) -> Json:
    """The summary plus what was sent and what came back (`null` when nothing answered)."""
    return {
        **delivery(item),
        "url": item.url or "",
        "request": {"headers": item.headers, "payload": item.payload},
        "response": {"headers": item.response_headers, "payload": item.response_body},
    }


def _id_of(value: Any) -> int | None:
    found = value.get("id") if isinstance(value, dict) else None
    return found if isinstance(found, int) else None
