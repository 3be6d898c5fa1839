"""Team membership, which a bot needs to expand `@org/team` code owners:
https://docs.github.com/en/rest/teams/members
"""

from __future__ import annotations

from aiohttp import web

from shadowbot.simulator import render
from shadowbot.simulator.backend import INSTALLATION, backend_of, paged, reply
from shadowbot.simulator.errors import NotFound
from shadowbot.simulator.models import User

routes = web.RouteTableDef()
TEAM = "/orgs/{org}/teams/{team_slug}"


def _members(request: web.Request) -> list[User]:
    """The team's members, if the calling installation is on its organization."""
    state = backend_of(request).state
    org = request.match_info["org"]
    installation = state.installation(request[INSTALLATION])
    members = state.teams.get(f"{org}/{request.match_info['team_slug']}".lower())
    if members is None or installation.account.login.lower() != org.lower():
        raise NotFound()
    return members


@routes.get(TEAM + "/members")
async def list_members(request: web.Request) -> web.Response:
    state = backend_of(request).state
    return paged(request, _members(request), lambda user: render.user(state, user))


@routes.get(TEAM + "/memberships/{username}")
async def get_membership(request: web.Request) -> web.Response:
    """200 with `state: active` for a member, 404 for anyone else."""
    login = request.match_info["username"].lower()
    if all(member.login.lower() != login for member in _members(request)):
        raise NotFound()
    url = f"{backend_of(request).state.api_url}{request.path}"
    return reply({"url": url, "role": "member", "state": "active"})
