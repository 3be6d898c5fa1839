"""Read a history file (docs/history-format.md) as a stream of typed records.

Each line is validated into plain frozen values; a malformed line (not UTF-8, not JSON,
not a record) becomes a :class:`HistoryError` carrying its line number and the reason, and
the reader goes on (or stops, when strict). A file whose record lines are all malformed
is itself an error. Nothing is held beyond the current line.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shadowbot.errors import HistoryError
from shadowbot.snapshot import Actor, CIResult, FileChange, Review

SCHEMA_VERSION = 1
#: The path that means standard input, as command-line tools have it.
STDIN = Path("-")
_GZIP_MAGIC = b"\x1f\x8b"

_USER_TYPES = frozenset({"User", "Bot", "Organization"})
_PERMISSIONS = frozenset({"admin", "maintain", "write", "triage", "read", "none"})
_REVIEW_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"})
_FILE_STATUSES = frozenset(
    {"added", "removed", "modified", "renamed", "copied", "changed", "unchanged"}
)
_CI_STATES = frozenset(
    {"success", "failure", "pending", "neutral", "skipped", "cancelled", "error"}
)
_CI_SOURCES = frozenset({"check_run", "status"})
#: No later time is read: the backtest adds grace periods and revert windows to the times
#: it reads, and Python's datetimes end with the year 9999.
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One timeline event. ``type`` says which of the optional fields are set."""

    type: str
    at: datetime
    head: str = ""
    draft: bool = False
    labels: tuple[str, ...] = ()
    label: str = ""
    files: tuple[FileChange, ...] | None = None
    owners: dict[str, tuple[str, ...]] | None = None
    review: Review | None = None
    ci: CIResult | None = None
    by: Actor | None = None
    title: str | None = None
    body: str | None = None
    pr: int = 0


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    number: int
    title: str
    body: str
    author: Actor
    base: str
    created_at: datetime
    events: tuple[Event, ...]
    line: int = 0


class _Invalid(Exception):
    """A field is wrong; ``where`` is its path in the record."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


def _get(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    try:
        value = obj[key]
    except KeyError:
        raise _Invalid(f"{where}{key}", "missing") from None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Invalid(f"{where}{key}", f"expected {kind.__name__}, got {_show(value)}")
    return value


def _logins(item: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    """An optional list of logins (or ``@org/team`` names); empty when absent."""
    found = item.get(key, [])
    if not isinstance(found, list) or not all(isinstance(o, str) for o in found):
        raise _Invalid(where + key, "expected a list of logins")
    return tuple(found)


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _choice(obj: dict[str, Any], key: str, allowed: frozenset[str], where: str) -> str:
    value = _get(obj, key, str, where)
    if value not in allowed:
        raise _Invalid(
            f"{where}{key}", f"expected one of {', '.join(sorted(allowed))}, got {value!r}"
        )
    return str(value)


def _time(obj: dict[str, Any], key: str, where: str) -> datetime:
    text = _get(obj, key, str, where)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"{where}{key}", f"not an ISO 8601 timestamp: {text!r}") from None
    if value.tzinfo is None:
        raise _Invalid(f"{where}{key}", f"timestamp without a timezone: {text!r}")
    try:
        in_range = value.astimezone(UTC) < _LATEST
    except OverflowError:  # before the year 1 in UTC
        in_range = False
    if not in_range:
        raise _Invalid(f"{where}{key}", f"timestamp out of range: {text!r}")
    return value


class _Parser:
    """Turns decoded lines into records, sharing identical actors between records."""

    def __init__(self) -> None:
        self._actors: dict[tuple[str, str, str, str], Actor] = {}

    def actor(self, obj: Any, where: str) -> Actor:
        if not isinstance(obj, dict):
            raise _Invalid(where.rstrip("."), f"expected an actor object, got {_show(obj)}")
        login = _get(obj, "login", str, where)
        kind = obj.get("type", "User")
        association = obj.get("association", "NONE")
        permission = obj.get("permission", "none")
        # Strings before the lookup: a list or an object cannot be part of its key.
        if not isinstance(association, str):
            raise _Invalid(f"{where}association", f"expected str, got {_show(association)}")
        if not isinstance(kind, str) or kind not in _USER_TYPES:
            raise _Invalid(f"{where}type", f"expected User, Bot or Organization, got {_show(kind)}")
        if not isinstance(permission, str) or permission not in _PERMISSIONS:
            raise _Invalid(f"{where}permission", f"unknown permission {_show(permission)}")
        key = (login, kind, association, permission)
        actor = self._actors.get(key)
        if actor is None:
            if len(self._actors) > 100_000:  # keep memory flat on histories with many users
                self._actors.clear()
            actor = self._actors[key] = Actor(login, kind, association, permission)  # type: ignore[arg-type]
        return actor

    def files(
        self, items: Any, where: str
    ) -> tuple[tuple[FileChange, ...], dict[str, tuple[str, ...]]]:
        if not isinstance(items, list):
            raise _Invalid(where, f"expected a list of files, got {_show(items)}")
        files = []
        owners = {}
        for i, item in enumerate(items):
            at = f"{where}[{i}]."
            if not isinstance(item, dict):
                raise _Invalid(at.rstrip("."), "expected a file object")
            path = _get(item, "path", str, at)
            additions = _get(item, "additions", int, at)
            deletions = _get(item, "deletions", int, at)
            if additions < 0 or deletions < 0:
                raise _Invalid(at + "additions", "line counts cannot be negative")
            status = _choice(item, "status", _FILE_STATUSES, at)
            previous = item.get("previous_path")
            if previous is not None and not isinstance(previous, str):
                raise _Invalid(at + "previous_path", f"expected str, got {_show(previous)}")
            change = FileChange(path, status, additions, deletions, previous)  # type: ignore[arg-type]
            files.append(change)
            owners[path] = _logins(item, "owners", at)
            if len(change.paths) > 1:
                # A file listed at the old path (one added where another moved away) has
                # its own entry: its owners, from the same CODEOWNERS, are not replaced.
                owners.setdefault(change.paths[1], _logins(item, "previous_owners", at))
        return tuple(files), owners

    def event(self, obj: Any, where: str) -> Event:
        if not isinstance(obj, dict):
            raise _Invalid(where.rstrip("."), f"expected an event object, got {_show(obj)}")
        kind = _get(obj, "type", str, where)
        at = _time(obj, "at", where)
        parse = _EVENT_PARSERS.get(kind)
        if parse is None:
            raise _Invalid(f"{where}type", f"unknown event type {kind!r}")
        return parse(self, obj, at, where)

    def record(self, obj: Any, line: int) -> HistoryRecord:
        if not isinstance(obj, dict):
            raise _Invalid("record", f"expected a JSON object, got {_show(obj)}")
        number = _get(obj, "number", int, "")
        if number < 1:
            raise _Invalid("number", f"must be positive, got {number}")
        raw_events = _get(obj, "events", list, "")
        events = tuple(self.event(e, f"events[{i}].") for i, e in enumerate(raw_events))
        _check_timeline(events)
        return HistoryRecord(
            number=number,
            title=_get(obj, "title", str, ""),
            body=_get(obj, "body", str, ""),
            author=self.actor(_get(obj, "author", dict, ""), "author."),
            base=_get(obj, "base", str, ""),
            created_at=_time(obj, "created_at", ""),
            events=events,
            line=line,
        )


def _opened(p: _Parser, obj: dict[str, Any], at: datetime, where: str) -> Event:
    labels = _get(obj, "labels", list, where)
    if not all(isinstance(label, str) for label in labels):
        raise _Invalid(f"{where}labels", "expected a list of label names")
    files, owners = p.files(_get(obj, "files", list, where), f"{where}files")
    draft = _get(obj, "draft", bool, where)
    head = _get(obj, "head", str, where)
    return Event(
        "opened", at, head=head, draft=draft, labels=tuple(labels), files=files, owners=owners
    )


def _push(p: _Parser, obj: dict[str, Any], at: datetime, where: str) -> Event:
    files = owners = None
    if "files" in obj:
        files, owners = p.files(obj["files"], f"{where}files")
    return Event("push", at, head=_get(obj, "head", str, where), files=files, owners=owners)


def _review(p: _Parser, obj: dict[str, Any], at: datetime, where: str) -> Event:
    by = p.actor(obj.get("by"), f"{where}by.")
    state = _choice(obj, "state", _REVIEW_STATES, where)
    review = Review(by, state, _get(obj, "commit", str, where), at)  # type: ignore[arg-type]
    return Event("review", at, review=review, by=by)


def _check(p: _Parser, obj: dict[str, Any], at: datetime, where: str) -> Event:
    result = CIResult(
        _get(obj, "name", str, where),
        _choice(obj, "source", _CI_SOURCES, where),  # type: ignore[arg-type]
        _choice(obj, "state", _CI_STATES, where),  # type: ignore[arg-type]
        _get(obj, "commit", str, where),
    )
    return Event("check", at, ci=result)


def _label(p: _Parser, obj: dict[str, Any], at: datetime, where: str) -> Event:
    return Event(obj["type"], at, label=_get(obj, "label", str, where))


def _plain(p: _Parser, obj: dict[str, Any], at: datetime, where: str) -> Event:
    return Event(obj["type"], at)


def _edited(p: _Parser, obj: dict[str, Any], at: datetime, where: str) -> Event:
    title = _get(obj, "title", str, where) if "title" in obj else None
    body = _get(obj, "body", str, where) if "body" in obj else None
    return Event("edited", at, title=title, body=body)


def _with_actor(p: _Parser, obj: dict[str, Any], at: datetime, where: str) -> Event:
    by = p.actor(obj.get("by"), f"{where}by.")
    kind = obj["type"]
    if kind == "comment":
        return Event(kind, at, by=by, body=_get(obj, "body", str, where))
    if kind == "merged":
        return Event(kind, at, by=by, head=_get(obj, "commit", str, where))
    if kind == "reverted":
        return Event(kind, at, by=by, pr=_get(obj, "pr", int, where))
    return Event(kind, at, by=by)


_EVENT_PARSERS: dict[str, Callable[[_Parser, dict[str, Any], datetime, str], Event]] = {
    "opened": _opened,
    "push": _push,
    "review": _review,
    "check": _check,
    "labeled": _label,
    "unlabeled": _label,
    "ready_for_review": _plain,
    "converted_to_draft": _plain,
    "edited": _edited,
    "comment": _with_actor,
    "merged": _with_actor,
    "closed": _with_actor,
    "reopened": _with_actor,
    "reverted": _with_actor,
}
_AFTER_MERGE = frozenset({"comment", "reverted"})


def _check_timeline(events: tuple[Event, ...]) -> None:
    if not events:
        raise _Invalid("events", "a timeline needs at least the opened event")
    if events[0].type != "opened":
        raise _Invalid("events[0].type", f"the first event must be opened, got {events[0].type!r}")
    merged = False
    previous = events[0].at
    for i, event in enumerate(events[1:], start=1):
        if event.at < previous:
            raise _Invalid(f"events[{i}].at", "earlier than the event before it")
        previous = event.at
        if event.type == "opened":
            raise _Invalid(f"events[{i}].type", "opened may only be the first event")
        if merged and event.type not in _AFTER_MERGE:
            raise _Invalid(f"events[{i}].type", f"{event.type} after merged")
        if event.type == "reverted" and not merged:
            raise _Invalid(f"events[{i}].type", "reverted before merged")
        merged = merged or event.type == "merged"


class LineParser:
    """Parses the lines of one history, one at a time (see :meth:`HistoryReader.lines`)."""

    def __init__(self) -> None:
        self._parser = _Parser()

    def parse(self, number: int, line: bytes) -> HistoryRecord | HistoryError:
        """Line ``number``'s record, or the error that says why it is malformed."""
        try:
            return self._parser.record(_decode(line), number)
        except (_Invalid, ValueError, RecursionError) as exc:
            return HistoryError(_reason(exc), number)


class HistoryReader:
    """Iterate the records of a history file; malformed lines are reported, then skipped.

    ``path`` ``-`` reads standard input. ``on_error`` receives each :class:`HistoryError`;
    in strict mode the first one is raised instead. ``skipped`` counts the lines passed
    over.
    """

    def __init__(
        self,
        path: Path,
        *,
        strict: bool = False,
        on_error: Callable[[HistoryError], None] | None = None,
    ) -> None:
        self.path = path
        self.strict = strict
        self.on_error = on_error
        self.skipped = 0
        self.header: dict[str, Any] = {}
        self._raw: io.BufferedReader | None = None
        self._size = 0

    @property
    def fraction_read(self) -> float:
        """How far through the file the reader is, from 0 to 1 (for progress bars); 0 when
        the size is not known (standard input), 1 once the file is read and closed."""
        raw = self._raw
        if raw is None or self.path == STDIN:
            return 0.0
        if raw.closed:
            return 1.0
        return min(1.0, raw.tell() / self._size) if self._size else 1.0

    def _open(self, stack: ExitStack) -> io.BufferedIOBase:
        """The lines' bytes: the file, or standard input for ``-``; gzip is recognised by
        its first bytes, whatever the name."""
        try:
            if self.path == STDIN:
                # Standard input's descriptor stays open: it belongs to the process.
                raw = stack.enter_context(open(sys.stdin.fileno(), "rb", closefd=False))
            else:
                raw = stack.enter_context(self.path.open("rb"))
                self._size = self.path.stat().st_size
        except IsADirectoryError:
            raise HistoryError(
                f"{self.path} is a directory: give a history file (.jsonl or .jsonl.gz),"
                " or - for standard input"
            ) from None
        except (OSError, ValueError, AttributeError) as exc:  # no standard input at all
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise HistoryError(f"cannot read {self._name}: {reason}") from None
        self._raw = raw
        if raw.peek(2)[:2] == _GZIP_MAGIC:
            return stack.enter_context(gzip.GzipFile(fileobj=raw))
        return raw

    def __iter__(self) -> Iterator[HistoryRecord]:
        parser = LineParser()
        read = 0
        for number, line in self.lines():
            record = parser.parse(number, line)
            if isinstance(record, HistoryError):
                self.report(record)
                continue
            read += 1
            yield record
        self.check_read(read)

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """The header (into :attr:`header`), then each non-blank line with its number:
        the raw material of :meth:`__iter__`, for a reader that parses only some lines
        (:mod:`shadowbot.offline.shards`)."""
        # Lines are split as bytes and decoded one by one: a byte that is not UTF-8 spoils
        # its line only.
        with ExitStack() as stack:
            lines = self._open(stack)
            try:
                self.header = _read_header(next(lines, b""))
                for number, line in enumerate(lines, start=2):
                    if line.strip():
                        yield number, line
            except (OSError, EOFError, zlib.error) as exc:
                raise HistoryError(f"{self._name}: unreadable: {exc}") from None

    def check_read(self, read: int) -> None:
        """After the last line: a history whose every record line was malformed (``read``
        records were valid) is an error."""
        if not read and self.skipped:
            raise HistoryError(
                f"{self._name}: no line is a pull request record"
                f" ({self.skipped} malformed line(s) skipped)"
            )

    def check_judged(self, judged: int) -> None:
        """After the records were judged (``judged`` of them): a history without a single
        record is an error."""
        if not judged:
            raise HistoryError(
                f"{self._name}: no pull request record after the header: nothing to judge"
            )

    @property
    def _name(self) -> str:
        return "standard input" if self.path == STDIN else str(self.path)

    def report(self, error: HistoryError) -> None:
        """A malformed line: raised in strict mode, else counted and told ``on_error``."""
        if self.strict:
            raise error
        self.skipped += 1
        if self.on_error is not None:
            self.on_error(error)


def _decode(line: bytes) -> Any:
    """The JSON value of a line, strictly UTF-8 (``json.loads`` would guess UTF-16 too)."""
    return json.loads(line.decode("utf-8"))


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 (byte 0x{exc.object[exc.start]:02x} at column {exc.start + 1})"
    if isinstance(exc, RecursionError):
        return "not valid JSON (nested too deeply)"
    return str(exc)


def _read_header(line: bytes) -> dict[str, Any]:
    try:
        header = _decode(line)
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or "shadowbot_history" not in header:
        raise HistoryError(
            'the first line must be the header {"shadowbot_history": 1, "repository": ...}', 1
        )
    version = header["shadowbot_history"]
    if type(version) is not int or version != SCHEMA_VERSION:  # true == 1 in Python
        raise HistoryError(
            f"schema version {version!r} is not supported (this shadowbot reads version "
            f"{SCHEMA_VERSION})",
            1,
        )
    if not isinstance(header.get("repository"), str):
        raise HistoryError("the header needs the repository as owner/name", 1)
    return header
