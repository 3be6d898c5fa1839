"""Everything that talks to GitHub goes through :class:`GitHubApp` and its clients."""

from shadowbot.github.client import GitHubApp, GitHubClient, HookDelivery
from shadowbot.github.guard import WriteRefused, check_request

__all__ = ["GitHubApp", "GitHubClient", "HookDelivery", "WriteRefused", "check_request"]
