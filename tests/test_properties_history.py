"""The history reader under any file (hypothesis): what was written is read back, a
malformed line is reported with its number and skipped, and nothing else escapes but a
:class:`HistoryError` (which ``shadowbot backtest`` shows as one line, exit 2)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from histories import HEADER, WRITER, merged, opened, record
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shadowbot.cli import main
from shadowbot.errors import HistoryError
from shadowbot.offline.history import Event, HistoryReader, HistoryRecord

BOUNDED = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# --- valid records, as docs/history-format.md describes them ------------------------------

texts = st.text(max_size=12)
shas = st.text(alphabet="0123456789abcdef", min_size=1, max_size=40)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def timestamp(at: datetime, zone: timezone, zulu: bool) -> str:
    local = at.astimezone(zone)
    text = local.isoformat()
    return text.removesuffix("+00:00") + "Z" if zulu and local.utcoffset() == timedelta() else text


@st.composite
def actors(draw: st.DrawFn) -> dict[str, Any]:
    actor: dict[str, Any] = {"login": draw(texts)}
    for key, values in (
        ("type", ["User", "Bot", "Organization"]),
        ("association", ["OWNER", "MEMBER", "CONTRIBUTOR", "NONE", "SOMETHING NEW"]),
        ("permission", ["admin", "maintain", "write", "triage", "read", "none"]),
    ):
        if draw(st.booleans()):  # absent: its default
            actor[key] = draw(st.sampled_from(values))
    return actor


@st.composite
def file_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    # No '/' in a generated path, so no path is another file's previous path ("old/...").
    paths = draw(
        st.lists(
            st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1),
            max_size=4,
            unique=True,
        )
    )
    files = []
    for path in paths:
        status = draw(
            st.sampled_from(["added", "removed", "modified", "renamed", "copied", "changed"])
        )
        item: dict[str, Any] = {
            "path": path,
            "status": status,
            "additions": draw(st.integers(0, 10**6)),
            "deletions": draw(st.integers(0, 10**6)),
        }
        if draw(st.booleans()):
            item["owners"] = draw(st.lists(texts, max_size=3))
        if status in ("renamed", "copied") and draw(st.booleans()):
            item["previous_path"] = "old/" + path
            if status == "renamed" and draw(st.booleans()):
                item["previous_owners"] = draw(st.lists(texts, max_size=3))
        files.append(item)
    return files


def _event(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    if kind == "push":
        event = {"head": draw(shas)}
        if draw(st.booleans()):
            event["files"] = draw(file_lists())
        return event
    if kind == "review":
        states = ["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"]
        return {"by": draw(actors()), "state": draw(st.sampled_from(states)), "commit": draw(shas)}
    if kind == "check":
        states = ["success", "failure", "pending", "neutral", "skipped", "cancelled", "error"]
        return {
            "name": draw(texts),
            "source": draw(st.sampled_from(["check_run", "status"])),
            "state": draw(st.sampled_from(states)),
            "commit": draw(shas),
        }
    if kind in ("labeled", "unlabeled"):
        return {"label": draw(texts)}
    if kind == "edited":
        keys = draw(st.sets(st.sampled_from(["title", "body"])))
        return {key: draw(st.text()) for key in keys}
    if kind == "comment":
        return {"by": draw(actors()), "body": draw(st.text())}
    if kind == "merged":
        return {"by": draw(actors()), "commit": draw(shas)}
    if kind == "reverted":
        return {"by": draw(actors()), "pr": draw(st.integers(1, 10**9))}
    if kind in ("closed", "reopened"):
        return {"by": draw(actors())}
    return {}  # ready_for_review, converted_to_draft


BEFORE_MERGE = [
    "push",
    "review",
    "check",
    "labeled",
    "unlabeled",
    "ready_for_review",
    "converted_to_draft",
    "edited",
    "comment",
    "closed",
    "reopened",
]


@st.composite
def records(draw: st.DrawFn, number: int | None = None) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(BEFORE_MERGE), max_size=6))
    if draw(st.booleans()):
        kinds += ["merged", *draw(st.lists(st.sampled_from(["comment", "reverted"]), max_size=3))]
    start = draw(st.datetimes(datetime(2008, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)))
    gaps = draw(st.lists(st.integers(0, 10**8), min_size=len(kinds), max_size=len(kinds)))
    moments = [start]
    for gap in gaps:  # never earlier than the event before
        moments.append(moments[-1] + timedelta(seconds=gap))

    def at(moment: datetime) -> str:
        return timestamp(moment, draw(offsets), draw(st.booleans()))

    events = [
        {
            "type": "opened",
            "at": at(start),
            "head": draw(shas),
            "draft": draw(st.booleans()),
            "labels": draw(st.lists(texts, max_size=3)),
            "files": draw(file_lists()),
        }
    ]
    events += [
        {"type": kind, "at": at(moment), **_event(draw, kind)}
        for kind, moment in zip(kinds, moments[1:], strict=True)
    ]
    return {
        "number": number or draw(st.integers(1, 10**9)),
        "title": draw(st.text()),
        "body": draw(st.text()),
        "author": draw(actors()),
        "base": draw(texts),
        "created_at": at(start),
        "events": events,
    }


# --- reading back ---------------------------------------------------------------------------


def instant(text: str) -> tuple[datetime, timedelta | None]:
    """A timestamp as read: the instant and the offset it was written with."""
    value = datetime.fromisoformat(text)
    return value, value.utcoffset()


def as_read(written: dict[str, Any]) -> dict[str, Any]:
    """What the reader should make of a record: defaults filled in, times parsed."""
    expected = json.loads(json.dumps(written))

    def actor(value: dict[str, Any]) -> dict[str, Any]:
        return {"type": "User", "association": "NONE", "permission": "none"} | value

    def files(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for item in items:
            item = {"owners": []} | item
            if item["status"] == "renamed" and "previous_path" in item:
                item.setdefault("previous_owners", [])
            out.append(item)
        return out

    expected["author"] = actor(expected["author"])
    expected["created_at"] = instant(expected["created_at"])
    for event in expected["events"]:
        event["at"] = instant(event["at"])
        if "by" in event:
            event["by"] = actor(event["by"])
        if "files" in event:
            event["files"] = files(event["files"])
    return expected


def as_written(read: HistoryRecord) -> dict[str, Any]:
    """The record the reader read, in the file's format again."""
    return {
        "number": read.number,
        "title": read.title,
        "body": read.body,
        "author": _actor(read.author),
        "base": read.base,
        "created_at": (read.created_at, read.created_at.utcoffset()),
        "events": [_event_written(event) for event in read.events],
    }


def _actor(actor: Any) -> dict[str, Any]:
    return {
        "login": actor.login,
        "type": actor.type,
        "association": actor.association,
        "permission": actor.permission,
    }


def _files(event: Event) -> list[dict[str, Any]]:
    assert event.files is not None and event.owners is not None
    out = []
    for change in event.files:
        item = {
            "path": change.path,
            "status": change.status,
            "additions": change.additions,
            "deletions": change.deletions,
            "owners": list(event.owners[change.path]),
        }
        if change.previous_path is not None:
            item["previous_path"] = change.previous_path
        if len(change.paths) > 1:
            item["previous_owners"] = list(event.owners[change.paths[1]])
        out.append(item)
    return out


def _event_written(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"type": event.type, "at": (event.at, event.at.utcoffset())}
    kind = event.type
    if kind == "opened":
        out |= {"head": event.head, "draft": event.draft, "labels": list(event.labels)}
        out["files"] = _files(event)
    elif kind == "push":
        out["head"] = event.head
        if event.files is not None:
            out["files"] = _files(event)
    elif kind == "review":
        assert event.review is not None
        review = event.review
        out |= {"by": _actor(review.author), "state": review.state, "commit": review.commit}
    elif kind == "check":
        assert event.ci is not None
        ci = event.ci
        out |= {"name": ci.name, "source": ci.source, "state": ci.state, "commit": ci.commit}
    elif kind in ("labeled", "unlabeled"):
        out["label"] = event.label
    elif kind == "edited":
        out |= {key: value for key, value in (("title", event.title), ("body", event.body))}
        out = {key: value for key, value in out.items() if value is not None}
    elif kind in ("comment", "merged", "closed", "reopened", "reverted"):
        out["by"] = _actor(event.by)
        if kind == "comment":
            out["body"] = event.body
        elif kind == "merged":
            out["commit"] = event.head
        elif kind == "reverted":
            out["pr"] = event.pr
    return out


def write(path: Path, lines: list[bytes], header: bytes | None = None) -> Path:
    data = b"\n".join([header or json.dumps(HEADER).encode(), *lines]) + b"\n"
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def encoded(value: dict[str, Any], ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode()


def read(path: Path, **kwargs: Any) -> tuple[list[HistoryRecord], list[HistoryError]]:
    errors: list[HistoryError] = []
    return list(HistoryReader(path, on_error=errors.append, **kwargs)), errors


# --- properties ----------------------------------------------------------------------------


@BOUNDED
@given(
    st.lists(records(), min_size=1, max_size=4),
    st.booleans(),
    st.sampled_from(["h.jsonl", "h.jsonl.gz"]),
)
def test_what_was_written_is_read_back(tmp_path, written, ascii_only, name):
    path = write(tmp_path / name, [encoded(r, ascii_only) for r in written])
    found, errors = read(path)
    assert errors == []
    assert [as_written(r) for r in found] == [as_read(r) for r in written]
    assert [r.line for r in found] == list(range(2, len(written) + 2))


# Lines that are no record: each of them is reported and skipped.
not_records = st.one_of(
    st.binary(min_size=1, max_size=80).map(lambda b: b.replace(b"\n", b" ")),
    st.sampled_from(
        [
            b"\xff\xfe{}",
            b'{"number": 1, "title": "\xc3"}',
            b"\xef\xbb\xbf{}",
            b"[" * 100_000,
            b'{"a": ' * 5_000 + b"1" + b"}" * 5_000,
            b"null",
            b"[1, 2]",
            b'"a record"',
            b"NaN",
            b"{}",
            b"1" * 5000,
        ]
    ),
    records().map(
        lambda r: json.dumps(r | {"number": 0}).encode()  # numbers start at 1
    ),
).filter(lambda line: line.strip())


@st.composite
def broken_records(draw: st.DrawFn) -> bytes:
    """A valid record with one field made wrong."""
    broken = draw(records())
    where = draw(st.sampled_from(["author", "by", "at", "created_at", "files", "events"]))
    bad = draw(
        st.sampled_from(
            [[], {}, None, 1.5, "x", [["nested"]], {"login": []}, "9999-12-31T23:59:59-23:59"]
        )
    )
    if where == "author":
        not_text = draw(st.sampled_from([[], {}, None, 1.5, [["nested"]]]))
        broken["author"] = draw(
            st.sampled_from([{**broken["author"], "association": not_text}, bad])
        )
    elif where == "by":
        broken["events"].append({"type": "comment", "at": broken["created_at"], "by": bad})
    elif where == "at":
        broken["events"][-1]["at"] = draw(
            st.sampled_from(["2024-03-01T12:00:00", "not a time", "0001-01-01T00:00:00+23:59"])
        )
    elif where == "created_at":
        broken["created_at"] = bad
    elif where == "files":
        broken["events"][0]["files"] = [bad]
    else:
        broken["events"] = bad
    return json.dumps(broken).encode()


@settings(BOUNDED, max_examples=60)
@given(
    st.lists(
        st.one_of(
            records().map(lambda r: (json.dumps(r).encode(), True)),
            not_records.map(lambda line: (line, False)),
            broken_records().map(lambda line: (line, False)),
            st.sampled_from([b"", b"  ", b"\t\r"]).map(lambda line: (line, None)),
        ),
        max_size=12,
    ).filter(lambda lines: any(valid for _, valid in lines)),
    st.sampled_from(["h.jsonl", "h.jsonl.gz"]),
)
@example([(b"[" * 100_000, False), (json.dumps(record(1, opened())).encode(), True)], "h.jsonl")
def test_a_malformed_line_is_reported_with_its_number_and_skipped(tmp_path, lines, name):
    path = write(tmp_path / name, [line for line, _ in lines])
    found, errors = read(path)
    # The header is line 1: the lines written are 2, 3, ...
    assert [r.line for r in found] == [n for n, (_, ok) in enumerate(lines, start=2) if ok]
    bad = [n for n, (_, ok) in enumerate(lines, start=2) if ok is False]
    assert [e.line for e in errors] == bad
    assert all(str(e).startswith(f"line {e.line}: ") and "\n" not in str(e) for e in errors)

    strict = HistoryReader(path, strict=True)
    if bad:
        with pytest.raises(HistoryError, match=f"^line {bad[0]}: "):
            list(strict)
    else:
        assert len(list(strict)) == len(found)


@BOUNDED
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: json.dumps(HEADER).encode() + b"\n" + b),
        st.binary(max_size=300).map(gzip.compress),
        st.tuples(
            st.binary(min_size=1, max_size=300), st.integers(0, 40), st.binary(max_size=8)
        ).map(lambda t: _corrupted(gzip.compress(t[0] * 20), t[1], t[2])),
    ),
    st.sampled_from(["h.jsonl", "h.jsonl.gz"]),
)
def test_any_file_is_read_or_refused_with_a_history_error(tmp_path, data, name):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        read(path)
    except HistoryError as error:
        assert "\n" not in str(error)


def _corrupted(data: bytes, at: int, junk: bytes) -> bytes:
    at = min(at, len(data))
    return data[:at] + junk + data[at + len(junk) :]


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("SHADOWBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")


@settings(BOUNDED, max_examples=25)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.lists(st.one_of(not_records, broken_records()), min_size=1, max_size=4).map(
            lambda lines: json.dumps(HEADER).encode() + b"\n" + b"\n".join(lines)
        ),
        st.binary(max_size=200).map(lambda b: gzip.compress(b)[:-4] + b"\x00"),
    ),
    st.sampled_from(["h.jsonl", "h.jsonl.gz"]),
)
@example(b'{"shadowbot_history": 1, "repository": "a/b"}\nfoo\nbar\n', "h.jsonl")
@example(gzip.compress(b"x" * 1000)[:20] + b"\x00" * 30, "h.jsonl.gz")
def test_backtest_of_a_file_with_no_record_is_one_line_and_exit_2(
    tmp_path, database, capsys, data, name
):
    path = tmp_path / name
    path.write_bytes(data)
    code = main(["backtest", str(path)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    *skipped, last = err.splitlines()
    assert last.startswith("shadowbot: error: ")
    assert all(line.startswith(f"{path}: skipped line ") for line in skipped)


def test_backtest_of_a_file_with_a_record_among_bad_lines_reads_it(tmp_path, database, capsys):
    good = json.dumps(record(7, opened(), merged(5, "a1", by=WRITER))).encode()
    path = write(tmp_path / "h.jsonl", [b"\xff oops", good, b"[" * 100_000])
    code = main(["backtest", str(path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "1 pull requests backtested" in out and "2 malformed line(s) skipped" in out
    assert err.splitlines() == [
        f"{path}: skipped line 2: not UTF-8 (byte 0xff at column 1)",
        f"{path}: skipped line 4: not valid JSON (nested too deeply)",
    ]
