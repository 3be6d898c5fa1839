"""The app's webhook deliveries API on the simulator, over real HTTP: every webhook sent is
listed with its real outcome, newest first and paged by cursor; one can be read in full and sent
again (same GUID, reaching the receiver); webhooks dropped by the scenario show as failed."""

import socket
import time
from dataclasses import dataclass, field

import aiohttp
import jwt
import pytest
from aiohttp import web

from shadowbot.simulator import Simulator

SECRET = "deliveries-secret"
REPO = "acme/widgets"


@dataclass
class Receiver:
    """A stand-in bot that answers `status` to every delivery and remembers the GUIDs."""

    url: str = ""
    status: int = 202
    guids: list[str] = field(default_factory=list)


@pytest.fixture
async def receiver(aiohttp_server):
    found = Receiver()

    async def webhook(request: web.Request) -> web.Response:
        await request.read()
        found.guids.append(request.headers["X-GitHub-Delivery"])
        return web.Response(status=found.status, text="thanks")

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = await aiohttp_server(app)
    found.url = str(server.make_url("/webhook"))
    return found


@pytest.fixture
async def sim(receiver, app_key_pem):
    async with Simulator.running(
        webhook_url=receiver.url, webhook_secret=SECRET, private_key_pem=app_key_pem
    ) as simulator:
        yield simulator


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def app_auth(sim):
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(sim.app_id)}
    return {"Authorization": f"Bearer {jwt.encode(claims, sim.private_key_pem, algorithm='RS256')}"}


def free_port_url():
    """A URL nothing listens on: a port the OS just handed out and took back."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhook"


async def list_all(session, url, headers):
    """Every delivery, following the `next` links; the pages' sizes."""
    found, sizes = [], []
    while url:
        async with session.get(url, headers=headers) as response:
            assert response.status == 200
            page = await response.json()
            url = str(response.links["next"]["url"]) if "next" in response.links else None
        found += page
        sizes.append(len(page))
    return found, sizes


async def test_every_delivery_is_listed_newest_first_with_its_outcome(
    sim, receiver, session, app_auth
):
    number = await sim.open_pr(REPO, "alice", "Hello", files=["a.py"])
    receiver.status = 500
    await sim.comment(REPO, number, "bob", "Broken bot")
    receiver.status = 202
    sim.webhook_url = free_port_url()
    await sim.label(REPO, number, "docs")

    async with session.get(f"{sim.url}/app/hook/deliveries", headers=app_auth) as response:
        assert response.status == 200 and "Link" not in response.headers
        listed = await response.json()

    labeled, commented, opened = listed
    assert [d["guid"] for d in listed] == [d.guid for d in reversed(sim.deliveries)]
    assert labeled["id"] > commented["id"] > opened["id"]
    assert (opened["event"], opened["action"], opened["status"], opened["status_code"]) == (
        "pull_request",
        "opened",
        "OK",
        202,
    )
    assert (commented["status"], commented["status_code"]) == ("Invalid HTTP Response: 500", 500)
    assert (labeled["status"], labeled["status_code"]) == ("failed to connect to host", 502)
    repository_id = sim.state.repo(REPO).id
    for item in listed:
        assert item["installation_id"] == sim.installation_id
        assert item["repository_id"] == repository_id
        assert item["redelivery"] is False
        assert item["delivered_at"].endswith("Z") and item["duration"] >= 0
    assert receiver.guids == [opened["guid"], commented["guid"]]


async def test_deliveries_page_by_cursor(sim, session, app_auth):
    number = await sim.open_pr(REPO, "alice", "Busy")
    for i in range(6):
        await sim.comment(REPO, number, "bob", f"comment {i}")

    url = f"{sim.url}/app/hook/deliveries?per_page=3"
    found, sizes = await list_all(session, url, app_auth)

    assert sizes == [3, 3, 1]
    assert [d["id"] for d in found] == sorted((d.id for d in sim.deliveries), reverse=True)
    async with session.get(f"{url}&cursor=garbage", headers=app_auth) as response:
        assert response.status == 422


async def test_a_redelivery_reaches_the_receiver_with_the_same_guid(
    sim, receiver, session, app_auth
):
    await sim.open_pr(REPO, "alice", "Again")
    [original] = sim.deliveries

    async with session.get(
        f"{sim.url}/app/hook/deliveries/{original.id}", headers=app_auth
    ) as response:
        detail = await response.json()
    assert detail["guid"] == original.guid and detail["url"] == receiver.url
    assert detail["request"]["headers"]["X-GitHub-Event"] == "pull_request"
    assert detail["request"]["payload"]["action"] == "opened"
    assert detail["response"]["payload"] == "thanks"

    attempts = f"{sim.url}/app/hook/deliveries/{original.id}/attempts"
    async with session.post(attempts, headers=app_auth) as response:
        assert response.status == 202
    await sim.settle()

    assert receiver.guids == [original.guid, original.guid]
    async with session.get(f"{sim.url}/app/hook/deliveries", headers=app_auth) as response:
        again, first = await response.json()
    assert (again["guid"], again["redelivery"], again["status"]) == (original.guid, True, "OK")
    assert again["id"] != first["id"] and first["redelivery"] is False


async def test_dropped_webhooks_are_listed_as_failed_and_can_be_redelivered(
    sim, receiver, session, app_auth
):
    sim.drop_webhooks(2)
    number = await sim.open_pr(REPO, "alice", "Unlucky", labels=["docs"])
    await sim.comment(REPO, number, "bob", "This one gets through")

    async with session.get(f"{sim.url}/app/hook/deliveries", headers=app_auth) as response:
        commented, labeled, opened = await response.json()

    assert [(d["status"], d["status_code"]) for d in (labeled, opened)] == [
        ("failed to connect to host", 502)
    ] * 2
    assert (commented["status"], commented["status_code"]) == ("OK", 202)
    assert receiver.guids == [commented["guid"]]

    # The bot's recovery: find the failed ones and ask for them again.
    for failed in (opened, labeled):
        url = f"{sim.url}/app/hook/deliveries/{failed['id']}/attempts"
        async with session.post(url, headers=app_auth) as response:
            assert response.status == 202
    await sim.settle()
    assert receiver.guids == [commented["guid"], opened["guid"], labeled["guid"]]

    await sim.play([{"do": "drop_webhooks", "count": 1}, {"do": "ping"}])
    assert sim.deliveries[-1].event == "ping" and sim.deliveries[-1].status is None


async def test_the_deliveries_api_wants_the_apps_jwt(sim, session):
    await sim.open_pr(REPO, "alice", "T")
    token = {"Authorization": f"token {sim.create_token()}"}
    async with session.get(f"{sim.url}/app/hook/deliveries", headers=token) as response:
        assert response.status == 401
    async with session.get(f"{sim.url}/app/hook/deliveries") as response:
        assert response.status == 401


async def test_unknown_and_forged_deliveries_are_not_found(sim, session, app_auth):
    forged = await sim.send_forged()
    for delivery_id in (forged.id, 999999):
        url = f"{sim.url}/app/hook/deliveries/{delivery_id}"
        async with session.get(url, headers=app_auth) as response:
            assert response.status == 404
        async with session.post(f"{url}/attempts", headers=app_auth) as response:
            assert response.status == 404
    async with session.get(f"{sim.url}/app/hook/deliveries", headers=app_auth) as response:
        assert await response.json() == []
