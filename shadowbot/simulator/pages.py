"""Plain HTML pages of the simulated repositories, so a person running the demo can watch
pull requests, their checks and the bot's comments change. The `html_url` of every pull
request points here. They refresh themselves, need no token, and are not logged as API
requests. Every user-supplied string is escaped.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from shadowbot.simulator.backend import backend_of, number_param
from shadowbot.simulator.models import PullRequest, Reaction, Repo
from shadowbot.simulator.render import iso
from shadowbot.simulator.state import State

routes = web.RouteTableDef()
# Routes whose name starts so are pages for people; the API's front door lets them through.
PAGE_PREFIX = "page-"
_EMOJI = {
    "+1": "\N{THUMBS UP SIGN}",
    "-1": "\N{THUMBS DOWN SIGN}",
    "laugh": "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}",
    "confused": "\N{CONFUSED FACE}",
    "heart": "\N{HEAVY BLACK HEART}",
    "hooray": "\N{PARTY POPPER}",
    "rocket": "\N{ROCKET}",
    "eyes": "\N{EYES}",
}
_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "pre{white-space:pre-wrap;background:#f6f8fa;padding:.6em;border-radius:6px}"
    ".muted{color:#57606a}li{margin:.2em 0}"
)


def _page(title: str, body: str) -> web.Response:
    html = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta http-equiv="refresh" content="2"><style>{_STYLE}</style></head>'
        f"<body>{body}</body></html>"
    )
    return web.Response(text=html, content_type="text/html")


@routes.get("/", name=PAGE_PREFIX + "index")
async def index(request: web.Request) -> web.Response:
    state = backend_of(request).state
    items = []
    for repo in state.repos.values():
        pulls = "".join(
            f'<li><a href="/{escape(repo.full_name)}/pull/{pr.number}">#{pr.number}</a> '
            f"{escape(pr.title)} <span class=muted>({_state_of(pr)})</span></li>"
            for pr in sorted(repo.pulls.values(), key=lambda pr: -pr.number)
        )
        items.append(f"<h2>{escape(repo.full_name)}</h2><ul>{pulls or '<li>none</li>'}</ul>")
    return _page("Simulated GitHub", "<h1>Simulated GitHub</h1>" + "".join(items))


@routes.get("/{owner}/{repo}/pull/{number}", name=PAGE_PREFIX + "pull")
async def pull_page(request: web.Request) -> web.Response:
    state = backend_of(request).state
    repo = state.repo(f"{request.match_info['owner']}/{request.match_info['repo']}")
    pr = state.pull(repo, number_param(request, "number"))
    header = (
        f'<p><a href="/">all pull requests</a></p><h1>{escape(pr.title)} #{pr.number}</h1>'
        f"<p class=muted>{_state_of(pr)} · by {escape(pr.user.login)} · head "
        f"<code>{pr.head_sha[:7]}</code> · labels: "
        f"{escape(', '.join(label.name for label in pr.labels)) or 'none'}</p>"
    )
    return _page(f"{pr.title} #{pr.number}", header + _activity(state, repo, pr))


def _state_of(pr: PullRequest) -> str:
    if pr.merged:
        return "merged"
    return "draft" if pr.draft and pr.state == "open" else pr.state


def _activity(state: State, repo: Repo, pr: PullRequest) -> str:
    files = "".join(
        f"<li><code>{escape(f.filename)}</code> {f.status} +{f.additions} −{f.deletions}</li>"
        for f in pr.files
    )
    reviews = "".join(
        f"<li>{escape(r.user.login)}: {r.state} on <code>{r.commit_id[:7]}</code></li>"
        for r in pr.reviews
    )
    checks = [
        f"<li>{escape(run.name)}: {run.conclusion or run.status}</li>"
        for run in repo.check_runs
        if run.head_sha == pr.head_sha
    ] + [f"<li>{escape(s.context)}: {s.state}</li>" for s in repo.statuses if s.sha == pr.head_sha]
    comments = "".join(
        f"<h3>{escape(c.user.login)} <span class=muted>{iso(c.updated_at)}</span></h3>"
        f"<pre>{escape(c.body)}</pre><p class=muted>{_reactions(c.reactions)}</p>"
        for c in sorted(repo.comments.values(), key=lambda c: c.id)
        if c.issue_number == pr.number
    )
    return (
        f"<h2>Files</h2><ul>{files}</ul><h2>Reviews</h2><ul>{reviews or '<li>none</li>'}</ul>"
        f"<h2>Checks</h2><ul>{''.join(checks) or '<li>none</li>'}</ul>"
        f"<h2>Comments</h2>{comments or '<p>none</p>'}"
    )


def _reactions(reactions: list[Reaction]) -> str:
    counts: dict[str, int] = {}
    for reaction in reactions:
        counts[reaction.content] = counts.get(reaction.content, 0) + 1
    return " ".join(f"{_EMOJI[content]} {count}" for content, count in counts.items())
