"""Run every rule on a snapshot from one loop, in a fixed order, each failure contained.

A rule that raises yields ``error`` with the exception's summary. A rule that runs past
its time budget is interrupted by a watchdog thread and yields ``error`` too, and the loop
goes on with the next rule. Interrupting costs the hot path nothing but two attribute
writes per rule: the watchdog polls, and only acts on an evaluation that overran.

How the interruption reaches the rule: in the main thread a signal is sent to it, which
also wakes a rule blocked in ``time.sleep``; in any other thread an asynchronous
exception is set, which stops pure-Python loops (the usual way a rule hangs) but only
lands once a blocking C call returns. Rules do no I/O (DESIGN.md), so that is the rare
case. :class:`RuleTimeout` derives from BaseException so that a rule's own
``except Exception`` cannot swallow it.

Why interrupt rather than abandon: running each evaluation in a worker thread and walking
away from it at the deadline would leave a hanging rule's thread running, holding the GIL
about half the time, so every later evaluation would run at about half speed, and each
new overrun would add another such thread. Interrupting stops the loop, so an overrun
costs its budget once and nothing after. What neither can stop is a rule stuck inside one
C call that holds the GIL (a catastrophic regular expression): only a separate process
could, at the price of sending every snapshot across a pipe.

The watchdog also samples which rule is running at each of its polls: :meth:`Engine.busy`
tells which rules take the time (the backtest's progress bar names a slow one) without
costing the evaluations anything. The sample is biased: the watchdog gets the interpreter
mostly where the main thread lets go of it (reading the history), so the usual
evaluations of a few microseconds hardly show, while a rule that keeps the interpreter
for milliseconds (slow, or hanging) shows in proportion.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import threading
import time
from collections.abc import Collection, Sequence
from types import FrameType, TracebackType

from shadowbot.rules import Rule
from shadowbot.snapshot import Snapshot
from shadowbot.verdict import Decision, Verdict

log = logging.getLogger(__name__)

_SIGNAL = signal.SIGUSR2
#: How an error verdict for a rule that ran out of time begins.
TIMEOUT_REASON = "ran out of time"


class RuleTimeout(BaseException):
    """Raised inside a rule that ran past its time budget."""


class Engine:
    """Evaluates rules with a per-rule time budget. Use as a context manager."""

    def __init__(self, rules: Sequence[Rule], timeout: float = 1.0) -> None:
        self.rules = tuple(sorted(rules, key=lambda rule: rule.name))
        self.timeout = timeout
        # (token, deadline, thread ident, rule) of the evaluation in progress, or None.
        self._running: tuple[int, float, int, Rule] | None = None
        # The watchdog's polls, and those that found each rule running.
        self._polls = 0
        self._samples: dict[str, int] = {}
        self._token = 0
        self._fired = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_handler: signal.Handlers | object = None
        self._handler_installed = False

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(_SIGNAL, self._on_signal)
            self._handler_installed = True
        self._stop.clear()
        self._polls, self._samples = 0, {}
        self._thread = threading.Thread(target=self._watch, name="rule-watchdog", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._handler_installed:
            signal.signal(_SIGNAL, self._previous_handler)  # type: ignore[arg-type]
            self._handler_installed = False

    def evaluate(self, pr: Snapshot, skip: Collection[str] = ()) -> list[tuple[Rule, Verdict]]:
        """Every rule's verdict on ``pr``, in rule-name order, but for the rule keys in
        ``skip`` (disabled rules)."""
        return [(rule, self.evaluate_rule(rule, pr)) for rule in self.rules if rule.key not in skip]

    def evaluate_rule(
        self, rule: Rule, pr: Snapshot, explain: bool = True, thread: int = 0
    ) -> Verdict:
        """One rule's verdict, with its checklist unless ``explain`` is false (then only
        the decision, and the reason of an error, are meaningful). ``thread`` is the
        calling thread's ident, when the caller already knows it."""
        if self._thread is None:
            raise RuntimeError("Engine.start() was not called")
        self._token += 1
        token = self._token
        try:
            deadline = time.monotonic() + self.timeout
            self._running = (token, deadline, thread or threading.get_ident(), rule)
            try:
                return rule.evaluate(pr) if explain else rule.decide(pr)
            finally:
                self._running = None
        except RuleTimeout:
            log.warning("rule ran out of time", extra={"rule": rule.key, "pr": pr.number})
            return Verdict.error(f"{TIMEOUT_REASON} ({self.timeout:g} s)")
        except Exception as exc:  # a rule's failure is its own: contain it, report it
            log.warning(
                "rule raised %s", type(exc).__name__, extra={"rule": rule.key, "pr": pr.number}
            )
            return Verdict.error(f"{type(exc).__name__}: {exc}"[:300])

    def busy(self) -> dict[str, float]:
        """Each rule key's share of the time since :meth:`start`, as sampled by the
        watchdog (rules never seen running are left out)."""
        polls = self._polls
        return {key: count / polls for key, count in self._samples.items()} if polls else {}

    def _watch(self) -> None:
        interval = min(0.05, self.timeout / 4)
        while not self._stop.wait(interval):
            self._polls += 1
            running = self._running
            if running is None:
                continue
            token, deadline, ident, rule = running
            key = rule.key
            self._samples[key] = self._samples.get(key, 0) + 1
            if time.monotonic() > deadline and self._fired != token:
                self._fired = token
                self._interrupt(ident)

    def _interrupt(self, ident: int) -> None:
        if self._handler_installed and ident == threading.main_thread().ident:
            signal.pthread_kill(ident, _SIGNAL)
        else:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(ident), ctypes.py_object(RuleTimeout)
            )

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        running = self._running
        # Raise only if the overrunning evaluation is still the one in progress.
        if running is not None and running[0] == self._fired:
            raise RuleTimeout


def is_timeout(verdict: Verdict) -> bool:
    """Whether ``verdict`` is the error of a rule that ran out of its time budget."""
    return verdict.decision is Decision.ERROR and verdict.reason.startswith(TIMEOUT_REASON)
