"""The leaderboard's records kept between requests, brought up to date from what was
appended since, are the records a fresh read gives, at every step of a ledger's life."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session
from test_pages_story import DAY, HOUR, SETTLED_AT, Recorder, record_evidence, settings_for

from shadowbot import storage
from shadowbot.live.settling import settle_all
from shadowbot.offline.ledger_view import override_rule
from shadowbot.storage import RepositoryRow, RuleRow
from shadowbot.web.board import Board, Records
from shadowbot.web.records import TREND_POINTS, trend_points


def same_board(kept: Records, engine, settings) -> Board:
    """The kept records' board, checked against a fresh read of the same data."""
    with Session(engine) as session:
        board = kept.board(session)
    with Session(engine) as session:
        fresh = Records(settings).board(session)
    assert board.views == fresh.views
    assert board.ids == fresh.ids
    assert board.overrides == fresh.overrides
    assert board.records == fresh.records
    assert board.settled == fresh.settled and board.last_activity == fresh.last_activity
    return board


def test_the_kept_records_equal_a_fresh_read_as_the_ledger_grows(database_url):
    settings = settings_for(database_url)
    kept = Records(settings)
    with storage.migrated(database_url) as engine:
        with Session(engine) as session:
            record_evidence(session)
        before = same_board(kept, engine, settings)
        assert all(view.figures.wins == 0 for view in before.views)  # nothing settled yet

        settle_all(engine, settings, now=SETTLED_AT)
        settled = same_board(kept, engine, settings)
        careful = settled.view("careful@1")
        assert careful is not None and careful.figures.wins > 0

        with Session(engine) as session:
            override_rule(
                session, settings, "careful@1", "disable", "too eager", "cli:bob", SETTLED_AT
            )
            session.commit()
        overridden = same_board(kept, engine, settings)
        assert overridden.overrides[overridden.ids["careful@1"]]

        with Session(engine) as session:  # a new rule version, a new claim, settled later
            r = Recorder(session)
            r.ids = iter(range(1000, 2000))  # comment ids the story did not use
            rule = r.add(
                RuleRow(name="newcomer", version=1, source_hash="9" * 64, description="New")
            )
            pkgs = session.get(RepositoryRow, 1)
            pr = r.pull_request(pkgs, 40, "Later", head="9")
            r.shown(pr, [rule], ["merge"], at=SETTLED_AT)
            r.close(pr, SETTLED_AT + HOUR)
            session.commit()
        claimed = same_board(kept, engine, settings)
        assert claimed.view("newcomer@1").figures.pending == 1
        settle_all(engine, settings, now=SETTLED_AT + 9 * DAY)  # past the revert window
        last = same_board(kept, engine, settings)
        assert last.view("newcomer@1").figures.wins == 1


def test_a_rules_trend_keeps_its_first_and_last_point_and_at_most_48():
    start = SETTLED_AT
    decided = [(start + timedelta(minutes=i), "loss" if i % 7 == 0 else "win") for i in range(500)]
    points = trend_points(decided)
    assert len(points) == TREND_POINTS
    assert points[0] == {"at": start.isoformat(), "wins": 0, "losses": 1}
    wins = sum(result == "win" for _, result in decided)
    assert points[-1]["wins"] == wins and points[-1]["losses"] == 500 - wins
    assert [p["wins"] for p in points] == sorted(p["wins"] for p in points)
    few = trend_points(decided[:3])
    assert [(p["wins"], p["losses"]) for p in few] == [(0, 1), (1, 1), (2, 1)]
