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
from shadowbot.verdict import Verdict

log = logging.getLogger(__name__)

_SIGNAL = signal.SIGUSR2


class RuleTimeout(BaseException):
    """Raised inside a rule that ran past its time budget."""


class Engine:
    """Evaluates rules with a per-rule time budget. Use as a context manager."""

    def __init__(self, rules: Sequence[Rule], timeout: float = 1.0) -> None:
        self.rules = tuple(sorted(rules, key=lambda rule: rule.name))
        self.timeout = timeout
        # (token, deadline, thread ident) of the evaluation in progress, or None.
        self._running: tuple[int, float, int] | None = None
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
            self._running = (token, deadline, thread or threading.get_ident())
            try:
                return rule.evaluate(pr) if explain else rule.decide(pr)
            finally:
                self._running = None
        except RuleTimeout:
            log.warning("rule ran out of time", extra={"rule": rule.key, "pr": pr.number})
            return Verdict.error(f"ran out of time ({self.timeout:g} s)")
        except Exception as exc:  # a rule's failure is its own: contain it, report it
            log.warning(
                "rule raised %s", type(exc).__name__, extra={"rule": rule.key, "pr": pr.number}
            )
            return Verdict.error(f"{type(exc).__name__}: {exc}"[:300])

    def _watch(self) -> None:
        interval = min(0.05, self.timeout / 4)
        while not self._stop.wait(interval):
            running = self._running
            if running is None:
                continue
            token, deadline, ident = running
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
