"""Untrusted text the verdict comments quote: shown as typed, and inert on GitHub.

The bundled checks quote a pull request's title, its file paths, its CI check names (the
PR's own workflow names them) and logins in their details. Whoever opens the PR chooses
all of them, and the bot posts them under its own name: none may link anywhere, ping
anyone, cross-reference another issue or reorder what a reader sees.
"""

import html
import re

import pytest
from snapshots import changed, failing, make_pr, writer

from shadowbot import checks as c
from shadowbot.live.comments import render_combined, render_rule_comment, render_unknown_command
from shadowbot.rules import Rule
from shadowbot.verdict import Verdict

BIDI = "\u202e\u2066\u2069\u200f"
TITLE = (
    "docs: see https://evil.example/login, HTTP://EVIL.EXAMPLE, ftp://evil.example,"
    " _https://evil.example, www.evil.example and a_www.evil.example;"
    " fixes #1, https://github.com/acme/pkgs/issues/9, acme/pkgs#2, GH-3 and gh-4;"
    f" thanks @alice and @acme/team; {BIDI[0]}txt.exe{BIDI[-1]}"
)
PATH = f"doc/{BIDI[1]}@alice{BIDI[2]}/www.evil.example/GH-5.md"
CHECK = "build https://evil.example/ci for acme/pkgs#6 GH-7 @alice \u202ecod.exe"
QUOTING = Rule.from_checks(
    name="quoting",
    version=1,
    description=TITLE,  # a rule's own text is shown whole, where a detail is clipped
    requires=[c.title_matches(r"^docs:"), c.only_touches("pkgs/*"), c.checks_green()],
)
PR = make_pr(author=writer("mallory"), title=TITLE, files=[changed(PATH)], ci=[failing(CHECK)])


@pytest.fixture(params=["combined", "per-rule"])
def body(request):
    verdict = QUOTING.evaluate(PR)
    assert [item.detail for item in verdict.checklist] == [
        TITLE[:80],
        f"{PATH} outside pkgs/*",
        f"{CHECK}: failure",
    ], "the checks quote the hostile text"
    args = (PR.repository, PR.number, PR.head_sha)
    if request.param == "combined":
        return render_combined(*args, [(QUOTING, verdict)], handle="shadowbot")
    return render_rule_comment(*args, QUOTING, verdict, handle="shadowbot")


def shown(body: str) -> str:
    """Roughly what a reader sees: entities decoded, Markdown's backslashes gone."""
    return re.sub(r"\\(.)", r"\1", html.unescape(body)).replace("\u200b", "")


def test_no_bare_address_is_left_for_github_to_link(body):
    assert not re.search(r"(?i)(https?|ftp)://", body)  # every address broken after ':'
    assert not re.search(r"(?i)www\.", body)
    assert "https://evil.example/login" in shown(body)  # and still readable


def test_no_reference_of_any_form_is_left_for_github_to_cross_reference(body):
    assert not re.search(r"(?i)GH-[0-9]", body)
    assert not re.search(r"(?<!&)#[0-9]", body)  # (&#39; is an entity: no reference)
    assert "acme/pkgs#6 GH-7" in shown(body)  # and still readable


def test_nobody_is_pinged(body):
    assert not re.search(r"(?<![\w`])@(alice|acme)\b", body)


def test_bidirectional_controls_are_shown_by_name_and_never_sent(body):
    assert not re.search(f"[{BIDI}\u061c\u200e\u202a-\u202d]", body)
    assert "<U+202E>" in shown(body)


def test_right_to_left_letters_are_left_alone():
    rule = Rule("rtl", 1, "שלום עולם مرحبا", lambda pr: Verdict.skip("אין"))
    body = render_rule_comment("acme/pkgs", 1, PR.head_sha, rule, rule.evaluate(PR), handle="x")
    assert "שלום עולם مرحبا" in body


@pytest.mark.parametrize("word", ["\u202ehelp", "h\u2066elp"])
def test_an_unknown_command_word_cannot_carry_a_bidirectional_control(word):
    body = render_unknown_command(word, handle="shadowbot")
    assert not re.search(f"[{BIDI}]", body)
    assert "<U+" in shown(body)
