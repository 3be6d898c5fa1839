"""The pages' addresses, built in one place so every page links the same way."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

REPORT = "/report.md"
AUDIT = "/audit"
FEED = "/feed.atom"
CSV = "/ledger.csv"
STYLESHEET = "/static/site.css"


def rule_url(name: str, version: int | None = None, api: bool = False) -> str:
    path = f"/rules/{quote(name, safe='')}" + (f"/v{version}" if version is not None else "")
    return "/api" + path if api else path


def badge_url(name: str) -> str:
    return f"/badge/{quote(name, safe='')}.svg"


def pr_url(full_name: str, number: int, api: bool = False) -> str:
    owner, _, repo = full_name.partition("/")
    path = f"/prs/{quote(owner, safe='')}/{quote(repo, safe='')}/{number}"
    return "/api" + path if api else path


def github_pr_url(web_url: str, full_name: str, number: int) -> str:
    """The pull request on GitHub (or the configured GitHub web address)."""
    owner, _, repo = full_name.partition("/")
    return f"{web_url}/{quote(owner, safe='')}/{quote(repo, safe='')}/pull/{number}"


def with_query(path: str, params: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path
