"""What keeps the bot from doing its work right now, for the operator.

``/healthz`` answers ``{"ok": true, "status": "degraded", "reasons": [...]}`` while any
problem lasts (GitHub rate limiting until a time, GitHub unreachable since a time,
deliveries waiting, the app's identity not learned yet), and ``"status": "ok"`` with no
reason otherwise. It stays a 200: the intake keeps storing deliveries, so a load balancer
must keep sending them. ``/metrics`` has each problem as ``shadowbot_degraded{reason=…}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shadowbot.metrics import Metrics
from shadowbot.storage import utcnow

#: The problems the bot reports, by key (the ``reason`` label of the metric).
RATE_LIMITED = "rate_limited"
UNREACHABLE = "github_unreachable"
WAITING = "deliveries_waiting"
GIVEN_UP = "deliveries_given_up"
IDENTITY = "app_identity_unknown"
DATABASE = "database_failing"
KNOWN = (RATE_LIMITED, UNREACHABLE, WAITING, GIVEN_UP, IDENTITY, DATABASE)


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    since: datetime


@dataclass
class Health:
    metrics: Metrics
    problems: dict[str, Problem] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in KNOWN:
            self.metrics.set("shadowbot_degraded", 0, reason=key)

    def report(self, key: str, message: str) -> None:
        """``key`` is a problem now, described by ``message`` (its start is kept)."""
        before = self.problems.get(key)
        self.problems[key] = Problem(message, before.since if before else utcnow())
        self.metrics.set("shadowbot_degraded", 1, reason=key)

    def clear(self, key: str) -> None:
        if self.problems.pop(key, None) is not None:
            self.metrics.set("shadowbot_degraded", 0, reason=key)

    def since(self, key: str) -> datetime | None:
        problem = self.problems.get(key)
        return None if problem is None else problem.since

    def as_dict(self) -> dict[str, object]:
        reasons = [self.problems[key].message for key in sorted(self.problems)]
        return {"ok": True, "status": "degraded" if reasons else "ok", "reasons": reasons}
