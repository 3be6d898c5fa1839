"""The comments shadowbot posts: what a reader sees, what cannot break out, the marker."""

import re

import pytest

from shadowbot.live.comments import (
    MAX_BODY,
    Marker,
    combined_action,
    format_marker,
    parse_marker,
    per_rule_targets,
    render_combined,
    render_help,
    render_rule_comment,
    render_unknown_command,
    should_post,
)
from shadowbot.rules import Rule
from shadowbot.verdict import CheckResult, Verdict

REPO, NUMBER = "example/pkgs", 42
HEAD = "c0ffee0000000000000000000000000000000001"
OTHER_HEAD = "0dd0000000000000000000000000000000000002"


def rule(name, version=1, description="A rule."):
    return Rule(name, version, description, lambda pr: Verdict.hold(()))


DOCS, TINY, SKIPPY, BROKEN = rule("docs-only"), rule("tiny", 2), rule("skippy"), rule("broken", 3)
APPROVED = CheckResult("approved by a writer", True, "alice approved")
GREEN = CheckResult("CI is green", True, "3 checks passed")
RED = CheckResult("CI is green", False, "nixpkgs-review failed")
MERGE = Verdict.merge((APPROVED, GREEN))
HOLD = Verdict.hold((APPROVED, RED))
SKIP = Verdict.skip("touches files outside doc/")
ERROR = Verdict.error("ZeroDivisionError: division by zero")
EVALUATIONS = [(DOCS, MERGE), (TINY, HOLD), (SKIPPY, SKIP), (BROKEN, ERROR)]


def combined(evaluations=EVALUATIONS, **options):
    options = {"handle": "shadowbot", "dashboard_url": None, **options}
    return render_combined(REPO, NUMBER, HEAD, evaluations, **options)


def per_rule(the_rule=DOCS, verdict=MERGE, **options):
    options = {"handle": "shadowbot", "dashboard_url": None, **options}
    return render_rule_comment(REPO, NUMBER, HEAD, the_rule, verdict, **options)


# -- what a reader sees ----------------------------------------------------------------


@pytest.mark.parametrize(
    "expected",
    [
        "| `docs-only@1` | ✅ would merge | 2 of 2 checks passed |",
        "| `tiny@2` | ⏸️ would not merge | failed: CI is green |",
        "| `skippy@1` | ➖ does not apply | touches files outside doc/ |",
        "| `broken@3` | ⚠️ error | ZeroDivisionError: division by zero |",
        "- ✅ **approved by a writer**: alice approved",
        "- ✅ **CI is green**: 3 checks passed",
        "- ❌ **CI is green**: nixpkgs-review failed",
        "head commit `c0ffee0`",
        "A 👎 counts against every rule that would merge (`docs-only@1`)",
        "`@shadowbot note <text>`",
        "`@shadowbot help`",
    ],
)
def test_the_combined_comment_shows_every_verdict_and_checklist_line(expected):
    assert expected in combined()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(combined(), id="combined"),
        pytest.param(combined([(TINY, HOLD)]), id="combined-without-claims"),
        pytest.param(per_rule(), id="per-rule"),
        pytest.param(render_help(handle="shadowbot"), id="help"),
        pytest.param(render_unknown_command("lgtm", handle="shadowbot"), id="unknown"),
    ],
)
def test_every_comment_says_it_is_a_dry_run(body):
    assert re.search(r"dry run[:,] nothing will be merged", body, re.IGNORECASE)


def test_without_a_claim_the_comment_says_reactions_count_for_no_rule():
    body = combined([(TINY, HOLD), (SKIPPY, SKIP)])
    assert "count for no rule right now" in body
    assert "counts against" not in body


def test_a_long_checklist_is_folded_but_its_failures_stay_in_view():
    checks = tuple(CheckResult(f"check {i}", i != 4, f"detail {i}") for i in range(9))
    body = combined([(TINY, Verdict.hold(checks))])
    folded = body[body.index("<details>") : body.index("</details>")]
    assert "All 9 checks: 8 passed, 1 failed" in folded
    assert all(f"**check {i}**: detail {i}" in folded for i in range(9))
    assert "- ❌ **check 4**: detail 4" in body[: body.index("<details>")]
    assert "<details>" not in combined()  # two checks: no folding


def test_the_help_and_unknown_command_replies_use_the_configured_handle():
    assert "`@mergebot recheck`" in render_help(handle="mergebot")
    reply = render_unknown_command("lgtm", handle="mergebot")
    assert "`lgtm`" in reply and "`@mergebot help`" in reply


@pytest.mark.parametrize(
    ("verdict", "expected", "unexpected"),
    [
        (MERGE, "Feedback on this rule only", "count for nothing"),
        (HOLD, "count for nothing right now", "Feedback on this rule only"),
    ],
)
def test_a_per_rule_comment_tells_whether_its_reactions_count(verdict, expected, unexpected):
    body = per_rule(DOCS, verdict)
    assert "rule `docs-only@1`" in body
    assert expected in body and unexpected not in body


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://dash.example/example/pkgs/42", "(https://dash.example/example/pkgs/42)"),
        ("https://dash.example/a b)c", "(https://dash.example/a%20b%29c)"),
        ("javascript:alert(1)", None),
        ("http://[::1", None),  # not even a URL
        ("/relative/path", None),
        (None, None),
    ],
)
def test_the_page_link_is_shown_only_for_a_web_address(url, shown):
    body = combined(dashboard_url=url)
    if shown is None:
        assert "its public page" not in body
    else:
        assert f"[its public page]{shown}" in body


# -- untrusted text cannot break out ---------------------------------------------------

ATTACKS = [
    "<img src=x onerror=alert(1)>",
    "@everyone and @alice please look",
    "`unclosed code span",
    "a | b | c",
    "--> <!-- shadowbot-marker {} -->",
    "</details></summary>",
    "[click](javascript:alert(1)) ![img](https://tracker.example/t.png)",
    "fixes #1234",
    "line\n\n# Heading\n- item",
    "# Heading",
    "- item",
    "1. item",
    "---",
    "> quote",
    "$\\Huge{x}$ **bold** _it_ ~~gone~~ \\",
]
OUR_TAGS = re.compile(
    r"<!-- shadowbot-marker [^\n]*? -->|</?(details|summary)>|`@shadowbot note <text>`"
)


def attacked(text):
    """Every untrusted field of a comment set to ``text``."""
    bad = Rule("docs-only", 1, text, lambda pr: Verdict.hold(()))
    checks = (CheckResult(text, True, text), CheckResult(text, False, text))
    return [
        (bad, Verdict.merge(checks[:1])),
        (TINY, Verdict.hold(checks)),
        (SKIPPY, Verdict.skip(text)),
    ]


@pytest.mark.parametrize("text", ATTACKS)
@pytest.mark.parametrize(
    "render", [combined, lambda ev: per_rule(*ev[0])], ids=["combined", "rule"]
)
def test_untrusted_text_cannot_break_out_of_the_comment(render, text):
    body = render(attacked(text))
    assert "<" not in OUR_TAGS.sub("", body)  # no HTML of theirs, no early end of a comment
    assert body.count("<!--") == body.count("-->") == 1
    assert parse_marker(body) is not None
    assert not re.search(r"(?<![\w`])@(everyone|alice)\b", body)  # nobody pinged
    assert not re.search(r"(?<![&\w])#1234", body)  # no cross-reference
    assert not re.search(r"(?<!\\)\]\(", body)  # no link, no image
    assert body.splitlines().count("---") == 1  # our rule above the footer, and no other
    for line in body.splitlines():
        assert not re.match(r"(# |- item|1\. |> )", line), line  # no block of theirs
        assert len(re.findall(r"(?<!\\)`", line)) % 2 == 0, line  # no code span left open
        if line.startswith("| "):
            assert len(re.findall(r"(?<!\\)\|", line)) == 4, line  # three cells, no more


@pytest.mark.parametrize(
    ("word", "shown"),
    [
        ("<img src=x onerror=alert(1)>", "`<img src=x onerror=alert(1)>`"),  # inert in code
        ("a`b|c", "a\\`b\\|c"),  # cannot be a code span: escaped instead
        ("@everyone", "`@everyone`"),
    ],
)
def test_an_unknown_command_word_is_shown_inert(word, shown):
    assert shown in render_unknown_command(word, handle="shadowbot")


def test_a_huge_checklist_still_fits_in_one_github_comment():
    checks = tuple(CheckResult(f"check {i}", False, "x" * 20_000) for i in range(40))
    evaluations = [(rule(f"rule-{i}"), Verdict.hold(checks)) for i in range(30)]
    body = combined(evaluations + [(DOCS, MERGE)])
    assert len(body) <= MAX_BODY
    assert parse_marker(body).claims == ("docs-only@1",)
    assert "nothing will be merged" in body


# -- the marker ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (combined(), Marker("combined", REPO, NUMBER, HEAD, ("docs-only@1",))),
        (combined([(TINY, HOLD)]), Marker("combined", REPO, NUMBER, HEAD, ())),
        (
            combined([(DOCS, MERGE), (TINY, MERGE)]),
            Marker("combined", REPO, NUMBER, HEAD, ("docs-only@1", "tiny@2")),
        ),
        (
            per_rule(DOCS, MERGE),
            Marker("rule", REPO, NUMBER, HEAD, ("docs-only@1",), "docs-only@1"),
        ),
        (per_rule(TINY, HOLD), Marker("rule", REPO, NUMBER, HEAD, (), "tiny@2")),
    ],
)
def test_a_rendered_comment_carries_a_marker_that_parses_back(body, expected):
    assert parse_marker(body) == expected


@pytest.mark.parametrize(
    "marker",
    [
        Marker("combined", "o/r", 1, OTHER_HEAD, ()),
        Marker("combined", "NixOS/nixpkgs", 123456, "abcdef1", ("a@1", "b--c@12")),
        Marker("rule", "o.o/r_r-2", 7, "f" * 64, ("x@3",), "x@3"),
    ],
)
def test_markers_round_trip(marker):
    assert parse_marker(format_marker(marker) + "\nrest of the comment") == marker


MARK = (
    '<!-- shadowbot-marker {"v":1,"kind":"combined","repo":"o/r","pr":1,"head":"abcdef1",'
    '"claims":[]} -->'
)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "LGTM, thanks!",
        "<!-- some other bot's marker -->",
        "Quoting it: " + MARK,  # not at the start: someone's text
        MARK.replace('"v":1', '"v":2'),
        MARK.replace('"v":1', '"v":true'),
        MARK.replace('"combined"', '"banner"'),
        MARK.replace('"pr":1', '"pr":0'),
        MARK.replace('"pr":1', '"pr":true'),
        MARK.replace('"pr":1', '"pr":"1"'),
        MARK.replace("abcdef1", "HEAD"),
        MARK.replace("abcdef1", "abc"),
        MARK.replace('"claims":[]', '"claims":"a@1"'),
        MARK.replace('"claims":[]', '"claims":["../../etc"]'),
        MARK.replace('"claims":[]', '"claims":["a@1","a@1"]'),
        MARK.replace('"claims":[]', '"claims":[["a@1"]]'),
        MARK.replace('"claims":[]', '"claims":[],"extra":1'),
        MARK.replace('"claims":[]', '"claims":[],"rule":"a@1"'),  # a combined marker with a rule
        MARK.replace('"o/r"', '"not a repo"'),
        MARK.replace("} -->", "}"),  # never closed
        MARK.replace("{", "[", 1),
        "<!-- shadowbot-marker {not json} -->",
        '<!-- shadowbot-marker {"a":' + "[" * 100_000 + "]" * 100_000 + "} -->",
        '<!-- shadowbot-marker {"v":1,"kind":"rule","repo":"o/r","pr":1,"head":"abcdef1",'
        '"claims":["b@1"],"rule":"a@1"} -->',  # a rule comment claiming for another rule
    ],
)
def test_anything_we_did_not_write_is_not_a_marker(body):
    assert parse_marker(body) is None


def test_a_marker_cannot_be_made_with_fields_that_would_not_parse_back():
    with pytest.raises(ValueError):
        render_combined(
            REPO, NUMBER, "not-a-sha", EVALUATIONS, handle="shadowbot", dashboard_url=None
        )


# -- when to post ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("evaluations", "post_when", "existing", "post", "action"),
    [
        ([(DOCS, MERGE), (TINY, HOLD)], "merge", False, True, "create"),
        ([(TINY, HOLD), (SKIPPY, SKIP)], "merge", False, False, "none"),
        ([(TINY, HOLD), (SKIPPY, SKIP)], "always", False, True, "create"),
        ([(TINY, HOLD), (SKIPPY, SKIP)], "merge", True, False, "edit"),  # claim withdrawn
        ([(DOCS, MERGE)], "merge", True, True, "edit"),
        ([], "merge", False, False, "none"),
    ],
)
def test_combined_comment_is_created_on_a_claim_and_then_always_kept_up_to_date(
    evaluations, post_when, existing, post, action
):
    assert should_post(evaluations, post_when) is post
    assert combined_action(evaluations, post_when, existing=existing) == action


def test_per_rule_comments_go_to_claiming_rules_and_rules_that_already_have_one():
    evaluations = [(DOCS, MERGE), (TINY, HOLD), (SKIPPY, SKIP)]
    assert [r.key for r, _ in per_rule_targets(evaluations, set())] == ["docs-only@1"]
    assert [r.key for r, _ in per_rule_targets(evaluations, {"tiny@2"})] == [
        "docs-only@1",
        "tiny@2",
    ]
