"""The pages in a real browser (Debian's chromium, driven by playwright), served by
``shadowbot demo`` after its story: the figures ``ledger show`` gives, links, sorting and
filtering, an axe-core accessibility check, untrusted text shown as text, and screenshots
at phone and desktop widths under ``tests/artifacts/``.

The tests are synchronous: playwright's sync API must not run inside an asyncio loop,
and the bots run as subprocesses, so none is needed here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import DemoBot, launch_chromium, running_demos
from playwright.sync_api import Browser, Error, Page, Playwright, sync_playwright

ARTIFACTS = Path(__file__).parent / "artifacts"
COUNTS = ("wins", "losses", "neutral", "closed_unmerged", "missed", "pending", "errors")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}

# -- the bots: the demo's story, and a script with hostile text ---------------------------


#: Untrusted text as a contributor writes it: markup that would run if a page did not
#: escape it (the test loads these pages with the CSP bypassed, so escaping alone counts).
HOSTILE_TITLE = 'doc: <b>bold</b> <img src="x" onerror="window.__pwned = \'title\'">'
HOSTILE_NOTE = "<script>window.__pwned = 'note'</script> too loose"
HOSTILE_SCRIPT = [
    {"do": "open_pr", "author": "dave", "title": HOSTILE_TITLE,
     "files": ["doc/manual/installing.md"], "as": "pr"},
    {"do": "add_check", "number": "$pr", "name": "build (x86_64-linux)"},
    {"do": "review", "number": "$pr", "reviewer": "erin"},
    {"do": "comment", "number": "$pr", "author": "dave",
     "body": f"@shadowbot note any-approval: {HOSTILE_NOTE}"},
    {"do": "react_to_verdict", "number": "$pr", "user": "carol", "content": "-1"},
    {"do": "settle"},
]  # fmt: skip


@pytest.fixture(scope="module")
def bots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[DemoBot]]:
    """Two demos, played at once (each takes seconds): its story, and a hostile script."""
    story, hostile = tmp_path_factory.mktemp("story"), tmp_path_factory.mktemp("hostile")
    script = hostile / "hostile.json"
    script.write_text(json.dumps(HOSTILE_SCRIPT), encoding="utf-8")
    with running_demos((story, None), (hostile, script)) as started:
        yield started


@pytest.fixture(scope="module")
def story(bots: list[DemoBot]) -> DemoBot:
    """``shadowbot demo`` after its story: any-approval@1 disabled by two losses,
    bot-version-bump@1 promoted by two wins, small-two-approvals@1 missed two merges."""
    return bots[0]


@pytest.fixture(scope="module")
def hostile(bots: list[DemoBot]) -> DemoBot:
    """``shadowbot demo --script``: dave's PR #1 with HTML in its title, his note about
    any-approval with a ``<script>``, and any-approval's loss on it (carol's 👎)."""
    return bots[1]


@pytest.fixture(scope="module")
def ledger(story: DemoBot) -> dict[str, dict[str, Any]]:
    """``shadowbot ledger show --format json`` on the story's database, by rule version."""
    return {view["rule"]: view for view in story.ledger_show()}


# -- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = launch_chromium(playwright)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A new page in a context of its own, with the pages' CSP enforced."""
    context = browser.new_context(viewport=DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


def visit(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response}"


def follow(page: Page, selector: str) -> None:
    """Click a link (or a submit button) and wait for the page it leads to: a 200."""
    with page.expect_navigation() as navigation:
        page.locator(selector).first.click()
    response = navigation.value
    assert response is not None and response.status == 200, f"{selector}: {response}"


def rows(page: Page) -> list[str]:
    """The leaderboard's rules (``name@version``), in the order shown."""
    return page.locator("table#leaderboard tr.rule-row").evaluate_all(
        "rows => rows.map(row => row.dataset.rule)"
    )


def shown_counts(page: Page, rule: str) -> dict[str, int | None]:
    row = page.locator(f'tr.rule-row[data-rule="{rule}"]')
    shown = {key: row.locator(f".{key.replace('_', '-')}").inner_text() for key in COUNTS}
    return {key: None if text.strip() in ("", "-") else int(text) for key, text in shown.items()}


def counts(figures: dict[str, Any]) -> dict[str, int | None]:
    return {key: figures.get(key) for key in COUNTS}


# -- what the pages show ------------------------------------------------------------------


def test_leaderboard_shows_the_ledger_figures(page: Page, story: DemoBot, ledger: dict) -> None:
    visit(page, story.url + "/")

    assert sorted(rows(page)) == sorted(ledger)
    for rule, view in ledger.items():
        assert shown_counts(page, rule) == counts(view), rule
    # The story's ending, as the demo tells it.
    assert page.locator('[data-rule="any-approval@1"] .state-cell').inner_text() == "disabled"
    assert page.locator('[data-rule="bot-version-bump@1"] .state-cell').inner_text() == "promoted"
    assert ledger["any-approval@1"]["losses"] == 2
    assert ledger["bot-version-bump@1"]["wins"] == 2


def test_links_lead_from_the_leaderboard_to_a_rule_a_pull_request_and_the_audit_log(
    page: Page, story: DemoBot
) -> None:
    visit(page, story.url + "/")
    follow(page, '[data-rule="any-approval@1"] a.rule-name')
    assert page.url == f"{story.url}/rules/any-approval/v1"
    assert "any-approval" in page.locator("#rule-title").inner_text()
    assert page.locator("#rule-figures dd.losses").inner_text() == "2"

    # Losses first: carol's 👎 on #3, the second loss, which disabled the rule.
    follow(page, "#rule-ledger tr.ledger-entry a.pr-link")
    assert page.url == f"{story.url}/prs/acme/pkgs/3"
    assert "acme/pkgs#3" in page.locator("#pr-title").inner_text()
    result = page.locator('#pr-results tr.pr-result[data-rule="any-approval@1"]')
    assert "loss" in result.inner_text()

    follow(page, "#nav-audit")
    assert page.url == f"{story.url}/audit"
    events = page.locator("#audit-log tr.audit-event")
    assert events.count() == 2  # any-approval@1 disabled, bot-version-bump@1 promoted
    follow(page, '#audit-log a[href="/rules/bot-version-bump/v1"]')
    assert "bot-version-bump" in page.locator("#rule-title").inner_text()
    assert "promoted" in page.locator("#rule-state").inner_text()


def test_column_headings_sort_the_rows(page: Page, story: DemoBot) -> None:
    visit(page, story.url + "/")
    everyone = sorted(rows(page))

    follow(page, "#sort-wins")
    assert "sort=wins" in page.url and "order=desc" in page.url
    by_wins = rows(page)
    wins = [shown_counts(page, rule)["wins"] for rule in by_wins]
    assert wins == sorted(wins, reverse=True) and by_wins[0] == "bot-version-bump@1"

    follow(page, "#sort-wins")  # a second click reverses the order
    assert "order=desc" not in page.url
    wins = [shown_counts(page, rule)["wins"] for rule in rows(page)]
    assert wins == sorted(wins) and rows(page)[-1] == "bot-version-bump@1"

    follow(page, "#sort-name")
    assert rows(page) == everyone


def test_filters_narrow_the_rows(page: Page, story: DemoBot, ledger: dict) -> None:
    visit(page, story.url + "/")

    follow(page, "#filter-state a[href*='state=disabled']")
    assert rows(page) == ["any-approval@1"]

    # The form: a state picked from its list.
    visit(page, story.url + "/")
    page.select_option("#f-state", "promoted")
    follow(page, "#filter-form button[type=submit]")
    assert "state=promoted" in page.url
    assert rows(page) == ["bot-version-bump@1"]

    # Bot accounts' pull requests only: the rules with a result on one, with those counts.
    visit(page, story.url + "/")
    follow(page, "#filter-author a[href*='author=bot']")
    bots = {
        rule: counts(view["by_author"]["bot"])
        for rule, view in ledger.items()
        if any(view["by_author"]["bot"][key] for key in COUNTS if key != "errors")
    }
    assert sorted(rows(page)) == sorted(bots)
    for rule, figures in bots.items():
        assert shown_counts(page, rule) == {**figures, "errors": None}, rule

    # Hypothetical thresholds: with up to 5 losses allowed any-approval would be in shadow.
    visit(page, story.url + "/")
    page.fill("#f-max-losses", "5")
    follow(page, "#filter-form button[type=submit]")
    assert page.locator("#hypothetical-banner").is_visible()
    state = page.locator('[data-rule="any-approval@1"] .state-cell')
    assert state.locator(".state").inner_text() == "shadow"
    assert state.locator(".actual").inner_text() == "actual: disabled"


# -- accessibility ------------------------------------------------------------------------

PAGES = ["/", "/rules/any-approval", "/prs/acme/pkgs/2", "/audit"]
GRAVE = ("serious", "critical")
AXE_RUN = """async () => {
  const results = await axe.run(document);
  return {
    passes: results.passes.length,
    violations: results.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary),
    })),
  };
}"""


@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_no_serious_violation(
    story: DemoBot, browser: Browser, axe_js: str, path: str
) -> None:
    # The pages' CSP forbids every script, axe's too (test_pages_run_no_script shows it):
    # bypassed for this check only, which reads the page and changes nothing.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    try:
        page = context.new_page()
        visit(page, story.url + path)
        page.add_script_tag(content=axe_js)
        results = page.evaluate(AXE_RUN)
    finally:
        context.close()
    grave = [v for v in results["violations"] if v["impact"] in GRAVE]
    assert results["passes"] > 0  # axe did check something
    assert not grave, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}\n  " + "\n  ".join(v["nodes"]) for v in grave
    )


# -- untrusted text -----------------------------------------------------------------------


def test_titles_and_notes_show_as_text(hostile: DemoBot, browser: Browser) -> None:
    # CSP bypassed: it would stop an unescaped script too; escaping is what is checked here.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    try:
        page = context.new_page()
        visit(page, hostile.url + "/prs/acme/pkgs/1")
        assert text_only(page, "#pr-title .pr-title") == HOSTILE_TITLE
        assert text_only(page, "#pr-notes .note-body") == HOSTILE_NOTE
        assert page.locator("script").count() == 0
        assert page.evaluate("window.__pwned") is None

        visit(page, hostile.url + "/rules/any-approval")
        assert text_only(page, "#rule-ledger .pr-title") == HOSTILE_TITLE
        assert text_only(page, "#rule-notes .note-body") == HOSTILE_NOTE
        assert page.locator("script").count() == 0
        assert page.evaluate("window.__pwned") is None
    finally:
        context.close()


def text_only(page: Page, selector: str) -> str:
    """The element's text, once it is shown to hold no element of its own."""
    element = page.locator(selector)
    assert element.evaluate("e => e.children.length") == 0, element.inner_html()
    return element.inner_text()


def test_pages_run_no_script(story: DemoBot, page: Page) -> None:
    """The pages' CSP: a script injected into them is refused."""
    visit(page, story.url + "/")
    with pytest.raises(Error, match="Content Security Policy"):
        page.add_script_tag(content="window.__pwned = 'injected'")
    assert page.evaluate("window.__pwned") is None


# -- screenshots --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize(
    ("name", "path"),
    [("leaderboard", "/"), ("rule", "/rules/any-approval")],
    ids=["leaderboard", "rule"],
)
def test_screenshots(story: DemoBot, browser: Browser, name: str, path: str, size: dict) -> None:
    """Saved under tests/artifacts/ for a person to look at; the page itself never scrolls
    sideways (wide tables scroll in their own region)."""
    context = browser.new_context(viewport=size)
    try:
        page = context.new_page()
        visit(page, story.url + path)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(
            path=ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png", full_page=True
        )
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    finally:
        context.close()
    assert overflow <= 0, f"{path} is {overflow}px wider than a {size['width']}px screen"
