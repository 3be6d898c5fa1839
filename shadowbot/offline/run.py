"""Drive backtests over a history, for the ``backtest`` command and its variants.

:func:`judge_history` feeds each record to one or more :class:`Backtest` sharing one
engine, keeps the progress bar up to date (naming a rule that slows the run down, and
any quarantined), and returns the seconds it took. :func:`backtest_command` is the whole
plain backtest: rules and a history in, the text to print out.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Literal

from shadowbot.core.engine import Engine
from shadowbot.offline.backtest import Backtest, Observer
from shadowbot.offline.history import STDIN, HistoryReader
from shadowbot.offline.paths import DirectoryPatterns
from shadowbot.offline.report import Progress, backtest_as_json, backtest_as_text
from shadowbot.offline.shards import judge_sharded
from shadowbot.rules import Rule
from shadowbot.settings import Settings

Format = Literal["table", "json"]
#: A rule is named as slowing the backtest down once the watchdog found it running in
#: this share of its polls (six bundled rules take 5 to 15% each on the bundled history).
SLOW_SHARE = 0.3
#: Records between two looks at the progress bar.
_EVERY = 256


def new_backtest(
    engine: Engine,
    settings: Settings,
    rules: Sequence[Rule] | None = None,
    max_errors: int | None = 3,
    observers: Sequence[Observer] = (),
) -> Backtest:
    """A backtest of ``rules`` (the engine's by default) under the settings' policy."""
    return Backtest(
        engine,
        settings.backtest_policy(),
        settings.thresholds_for,
        mergers=settings.mergers,
        max_errors=max_errors,
        rules=rules,
        observers=list(observers),
    )


def progress_note(engine: Engine, backtests: Sequence[Backtest]) -> str:
    """What the progress bar says after the bar: a rule slowing the run, quarantined ones."""
    parts = []
    busy = engine.busy()
    if busy:
        key, share = max(busy.items(), key=lambda item: item[1])
        if share >= SLOW_SHARE:
            parts.append(f"slowed by {key} ({share:.0%} of the time)")
    quarantined = [r.rule.key for b in backtests for r in b.quarantined]
    if quarantined:
        parts.append(f"quarantined: {', '.join(quarantined)}")
    return "; ".join(parts)


def judge_history(
    reader: HistoryReader,
    engine: Engine,
    backtests: Sequence[Backtest],
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> float:
    """Feed every record of ``reader`` to each backtest in turn; the seconds it took.
    A history without a single record is a :class:`HistoryError`.

    ``warn`` is given one line for each file pattern of the rules that lacks its trailing
    slash but names a directory of this history (:class:`DirectoryPatterns`): such a
    check matches that exact path only, so the rule silently never applies."""
    started = time.monotonic()
    done = quarantined = 0
    directories = DirectoryPatterns(engine.rules) if warn is not None else None
    for record in reader:
        if directories is not None:
            directories.see_record(record)
        for backtest in backtests:
            if not backtest.repository:
                backtest.repository = str(reader.header["repository"])
            backtest.add(record)
        done += 1
        if progress is None:
            continue
        now = sum(len(b.quarantined) for b in backtests)
        if done % _EVERY == 0 or now != quarantined:
            note = progress_note(engine, backtests)
            progress.update(reader.fraction_read, done, note, now=now != quarantined)
            quarantined = now
    if progress is not None:
        progress.finish(done, progress_note(engine, backtests))
    reader.check_judged(done)
    if directories is not None and warn is not None:
        for line in directories.warnings():
            warn(line)
    return time.monotonic() - started


def to_stderr(line: str) -> None:
    """The commands' ``warn``: a warning on standard error, where the table is not."""
    print(f"shadowbot: warning: {line}", file=sys.stderr)


def backtest_command(
    reader: HistoryReader,
    rules: Sequence[Rule],
    settings: Settings,
    fmt: Format = "table",
    progress: Progress | None = None,
    max_errors: int | None = 3,
    jobs: int = 1,
) -> str:
    """``shadowbot backtest``: the table (or JSON) of every rule's record on the history.

    ``jobs`` above 1 judges the history in that many processes
    (:mod:`shadowbot.offline.shards`), with the same result; standard input is read by
    one."""
    warned: list[str] = []
    if jobs > 1 and reader.path != STDIN:
        backtest, elapsed = judge_sharded(
            reader,
            rules,
            settings,
            lambda engine: new_backtest(engine, settings, max_errors=max_errors),
            jobs,
            progress,
            progress_note,
            warned.append,
        )
    else:
        with Engine(rules, settings.rule_timeout) as engine:
            backtest = new_backtest(engine, settings, max_errors=max_errors)
            elapsed = judge_history(reader, engine, [backtest], progress, warned.append)
    for line in warned:
        to_stderr(line)
    reports = backtest.summary()
    if fmt == "json":
        meta = {
            "history": str(reader.path),
            "repository": reader.header.get("repository"),
            "records": backtest.records,
            "skipped_lines": reader.skipped,
            "seconds": round(elapsed, 3),
            "max_errors": max_errors,
            "path_warnings": warned,
        }
        return backtest_as_json(reports, meta)
    return (
        backtest_as_text(reports, backtest.policy, backtest.records)
        + f"\n\n{backtest.records} pull requests backtested in {elapsed:.1f} s"
        f"; {reader.skipped} malformed line(s) skipped."
    )
