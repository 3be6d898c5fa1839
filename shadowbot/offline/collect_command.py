"""``shadowbot collect OWNER/REPO --out FILE``: the command's arguments and what it runs.

Credentials: a token in ``GITHUB_TOKEN`` (any token that can read the repository), else the
app's own (``app_id`` and ``private_key`` in the settings) through its installation on the
repository. The API is the settings' ``github_api_url`` (GitHub Enterprise, the simulator).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from gidgethub import BadRequest, apps

from shadowbot.github.client import GitHubApp, GitHubClient
from shadowbot.metrics import Metrics
from shadowbot.offline.collect import (
    PAGE_SIZE,
    CollectError,
    Summary,
    check_arguments,
    collect,
    progress_printer,
)
from shadowbot.settings import Settings

TOKEN_VARIABLE = "GITHUB_TOKEN"


def moment(text: str) -> datetime:
    """``--since``/``--until``: a date (``2024-03-01``) or an ISO 8601 time; UTC unless it
    says otherwise."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or time: {text!r} (write 2024-03-01 or 2024-03-01T12:00:00Z)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return value


def add_collect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repository", metavar="OWNER/REPO", help="the repository to read")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="the history to write; run again to resume it or bring it up to date",
    )
    parser.add_argument(
        "--since", type=moment, metavar="DATE", help="only pull requests opened at or after"
    )
    parser.add_argument("--until", type=moment, metavar="DATE", help="only those opened before")
    parser.add_argument("--base", metavar="BRANCH", help="only those into this branch")
    parser.add_argument(
        "--limit", type=positive, metavar="N", help="write at most N pull requests this run"
    )
    parser.add_argument(
        "--files-per-head",
        action="store_true",
        help="also write each head's files and renamed files' previous paths, read from"
        " GitHub's REST API (GraphQL has neither): a request per head but the last and per"
        " 100 files of a pull request with a rename, from the REST budget of 5,000 an hour,"
        " apart from GraphQL's points (default off: the files now, on opening)",
    )
    parser.add_argument(
        "--page-size",
        type=positive,
        default=PAGE_SIZE,
        metavar="N",
        help=f"pull requests per query at first (default {PAGE_SIZE}; halved when GitHub"
        " times out)",
    )


def run_collect(settings: Settings, args: argparse.Namespace) -> int:
    try:
        summary = asyncio.run(_collect(settings, args))
    except KeyboardInterrupt:
        print(f"\ninterrupted: run the same command again to resume {args.out}", file=sys.stderr)
        raise
    finally:
        if sys.stderr.isatty():  # end the progress line rewritten in place
            print(file=sys.stderr)
    print(
        f"{args.out}: {summary.total_records} pull requests ({summary.written} written this"
        f" run, {summary.reverts} reverted); {summary.spending.points} points in"
        f" {summary.spending.queries} queries{_rest(summary)}"
    )
    if summary.permissions != "collaborators":
        print(
            "note: these credentials may not list the repository's collaborators (that takes"
            " push access): permissions were read from GitHub's author associations, MEMBER"
            " and COLLABORATOR as write",
            file=sys.stderr,
        )
    return 0


async def _collect(settings: Settings, args: argparse.Namespace) -> Summary:
    # Wrong arguments are said before credentials are asked for.
    check_arguments(args.repository, args.out, args.since, args.until, args.limit)
    async with aiohttp.ClientSession() as session:
        client = await authenticated_client(session, settings, args.repository)
        return await collect(
            args.repository,
            args.out,
            client,
            since=args.since,
            until=args.until,
            base=args.base,
            limit=args.limit,
            page_size=args.page_size,
            files_per_head=args.files_per_head,
            progress=progress_printer(sys.stderr),
            on_wait=_say_wait,
        )


def _rest(summary: Summary) -> str:
    count = summary.spending.rest_requests
    return f", {count} REST request{'s' if count != 1 else ''}" if count else ""


def _say_wait(seconds: float, why: str) -> None:
    print(f"\n{why}: waiting {seconds:.0f} s", file=sys.stderr)


async def authenticated_client(
    session: aiohttp.ClientSession, settings: Settings, repository: str
) -> GitHubClient:
    """A client with ``GITHUB_TOKEN``, else as the app's installation on ``repository``."""
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    base_url = settings.github_api_url
    if token:
        return GitHubClient(session, base_url=base_url, metrics=Metrics(), oauth_token=token)
    if settings.app_id is None or settings.private_key is None:
        raise CollectError(
            f"no credentials: set {TOKEN_VARIABLE}, or the app's app_id and private_key"
            " settings (SHADOWBOT_APP_ID, SHADOWBOT_PRIVATE_KEY)"
        )
    private_key = settings.private_key.reveal()
    app = GitHubApp(
        session,
        base_url=base_url,
        app_id=settings.app_id,
        private_key=private_key,
        metrics=Metrics(),
    )
    jwt = apps.get_jwt(app_id=str(settings.app_id), private_key=private_key)
    try:
        found = await app.client().getitem(f"/repos/{repository}/installation", jwt=jwt)
    except BadRequest as exc:
        raise CollectError(
            f"the app is not installed on {repository}, or cannot see it"
            f" (GitHub answered {int(exc.status_code)}); or set {TOKEN_VARIABLE}"
        ) from exc
    return await app.installation(int(found["id"]))
