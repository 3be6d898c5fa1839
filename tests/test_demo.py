"""`shadowbot demo` tells its story from start to end on this machine."""

from shadowbot.cli import main


def test_the_demo_shows_verdicts_feedback_and_where_to_look(tmp_path, capsys):
    database = tmp_path / "demo.db"
    assert main(["demo", "--database", str(database)]) == 0
    out = capsys.readouterr().out
    assert "shadowbot on #1: comment" in out and "bot-version-bump@1" in out
    assert "no rule claims merge any more  (the approval was on the old head)" in out
    assert "note by dave: 'the macOS steps are untested'" in out
    assert "outcome: merged" in out
    assert "/acme/pkgs/pull/1" in out and str(database) in out
    assert database.exists()
