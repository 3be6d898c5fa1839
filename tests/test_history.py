import json

import pytest
from histories import OUTSIDER, WRITER, check, merged, opened, record, review, write_history

from shadowbot.errors import HistoryError
from shadowbot.offline.history import HistoryReader


def read(path, **kwargs):
    errors = []
    reader = HistoryReader(path, on_error=errors.append, **kwargs)
    return list(reader), errors, reader


def good(number=1):
    return record(
        number, opened(), check(5, "a1"), review(10, WRITER, "APPROVED", "a1"), merged(12, "a1")
    )


@pytest.mark.parametrize("name", ["h.jsonl", "h.jsonl.gz"])
def test_reads_plain_and_gzip(tmp_path, name):
    records, errors, reader = read(write_history(tmp_path / name, good(1), "", good(2)))
    assert [r.number for r in records] == [1, 2]
    assert errors == [] and reader.skipped == 0
    assert reader.header["repository"] == "example/pkgs"
    first = records[0]
    assert [e.type for e in first.events] == ["opened", "check", "review", "merged"]
    assert first.events[2].review is not None
    assert first.events[2].review.author.can_write
    assert first.events[0].owners == {"pkgs/by-name/he/hello/package.nix": ("alice",)}


def bad_records():
    no_events = good()
    no_events["events"] = []
    wrong_state = good()
    wrong_state["events"][2]["state"] = "LGTM"
    backwards = good()
    backwards["events"][1]["at"] = "2023-01-01T00:00:00Z"
    after_merge = record(1, opened(), merged(1, "a1"), check(2, "a1"))
    naive_time = good()
    naive_time["created_at"] = "2024-03-01T12:00:00"
    bad_actor = record(
        1, opened(), review(3, {"login": "x", "permission": "god"}, "APPROVED", "a1")
    )
    unknown = record(1, opened(), {"type": "teleported", "at": "2024-03-01T00:00:00Z"})
    bad_previous = good()
    bad_previous["events"][0]["files"][0] |= {"status": "renamed", "previous_path": 7}
    bad_previous_owners = good()
    bad_previous_owners["events"][0]["files"][0] |= {
        "status": "renamed",
        "previous_path": "pkgs/hello.nix",
        "previous_owners": "alice",
    }
    return [
        ('{"number": 1', "not valid JSON"),
        (json.dumps([1, 2]), "expected a JSON object"),
        (json.dumps({**good(), "number": "7"}), 'number: expected int, got "7"'),
        (json.dumps(no_events), "at least the opened event"),
        (json.dumps(wrong_state), "events[2].state: expected one of APPROVED"),
        (json.dumps(backwards), "events[1].at: earlier than the event before it"),
        (json.dumps(after_merge), "events[2].type: check after merged"),
        (json.dumps(naive_time), "created_at: timestamp without a timezone"),
        (json.dumps(bad_actor), "events[1].by.permission: unknown permission"),
        (json.dumps(unknown), "events[1].type: unknown event type 'teleported'"),
        (json.dumps(bad_previous), "events[0].files[0].previous_path: expected str, got 7"),
        (
            json.dumps(bad_previous_owners),
            "events[0].files[0].previous_owners: expected a list of logins",
        ),
    ]


@pytest.mark.parametrize(("line", "reason"), bad_records())
def test_a_malformed_line_is_reported_with_its_number_and_reason_and_skipped(
    tmp_path, line, reason
):
    path = write_history(tmp_path / "h.jsonl", good(1), line, good(3))
    records, errors, reader = read(path)
    assert [r.number for r in records] == [1, 3]
    assert reader.skipped == 1
    assert errors[0].line == 3
    assert reason in str(errors[0])
    assert str(errors[0]).startswith("line 3: ")


def test_strict_stops_at_the_first_malformed_line(tmp_path):
    path = write_history(tmp_path / "h.jsonl", good(1), "oops", good(3))
    reader = HistoryReader(path, strict=True)
    seen = []
    with pytest.raises(HistoryError, match="line 3: not valid JSON"):
        for r in reader:
            seen.append(r.number)
    assert seen == [1]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"shadowbot_history": 2, "repository": "a/b"}, "schema version 2 is not supported"),
        ({"repository": "a/b"}, "the first line must be the header"),
        ({"shadowbot_history": 1}, "needs the repository"),
    ],
)
def test_the_header_is_checked(tmp_path, header, message):
    path = write_history(tmp_path / "h.jsonl", good(), header=header)
    with pytest.raises(HistoryError, match=message):
        list(HistoryReader(path))


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(HistoryError, match="cannot read"):
        list(HistoryReader(tmp_path / "nope.jsonl"))


def test_actors_are_parsed_with_defaults(tmp_path):
    path = write_history(tmp_path / "h.jsonl", record(1, opened(), author={"login": "zed"}))
    (only,), _, _ = read(path)
    assert (only.author.type, only.author.association, only.author.permission) == (
        "User",
        "NONE",
        "none",
    )
    assert OUTSIDER["permission"] == "read"


def test_a_renamed_file_brings_its_old_path_and_owners(tmp_path):
    moved = good()
    moved["events"][0]["files"][0] |= {
        "path": "doc/hello.md",
        "status": "renamed",
        "previous_path": "pkgs/by-name/he/hello/README.md",
        "previous_owners": ["carol"],
    }
    records, errors, _ = read(write_history(tmp_path / "h.jsonl", moved))
    assert errors == []
    opened_event = records[0].events[0]
    [change] = opened_event.files
    assert change.paths == ("doc/hello.md", "pkgs/by-name/he/hello/README.md")
    assert opened_event.owners == {
        "doc/hello.md": ("alice",),
        "pkgs/by-name/he/hello/README.md": ("carol",),
    }


def test_a_rename_away_from_a_listed_path_keeps_that_files_owners(tmp_path):
    both = good()
    both["events"][0]["files"] = [
        {
            "path": "doc/a.md",
            "status": "added",
            "additions": 3,
            "deletions": 0,
            "owners": ["carol"],
        },
        {
            "path": "doc/b.md",
            "status": "renamed",
            "additions": 0,
            "deletions": 0,
            "owners": ["carol"],
            "previous_path": "doc/a.md",
        },
    ]
    records, errors, _ = read(write_history(tmp_path / "h.jsonl", both))
    assert errors == []
    assert records[0].events[0].owners == {"doc/a.md": ("carol",), "doc/b.md": ("carol",)}
