"""A plain backtest on several cores: the history cut in shards, judged in processes,
folded in order into the one backtest a single process would have given.

Each of ``jobs`` processes reads the whole file (decompressing it is a small part of the
work; reading it twice spares sending the lines through a pipe) and parses and judges
only its shard: batches of :data:`BATCH` lines, dealt in turn (:func:`owner`; the
caller, which also folds, takes a little fewer). Process 0 is the caller,
the others are forked from it before its engine starts. Each judges with its own engine
and backtest, and passes on, per record, only what the tallies need: each rule's
settlement, miss and errors, and the paths that first matched a slash-less pattern
(:class:`~shadowbot.offline.paths.DirectoryPatterns`). The caller folds them into the
real backtest in the order of the lines, so whatever depends on the order (the PR at
which a rule would have been disabled, the quarantine, the first error, which malformed
line is reported first) is what one process gives.

Why folding the shards' results is exact: a rule is pure, so its result on a record does
not depend on which process judged it. The shards quarantine rules too (a rule hanging
on every PR would otherwise cost each shard its budget on every PR), by their own
counts; a shard's count of failed PRs is never above the whole history's at the same
line, so a shard stops judging a rule no sooner than the whole backtest does, and every
result the fold counts was judged.

Memory stays flat: a shard's results wait in a pipe (its writer blocks when it is full),
and the caller holds one batch of its own results at a time.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from shadowbot.core.engine import Engine
from shadowbot.core.settlement import Result, Settlement
from shadowbot.errors import HistoryError
from shadowbot.offline.backtest import Backtest, RuleResult
from shadowbot.offline.history import STDIN, HistoryReader, HistoryRecord, LineParser
from shadowbot.offline.paths import DirectoryPatterns
from shadowbot.offline.report import Progress
from shadowbot.rules import Rule
from shadowbot.settings import Settings

#: Lines per batch. Large enough that a message costs little, small enough that the
#: shards stay busy at the start and the end.
BATCH = 512
#: Batches per round of dealing (times the processes, less one): the caller, which also
#: folds every result (about 4% of the work), is dealt one batch fewer per round.
ROUND = 12
#: Records between two looks at the progress bar.
_EVERY = 256

#: A settlement as plain values (pickled several times faster than the dataclass).
Settled = tuple[str, str, Any, Any]
#: One rule's result on a record, when there is something to count: its index among
#: the rules, settlement, miss, evaluations that failed, first error, timeout.
Counted = tuple[int, Settled | None, bool, int, str, bool]
#: What a shard passes on about one record: its line, PR number, counted results, and
#: the paths that were the first to match some slash-less file pattern; or, for a
#: malformed line, its number and why.
Outcome = tuple[int, int, tuple[Counted, ...], tuple[str, ...]] | tuple[int, str]
#: A shard's message: a batch's index and outcomes; (-1, None) at the end; (-2, reason)
#: when it failed.
Message = tuple[int, Any]


def _settled(settlement: Settlement | None) -> Settled | None:
    if settlement is None:
        return None
    return (settlement.result.value, settlement.reason, settlement.at, settlement.evidence)


def _settlement(settled: Settled | None) -> Settlement | None:
    if settled is None:
        return None
    result, reason, at, evidence = settled
    return Settlement(Result(result), reason, at, evidence)


class _Shard:
    """Parses and judges the lines of one shard, with its own engine and backtest."""

    def __init__(
        self,
        engine: Engine,
        new_backtest: Callable[[Engine], Backtest],
        directories: DirectoryPatterns | None,
    ) -> None:
        self.parser = LineParser()
        self.backtest = new_backtest(engine)
        self.index = {rule.name: i for i, rule in enumerate(self.backtest.rules or ())}
        self.directories = directories

    def judge(self, number: int, line: bytes, repository: str) -> Outcome:
        record = self.parser.parse(number, line)
        if isinstance(record, HistoryError):
            return (number, str(record.reason))
        examples = () if self.directories is None else _first_matches(self.directories, record)
        backtest = self.backtest
        backtest.repository = repository
        results = backtest.add(record)
        index = self.index
        counted = tuple(
            (
                index[r.rule.name],
                _settled(r.settlement),
                r.missed,
                r.errors,
                r.first_error,
                r.timed_out,
            )
            for r in results
            if r.settlement is not None or r.missed or r.errors
        )
        return (number, record.number, counted, examples)


def _first_matches(directories: DirectoryPatterns, record: HistoryRecord) -> tuple[str, ...]:
    """The record's paths that were the first to match some slash-less pattern, in the
    order :meth:`DirectoryPatterns.see_record` sees them: handed to the caller's watcher
    in the order of the records, they give it the examples one process would have."""
    if directories.all_seen:
        return ()
    found = []
    for event in record.events:
        for change in event.files or ():
            found += [path for path in change.paths if directories.see(path)]
    return tuple(found)


def owner(batch: int, jobs: int) -> int:
    """The process that judges ``batch``: in each round of ``ROUND * jobs - 1`` batches,
    one fewer to process 0 (the caller) than to each other."""
    return (batch % (ROUND * jobs - 1) + 1) % jobs


def _batches(
    reader: HistoryReader, shard: int, jobs: int
) -> Iterator[tuple[int, list[tuple[int, bytes]]]]:
    """This shard's batches of lines: (batch index, lines)."""
    current = -1
    lines: list[tuple[int, bytes]] = []
    for number, line in reader.lines():
        batch = (number - 2) // BATCH
        if owner(batch, jobs) != shard:
            continue
        if batch != current:
            if lines:
                yield current, lines
            current, lines = batch, []
        lines.append((number, line))
    if lines:
        yield current, lines


def _shard_main(
    connection: Connection,
    path: Path,
    rules: Sequence[Rule],
    timeout: float,
    new_backtest: Callable[[Engine], Backtest],
    warn: bool,
    shard: int,
    jobs: int,
) -> None:
    """A forked shard: judge its batches, send each batch's outcomes, then the end."""
    # An interrupt is the caller's to handle: it ends this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        reader = HistoryReader(path)
        with Engine(rules, timeout) as engine:
            worker = _Shard(engine, new_backtest, DirectoryPatterns(rules) if warn else None)
            for batch, lines in _batches(reader, shard, jobs):
                repository = str(reader.header["repository"])
                connection.send(
                    (batch, [worker.judge(number, line, repository) for number, line in lines])
                )
        connection.send((-1, None))
    except Exception as exc:  # told to the caller, which reports it
        with contextlib.suppress(OSError):
            connection.send((-2, f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


def judge_sharded(
    reader: HistoryReader,
    rules: Sequence[Rule],
    settings: Settings,
    new_backtest: Callable[[Engine], Backtest],
    jobs: int,
    progress: Progress | None = None,
    note: Callable[[Engine, Sequence[Backtest]], str] = lambda engine, backtests: "",
    warn: Callable[[str], None] | None = None,
) -> tuple[Backtest, float]:
    """The backtest of ``reader``'s history by ``jobs`` processes, and the seconds it took:
    the same as :func:`~shadowbot.offline.run.judge_history` with one backtest of
    ``new_backtest(engine)`` (without observers). Standard input cannot be read twice:
    give a file. The shards are forked: call it from a process without other threads
    (a lock held by another thread at the fork would stay held in the shard)."""
    if reader.path == STDIN:
        raise ValueError("a sharded backtest reads a file, not standard input")
    started = time.monotonic()
    context = multiprocessing.get_context("fork")
    shards = []
    try:
        # Forked before this process starts its engine's watchdog thread.
        for shard in range(1, jobs):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_shard_main,
                args=(
                    sender,
                    reader.path,
                    rules,
                    settings.rule_timeout,
                    new_backtest,
                    warn is not None,
                    shard,
                    jobs,
                ),
                daemon=True,
            )
            with warnings.catch_warnings():
                # Python 3.12+ warns about forking a process with threads: a lock another
                # thread holds would stay held in the child. The command-line process has
                # none at this point (the engine's watchdog starts below); a program
                # embedding this one is told by the docstring.
                warnings.filterwarnings("ignore", "This process .* is multi-threaded")
                process.start()
            sender.close()
            shards.append((process, receiver))
        with Engine(rules, settings.rule_timeout) as engine:
            backtest = new_backtest(engine)
            fold = _Fold(reader, backtest, engine, DirectoryPatterns(rules) if warn else None)
            own = _Shard(engine, new_backtest, DirectoryPatterns(rules) if warn else None)
            receivers = [receiver for _, receiver in shards]
            fold.run(own, receivers, jobs, progress, note)
        for process, _ in shards:
            process.join()
    finally:
        for process, receiver in shards:
            receiver.close()
            if process.is_alive():
                process.terminate()
                process.join()
    reader.check_judged(fold.done)
    if warn is not None and fold.directories is not None:
        for line in fold.directories.warnings():
            warn(line)
    return backtest, time.monotonic() - started


class _Fold:
    """Folds the shards' outcomes into the backtest, in the order of the lines."""

    def __init__(
        self,
        reader: HistoryReader,
        backtest: Backtest,
        engine: Engine,
        directories: DirectoryPatterns | None,
    ) -> None:
        self.reader = reader
        self.backtest = backtest
        self.engine = engine
        self.directories = directories
        self.rules = tuple(backtest.rules or ())
        self.done = 0
        self._quarantined = 0

    def run(
        self,
        own: _Shard,
        receivers: list[Connection],
        jobs: int,
        progress: Progress | None,
        note: Callable[[Engine, Sequence[Backtest]], str],
    ) -> None:
        # The next message of each other shard, once received.
        waiting: list[Message | None] = [None] * len(receivers)
        held: tuple[int, list[Outcome]] | None = None
        for batch, lines in _batches(self.reader, 0, jobs):
            repository = str(self.reader.header["repository"])
            outcomes = [own.judge(number, line, repository) for number, line in lines]
            # One batch of ours is held back while the next is judged, so that the other
            # shards' batches before it are ready by the time it is folded.
            if held is not None:
                self._fold_before(held[0], receivers, waiting, progress, note)
                self._fold(held[1], progress, note)
            held = (batch, outcomes)
        if held is not None:
            self._fold_before(held[0], receivers, waiting, progress, note)
            self._fold(held[1], progress, note)
        self._fold_before(None, receivers, waiting, progress, note)
        self.reader.check_read(self.done)
        if progress is not None:
            progress.finish(self.done, note(self.engine, [self.backtest]))

    def _fold_before(
        self,
        batch: int | None,
        receivers: list[Connection],
        waiting: list[Message | None],
        progress: Progress | None,
        note: Callable[[Engine, Sequence[Backtest]], str],
    ) -> None:
        """Fold the other shards' batches that come before ``batch`` (None: all)."""
        while True:
            best = None
            for i, receiver in enumerate(receivers):
                message = waiting[i]
                if message is None:
                    try:
                        message = waiting[i] = receiver.recv()
                    except EOFError:
                        message = waiting[i] = (-2, "a backtest process ended unexpectedly")
                if message[0] == -2:
                    raise HistoryError(f"backtest process failed: {message[1]}")
                if message[0] >= 0 and (best is None or message[0] < best[1]):
                    best = (i, message[0])
            if best is None or (batch is not None and best[1] > batch):
                return
            i = best[0]
            message = waiting[i]
            waiting[i] = None
            assert message is not None
            self._fold(message[1], progress, note)

    def _fold(
        self,
        outcomes: list[Outcome],
        progress: Progress | None,
        note: Callable[[Engine, Sequence[Backtest]], str],
    ) -> None:
        backtest, rules = self.backtest, self.rules
        if not backtest.repository:
            backtest.repository = str(self.reader.header["repository"])
        for outcome in outcomes:
            if len(outcome) == 2:
                line, reason = outcome
                self.reader.report(HistoryError(reason, line))
                continue
            _, pr, counted, examples = outcome
            if self.directories is not None:
                for path in examples:
                    self.directories.see(path)
            results = [
                RuleResult(
                    rules[i], _settlement(settled), missed, errors, first_error, timed_out=timed_out
                )
                for i, settled, missed, errors, first_error, timed_out in counted
                if backtest.judging(rules[i])
            ]
            backtest.tally(pr, results)
            self.done += 1
            if progress is None:
                continue
            now = sum(1 for rule in rules if not backtest.judging(rule))
            if self.done % _EVERY == 0 or now != self._quarantined:
                shown = note(self.engine, [backtest])
                progress.update(
                    self.reader.fraction_read, self.done, shown, now=now != self._quarantined
                )
                self._quarantined = now
