"""The text shadowbot posts on pull requests, rendered from ``templates/comments/``.

Pure functions: data in, Markdown out. PR titles, rule descriptions, check names, details
and reasons are untrusted, so every ``{{ value }}`` in these templates goes through
:func:`escape_text` unless it is :class:`~markupsafe.Markup` built here: HTML is escaped,
Markdown punctuation is backslash-escaped, newlines are flattened (they could start a new
block or end a table row), ``@mentions``, ``#123`` / ``GH-123`` references and bare web
addresses get a zero-width space so a checklist detail can never ping anyone, link
anywhere or cross-reference another issue, and bidirectional control characters are shown
by name (``<U+202E>``) so a title cannot reorder what a reader sees.

Each comment starts with a hidden marker (:func:`format_marker`), the bot's way to find
its own comment again after a restart and to know what was on screen. Only trust a
marker on a comment the bot itself wrote: anyone can type one into their own comment.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jinja2
from markupsafe import Markup, escape

from shadowbot.resources import bundled_path
from shadowbot.rules import Rule
from shadowbot.verdict import Verdict

Evaluations = Sequence[tuple[Rule, Verdict]]
PostWhen = Literal["merge", "always"]
MarkerKind = Literal["combined", "rule"]

#: GitHub refuses comment bodies over 65,536 characters; stay well below.
MAX_BODY = 60_000
#: Checklists longer than this are folded into ``<details>`` (failed checks stay visible).
LONG_CHECKLIST = 5
#: (characters kept of each untrusted text, whether checklists are shown), tried in turn
#: until the comment fits in :data:`MAX_BODY`.
_BUDGETS = ((500, True), (120, True), (80, False))

_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}@[1-9][0-9]{0,8}\Z")  # Rule.key, see rules.py
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}\Z")
_SHA = re.compile(r"[0-9a-f]{7,64}\Z")
# Bidirectional controls reorder the text around them on screen ("Trojan Source",
# CVE-2021-42574): ALM, LRM, RLM, the embeddings and overrides, and the isolates.
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{_BIDI_CONTROLS}]")
# Inside a code span nothing is HTML, Markdown or a mention; only a backtick (ends it), a
# newline (may end the paragraph) and a pipe (ends a table cell) could break out, and a
# bidirectional control still reorders it.
_CODE_SAFE = re.compile(f"[^`|\\r\\n{_BIDI_CONTROLS}]{{1,100}}\\Z")
_MARKER = re.compile(r"\s*<!-- shadowbot-marker (\{[^\n]*?\}) -->")
# Any ASCII punctuation may be backslash-escaped in CommonMark; these are the ones that
# mean something mid-line (``$`` is GitHub's math). ``&``, ``#`` and ``;`` are left alone
# because the HTML escaping before this step produces entities made of them.
_MARKDOWN = re.compile(r"([\\`*_\[\]|~$])")
# What could start a block when a text begins a line (a heading, list, rule or setext
# underline); ``>`` is already ``&gt;`` by then, and an entity starts no block.
_BLOCK_START = re.compile(r"^(\d*)([#+=.)-])")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_REFERENCE = re.compile(r"(?<!&)#(?=[0-9])")  # not the '#' of an entity like &#39;
# GitHub's other issue reference, GH-123 ("Autolinked references and URLs" in its docs:
# https://docs.github.com/en/get-started/writing-on-github/working-with-advanced-formatting).
_GH_REFERENCE = re.compile(r"(?i)GH-(?=[0-9])")
# GFM links a bare http(s):// or ftp:// address and a www. one
# (https://github.github.com/gfm/#autolinks-extension-), and GitHub makes a link to an
# issue a cross-reference. No \b: "_https://x.org" and "a_www.x.org" are linked too.
_AUTOLINK = re.compile(r"(?i)(?:https?|ftp):(?=//)|www(?=\.)")
_ZWSP = "&#8203;"


# -- escaping --------------------------------------------------------------------------


def escape_text(value: object) -> Markup:
    """``value`` as inert inline Markdown: shows as typed, links nothing, pings no one."""
    if isinstance(value, Markup):
        return value
    flat = _BIDI.sub(lambda found: f"<U+{ord(found[0]):04X}>", " ".join(str(value).split()))
    text = _MARKDOWN.sub(r"\\\1", str(escape(flat)))
    text = _BLOCK_START.sub(r"\1\\\2", text)
    text = _MENTION.sub("@" + _ZWSP, text)
    text = _GH_REFERENCE.sub(r"\g<0>" + _ZWSP, text)
    text = _AUTOLINK.sub(r"\g<0>" + _ZWSP, text)
    return Markup(_REFERENCE.sub("#" + _ZWSP, text))


def clip(value: object, limit: int) -> str:
    """At most ``limit`` characters, cut *before* escaping so no entity is cut in half."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def code(value: object) -> Markup:
    """``value`` as a code span, or as escaped text if it could break out of one."""
    text = str(value)
    return Markup(f"`{text}`") if _CODE_SAFE.match(text) else escape_text(text)


def _link_target(url: str | None) -> Markup | None:
    """An http(s) URL made safe as a Markdown link destination, or None."""
    if not url:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 address
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None  # never javascript: or a relative link
    # Quoting spaces, parentheses, angle brackets and backslashes keeps the URL inside (…).
    return Markup(urllib.parse.quote(url, safe=":/?#[]@!$&'*+,;=%~"))


@functools.cache
def environment() -> jinja2.Environment:
    """The comment templates' environment, built on first use (never at import time)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(bundled_path("templates") / "comments"),
        autoescape=True,
        finalize=escape_text,  # every {{ value }} is escaped for Markdown, not only HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(code=code, clip=clip)
    env.globals.update(LONG_CHECKLIST=LONG_CHECKLIST)
    return env


def _render(template: str, **context: Any) -> str:
    body = environment().get_template(template).render(**context)
    return re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"


# -- the hidden marker -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Marker:
    """What a bot comment says about itself: which PR, which head, which claims."""

    kind: MarkerKind
    repository: str
    number: int
    head_sha: str
    #: Keys of the rules that claimed ``merge`` in the revision shown by the comment.
    claims: tuple[str, ...]
    #: ``rule`` comments: the key of the rule the comment belongs to.
    rule: str | None = None

    def __post_init__(self) -> None:
        if not _valid(self):
            raise ValueError(f"not a valid comment marker: {self!r}")


def _valid(marker: Marker) -> bool:
    claims = marker.claims
    claims_ok = isinstance(claims, tuple) and all(_matches(_KEY, key) for key in claims)
    if marker.kind == "combined":
        rule_ok = marker.rule is None
    else:  # a per-rule comment can only show its own rule's claim
        rule_ok = _matches(_KEY, marker.rule) and set(claims) <= {marker.rule}
    return (
        marker.kind in ("combined", "rule")
        and _matches(_REPO, marker.repository)
        and type(marker.number) is int  # not a bool, not a float
        and marker.number > 0
        and _matches(_SHA, marker.head_sha)
        and claims_ok
        and len(set(claims)) == len(claims)
        and rule_ok
    )


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.match(value) is not None


def format_marker(marker: Marker) -> Markup:
    """``<!-- shadowbot-marker {json} -->``: one line, ``<``, ``>``, ``&`` as JSON escapes,
    so no field can end the HTML comment early."""
    payload: dict[str, object] = {"v": 1, "kind": marker.kind, "repo": marker.repository}
    payload.update(pr=marker.number, head=marker.head_sha, claims=list(marker.claims))
    if marker.rule is not None:
        payload["rule"] = marker.rule
    data = json.dumps(payload, separators=(",", ":"))
    for char in "<>&":
        data = data.replace(char, f"\\u{ord(char):04x}")
    return Markup(f"<!-- shadowbot-marker {data} -->")


def parse_marker(body: str) -> Marker | None:
    """The marker a comment body starts with, or None for anything :func:`format_marker`
    did not write (check the comment's author too: a marker is easy to type)."""
    found = _MARKER.match(body)
    if found is None:
        return None
    try:
        data = json.loads(found.group(1))
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        return None
    if not isinstance(data, dict) or data.get("v") != 1 or type(data["v"]) is not int:
        return None
    if set(data) - {"rule"} != {"v", "kind", "repo", "pr", "head", "claims"}:
        return None
    if not isinstance(data["claims"], list) or not all(isinstance(k, str) for k in data["claims"]):
        return None
    kind, repo, number, head = data["kind"], data["repo"], data["pr"], data["head"]
    try:
        return Marker(kind, repo, number, head, tuple(data["claims"]), data.get("rule"))
    except ValueError:  # a field of the wrong type or shape
        return None


# -- what to post ----------------------------------------------------------------------


def claimed_keys(evaluations: Evaluations) -> tuple[str, ...]:
    """Keys of the rules that claim ``merge``, in evaluation order."""
    return tuple(rule.key for rule, verdict in evaluations if verdict.is_claim)


def should_post(evaluations: Evaluations, post_when: PostWhen) -> bool:
    """Whether a *new* combined comment is due: once some rule claims ``merge``, or on
    every evaluated PR with ``post_when="always"``.

    This decides creation only. A combined comment that already exists (a comment of the
    bot's own whose :func:`parse_marker` is ``combined`` for this PR) is always edited to
    the latest verdicts, even when no rule claims any more: a withdrawn claim must not
    stay on screen, where a 👎 would be counted against it. :func:`combined_action`
    puts both together.
    """
    return post_when == "always" or any(verdict.is_claim for _, verdict in evaluations)


def combined_action(
    evaluations: Evaluations, post_when: PostWhen, *, existing: bool
) -> Literal["create", "edit", "none"]:
    """What ``combined`` mode does with GitHub: edit the existing comment, create one, or
    nothing. (Skipping an edit whose body would not change is the caller's saving.)"""
    if existing:
        return "edit"
    return "create" if should_post(evaluations, post_when) else "none"


def per_rule_targets(evaluations: Evaluations, existing: Collection[str]) -> Evaluations:
    """The rules that get a ``per-rule`` comment posted or edited: every claiming rule,
    and every rule whose comment already exists (``existing`` holds their keys, from
    ``rule`` markers), so a withdrawn claim is shown as withdrawn."""
    return [(r, v) for r, v in evaluations if v.is_claim or r.key in existing]


# -- rendering -------------------------------------------------------------------------


def render_combined(
    repository: str,
    number: int,
    head_sha: str,
    evaluations: Evaluations,
    *,
    handle: str,
    dashboard_url: str | None = None,
    disabled: Mapping[str, str] | None = None,
) -> str:
    """The one sticky comment of ``combined`` mode: every rule's verdict and checklist,
    and the rules that were disabled, with why (they no longer evaluate)."""
    marker = Marker("combined", repository, number, head_sha, claimed_keys(evaluations))
    link = _link_target(dashboard_url)
    context = {
        "evaluations": list(evaluations),
        "handle": handle,
        "dashboard": link,
        "disabled": sorted((disabled or {}).items()),
    }
    return _fitted("combined.md.j2", marker, **context)


def render_rule_comment(
    repository: str,
    number: int,
    head_sha: str,
    rule: Rule,
    verdict: Verdict,
    *,
    handle: str,
    dashboard_url: str | None = None,
) -> str:
    """One ``per-rule`` comment: a single rule's verdict; its reactions judge that rule."""
    claims = (rule.key,) if verdict.is_claim else ()
    marker = Marker("rule", repository, number, head_sha, claims, rule.key)
    link = _link_target(dashboard_url)
    context = {"rule": rule, "verdict": verdict, "handle": handle, "dashboard": link}
    return _fitted("rule.md.j2", marker, **context)


def render_rule_disabled(
    repository: str,
    number: int,
    head_sha: str,
    key: str,
    reason: str,
    *,
    handle: str,
    dashboard_url: str | None = None,
) -> str:
    """A ``per-rule`` comment whose rule was disabled: it claims nothing any more."""
    marker = Marker("rule", repository, number, head_sha, (), key)
    link = _link_target(dashboard_url)
    context = {"key": key, "reason": reason, "handle": handle, "dashboard": link}
    return _fitted("rule_disabled.md.j2", marker, **context)


def _fitted(template: str, marker: Marker, **context: Any) -> str:
    """Render with the most detail that fits in one GitHub comment."""
    shown = {"marker": format_marker(marker), "head_sha": marker.head_sha, "claims": marker.claims}
    body = ""
    for limit, checklists in _BUDGETS:
        body = _render(template, limit=limit, checklists=checklists, **shown, **context)
        if len(body) <= MAX_BODY:
            break
    return body


def render_help(*, handle: str) -> str:
    """The reply to ``@handle help``."""
    return _render("help.md.j2", handle=handle)


def render_unknown_command(word: str, *, handle: str) -> str:
    """The short reply to a command the bot does not know (sent at most once per PR)."""
    return _render("unknown_command.md.j2", word=clip(word, 40), handle=handle)
