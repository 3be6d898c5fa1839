"""`shadowbot export`: the live bot's records written as a history the backtest reads."""

import io
import json
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
import sqlalchemy as sa
from livebot import running_bot, sim_fixture, writer_pair_claim  # noqa: F401
from snapshots import HEAD, OLD, OPENED_AT, approve, failing, green, make_pr, request_changes
from snapshots import writer as a_writer
from sqlmodel import Session, select

from shadowbot.cli import main
from shadowbot.offline.export import ExportError, export_history
from shadowbot.offline.history import HistoryReader
from shadowbot.offline.run import backtest_command
from shadowbot.resources import bundled_path
from shadowbot.rules import load_rules
from shadowbot.settings import load_settings
from shadowbot.snapshot import Review
from shadowbot.storage import SnapshotSeenRow, create_db_engine, migrate, records
from shadowbot.storage.snapshots_seen import remember

ALICE = a_writer("alice")


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def seen(session, pr, minutes):
    """The bot evaluates ``pr`` ``minutes`` after it was opened; whether it stored it."""
    repo = records.repository(session, pr.repository, 1)
    row = records.pull_request(session, repo, pr)
    stored = remember(session, row, pr, OPENED_AT + timedelta(minutes=minutes))
    session.commit()
    return row, stored


def exported(engine, repository=None):
    out = io.BytesIO()
    with Session(engine) as session:
        summary = export_history(session, out, repository)
    lines = out.getvalue().splitlines()
    return summary, orjson.loads(lines[0]), [orjson.loads(line) for line in lines[1:]]


def test_a_pull_requests_life_as_the_bot_saw_it_is_one_record(engine, tmp_path):
    with Session(engine) as session:
        seen(session, make_pr(head=OLD, ci=[failing()], labels=["python"]), 1)
        seen(session, make_pr(head=OLD, ci=[failing()], labels=["python"]), 2)  # same again
        seen(session, make_pr(head=HEAD, ci=[green()], labels=["python", "ready"]), 30)
        approval = Review(ALICE, "APPROVED", HEAD, OPENED_AT + timedelta(minutes=35))
        pr = make_pr(head=HEAD, ci=[green()], labels=["ready"], reviews=[approval])
        row, _ = seen(session, pr, 40)
        records.outcome(session, row, "merged", HEAD, "alice", OPENED_AT + timedelta(hours=1))
        session.commit()
        assert len(session.exec(select(SnapshotSeenRow)).all()) == 3  # the repeat not kept

    summary, header, (record,) = exported(engine)
    assert header["shadowbot_history"] == 1 and header["repository"] == "example/pkgs"
    assert summary.records == 1
    kinds = [
        (e["type"], e.get("head") or e.get("label") or e.get("state")) for e in record["events"]
    ]
    assert kinds == [
        ("opened", OLD),
        ("check", "failure"),
        ("push", HEAD),
        ("labeled", "ready"),
        ("check", "success"),
        ("review", "APPROVED"),  # at GitHub's time, before the bot saw it
        ("unlabeled", "python"),
        ("merged", None),
    ]
    assert record["events"][-1]["commit"] == HEAD
    assert record["events"][0]["files"][0]["path"] == "pkgs/by-name/he/hello/package.nix"
    review = record["events"][5]
    assert review["at"] == "2024-03-01T12:35:00Z"
    assert review["by"]["permission"] == "write" and review["commit"] == HEAD

    path = tmp_path / "exported.jsonl"
    with Session(engine) as session:
        with path.open("wb") as out:
            export_history(session, out)
    reader = HistoryReader(path, strict=True)
    (read,) = list(reader)
    assert read.number == 1 and reader.skipped == 0
    assert [e.type for e in read.events][-1] == "merged"


def test_records_come_in_the_order_of_their_last_event(engine):
    with Session(engine) as session:
        first, _ = seen(session, make_pr(number=1), 1)
        seen(session, make_pr(number=2), 2)
        seen(session, make_pr(number=2, reviews=[request_changes(ALICE)]), 10)
        records.outcome(session, first, "closed", None, "erin", OPENED_AT + timedelta(hours=2))
        session.commit()
    _, _, found = exported(engine)
    assert [r["number"] for r in found] == [2, 1]
    assert found[1]["events"][-1] == {
        "type": "closed",
        "at": "2024-03-01T14:00:00Z",
        "by": {"login": "erin"},
    }


def test_a_revert_names_the_reverting_pull_request(engine):
    with Session(engine) as session:
        row, _ = seen(session, make_pr(reviews=[approve(ALICE)]), 5)
        at = OPENED_AT + timedelta(hours=1)
        records.outcome(session, row, "merged", HEAD, "alice", at)
        records.outcome(
            session, row, "reverted", None, "bob", at + timedelta(days=1), "example/pkgs#9"
        )
        session.commit()
    _, _, (record,) = exported(engine)
    assert record["events"][-1]["type"] == "reverted" and record["events"][-1]["pr"] == 9


def test_nothing_seen_or_several_repositories_are_one_line_errors(engine):
    with pytest.raises(ExportError, match="no pull request yet"):
        exported(engine)
    with Session(engine) as session:
        seen(session, make_pr(repository="example/pkgs"), 1)
        seen(session, make_pr(repository="example/other"), 1)
    with pytest.raises(ExportError, match=r"2 repositories \(example/other, example/pkgs\)"):
        exported(engine)
    with pytest.raises(ExportError, match="no pull request of example/none was seen"):
        exported(engine, "example/none")
    _, header, found = exported(engine, "example/other")
    assert header["repository"] == "example/other" and len(found) == 1


async def test_what_the_live_bot_saw_backtests_as_it_judged_live(
    database_url, sim, tmp_path, monkeypatch, capsys
):
    async with running_bot(sim, database_url) as bot:
        number = await writer_pair_claim(sim)  # opened, a green check, a writer's approval
        await bot.quiet()
        await sim.label(sim.repo, number, "backport")
        await bot.quiet()
        head = sim.pull(sim.repo, number).head_sha
        await sim.merge(sim.repo, number, merger="alice")
        await bot.quiet()

    monkeypatch.setenv("SHADOWBOT_DATABASE_URL", database_url)
    out = tmp_path / "seen.jsonl.gz"
    assert main(["export", "--out", str(out)]) == 0
    assert f"{out}: 1 pull requests of {sim.repo}" in capsys.readouterr().err
    reader = HistoryReader(out, strict=True)
    (record,) = list(reader)
    types = [event.type for event in record.events]
    assert types[0] == "opened" and types[-1] == "merged"
    assert {"check", "review", "labeled"} <= set(types)
    assert record.events[-1].head == head

    # The claim writer-pair made live is a win on the exported history.
    rules = load_rules(bundled_path("rules"))
    table = backtest_command(HistoryReader(out), rules, load_settings({}), "json")
    (found,) = [r for r in json.loads(table)["rules"] if r["rule"] == "writer-pair"]
    assert found["wins"] == 1 and found["losses"] == 0


def test_export_refuses_a_directory_and_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHADOWBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["export", "--out", str(tmp_path)]) == 2
    assert "is a directory; give a file" in capsys.readouterr().err
    out = tmp_path / "seen.jsonl"
    out.write_text("an earlier export\n")
    assert main(["export", "--out", str(out)]) == 2
    assert "nothing to export" in capsys.readouterr().err
    assert out.read_text() == "an earlier export\n"  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "seen.jsonl"]
