"""The documented app asks for nothing that could merge, and for the events it handles."""

import json
from pathlib import Path

from shadowbot.github.guard import ALLOWED_WRITES
from shadowbot.web.intake import HANDLED

MANIFEST = json.loads((Path(__file__).parent.parent / "docs" / "app-manifest.json").read_text())


def test_no_permission_that_could_merge():
    permissions = MANIFEST["default_permissions"]
    writes = {name for name, access in permissions.items() if access != "read"}
    assert writes == {"issues"}  # comments and reactions only
    assert permissions["contents"] == "read"  # a merge needs contents write
    assert permissions["pull_requests"] == "read"


def test_the_app_subscribes_to_exactly_the_events_it_handles():
    always_sent = {"installation", "installation_repositories", "ping"}
    assert set(MANIFEST["default_events"]) == set(HANDLED) - always_sent


def test_the_guard_allows_only_comment_reaction_token_graphql_read_and_redelivery_writes():
    assert sorted(purpose for _, _, purpose in ALLOWED_WRITES) == [
        "acknowledge a command",
        "create a comment",
        "edit its own comment",
        "get an installation token",
        "read with a GraphQL query",
        "redeliver a failed delivery",
    ]
