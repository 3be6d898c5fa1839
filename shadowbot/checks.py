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

from shadowbot.snapshot import GREEN_STATES, Actor, FileChange, Snapshot
from shadowbot.verdict import CheckResult

Passes = Callable[[Snapshot], bool]
Explain = Callable[[Snapshot], str]


def _no_detail(pr: Snapshot) -> str:
    return ""


@dataclass(frozen=True, slots=True)
class Check:
    """A named test of a snapshot.

    ``passes`` decides; ``explain`` says why, for the checklist a person reads. They are
    apart because deciding is the hot path (a backtest decides millions of times and shows
    no checklist), while an explanation is only built for a verdict that is shown.
    """

    label: str
    passes: Passes
    explain: Explain = _no_detail

    def __call__(self, pr: Snapshot) -> CheckResult:
        return CheckResult(self.label, self.passes(pr), self.explain(pr))


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
# A renamed file touches its old path as well as its new one (FileChange.paths). While
# GitHub leaves changed files unlisted (Snapshot.files_missing), a check that needs every
# file fails: what the unlisted ones would say is unknown.


def _unlisted(pr: Snapshot) -> str:
    return f"{pr.files_missing} more changed file(s) that GitHub does not list"


def _shown(change: FileChange, path: str) -> str:
    """``path`` as a checklist shows it: an old path says where the file went."""
    return f"{path} (renamed to {change.path})" if path != change.path else path


def only_touches(*patterns: str) -> Check:
    matches = _matcher(patterns)
    where = ", ".join(patterns)

    def passes(pr: Snapshot) -> bool:
        if not pr.files or pr.files_missing:
            return False
        return all(matches(p) for f in pr.files for p in f.paths)

    def explain(pr: Snapshot) -> str:
        if not pr.files:
            return "no changed files"
        outside = [_shown(f, p) for f in pr.files for p in f.paths if not matches(p)]
        if outside:
            more = f" and {len(outside) - 1} more" if len(outside) > 1 else ""
            return f"{outside[0]}{more} outside {where}"
        if pr.files_missing:
            return _unlisted(pr)
        return f"{len(pr.files)} file(s) within {where}"

    return Check(f"only touches {where}", passes, explain)


def touches_any(*patterns: str) -> Check:
    matches = _matcher(patterns)
    where = ", ".join(patterns)

    def passes(pr: Snapshot) -> bool:
        return any(matches(p) for f in pr.files for p in f.paths)

    def explain(pr: Snapshot) -> str:
        touched = (_shown(f, p) for f in pr.files for p in f.paths if matches(p))
        nothing = f"nothing under {where}" + (f", and {_unlisted(pr)}" if pr.files_missing else "")
        return next(touched, nothing)

    return Check(f"touches {where}", passes, explain)


def confined_to_one(directory_pattern: str) -> Check:
    """Every changed file lies below one directory matching the pattern (e.g. a package)."""
    prefix = re.compile(compile_glob(directory_pattern).pattern.removesuffix(r"\Z") + "/")

    def directories(pr: Snapshot) -> set[str] | str:
        """The matching directories touched, or the first path outside them."""
        found = set()
        for f in pr.files:
            for path in f.paths:
                m = prefix.match(path)
                if m is None:
                    return _shown(f, path)
                found.add(m.group(0))
        return found

    def passes(pr: Snapshot) -> bool:
        found = directories(pr)
        return isinstance(found, set) and len(found) == 1 and not pr.files_missing

    def explain(pr: Snapshot) -> str:
        found = directories(pr)
        if isinstance(found, str):
            return f"{found} is not under {directory_pattern}"
        if len(found) != 1:
            return f"{len(found)} directories touched" if found else "no changed files"
        if pr.files_missing:
            return _unlisted(pr)
        return found.pop().rstrip("/")

    return Check(f"confined to one {directory_pattern}", passes, explain)


def max_changed_lines(limit: int) -> Check:
    def explain(pr: Snapshot) -> str:
        lines = f"{pr.changed_lines} line(s) changed"
        return f"{lines} in the listed files, and {_unlisted(pr)}" if pr.files_missing else lines

    return Check(
        f"at most {limit} changed lines",
        lambda pr: pr.changed_lines <= limit and not pr.files_missing,
        explain,
    )


def max_changed_files(limit: int) -> Check:
    return Check(
        f"at most {limit} changed files",
        lambda pr: len(pr.files) + pr.files_missing <= limit,
        lambda pr: f"{len(pr.files) + pr.files_missing} file(s) changed",
    )


# -- who wrote it --------------------------------------------------------------------


def _author(pr: Snapshot) -> str:
    return f"{pr.author.login} ({pr.author.type})"


def author_in(*logins: str) -> Check:
    allowed = frozenset(logins)
    return Check(
        f"author is one of {', '.join(sorted(allowed))}",
        lambda pr: pr.author.login in allowed,
        lambda pr: pr.author.login,
    )


def author_is_bot() -> Check:
    return Check("author is a bot", lambda pr: pr.author.is_bot, _author)


def author_is_human() -> Check:
    return Check("author is not a bot", lambda pr: not pr.author.is_bot, _author)


def author_can_write() -> Check:
    return Check(
        "author has write permission",
        lambda pr: pr.author.can_write and not pr.author.is_bot,
        lambda pr: f"{pr.author.login} has {pr.author.permission} permission",
    )


# -- reviews -------------------------------------------------------------------------


def _writer_approvers(pr: Snapshot) -> list[Actor]:
    return [a for a in pr.approvers_on_head if a.can_write and not a.is_bot]


def _approved_on_head(approvers: Callable[[Snapshot], Iterable[Actor]]) -> Explain:
    return lambda pr: f"approved on {pr.head_sha[:7]} by {_names(approvers(pr))}"


def approved_by_writers(count: int = 1) -> Check:
    """``count`` users with write permission approved the current head (not the author)."""
    return Check(
        f"approved by {count} writer(s) on the current head",
        lambda pr: len(_writer_approvers(pr)) >= count,
        _approved_on_head(_writer_approvers),
    )


def approved_by_anyone(count: int = 1) -> Check:
    return Check(
        f"approved by {count} reviewer(s) on the current head",
        lambda pr: len(pr.approvers_on_head) >= count,
        _approved_on_head(lambda pr: pr.approvers_on_head),
    )


def approved_by_code_owners() -> Check:
    """Every changed file has a code owner among the current head's approvers.

    Owners are matched by login; a team (``@org/team``) matches nobody unless the snapshot
    lists its members, so a file owned only by teams is reported as such.
    """

    def first_problem(pr: Snapshot) -> str:
        approvers = {a.login for a in pr.approvers_on_head if not a.is_bot}
        if not pr.files:
            return "no changed files"
        if pr.files_missing:
            return _unlisted(pr)
        for f in pr.files:
            for path in f.paths:
                owners, shown = pr.owners_of(path), _shown(f, path)
                if not owners:
                    return f"{shown} has no code owner"
                if all("/" in owner for owner in owners):
                    return f"{shown} is owned by teams only ({', '.join(owners)})"
                if approvers.isdisjoint(owners):
                    return f"{shown}: no approval from {', '.join(owners)}"
        return ""

    def explain(pr: Snapshot) -> str:
        approvers = sorted(a.login for a in pr.approvers_on_head if not a.is_bot)
        return first_problem(pr) or f"approved by {', '.join(approvers)}"

    return Check(
        "approved by a code owner of every file", lambda pr: not first_problem(pr), explain
    )


def no_changes_requested() -> Check:
    def explain(pr: Snapshot) -> str:
        blockers = pr.changes_requested_by
        return f"changes requested by {_names(blockers)}" if blockers else "none"

    return Check("no outstanding change request", lambda pr: not pr.changes_requested_by, explain)


# -- CI and state --------------------------------------------------------------------


def checks_green(*required: str) -> Check:
    """Every check and status on the head is green, none pending, and the required ones ran."""

    def first_problem(pr: Snapshot) -> str:
        # The snapshot should hold the head's results only; results on other commits are
        # ignored here too, so a stale green can never count.
        on_head = [result for result in pr.ci if result.commit == pr.head_sha]
        if not on_head:
            return f"no checks on {pr.head_sha[:7]}"
        seen = {result.name for result in on_head}
        missing = [name for name in required if name not in seen]
        if missing:
            return f"{', '.join(missing)} not reported"
        for result in on_head:
            if result.state not in GREEN_STATES:
                return f"{result.name}: {result.state}"
        return ""

    def explain(pr: Snapshot) -> str:
        on_head = sum(result.commit == pr.head_sha for result in pr.ci)
        return first_problem(pr) or f"{on_head} check(s) green on {pr.head_sha[:7]}"

    return Check("all checks green", lambda pr: not first_problem(pr), explain)


def not_draft() -> Check:
    return Check(
        "not a draft",
        lambda pr: not pr.draft,
        lambda pr: "draft" if pr.draft else "ready for review",
    )


def targets(*branches: str) -> Check:
    allowed = frozenset(branches)
    return Check(
        f"targets {', '.join(sorted(allowed))}", lambda pr: pr.base in allowed, lambda pr: pr.base
    )


def has_labels(*labels: str) -> Check:
    def explain(pr: Snapshot) -> str:
        missing = [label for label in labels if label not in pr.labels]
        return f"missing {', '.join(missing)}" if missing else "present"

    return Check(
        f"labelled {', '.join(labels)}",
        lambda pr: all(label in pr.labels for label in labels),
        explain,
    )


def lacks_labels(*labels: str) -> Check:
    def explain(pr: Snapshot) -> str:
        present = [label for label in labels if label in pr.labels]
        return f"labelled {', '.join(present)}" if present else "none present"

    return Check(
        f"not labelled {', '.join(labels)}",
        lambda pr: not any(label in pr.labels for label in labels),
        explain,
    )


def title_matches(pattern: str, description: str = "") -> Check:
    compiled = re.compile(pattern)
    return Check(
        description or f"title matches {pattern}",
        lambda pr: compiled.search(pr.title) is not None,
        lambda pr: pr.title[:80],
    )
