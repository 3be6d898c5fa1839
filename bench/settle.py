"""Live settlement speed: 100,000 recorded claims through the pure reduction.

    python bench/settle.py [--claims 100000] [--seed 2024] [--rounds 3]

Target: settlement of 100,000 recorded claims (the pure function) in under 10 s.

The evidence is built in memory first (not timed): pull requests with four rules each,
one to three heads (pushes), each rule evaluated once or twice per head (a claim is a
``merge`` verdict), the revisions shown (the sticky comment, or one comment per claiming
rule on a fifth of the PRs), a few reactions (mergers, authors, bots, read-only users; some
seen gone, some in the same second as an edit), and the outcomes: about 70% merged (mostly
at the last head, 5% reverted), 20% closed unmerged (some reopened), 10% still open. PRs are
added until they hold ``--claims`` claims.

Timed, in one process: ``settle_pull_request`` over every PR, then :func:`figures` over
each rule's results (one entry per rule and PR). The baseline, measured in the same run,
is the same loop over the same evidence doing only a trivial pass: sorting each PR's
verdicts by time. The ratio says how much work settlement is beyond touching the
evidence once. Each figure is the best of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from shadowbot.core.figures import Entry, Figures, figures
from shadowbot.core.reduction import (
    THUMBS_DOWN,
    THUMBS_UP,
    LivePolicy,
    OutcomeSeen,
    PullRequestEvidence,
    ReactionSeen,
    RuleOnPullRequest,
    Shown,
    VerdictSeen,
    settle_pull_request,
)

TARGET_SECONDS = 10.0
RULES = ("docs-only", "dependency-bump", "small-change", "trusted-author")
START = datetime(2024, 1, 1, tzinfo=UTC)
#: Who reacts: (login, user type, permission).
REACTORS = (
    ("mel", "User", "write"),
    ("max", "User", "maintain"),
    ("ada", "User", "admin"),
    ("rob", "User", "read"),
    ("renovate[bot]", "Bot", "write"),
)


class Builder:
    """Random but realistic evidence, one pull request at a time."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.ids = iter(range(1, 10**12))

    def pull_request(self, number: int) -> tuple[PullRequestEvidence, str]:
        rng = self.random
        author_type = "Bot" if rng.random() < 0.3 else "User"
        author = "renovate[bot]" if author_type == "Bot" else f"dev{number % 5000}"
        opened = START + timedelta(minutes=number * 7)
        per_rule = rng.random() < 0.2
        moment = opened
        verdicts: list[VerdictSeen] = []
        revisions: list[Shown] = []
        heads = [f"{number:x}-{i}" for i in range(rng.choice((1, 1, 2, 2, 3)))]
        for head in heads:
            moment += timedelta(minutes=rng.randint(5, 240))
            claims = set()
            for rule in RULES:
                for _ in range(rng.choice((1, 1, 2))):
                    decision = rng.choices(("merge", "hold", "skip"), (35, 45, 20))[0]
                    at = moment + timedelta(seconds=rng.randint(0, 600))
                    verdicts.append(VerdictSeen(rule, head, decision, at, next(self.ids)))
                if decision == "merge":  # the revision shows each rule's latest verdict
                    claims.add(rule)
            revisions += self.revisions(number, head, moment, claims, per_rule)
        reactions = self.reactions(revisions, author, moment)
        outcomes = self.outcomes(heads, moment)
        evidence = PullRequestEvidence(author, verdicts, revisions, reactions, outcomes)
        return evidence, author_type

    def revisions(
        self, number: int, head: str, moment: datetime, claims: set[str], per_rule: bool
    ) -> list[Shown]:
        shown_at = moment + timedelta(seconds=self.random.randint(601, 900))
        recorded = shown_at + timedelta(milliseconds=300)
        if not per_rule:
            comment = Shown(next(self.ids), head, shown_at, number, frozenset(claims))
            return [replace(comment, recorded_at=recorded)]
        return [  # one comment per claiming rule
            replace(
                Shown(next(self.ids), head, shown_at, number * 10 + i, frozenset({rule})),
                recorded_at=recorded,
            )
            for i, rule in enumerate(RULES)
            if rule in claims
        ]

    def reactions(
        self, revisions: Sequence[Shown], author: str, moment: datetime
    ) -> list[ReactionSeen]:
        rng = self.random
        found = []
        on_comments = [r for r in revisions if r.comment_id is not None]
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3))):
            if not on_comments:
                break
            revision = rng.choice(on_comments)
            login, user_type, permission = rng.choice((*REACTORS, (author, "User", "write")))
            content = rng.choices((THUMBS_UP, THUMBS_DOWN, "heart"), (50, 15, 35))[0]
            # Now and then in the very second of an edit: the bot's clock decides.
            same_second = rng.random() < 0.05
            created = (
                revision.shown_at
                if same_second
                else moment + timedelta(minutes=rng.randint(-120, 600))
            )
            seen = created + timedelta(milliseconds=rng.randint(0, 900))
            gone = rng.random() < 0.1
            comment = revision.comment_id or 0
            reaction = ReactionSeen(
                next(self.ids), comment, login, user_type, permission, content, created
            )
            found.append(replace(reaction, gone=gone, first_seen_at=seen))
        return found

    def outcomes(self, heads: Sequence[str], moment: datetime) -> list[OutcomeSeen]:
        rng = self.random
        fate = rng.random()
        end = moment + timedelta(hours=rng.randint(1, 72))
        if fate < 0.7:
            sha = heads[-1] if rng.random() < 0.9 else rng.choice(heads)
            merged = [OutcomeSeen(next(self.ids), "merged", end, sha, "mel")]
            if rng.random() < 0.05:
                after = timedelta(days=rng.choice((1, 3, 6, 10)))
                revert = OutcomeSeen(next(self.ids), "reverted", end + after, None, "mel")
                merged.append(revert)
            return merged
        if fate < 0.9:
            closed = [OutcomeSeen(next(self.ids), "closed", end, None, "mel")]
            if rng.random() < 0.1:
                closed.append(OutcomeSeen(next(self.ids), "reopened", end + timedelta(hours=2)))
            return closed
        return []


def build(claims: int, seed: int) -> list[tuple[PullRequestEvidence, str]]:
    builder = Builder(seed)
    prs: list[tuple[PullRequestEvidence, str]] = []
    total = 0
    while total < claims:
        evidence, author_type = builder.pull_request(len(prs))
        prs.append((evidence, author_type))
        total += sum(v.decision == "merge" for v in evidence.verdicts)
    return prs


def baseline(prs: Sequence[tuple[PullRequestEvidence, str]]) -> int:
    """The trivial pass: sort each PR's verdicts by time."""
    touched = 0
    by_time = attrgetter("at")
    for evidence, _ in prs:
        touched += len(sorted(evidence.verdicts, key=by_time))
    return touched


def settle_all(
    prs: Sequence[tuple[PullRequestEvidence, str]], now: datetime
) -> tuple[int, dict[str, Figures]]:
    """Settle every PR, then each rule's record from its results."""
    policy = LivePolicy(mergers=frozenset({"ada"}))
    entries: dict[str, list[Entry]] = defaultdict(list)
    results = 0
    for evidence, author_type in prs:
        for result in settle_pull_request(evidence, policy, now):
            entries[result.rule].append(entry(result, author_type))
            results += 1
    return results, {rule: figures(items) for rule, items in entries.items()}


def entry(result: RuleOnPullRequest, author_type: str) -> Entry:
    saved = None if result.saved is None else result.saved.total_seconds()
    return Entry(result.result.value, result.reason, saved, author_type, result.disputed, result.at)


def best_of(rounds: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    prs = build(args.claims, args.seed)
    claims = sum(v.decision == "merge" for evidence, _ in prs for v in evidence.verdicts)
    # Most PRs are final by then; the newest are still open or in their grace periods.
    now = max(v.at for evidence, _ in prs for v in evidence.verdicts) - timedelta(days=2)
    floor = best_of(args.rounds, lambda: baseline(prs))
    seconds = best_of(args.rounds, lambda: settle_all(prs, now))
    results, records = settle_all(prs, now)

    print(f"evidence: {len(prs)} pull requests, {len(RULES)} rules, {claims} claims")
    print(f"results: {results}; per rule (wins/losses/neutral/closed unmerged/missed/pending):")
    for rule, record in sorted(records.items()):
        print(
            f"  {rule:16} {record.wins}/{record.losses}/{record.neutral}/"
            f"{record.closed_unmerged}/{record.missed}/{record.pending}"
        )
    print(f"baseline (sort each PR's verdicts): {floor:7.3f} s")
    print(
        f"settle + figures:                   {seconds:7.3f} s  (target < {TARGET_SECONDS:.0f} s)"
    )
    print(f"claims per second: {claims / seconds:,.0f}")
    print(f"ratio settle/baseline: {seconds / floor:.1f}x")
    return 0 if seconds < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
