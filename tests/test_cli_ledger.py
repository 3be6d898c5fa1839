"""``shadowbot ledger show|verify``, ``rule enable|disable`` and ``report`` as a user runs
them, on a database filled the way the live bot fills it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from shadowbot import storage
from shadowbot.cli import main
from shadowbot.live.settling import settle_all
from shadowbot.settings import Settings
from shadowbot.storage import (
    AuditEventRow,
    LedgerEntryRow,
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
from shadowbot.storage.ledger_store import OVERRIDE, STATE

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
HEAD_A, HEAD_B = "a" * 40, "b" * 40


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def url(database_url, monkeypatch):
    """An empty migrated database that the command uses; the OS user is alice."""
    with storage.migrated(database_url):
        pass
    monkeypatch.setenv("SHADOWBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("LOGNAME", "alice")  # getpass.getuser() reads it first
    return database_url


def add(session, row):
    session.add(row)
    session.flush()
    return row


def rule(session, name, version, description="a rule"):
    return add(
        session, RuleRow(name=name, version=version, source_hash="0" * 64, description=description)
    )


def pull_request(session, repo, number, title, author_type="User", head_sha=HEAD_A, **extra):
    return add(
        session,
        PullRequestRow(
            repository_id=repo.id,
            number=number,
            author_login="dependabot[bot]" if author_type == "Bot" else "carol",
            author_type=author_type,
            head_sha=head_sha,
            state="closed",
            title=title,
            created_at=T0,
            updated_at=T0,
            **extra,
        ),
    )


def verdict(session, rule_row, pr, decision, head=HEAD_A, at=T0):
    add(
        session,
        VerdictRow(
            rule_id=rule_row.id,
            pull_request_id=pr.id,
            head_sha=head,
            decision=decision,
            evaluated_at=at,
        ),
    )


def entry(session, rule_row, pr, result, reason, at=T0, **extra):
    return add(
        session,
        LedgerEntryRow(
            rule_id=rule_row.id,
            pull_request_id=pr.id,
            result=result,
            reason=reason,
            at=at,
            settled_at=at + DAY,
            **extra,
        ),
    )


def note(session, pr, comment_id, author, rule_name, body, at, deleted=False):
    add(
        session,
        NoteVersionRow(
            pull_request_id=pr.id,
            comment_id=comment_id,
            author_login=author,
            rule_name=rule_name,
            body=body,
            deleted=deleted,
            at=at,
        ),
    )


@pytest.fixture
def ledger(url, monkeypatch):
    """A ledger as the settlement job leaves it, written row by row:

    - careful@1: won PR 1 (saved 1 h) and PR 2 (saved 2 h), missed PR 4, claims on the
      bot's open PR 3 (pending, no entry yet), erred on PR 5: promoted at 2 wins.
    - loose@1: won PR 1, then a revert turned it into a loss (a correction entry); 👎
      by alice on PR 2; PR 3 closed unmerged; superseded on PR 4; PR 5 in its grace
      period. Disabled by hand by bob.
    - loose@2: nothing yet.
    """
    monkeypatch.setenv("SHADOWBOT_PROMOTE_WINS", "2")
    with storage.migrated(url) as engine, Session(engine) as session:
        careful = rule(session, "careful", 1, "Merges only <em>careful</em> changes")
        loose1, _ = rule(session, "loose", 1), rule(session, "loose", 2)
        repo = add(session, RepositoryRow(full_name="example/pkgs", installation_id=1))
        pr1 = pull_request(session, repo, 1, "Bump libfoo")
        pr2 = pull_request(session, repo, 2, "Fix <b>bold</b> claims @someone")
        pr3 = pull_request(session, repo, 3, "Bump libbar", author_type="Bot")
        pr4 = pull_request(session, repo, 4, "Tidy docs")
        pr5 = pull_request(session, repo, 5, "Bump libbaz", author_type="Bot")
        for pr in (pr1, pr2, pr3):
            verdict(session, careful, pr, "merge")
        verdict(session, careful, pr4, "hold")
        verdict(session, careful, pr5, "error")
        for pr in (pr1, pr2, pr3, pr4, pr5):
            verdict(session, loose1, pr, "merge")
            verdict(session, loose1, pr, "merge", at=T0 + HOUR)  # a second evaluation
        entry(session, careful, pr1, "win", "merged", at=T0 + HOUR, saved_seconds=3600.0)
        entry(session, careful, pr2, "win", "merged", at=T0 + 2 * HOUR, saved_seconds=7200.0)
        entry(session, careful, pr4, "missed", "missed", at=T0 + 3 * HOUR)
        won = entry(session, loose1, pr1, "win", "merged", at=T0 + HOUR, saved_seconds=600.0)
        revert = {
            "kind": "reverted",
            "by": "erin",
            "at": (T0 + 3 * DAY).isoformat(),
            "detail": "example/pkgs#9",
        }
        entry(
            session,
            loose1,
            pr1,
            "loss",
            "reverted",
            at=T0 + 3 * DAY,
            corrects_id=won.id,
            evidence=[revert],
        )
        objection = {
            "kind": "reaction",
            "content": "-1",
            "by": "alice",
            "at": (T0 + DAY + HOUR).isoformat(),
        }
        entry(session, loose1, pr2, "loss", "objection", at=T0 + DAY + HOUR, evidence=[objection])
        entry(session, loose1, pr3, "neutral", "closed_unmerged")
        entry(session, loose1, pr4, "neutral", "superseded")
        entry(session, loose1, pr5, "pending", "grace")
        states = [
            (
                careful,
                "settlement",
                STATE,
                "2 wins and no loss",
                {"from": "active", "to": "promoted"},
            ),
            (loose1, "cli:bob", OVERRIDE, "too loose", {"action": "disable"}),
            (
                loose1,
                "cli:bob",
                STATE,
                "disabled by cli:bob: too loose",
                {"from": "active", "to": "disabled"},
            ),
        ]
        for i, (row, actor, action, reason, detail) in enumerate(states):
            at = T0 + 4 * DAY + i * HOUR
            add(
                session,
                AuditEventRow(
                    at=at, actor=actor, rule_id=row.id, action=action, reason=reason, detail=detail
                ),
            )
        note(session, pr2, 501, "bob", "loose", "first thoughts", T0)
        note(session, pr2, 501, "bob", "loose", "<script>alert(1)</script> too loose", T0 + HOUR)
        note(session, pr2, 502, "eve", "loose", "gone soon", T0)
        note(session, pr2, 502, "eve", "loose", "", T0 + HOUR, deleted=True)
        note(session, pr1, 503, "carol", "careful", "fine by me", T0 + 2 * HOUR)
        note(session, pr1, 504, "dave", None, "about the PR only", T0)
        note(session, pr1, 505, "dave", "loose", "renamed away", T0)
        note(session, pr1, 505, "dave", None, "renamed away", T0 + HOUR)
        session.commit()
    return url


# -- ledger show -----------------------------------------------------------------------


def test_ledger_show_as_json_counts_the_newest_entries_and_the_unsettled_claims(ledger, capsys):
    code, out, _ = run(capsys, "ledger", "show", "--format", "json")
    shown = {r["rule"]: r for r in json.loads(out)}
    assert code == 0 and list(shown) == ["careful@1", "loose@1", "loose@2"]
    careful = shown["careful@1"]
    assert (careful["state"], careful["manual_override"]) == ("promoted", False)
    counts = ("wins", "losses", "neutral", "closed_unmerged", "missed", "pending", "errors")
    assert [careful[k] for k in counts] == [2, 0, 0, 0, 1, 1, 1]
    assert careful["loss_rate_bound_percent"] == pytest.approx(77.64, abs=0.01)
    assert careful["coverage_percent"] == pytest.approx(66.6667)
    assert (careful["time_saved_seconds"], careful["time_saved_median_seconds"]) == (10800, 5400)
    assert careful["by_author"]["bot"]["pending"] == 1 and careful["by_author"]["bot"]["wins"] == 0
    assert careful["by_author"]["person"]["wins"] == 2
    loose = shown["loose@1"]
    assert [loose[k] for k in counts] == [0, 2, 1, 1, 0, 1, 0]
    assert loose["reverted"] == 1 and loose["loss_rate_bound_percent"] == 100
    assert (loose["state"], loose["manual_override"]) == ("disabled", True)
    assert loose["state_reason"] == "disabled by cli:bob: too loose"
    assert loose["coverage_percent"] is None
    fresh = shown["loose@2"]
    assert fresh["state"] == "shadow" and fresh["wins"] == fresh["pending"] == 0
    assert fresh["loss_rate_bound_percent"] is None


def columns(line):
    return re.split(r"\s{2,}", line.strip())


def test_ledger_show_as_a_table_with_a_second_one_by_author_kind(ledger, capsys):
    code, out, _ = run(capsys, "ledger", "show")
    records, kinds = out.split("\n\n")
    rows = {columns(line)[0]: columns(line) for line in records.splitlines()}
    assert code == 0
    assert rows["rule"][-4:] == ["loss bound", "coverage", "saved", "median"]
    assert rows["careful@1"] == [
        "careful@1",
        "promoted",
        "2",
        "0",
        "0",
        "0",
        "1",
        "1",
        "1",
        "77.6%",
        "66.7%",
        "3 h",
        "1 h 30 min",
    ]
    assert rows["loose@1"][1] == "disabled*" and rows["loose@1"][9] == "100%"
    assert rows["loose@2"][1] == "shadow"
    assert "* set by a manual override" in records
    by_kind = [columns(line) for line in kinds.splitlines()]
    assert ["careful@1", "bot", "0", "0", "0", "0", "0", "1", "-", "-", "-"] in by_kind
    assert ["loose@1", "person", "0", "2", "1", "0", "0", "0", "100%", "-", "-"] in by_kind
    assert not any(row[0] == "loose@2" for row in by_kind)  # nothing to show


def test_ledger_show_one_rule_and_an_unknown_one(ledger, capsys):
    code, out, _ = run(capsys, "ledger", "show", "--rule", "loose", "--format", "json")
    assert code == 0 and [r["rule"] for r in json.loads(out)] == ["loose@1", "loose@2"]
    code, out, err = run(capsys, "ledger", "show", "--rule", "nope")
    assert code == 2 and out == ""
    assert err == "shadowbot: error: unknown rule nope; known rules: careful, loose\n"


# -- ledger verify ---------------------------------------------------------------------


@pytest.fixture
def settled(url):
    """Evidence the live bot would have recorded, settled by the settlement job: both
    rules claimed PR 1 (merged: wins), loose@1 claimed PR 2 and alice gave it a 👎."""
    with storage.migrated(url) as engine:
        with Session(engine) as session:
            careful, loose = rule(session, "careful", 1), rule(session, "loose", 1)
            repo = add(session, RepositoryRow(full_name="example/pkgs", installation_id=1))
            merged_at, closed_at = T0 + 2 * HOUR, T0 + 3 * HOUR
            pr1 = pull_request(
                session,
                repo,
                1,
                "Bump",
                closed_at=merged_at,
                merged_at=merged_at,
                merged_sha=HEAD_A,
                evidence_at=merged_at,
            )
            pr2 = pull_request(
                session,
                repo,
                2,
                "Risky",
                head_sha=HEAD_B,
                closed_at=closed_at,
                evidence_at=closed_at,
            )
            for pr, head, comment, claims in (
                (pr1, HEAD_A, 100, [careful, loose]),
                (pr2, HEAD_B, 200, [loose]),
            ):
                for row in claims:
                    verdict(session, row, pr, "merge", head=head)
                add(
                    session,
                    VerdictCommentRow(pull_request_id=pr.id, comment_id=comment, created_at=T0),
                )
                keys = [f"{row.name}@{row.version}" for row in claims]
                summary = {"claims": keys, "decisions": dict.fromkeys(keys, "merge")}
                add(
                    session,
                    RevisionRow(
                        pull_request_id=pr.id,
                        head_sha=head,
                        shown_at=T0 + timedelta(minutes=1),
                        comment_id=comment,
                        summary=summary,
                    ),
                )
            verdict(session, careful, pr2, "hold", head=HEAD_B)
            add(
                session,
                ReactionRow(
                    comment_id=200,
                    github_id=1,
                    user_login="alice",
                    content="-1",
                    permission="write",
                    created_at=T0 + HOUR,
                ),
            )
            add(
                session,
                OutcomeRow(
                    pull_request_id=pr1.id,
                    kind="merged",
                    sha=HEAD_A,
                    actor_login="dave",
                    at=merged_at,
                ),
            )
            add(session, OutcomeRow(pull_request_id=pr2.id, kind="closed", at=closed_at))
            session.commit()
        report = settle_all(engine, Settings(database_url=url), now=T0 + 2 * DAY)
    assert report.entries == 3
    return url


def test_verify_before_any_settlement(url, capsys):
    code, out, _ = run(capsys, "ledger", "verify")
    assert code == 0 and out == "no settlement has run yet: nothing to verify\n"


def test_verify_finds_the_settled_ledger_matching_its_evidence(settled, capsys):
    code, out, _ = run(capsys, "ledger", "verify")
    assert code == 0 and out == "ledger verified: 3 results match their evidence\n"


def tamper(url, *statements):
    with storage.migrated(url) as engine, engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))


def test_verify_names_a_tampered_result(settled, capsys):
    tamper(settled, "UPDATE ledger_entry SET result = 'win' WHERE reason = 'objection'")
    code, out, _ = run(capsys, "ledger", "verify")
    assert code == 1
    assert out.splitlines() == [
        "loose@1 example/pkgs#2: ledger says win (objection), the evidence says loss (objection)",
        "ledger verify: 1 result(s) differ from their evidence",
    ]


def test_verify_tells_evidence_not_settled_yet_from_tampering(settled, capsys):
    later = (T0 + 3 * DAY).isoformat()
    tamper(
        settled,
        "UPDATE ledger_entry SET result = 'win' WHERE reason = 'objection'",
        f"UPDATE pull_request SET evidence_at = '{later}' WHERE number = 2",
    )
    code, out, _ = run(capsys, "ledger", "verify")
    first, last = out.splitlines()
    assert code == 0 and first.startswith("loose@1 example/pkgs#2: ledger says win")
    assert first.endswith("(evidence newer than the last settlement run: not settled yet)")
    assert last == "ledger verified: 2 results match their evidence"


# -- rule disable / enable -------------------------------------------------------------


def audit(url, rule_key):
    name, version = rule_key.split("@")
    with storage.migrated(url) as engine, Session(engine) as session:
        rule_id = session.exec(
            select(RuleRow.id).where(RuleRow.name == name, RuleRow.version == int(version))
        ).one()
        rows = session.exec(
            select(AuditEventRow)
            .where(AuditEventRow.rule_id == rule_id)
            .order_by(col(AuditEventRow.id))
        )
        return [(r.actor, r.action, r.reason, r.detail) for r in rows]


def state_of(capsys, rule_key):
    _, out, _ = run(capsys, "ledger", "show", "--format", "json", "--rule", rule_key)
    (shown,) = json.loads(out)
    return shown["state"], shown["manual_override"], shown["state_reason"]


def test_disable_then_enable_a_rule_by_hand_is_audited(ledger, capsys):
    code, out, _ = run(capsys, "rule", "disable", "loose", "--reason", "flaky on bot PRs")
    assert code == 0
    assert out == "loose@2: shadow -> disabled (disabled by cli:alice: flaky on bot PRs)\n"
    assert audit(ledger, "loose@2") == [
        ("cli:alice", OVERRIDE, "flaky on bot PRs", {"action": "disable"}),
        (
            "cli:alice",
            STATE,
            "disabled by cli:alice: flaky on bot PRs",
            {"from": "active", "to": "disabled", "wins": 0, "losses": 0},
        ),
    ]
    assert state_of(capsys, "loose@2") == (
        "disabled",
        True,
        "disabled by cli:alice: flaky on bot PRs",
    )
    code, out, _ = run(capsys, "rule", "enable", "loose@2", "--reason", "fixed")
    assert code == 0 and out == "loose@2: disabled -> shadow (enabled by cli:alice: fixed)\n"
    assert [row[1:3] for row in audit(ledger, "loose@2")[2:]] == [
        (OVERRIDE, "fixed"),
        (STATE, "enabled by cli:alice: fixed"),
    ]
    assert state_of(capsys, "loose@2")[:2] == ("shadow", False)


def test_enabling_a_rule_disabled_over_its_record_gives_it_a_fresh_allowance(ledger, capsys):
    code, out, _ = run(capsys, "rule", "enable", "loose@1", "--reason", "the bot check is fixed")
    assert code == 0
    assert out == "loose@1: disabled -> shadow (enabled by cli:alice: the bot check is fixed)\n"
    assert state_of(capsys, "loose@1")[0] == "shadow"
    assert state_of(capsys, "careful@1")[0] == "promoted"  # the others are left as they were


def test_an_override_that_changes_nothing_writes_nothing(ledger, capsys):
    before = audit(ledger, "loose@1"), audit(ledger, "loose@2")
    code, out, _ = run(capsys, "rule", "disable", "loose@1", "--reason", "again")
    assert code == 0
    assert out == "loose@1 is already disabled: disabled by cli:bob: too loose; nothing changed\n"
    code, out, _ = run(capsys, "rule", "enable", "loose", "--reason", "why not")
    assert code == 0 and out == "loose@2 is not disabled (shadow); nothing changed\n"
    assert (audit(ledger, "loose@1"), audit(ledger, "loose@2")) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["disable", "nope", "--reason", "x"], "unknown rule nope; known rules: careful, loose"),
        (
            ["enable", "loose@7", "--reason", "x"],
            "unknown rule version loose@7; recorded versions: loose@1, loose@2",
        ),
        (
            ["enable", "loose@two", "--reason", "x"],
            "loose@two: give a rule as NAME or NAME@VERSION (a number)",
        ),
        (
            ["disable", "loose", "--reason", "  "],
            "rule disable: --reason must say why (it is audited)",
        ),
    ],
)
def test_a_wrong_override_is_one_line_error(ledger, capsys, argv, message):
    code, out, err = run(capsys, "rule", *argv)
    assert code == 2 and out == ""
    assert err == f"shadowbot: error: {message}\n"


def test_an_override_needs_a_reason(ledger, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["rule", "disable", "loose"])
    assert stopped.value.code == 2 and "--reason" in capsys.readouterr().err


# -- report ----------------------------------------------------------------------------


def test_report_is_markdown_evidence_with_untrusted_text_escaped(ledger, capsys):
    code, out, _ = run(capsys, "report")
    assert code == 0 and out.startswith("# shadowbot evidence report\n")
    assert "| `careful@1` | promoted | 2 | 0 | 0 | 0 | 1 | 1 | 1 | 77.6% | 66.7% | 3 h |" in out
    assert "| `loose@1` | disabled (manual override) | 0 | 2 |" in out
    assert "1 of 5 promoted rules: 4 more needed for a policy proposal." in out
    assert "with 2 clean wins the loss rate is below 77.6% with 95% confidence" in out
    assert "0 wins and 2 losses: too few wins to bound the loss rate at all." in out
    assert "no backtest stored for this version" in out
    (objected,) = [line for line in out.splitlines() if line.startswith("- example/pkgs#2 ")]
    assert "objection: 👎 by alice on 2024-03-02 10:00 UTC" in objected
    assert "&lt;b&gt;bold&lt;/b&gt;" in objected and "@&#8203;someone" in objected
    (reverted,) = [line for line in out.splitlines() if line.startswith("- example/pkgs#1 ")]
    assert "reverted: reverted by example/pkgs#9 (erin) on 2024-03-04 09:00 UTC" in reverted
    loose_notes = out.split("### Notes about `loose`")[1].split("##")[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; too loose" in loose_notes
    assert "first thoughts" not in out and "gone soon" not in out and "renamed away" not in out
    assert "fine by me" in out and "about the PR only" not in out
    assert "<script>" not in out and "<b>" not in out and "<em>" not in out


def test_report_of_one_rule_to_a_file(ledger, capsys, tmp_path):
    target = tmp_path / "evidence.md"
    code, out, err = run(capsys, "report", "--rule", "careful", "--out", str(target))
    text = target.read_text()
    assert code == 0 and out == "" and err == f"report written to {target}\n"
    assert "## `careful@1`" in text and "## `loose@" not in text
    assert "### Losses\n\nNone." in text
