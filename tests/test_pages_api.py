"""The machine-readable pages: the JSON under /api/ mirrors the HTML pages and carries
``shadowbot ledger show``'s figures; the ledger as CSV, the Atom feed of state changes,
the badges and the evidence report (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa
from test_pages_story import SECRET_NOTE, SECRET_TITLE, evidence, ledger_show, pages_app

from shadowbot import storage

ATOM = "{http://www.w3.org/2005/Atom}"
COUNTS = ("wins", "losses", "neutral", "closed_unmerged", "missed", "pending", "endorsed")


@pytest.fixture
def url(database_url):
    return evidence(database_url)


@pytest.fixture
async def client(url, aiohttp_client):
    return await aiohttp_client(pages_app(url))


async def get_json(client, path, status=200):
    response = await client.get(path)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


async def test_every_figure_on_the_leaderboard_equals_ledger_show(client, url, capsys, monkeypatch):
    expected = {row["rule"]: row for row in ledger_show(url, capsys, monkeypatch)}
    every = (await get_json(client, "/api/leaderboard?versions=all"))["rules"]
    assert {row["rule"]: {k: row[k] for k in expected["careful@1"]} for row in every} == expected
    current = (await get_json(client, "/api/leaderboard"))["rules"]
    assert [row["rule"] for row in current] == ["careful@1", "loose@2"]
    for row in current:
        assert {k: row[k] for k in expected[row["rule"]]} == expected[row["rule"]]
    # The rule pages carry the same figures.
    for key, figures in expected.items():
        name, version = key.split("@")
        shown = (await get_json(client, f"/api/rules/{name}/v{version}"))["rule"]
        assert {k: shown[k] for k in figures} == figures


async def test_figures_by_repository_and_by_author_add_up_to_the_record(url, aiohttp_client):
    client = await aiohttp_client(pages_app(url, SHADOWBOT_SHOWN_REPOSITORIES="acme/secret"))
    whole = {
        r["rule"]: r for r in (await get_json(client, "/api/leaderboard?versions=all"))["rules"]
    }
    for split in (("repository", "acme/pkgs", "acme/secret"), ("author", "bot", "person")):
        key, *values = split
        parts = [
            {
                r["rule"]: r
                for r in (await get_json(client, f"/api/leaderboard?versions=all&{key}={v}"))[
                    "rules"
                ]
            }
            for v in values
        ]
        for rule, row in whole.items():
            assert [sum(p.get(rule, {}).get(c, 0) for p in parts) for c in COUNTS] == [
                row[c] for c in COUNTS
            ], (split, rule)
            assert all(p[rule]["state"] == row["state"] for p in parts if rule in p)
    secret = await get_json(client, "/api/leaderboard?repository=acme/secret")
    assert [(r["rule"], r["wins"], r["errors"]) for r in secret["rules"]] == [("careful@1", 1, 0)]


async def test_hypothetical_thresholds_are_marked_in_the_json(client):
    data = await get_json(client, "/api/leaderboard?versions=all&promote_wins=5&max_losses=5")
    assert data["hypothetical"] == {"max_losses": 5, "promote_wins": 5, "wins_needed": 5}
    states = {r["rule"]: (r["state"], r["hypothetical_state"]) for r in data["rules"]}
    assert states == {
        "careful@1": ("promoted", "shadow"),
        "loose@1": ("disabled", "shadow"),
        "loose@2": ("disabled", "disabled"),  # a manual disable
    }
    real = await get_json(client, "/api/leaderboard")
    assert real["hypothetical"] is None
    assert all(r["hypothetical_state"] is None for r in real["rules"])


async def test_the_json_mirrors_the_rule_the_pull_request_and_the_audit_pages(client):
    rule = await get_json(client, "/api/rules/loose/v1")
    assert [e["result"] for e in rule["ledger"]["entries"]] == ["loss", "loss", "loss", "win"]
    disputed = [e for e in rule["ledger"]["entries"] if e["disputed"]]
    assert [e["pull_request"]["number"] for e in disputed] == [8]
    objection = next(e for e in rule["ledger"]["entries"] if e["pull_request"]["number"] == 2)
    assert objection["evidence"][0]["by"] == "carol" and objection["evidence"][0]["content"] == "-1"
    assert objection["pull_request"]["github_url"] == "https://github.com/acme/pkgs/pull/2"
    assert [n["author"] for n in rule["notes"]] == ["bob"]
    assert [v["version"] for v in rule["versions"]] == [1, 2] and rule["checks"]
    pr = await get_json(client, "/api/prs/acme/pkgs/2")
    assert pr["pull_request"]["title"] == "Fix <b>bold</b> claims @someone"  # JSON is not HTML
    assert [r["login"] for r in pr["reactions"]["mergers"]] == ["carol"]
    assert [r["login"] for r in pr["reactions"]["community"]] == ["dave-friend"]
    (head,) = pr["heads"]
    assert {v["rule"]: v["decision"] for v in head["verdicts"]} == {
        "careful@1": "hold",
        "loose@1": "merge",
    }
    assert [(r["rule"], r["result"]) for r in pr["results"]] == [("loose@1", "loss")]
    audit = await get_json(client, "/api/audit")
    assert [e["id"] for e in audit["events"]] == [4, 3, 2, 1]
    assert (audit["events"][0]["rule"], audit["events"][0]["to"]) == ("loose@2", "disabled")


async def test_the_json_errors_are_json_with_one_line(client):
    missing = await get_json(client, "/api/rules/nope", status=404)
    assert missing == {
        "error": "no rule named 'nope' is recorded; known rules: careful, loose",
        "status": 404,
    }
    bad = await get_json(client, "/api/leaderboard?order=up", status=400)
    assert bad["error"] == "order='up': expected one of asc, desc"
    await get_json(client, "/api/prs/acme/secret/1", status=404)


async def test_the_ledger_as_csv_has_every_entry_and_hides_private_details(client, url):
    response = await client.get("/ledger.csv")
    assert response.status == 200 and response.content_type == "text/csv"
    assert response.headers["ETag"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    with storage.migrated(url) as engine, engine.connect() as connection:
        written = connection.execute(sa.text("SELECT count(*) FROM ledger_entry")).scalar()
    assert len(rows) == written and all(row["current"] == "true" for row in rows)
    secret = [row for row in rows if row["repository"] == "a private repository"]
    assert [(r["rule"], r["result"], r["number"], r["evidence"]) for r in secret] == [
        ("careful@1", "win", "", "")
    ]
    objection = next(r for r in rows if r["number"] == "2")
    assert objection["evidence"].startswith("reaction 👎 by carol at 2024-03-01T10:00:00")
    assert SECRET_TITLE not in await response.text()


async def test_the_atom_feed_lists_the_state_changes_newest_first(url, aiohttp_client):
    client = await aiohttp_client(pages_app(url, SHADOWBOT_PUBLIC_URL="https://bot.example.org"))
    response = await client.get("/feed.atom")
    assert response.status == 200 and response.content_type == "application/atom+xml"
    feed = ElementTree.fromstring(await response.read())
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "loose@2: shadow → disabled",
        "loose@1: shadow → disabled",
        "careful@1: shadow → promoted",
    ]
    assert entries[0].find(f"{ATOM}link").get("href") == "https://bot.example.org/rules/loose/v2"
    assert feed.findtext(f"{ATOM}id") == "https://bot.example.org/feed.atom"
    assert entries[0].findtext(f"{ATOM}summary") == "disabled by cli:bob: not ready (cli:bob)"


async def test_a_badge_shows_the_rules_state_and_record(client):
    response = await client.get("/badge/careful.svg")
    body = await response.text()
    assert response.status == 200 and response.content_type == "image/svg+xml"
    assert "careful@1: promoted, 3 wins, 0 losses" in body and "<script" not in body
    older = await (await client.get("/badge/loose/v1.svg")).text()
    assert "loose@1: disabled, 1 wins, 3 losses" in older
    unknown = await client.get("/badge/nope.svg")
    assert unknown.status == 404 and unknown.content_type == "image/svg+xml"
    assert "unknown rule" in await unknown.text()


async def test_the_evidence_report_leaves_private_details_out(client):
    response = await client.get("/report.md")
    report = await response.text()
    assert response.status == 200 and "### Notes about `loose` (every version)" in report
    assert SECRET_NOTE not in report and SECRET_TITLE not in report and "mallory" not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt; too loose" in report
