"""Everything that talks to GitHub goes through :class:`GitHubApp` and its clients."""

from shadowbot.github.client import GitHubApp, GitHubClient
from shadowbot.github.guard import WriteRefused, check_request

__all__ = ["GitHubApp", "GitHubClient", "WriteRefused", "check_request"]
