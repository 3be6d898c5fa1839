"""The evidence the pages' tests read, settled by the real settlement job; and the pages
of a bot that has played the demo's story.

``evidence(url)`` records what the live bot would have recorded on two repositories
(``acme/pkgs``, public, and ``acme/secret``, private), then runs ``settle_all`` over it:

- careful@1 wins #1 (a bot's bump), #3 and acme/secret#1, misses #9 (merged while it
  held), claims on the open #5 (pending, no ledger entry), errs on #6: with
  ``promote_wins = 2`` it is promoted.
- loose@1 wins #1, loses #2 (carol's 👎; dave's 👍 is community feedback), #4
  (carol's 👎) and #8 (carol's 👍 and alice's 👎: disputed): disabled.
- loose@2 has nothing yet and is disabled by hand (a manual override).
- #2's title and a note about loose carry HTML; acme/secret's title and note are secret.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from itertools import count

from sqlmodel import Session

from shadowbot import storage
from shadowbot.cli import main
from shadowbot.live.settling import settle_all
from shadowbot.live.worker import Processing
from shadowbot.offline.ledger_view import override_rule
from shadowbot.settings import load_settings
from shadowbot.storage import (
    NoteVersionRow,
    OutcomeRow,
    PullRequestRow,
    ReactionRow,
    RepositoryRow,
    RevisionRow,
    RuleRow,
    VerdictCommentRow,
    VerdictRow,
)
from shadowbot.web.app import create_app

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SETTLED_AT = T0 + 8 * DAY  # past the revert window: a missed merge is final
BOLD_TITLE = "Fix <b>bold</b> claims @someone"
SCRIPT_NOTE = "<script>alert(1)</script> too loose"
SECRET_TITLE = "Secret project: launch codes"
SECRET_NOTE = "secret note about careful"
ENV = {
    "SHADOWBOT_WEBHOOK_SECRET": "pages-secret",
    "SHADOWBOT_PROMOTE_WINS": "2",
    "SHADOWBOT_MAX_LOSSES": "1",
    "SHADOWBOT_PRIVATE_REPOSITORIES": "acme/secret",
}
CHECKLIST = [
    {"check": "CI is green", "passed": True, "detail": "build: success"},
    {"check": "approved by a writer", "passed": True, "detail": "carol"},
]


def settings_for(url, **env):
    return load_settings({**ENV, "SHADOWBOT_DATABASE_URL": url, **env})


@contextlib.asynccontextmanager
async def no_processing(app):
    async def handle(delivery):
        pass

    yield Processing(handle)


def pages_app(url, **env):
    """The bot's web app on ``url``, without GitHub (nothing is delivered)."""
    return create_app(settings_for(url, **env), no_processing)


def ledger_show(url, capsys, monkeypatch, *argv, **env):
    """``shadowbot ledger show --format json`` on the same database and settings."""
    for key, value in {**ENV, "SHADOWBOT_DATABASE_URL": url, **env}.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    assert main(["ledger", "show", "--format", "json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


class Recorder:
    """Rows as the live bot records them."""

    def __init__(self, session):
        self.session = session
        self.ids = count(100)

    def add(self, row):
        self.session.add(row)
        self.session.flush()
        return row

    def pull_request(self, repo, number, title, author="erin", author_type="User", head="a"):
        return self.add(
            PullRequestRow(
                repository_id=repo.id,
                number=number,
                author_login=author,
                author_type=author_type,
                head_sha=head * 40,
                state="open",
                title=title,
                created_at=T0,
                updated_at=T0,
                evidence_at=T0,
            )
        )

    def shown(self, pr, rules, decisions, at=T0):
        """Each rule's verdict on the PR's head, and the revision showing them."""
        for rule, decision in zip(rules, decisions, strict=True):
            self.add(
                VerdictRow(
                    rule_id=rule.id,
                    pull_request_id=pr.id,
                    head_sha=pr.head_sha,
                    decision=decision,
                    checklist=CHECKLIST if decision != "error" else [],
                    reason="" if decision != "error" else "TimeoutError",
                    evaluated_at=at,
                )
            )
        comment = next(self.ids)
        self.add(VerdictCommentRow(pull_request_id=pr.id, comment_id=comment, created_at=at))
        keys = [f"{r.name}@{r.version}" for r in rules]
        claims = [k for k, d in zip(keys, decisions, strict=True) if d == "merge"]
        self.add(
            RevisionRow(
                pull_request_id=pr.id,
                head_sha=pr.head_sha,
                shown_at=at + timedelta(minutes=1),
                comment_id=comment,
                summary={"claims": claims, "decisions": dict(zip(keys, decisions, strict=True))},
            )
        )
        return comment

    def react(self, comment, login, content, permission, at):
        self.add(
            ReactionRow(
                comment_id=comment,
                github_id=next(self.ids),
                user_login=login,
                content=content,
                permission=permission,
                created_at=at,
            )
        )

    def close(self, pr, at, merged=True):
        kind = "merged" if merged else "closed"
        self.add(OutcomeRow(pull_request_id=pr.id, kind=kind, sha=pr.head_sha, at=at))
        pr.state, pr.closed_at, pr.evidence_at = ("merged" if merged else "closed"), at, at
        if merged:
            pr.merged_at, pr.merged_sha = at, pr.head_sha
        self.add(pr)

    def note(self, pr, author, rule_name, body, at):
        self.add(
            NoteVersionRow(
                pull_request_id=pr.id,
                comment_id=next(self.ids),
                author_login=author,
                rule_name=rule_name,
                body=body,
                at=at,
            )
        )


def record_evidence(session):
    r = Recorder(session)
    careful = r.add(
        RuleRow(
            name="careful", version=1, source_hash="0" * 64, description="Careful <em>rule</em>"
        )
    )
    loose = r.add(RuleRow(name="loose", version=1, source_hash="1" * 64, description="Loose"))
    r.add(RuleRow(name="loose", version=2, source_hash="2" * 64, description="Loose, fixed"))
    pkgs = r.add(RepositoryRow(full_name="acme/pkgs", installation_id=1, private=False))
    secret = r.add(RepositoryRow(full_name="acme/secret", installation_id=1, private=True))
    bump = r.pull_request(pkgs, 1, "libfoo: 1.0 -> 1.1", "update-bot[bot]", "Bot")
    r.shown(bump, [careful, loose], ["merge", "merge"])
    r.close(bump, T0 + 2 * HOUR)
    bold = r.pull_request(pkgs, 2, BOLD_TITLE, author="dave", head="b")
    comment = r.shown(bold, [careful, loose], ["hold", "merge"])
    r.react(comment, "carol", "-1", "write", T0 + HOUR)
    r.react(comment, "dave-friend", "+1", "read", T0 + HOUR)
    r.close(bold, T0 + 3 * HOUR, merged=False)
    r.note(bold, "bob", "loose", SCRIPT_NOTE, T0 + HOUR)
    third = r.pull_request(pkgs, 3, "Tidy docs", head="c")
    r.shown(third, [careful], ["merge"])
    r.close(third, T0 + 4 * HOUR)
    fourth = r.pull_request(pkgs, 4, "Risky change", head="d")
    comment = r.shown(fourth, [loose], ["merge"])
    r.react(comment, "carol", "-1", "write", T0 + 2 * HOUR)
    r.shown(r.pull_request(pkgs, 5, "Still open", head="e"), [careful], ["merge"])
    r.shown(r.pull_request(pkgs, 6, "Breaks the rule", head="f"), [careful], ["error"])
    disputed = r.pull_request(pkgs, 8, "Argued about", head="8")
    comment = r.shown(disputed, [loose], ["merge"])
    r.react(comment, "carol", "+1", "write", T0 + HOUR)
    r.react(comment, "alice", "-1", "write", T0 + HOUR)
    missed = r.pull_request(pkgs, 9, "Merged while held", head="9")
    r.shown(missed, [careful], ["hold"])
    r.close(missed, T0 + 5 * HOUR)
    hidden = r.pull_request(secret, 1, SECRET_TITLE, author="mallory", head="5")
    r.shown(hidden, [careful], ["merge"])
    r.close(hidden, T0 + 6 * HOUR)
    r.note(hidden, "mallory", "careful", SECRET_NOTE, T0 + HOUR)
    session.commit()


def evidence(url, **env):
    """The evidence above, settled as of ``SETTLED_AT``; loose@2 disabled by hand."""
    settings = settings_for(url, **env)
    with storage.migrated(url) as engine:
        with Session(engine) as session:
            record_evidence(session)
        settle_all(engine, settings, now=SETTLED_AT)
        with Session(engine) as session:
            override_rule(
                session, settings, "loose@2", "disable", "not ready", "cli:bob", SETTLED_AT + HOUR
            )
            session.commit()
    return url


# -- the demo's story -------------------------------------------------------------------


async def test_the_pages_of_the_demo_show_the_figures_ledger_show_gives(
    tmp_path, aiohttp_client, capsys, monkeypatch
):
    from shadowbot.live.demo import LIMITS, run_demo
    from shadowbot.settings import Settings

    database = tmp_path / "demo.db"
    await run_demo(Settings(), database, 0, False, lambda line: None)
    url = f"sqlite:///{database}"
    limits = {
        "SHADOWBOT_MAX_LOSSES": str(LIMITS.max_losses),
        "SHADOWBOT_PROMOTE_WINS": str(LIMITS.promote_wins),
    }
    client = await aiohttp_client(pages_app(url, **limits))
    shown = (await (await client.get("/api/leaderboard?versions=all")).json())["rules"]
    expected = ledger_show(url, capsys, monkeypatch, **limits)
    assert {row["rule"]: {k: row[k] for k in expected[0]} for row in shown} == {
        row["rule"]: row for row in expected
    }
    states = {row["rule"]: row["state"] for row in shown}
    assert states["any-approval@1"] == "disabled" and states["bot-version-bump@1"] == "promoted"
    page = await client.get("/rules/bot-version-bump")
    assert page.status == 200 and "acme/pkgs#1" in await page.text()
    pr = await (await client.get("/api/prs/acme/pkgs/1")).json()
    assert [r["login"] for r in pr["reactions"]["community"]] == ["dave"]
