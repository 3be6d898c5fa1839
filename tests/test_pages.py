"""The public pages as a visitor sees them: the leaderboard, a rule, a pull request and the
audit log, on evidence settled by the real settlement job (SQLite and PostgreSQL)."""

from __future__ import annotations

import html as html_text
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from test_pages_story import (
    BOLD_TITLE,
    SECRET_NOTE,
    SECRET_TITLE,
    SETTLED_AT,
    evidence,
    pages_app,
)

from shadowbot import storage
from shadowbot.errors import ConfigError
from shadowbot.settings import load_settings
from shadowbot.storage import NoteVersionRow
from shadowbot.storage.ledger_store import add_audit
from shadowbot.web.data import BOARDS
from shadowbot.web.site import CONTENT_SECURITY_POLICY


@pytest.fixture
def url(database_url):
    return evidence(database_url)


@pytest.fixture
async def client(url, aiohttp_client):
    return await aiohttp_client(pages_app(url))


async def page(client, path, status=200):
    response = await client.get(path)
    text = await response.text()
    assert response.status == status, text
    return response, text


def row_of(html, row_id):
    found = re.search(rf'<tr id="{re.escape(row_id)}".*?</tr>', html, re.S)
    assert found is not None, f"no row {row_id}"
    return found.group(0)


def cells(html, row_id):
    """The leaderboard's numeric cells of one row, by class."""
    return dict(re.findall(r'<td class="number ([a-z-]+)">([^<]*)</td>', row_of(html, row_id)))


def row_ids(html):
    return re.findall(r'<tr id="(rule-[^"]+)"', html)


def error_message(html):
    return html_text.unescape(re.search(r'<p id="error-message">(.*?)</p>', html, re.S).group(1))


# -- the leaderboard ----------------------------------------------------------------------


async def test_the_leaderboard_shows_each_rules_current_version_with_its_record(client):
    response, html = await page(client, "/")
    assert response.content_type == "text/html"
    assert row_ids(html) == ["rule-careful-v1", "rule-loose-v2"]  # by loss bound, unknown last
    assert cells(html, "rule-careful-v1") == {
        "wins": "3",
        "losses": "0",
        "neutral": "0",
        "closed-unmerged": "0",
        "missed": "1",
        "pending": "1",
        "errors": "1",
        "loss-bound": "63.2%",
        "coverage": "75%",
        "time-saved": "11 h 57 min",
    }
    careful = row_of(html, "rule-careful-v1")
    assert 'class="state state-promoted"' in careful
    assert "Toward promotion: 3 of 2 wins" in careful and "<progress" in careful
    assert '<svg class="trend"' in careful and "3 wins and 0 losses" in careful
    loose = row_of(html, "rule-loose-v2")
    assert "manual override" in loose and 'href="/rules/loose/v1"' in loose  # one click away
    # Untrusted text is escaped; the page is accessible and needs no script.
    assert "Careful &lt;em&gt;rule&lt;/em&gt;" in html and "<em>" not in html
    assert '<html lang="en">' in html and 'href="#main"' in html and "<caption" in html
    assert 'scope="col"' in html and 'scope="row"' in html
    assert "<script" not in html and "style=" not in html and "<style" not in html


async def test_every_version_is_one_link_away(client):
    _, html = await page(client, "/")
    link = re.search(r'<a id="toggle-versions" href="([^"]+)"', html).group(1)
    _, every = await page(client, link.replace("&amp;", "&"))
    assert set(row_ids(every)) == {"rule-careful-v1", "rule-loose-v1", "rule-loose-v2"}
    assert cells(every, "rule-loose-v1")["losses"] == "3"
    assert "disputed" not in cells(every, "rule-loose-v1")


async def test_sorting_and_filtering_are_plain_links(client):
    _, html = await page(client, "/?versions=all")
    wins_link = re.search(r'<a id="sort-wins" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    _, by_wins = await page(client, wins_link)
    assert row_ids(by_wins) == ["rule-careful-v1", "rule-loose-v1", "rule-loose-v2"]
    assert 'aria-sort="descending"' in by_wins
    _, by_name = await page(client, "/?versions=all&sort=name&order=desc")
    assert row_ids(by_name) == ["rule-loose-v2", "rule-loose-v1", "rule-careful-v1"]
    _, disabled = await page(client, "/?versions=all&state=disabled")
    assert row_ids(disabled) == ["rule-loose-v1", "rule-loose-v2"]
    # An author kind narrows the counts to its pull requests, and hides rules without any.
    _, bots = await page(client, "/?versions=all&author=bot")
    assert row_ids(bots) == ["rule-careful-v1", "rule-loose-v1"]
    assert (
        cells(bots, "rule-careful-v1")["wins"] == "1"
        and cells(bots, "rule-loose-v1")["losses"] == "0"
    )
    # A repository narrows them to its pull requests; the private one is not offered.
    _, pkgs = await page(client, "/?repository=acme/pkgs")
    assert cells(pkgs, "rule-careful-v1")["wins"] == "2"  # the third win is acme/secret's
    assert '<option value="acme/secret"' not in html and '<option value="acme/pkgs"' in html


async def test_hypothetical_thresholds_change_the_states_and_say_so(client):
    _, html = await page(client, "/?versions=all&promote_wins=5&max_losses=5")
    assert "Hypothetical leaderboard" in html and 'id="hypothetical-banner"' in html
    careful = row_of(html, "rule-careful-v1")
    assert "Hypothetical" in careful and 'class="state state-shadow"' in careful
    assert "actual: promoted" in careful and "Toward promotion: 3 of 5 wins" in careful
    loose = row_of(html, "rule-loose-v1")
    assert 'class="state state-shadow"' in loose and "actual: disabled" in loose
    # A manual disable stays a disable whatever the thresholds.
    assert 'class="state state-disabled"' in row_of(html, "rule-loose-v2")
    _, rate = await page(client, "/?promote_max_loss_rate=0.5")
    assert "Toward promotion: 3 of 5 wins" in row_of(rate, "rule-careful-v1")
    _, real = await page(client, "/")
    assert "hypothetical-banner" not in real and "actual:" not in real


async def test_the_banner_links_the_evidence_report_once_enough_rules_are_promoted(client):
    _, html = await page(client, "/")
    assert 'id="rfc-banner"' not in html and "1 of 5 promoted rules" in html
    _, ready = await page(client, "/?rfc_ready_rules=1")
    banner = re.search(r'<div id="rfc-banner".*?</div>', ready, re.S).group(0)
    assert 'href="/report.md"' in banner and "(hypothetically)" in banner
    response, report = await page(client, "/report.md")
    assert response.content_type == "text/markdown"
    assert report.startswith("# shadowbot evidence report")
    assert "| `careful@1` | promoted | 3 | 0 |" in report
    assert SECRET_NOTE not in report and SECRET_TITLE not in report


async def test_the_configured_threshold_for_a_proposal_shows_the_banner(url, aiohttp_client):
    client = await aiohttp_client(pages_app(url, SHADOWBOT_RFC_READY_RULES="1"))
    _, html = await page(client, "/")
    assert 'id="rfc-banner"' in html and "(hypothetically)" not in html


# -- a rule -------------------------------------------------------------------------------


async def test_a_rules_page_lists_its_losses_first_with_who_and_when(client):
    _, html = await page(client, "/rules/loose/v1")
    ledger = re.search(r'<table id="rule-ledger">.*?</table>', html, re.S).group(0)
    results = re.findall(r'<span class="result-(win|loss)">', ledger)
    assert results == ["loss", "loss", "loss", "win"]
    assert "👎 thumbs down by carol on" in ledger
    assert '<span class="disputed">disputed</span>' in ledger
    assert 'href="https://github.com/acme/pkgs/pull/4"' in ledger
    assert 'href="/prs/acme/pkgs/2"' in ledger
    assert "Fix &lt;b&gt;bold&lt;/b&gt; claims @someone" in ledger and "<b>" not in html
    # The note about it, escaped; its versions; its checks; the report's sentences.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; too loose" in html and "<script" not in html
    assert 'href="/rules/loose/v2"' in html and "This is an older version" in html
    assert "<li>CI is green</li>" in html
    assert "with 1 wins and 3 losses the loss rate is below 98.7%" in html
    assert "no backtest stored for this version" in html
    assert "3 losses, more than the 1 allowed" in html


async def test_a_rule_without_a_version_is_its_newest_one(client):
    _, html = await page(client, "/rules/loose")
    assert 'id="rule-title">loose <span class="version">version 2</span>' in html
    assert "manual override" in html and "disabled by cli:bob: not ready" in html
    assert "No result yet." in html and "This is an older version" not in html


async def test_a_private_repositorys_results_count_without_their_details(client):
    _, html = await page(client, "/rules/careful")
    ledger = re.search(r'<table id="rule-ledger">.*?</table>', html, re.S).group(0)
    assert ledger.count('class="ledger-entry') == 4  # three wins and a miss
    assert '<span class="private">a private repository</span>' in ledger
    assert SECRET_TITLE not in html and "mallory" not in html and SECRET_NOTE not in html


async def test_a_private_repository_named_as_shown_shows_its_details(url, aiohttp_client):
    client = await aiohttp_client(pages_app(url, SHADOWBOT_SHOWN_REPOSITORIES="acme/secret"))
    _, html = await page(client, "/rules/careful")
    assert SECRET_TITLE in html and SECRET_NOTE in html
    _, pr = await page(client, "/prs/acme/secret/1")
    assert SECRET_TITLE in pr


async def test_links_go_to_the_configured_github(url, aiohttp_client):
    client = await aiohttp_client(
        pages_app(url, SHADOWBOT_GITHUB_WEB_URL="https://ghe.example.org/")
    )
    _, html = await page(client, "/rules/loose/v1")
    assert 'href="https://ghe.example.org/acme/pkgs/pull/4"' in html


# -- a pull request -----------------------------------------------------------------------


async def test_a_pull_requests_page_shows_what_the_bot_showed_and_who_reacted(client):
    _, html = await page(client, "/prs/acme/pkgs/2")
    assert "Fix &lt;b&gt;bold&lt;/b&gt; claims @someone" in html and BOLD_TITLE not in html
    mergers = re.search(r'<table id="reactions-mergers">.*?</table>', html, re.S).group(0)
    community = re.search(r'<table id="reactions-community">.*?</table>', html, re.S).group(0)
    assert "carol" in mergers and "dave-friend" not in mergers
    assert "dave-friend" in community and "👍" in community
    assert "Revision #" in html and "<code>loose@1</code>" in html
    assert '<li class="passed">✓ CI is green: build: success</li>' in html
    results = re.search(r'<table id="pr-results">.*?</table>', html, re.S).group(0)
    assert 'data-rule="loose@1"' in results and "result-loss" in results
    assert "Closed unmerged" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html


async def test_an_open_claim_is_pending_and_the_repository_name_ignores_case(client):
    _, html = await page(client, "/prs/ACME/Pkgs/5")
    assert "not settled yet" in html and 'class="result-pending"' in html and "Open." in html


# -- the audit log ------------------------------------------------------------------------


async def test_the_audit_log_is_newest_first(client):
    _, html = await page(client, "/audit")
    events = re.findall(r'<tr id="event-(\d+)"', html)
    assert [int(e) for e in events] == sorted((int(e) for e in events), reverse=True)
    assert len(events) == 4 and "manual disable" in html
    assert 'shadow → <span class="state state-promoted">promoted</span>' in html
    await page(client, "/audit?page=2", status=404)


async def test_the_audit_log_is_paginated(client, url):
    with storage.migrated(url) as engine, Session(engine) as session:
        for i in range(60):
            at = SETTLED_AT + timedelta(days=1, minutes=i)
            add_audit(session, 1, "cli:bob", "override", f"toggle {i}", {"action": "enable"}, at)
        session.commit()
    _, first = await page(client, "/audit")
    assert 'caption id="audit-caption">64 event(s), page 1 of 2' in first
    assert "toggle 59" in first and "toggle 10" in first and "toggle 9<" not in first
    older = re.search(r'<a rel="next" href="([^"]+)"', first).group(1)
    _, second = await page(client, older)
    assert "toggle 9<" in second and "3 losses, more than the 1 allowed" in second
    assert '<a rel="prev" href="/audit">' in second or 'rel="prev" href="/audit?page=1"' in second


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/rules/nope", "no rule named 'nope' is recorded; known rules: careful, loose"),
        ("/rules/loose/v9", "rule loose has no version 9; recorded versions: v1, v2"),
        ("/rules/loose?page=3", "no page 3: this rule's ledger has 1 page(s)"),
        ("/prs/acme/pkgs/77", "no pull request acme/pkgs#77 is recorded"),
        ("/prs/acme/pkgs/99999999999", "no pull request acme/pkgs#99999999999 is recorded"),
        ("/prs/acme/nope/1", "no repository acme/nope is recorded"),
        ("/prs/acme/secret/1", "no repository acme/secret is recorded"),
        ("/?repository=acme/secret", "no repository acme/secret is recorded"),
        ("/nowhere", "there is no page at /nowhere"),
    ],
)
async def test_an_unknown_thing_is_a_friendly_404(client, path, message):
    response, html = await page(client, path, status=404)
    assert response.content_type == "text/html" and error_message(html) == message
    assert 'href="/"' in html  # a way back
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/?sort=nope", "sort='nope': expected one of loss_bound, name, state, wins, losses,"),
        ("/?max_losses=-1", "max_losses='-1': expected a whole number of at least 0"),
        ("/?promote_wins=0", "promote_wins=0: must be at least 1"),
        ("/?promote_wins=3&promote_max_loss_rate=0.1", "give promote_wins or promote_max_loss"),
        ("/?promote_max_loss_rate=2", "promote_max_loss_rate='2': expected a loss rate from"),
        ("/?promote_max_loss_rate=1e-300", "promote_max_loss_rate='1e-300': expected a loss"),
        ("/?promote_max_loss_rate=nan", "promote_max_loss_rate='nan': expected a loss rate"),
        ("/?max_loss=3", "unknown query parameter 'max_loss'; this page takes: repository,"),
        ("/?state=shadow&state=disabled", "query parameter 'state' is given 2 times"),
        ("/audit?page=0", "page=0: must be at least 1"),
        ("/audit?page=x", "page='x': expected a whole number of at least 1"),
        ("/prs/acme/pkgs/2?tab=1", "unknown query parameter 'tab'; this page takes: none"),
    ],
)
async def test_a_bad_query_parameter_is_a_400_with_one_line(client, path, message):
    response, html = await page(client, path, status=400)
    shown = error_message(html)
    assert shown.startswith(message) and "\n" not in shown


async def test_an_empty_parameter_is_what_a_form_sends_for_any(client):
    _, html = await page(client, "/?repository=&state=&author=&max_losses=&promote_wins=")
    assert "hypothetical-banner" not in html and row_ids(html) == [
        "rule-careful-v1",
        "rule-loose-v2",
    ]


# -- caching and headers ------------------------------------------------------------------


async def test_a_repeat_request_is_a_304_until_something_is_recorded(client, url):
    first, html = await page(client, "/")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "no-cache"
    again = await client.get("/", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag and await again.read() == b""
    since = await client.get("/rules/loose", headers={"If-Modified-Since": modified})
    assert since.status == 304
    with storage.migrated(url) as engine, Session(engine) as session:
        session.add(
            NoteVersionRow(
                pull_request_id=1,
                comment_id=9999,
                author_login="zed",
                rule_name="careful",
                body="a new note",
                at=SETTLED_AT + timedelta(hours=2),
            )
        )
        session.commit()
    changed = await client.get("/rules/careful", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert "a new note" in await changed.text()


async def test_every_page_has_a_strict_content_security_policy(client):
    for path in ("/", "/rules/careful", "/prs/acme/pkgs/2", "/audit", "/api/leaderboard"):
        response, html = await page(client, path)
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "<script" not in html and "style=" not in html
    _, home = await page(client, "/")
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', home).group(1)
    css = await client.get(stylesheet)
    assert css.status == 200 and css.content_type == "text/css"
    assert "focus-visible" in await css.text()


# -- settings -----------------------------------------------------------------------------


def test_the_pages_settings_are_read_and_checked():
    settings = load_settings(
        {
            "SHADOWBOT_PUBLIC_URL": "https://bot.example.org/",
            "SHADOWBOT_PRIVATE_REPOSITORIES": "Acme/Secret, acme/shown",
            "SHADOWBOT_SHOWN_REPOSITORIES": "acme/Shown",
        }
    )
    assert settings.public_url == "https://bot.example.org"
    assert settings.details_hidden("acme/secret") and not settings.details_hidden("ACME/shown")
    assert not settings.details_hidden("acme/pkgs", private=False)  # GitHub says public
    assert settings.details_hidden("acme/pkgs", private=True)  # GitHub says private
    assert settings.details_hidden("acme/pkgs", private=None)  # not known yet: kept private
    assert not settings.details_hidden("acme/shown", private=True)  # named as shown
    for key, value, message in [
        ("SHADOWBOT_PUBLIC_URL", "bot.example.org", "expected an http:// or https:// URL"),
        ("SHADOWBOT_PRIVATE_REPOSITORIES", "acme", "expected owner/name, got 'acme'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_settings({key: value})


# -- what a request reads -----------------------------------------------------------------


async def test_a_page_reads_one_pull_requests_verdicts_and_a_repeat_reads_only_the_version(
    client,
):
    await page(client, "/")  # the records, read once for this version
    statements = []

    def seen(connection, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    engine = client.app[BOARDS].engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        for path in ("/", "/api/leaderboard", "/badge/careful.svg"):
            await page(client, path)
        reads = [s for s in statements if s != "BEGIN"]  # SQLite's deferred transaction
        assert reads and all(s.startswith("SELECT (SELECT max(") for s in reads)
        statements.clear()
        await page(client, "/prs/acme/pkgs/2")
        await page(client, "/rules/loose/v1")
        on_verdicts = [
            s
            for s in statements
            if re.search(r"\bFROM verdict\b", s) and not s.startswith("SELECT (SELECT max(")
        ]
        assert on_verdicts and all("verdict.pull_request_id" in s for s in on_verdicts)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
