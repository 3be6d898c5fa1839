"""The predicate vocabulary most rules are written in.

Each function here returns a :class:`Check`: a named test of a snapshot that yields one
checklist line ``(check, passed, detail)``. A rule is then a list of checks, e.g.::

    requires=[not_draft(), approved_by_writers(2), checks_green()]

Path patterns are globs as in CODEOWNERS: ``*`` matches within one path segment, ``**``
across segments, ``?`` one character; a pattern ending in ``/`` matches everything below;
a pattern with no ``/`` but a trailing one matches at any depth (``*.md``), any other is
anchored at the repository root (a leading ``/`` is allowed).
https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners#codeowners-syntax
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shadowbot.snapshot import GREEN_STATES, Actor, Snapshot
from shadowbot.verdict import CheckResult

Test = Callable[[Snapshot], tuple[bool, str]]


@dataclass(frozen=True, slots=True)
class Check:
    """A named test of a snapshot."""

    label: str
    test: Test

    def __call__(self, pr: Snapshot) -> CheckResult:
        passed, detail = self.test(pr)
        return CheckResult(self.label, passed, detail)


def _names(actors: Iterable[Actor]) -> str:
    return ", ".join(sorted(a.login for a in actors)) or "nobody"


def compile_glob(pattern: str) -> re.Pattern[str]:
    """Translate a CODEOWNERS-style glob into an anchored regular expression."""
    if "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    pattern = pattern.lstrip("/")
    if pattern.endswith("/"):
        pattern += "**"
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    if not patterns:
        raise ValueError("at least one path pattern is required")
    combined = re.compile("|".join(f"(?:{compile_glob(p).pattern})" for p in patterns))
    return lambda path: combined.match(path) is not None


# -- what the change touches ---------------------------------------------------------


def only_touches(*patterns: str) -> Check:
    matches = _matcher(patterns)

    def test(pr: Snapshot) -> tuple[bool, str]:
        if not pr.files:
            return False, "no changed files"
        outside = [f.path for f in pr.files if not matches(f.path)]
        if outside:
            more = f" and {len(outside) - 1} more" if len(outside) > 1 else ""
            return False, f"{outside[0]}{more} outside {', '.join(patterns)}"
        return True, f"{len(pr.files)} file(s) within {', '.join(patterns)}"

    return Check(f"only touches {', '.join(patterns)}", test)


def touches_any(*patterns: str) -> Check:
    matches = _matcher(patterns)

    def test(pr: Snapshot) -> tuple[bool, str]:
        hits = [f.path for f in pr.files if matches(f.path)]
        return bool(hits), hits[0] if hits else f"nothing under {', '.join(patterns)}"

    return Check(f"touches {', '.join(patterns)}", test)


def confined_to_one(directory_pattern: str) -> Check:
    """Every changed file lies below one directory matching the pattern (e.g. a package)."""
    prefix = re.compile(compile_glob(directory_pattern).pattern.removesuffix(r"\Z") + "/")

    def test(pr: Snapshot) -> tuple[bool, str]:
        dirs = set()
        for f in pr.files:
            m = prefix.match(f.path)
            if m is None:
                return False, f"{f.path} is not under {directory_pattern}"
            dirs.add(m.group(0))
        if len(dirs) != 1:
            return False, f"{len(dirs)} directories touched" if dirs else "no changed files"
        return True, dirs.pop().rstrip("/")

    return Check(f"confined to one {directory_pattern}", test)


def max_changed_lines(limit: int) -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        return pr.changed_lines <= limit, f"{pr.changed_lines} line(s) changed"

    return Check(f"at most {limit} changed lines", test)


def max_changed_files(limit: int) -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        return len(pr.files) <= limit, f"{len(pr.files)} file(s) changed"

    return Check(f"at most {limit} changed files", test)


# -- who wrote it --------------------------------------------------------------------


def author_in(*logins: str) -> Check:
    allowed = frozenset(logins)

    def test(pr: Snapshot) -> tuple[bool, str]:
        return pr.author.login in allowed, pr.author.login

    return Check(f"author is one of {', '.join(sorted(allowed))}", test)


def author_is_bot() -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        return pr.author.is_bot, f"{pr.author.login} ({pr.author.type})"

    return Check("author is a bot", test)


def author_is_human() -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        return not pr.author.is_bot, f"{pr.author.login} ({pr.author.type})"

    return Check("author is not a bot", test)


def author_can_write() -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        ok = pr.author.can_write and not pr.author.is_bot
        return ok, f"{pr.author.login} has {pr.author.permission} permission"

    return Check("author has write permission", test)


# -- reviews -------------------------------------------------------------------------


def _writer_approvers(pr: Snapshot) -> list[Actor]:
    return [a for a in pr.approvers_on_head if a.can_write and not a.is_bot]


def approved_by_writers(count: int = 1) -> Check:
    """``count`` users with write permission approved the current head (not the author)."""

    def test(pr: Snapshot) -> tuple[bool, str]:
        approvers = _writer_approvers(pr)
        return len(approvers) >= count, f"approved on {pr.head_sha[:7]} by {_names(approvers)}"

    return Check(f"approved by {count} writer(s) on the current head", test)


def approved_by_anyone(count: int = 1) -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        approvers = pr.approvers_on_head
        return len(approvers) >= count, f"approved on {pr.head_sha[:7]} by {_names(approvers)}"

    return Check(f"approved by {count} reviewer(s) on the current head", test)


def approved_by_code_owners() -> Check:
    """Every changed file has a code owner among the current head's approvers.

    Owners are matched by login; a team (``@org/team``) matches nobody unless the snapshot
    lists its members, so a file owned only by teams is reported as such.
    """

    def test(pr: Snapshot) -> tuple[bool, str]:
        approvers = {a.login for a in pr.approvers_on_head if not a.is_bot}
        if not pr.files:
            return False, "no changed files"
        for f in pr.files:
            owners = pr.owners_of(f.path)
            if not owners:
                return False, f"{f.path} has no code owner"
            if all("/" in owner for owner in owners):
                return False, f"{f.path} is owned by teams only ({', '.join(owners)})"
            if approvers.isdisjoint(owners):
                return False, f"{f.path}: no approval from {', '.join(owners)}"
        return True, f"approved by {', '.join(sorted(approvers))}"

    return Check("approved by a code owner of every file", test)


def no_changes_requested() -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        blockers = pr.changes_requested_by
        return not blockers, f"changes requested by {_names(blockers)}" if blockers else "none"

    return Check("no outstanding change request", test)


# -- CI and state --------------------------------------------------------------------


def checks_green(*required: str) -> Check:
    """Every check and status on the head is green, none pending, and the required ones ran."""

    def test(pr: Snapshot) -> tuple[bool, str]:
        # The snapshot should hold the head's results only; results on other commits are
        # ignored here too, so a stale green can never count.
        on_head = [result for result in pr.ci if result.commit == pr.head_sha]
        if not on_head:
            return False, f"no checks on {pr.head_sha[:7]}"
        seen = {result.name for result in on_head}
        missing = [name for name in required if name not in seen]
        if missing:
            return False, f"{', '.join(missing)} not reported"
        for result in on_head:
            if result.state not in GREEN_STATES:
                return False, f"{result.name}: {result.state}"
        return True, f"{len(on_head)} check(s) green on {pr.head_sha[:7]}"

    return Check("all checks green", test)


def not_draft() -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        return not pr.draft, "draft" if pr.draft else "ready for review"

    return Check("not a draft", test)


def targets(*branches: str) -> Check:
    allowed = frozenset(branches)

    def test(pr: Snapshot) -> tuple[bool, str]:
        return pr.base in allowed, pr.base

    return Check(f"targets {', '.join(sorted(allowed))}", test)


def has_labels(*labels: str) -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        missing = [label for label in labels if label not in pr.labels]
        return not missing, f"missing {', '.join(missing)}" if missing else "present"

    return Check(f"labelled {', '.join(labels)}", test)


def lacks_labels(*labels: str) -> Check:
    def test(pr: Snapshot) -> tuple[bool, str]:
        present = [label for label in labels if label in pr.labels]
        return not present, f"labelled {', '.join(present)}" if present else "none present"

    return Check(f"not labelled {', '.join(labels)}", test)


def title_matches(pattern: str, description: str = "") -> Check:
    compiled = re.compile(pattern)

    def test(pr: Snapshot) -> tuple[bool, str]:
        return compiled.search(pr.title) is not None, pr.title[:80]

    return Check(description or f"title matches {pattern}", test)
