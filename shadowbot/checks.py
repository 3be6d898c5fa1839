"""The predicate vocabulary most rules are written in.

Each function here returns a :class:`Check`: a named test of a snapshot that yields one
checklist line ``(check, passed, detail)``. A rule is then a list of checks, e.g.::

    requires=[not_draft(), approved_by_writers(2), checks_green()]

Path patterns are globs as in CODEOWNERS: ``*`` matches within one path segment, ``**``
across segments, ``?`` one character. A pattern ending in ``/`` names a directory and
matches every file below it (``"doc/"``); any other pattern names files, so
``"pkgs/development/python-modules"`` matches a file of that exact path and nothing below
it. A pattern with no ``/`` except a trailing one matches at any depth (``"*.md"``,
``"doc/"``); any other is anchored at the repository root (a leading ``/`` is allowed).
https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners#codeowners-syntax

The checks' docstrings are the rule author's reference (docs/rules.md is generated from
them by scripts/rules_reference.py): each says what passes, what its arguments are, a
``Reads:`` paragraph naming the :class:`~shadowbot.snapshot.Snapshot` attributes it reads,
and an ``Example:``.
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

    #: The check's line in the checklist, e.g. ``only touches doc/``.
    label: str
    #: Decides: ``True`` when the snapshot passes.
    passes: Passes
    #: The checklist's detail: why it passed or failed (none by default).
    explain: Explain = _no_detail
    #: The path patterns a changed file is matched against, as given to ``only_touches``
    #: or ``touches_any``: a pattern without a trailing ``/`` names a file, not a
    #: directory (shadowbot.offline.paths warns when it names a directory in a history).
    file_patterns: tuple[str, ...] = ()

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
    """Every changed file matches one of ``patterns``: the change touches nothing else.

    ``patterns``: one or more path patterns. A directory needs its trailing slash:
    ``"doc/"`` matches every file below ``doc``, while ``"doc"`` matches a file named
    ``doc`` only, so a rule scoped with it would never apply. A rename must match at both
    its old and its new path.

    Fails when no file changed, or while GitHub leaves changed files unlisted.

    Reads: ``files``, ``files_missing``.

    Example: ``only_touches("doc/", "nixos/doc/", "*.md")``
    """
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

    return Check(f"only touches {where}", passes, explain, file_patterns=patterns)


def touches_any(*patterns: str) -> Check:
    """At least one changed file matches one of ``patterns``.

    ``patterns``: one or more path patterns, as for ``only_touches``: a directory needs
    its trailing slash (``"nixos/modules/"``); without one a pattern names a file. A
    rename touches its old path as well as its new one. The detail names the first
    matching file.

    Reads: ``files``, ``files_missing``.

    Example: ``touches_any("nixos/modules/", "flake.nix")``
    """
    matches = _matcher(patterns)
    where = ", ".join(patterns)

    def passes(pr: Snapshot) -> bool:
        return any(matches(p) for f in pr.files for p in f.paths)

    def explain(pr: Snapshot) -> str:
        touched = (_shown(f, p) for f in pr.files for p in f.paths if matches(p))
        nothing = f"nothing under {where}" + (f", and {_unlisted(pr)}" if pr.files_missing else "")
        return next(touched, nothing)

    return Check(f"touches {where}", passes, explain, file_patterns=patterns)


def confined_to_one(directory_pattern: str) -> Check:
    """Every changed file lies below one and the same directory matching the pattern.

    ``directory_pattern``: a pattern that names directories, e.g. ``"pkgs/by-name/*/*"``
    for one package; a trailing slash makes no difference. A change to
    ``pkgs/by-name/he/hello`` and ``pkgs/by-name/gi/git`` fails: two directories match.
    A rename must stay within the directory. The detail names the directory.

    Fails when no file changed, or while GitHub leaves changed files unlisted.

    Reads: ``files``, ``files_missing``.

    Example: ``confined_to_one("pkgs/by-name/*/*")``
    """
    # The pattern names the directory itself: "pkgs/by-name/*/*/" would otherwise ask for
    # one more directory level below it (compile_glob reads a trailing / as "below").
    directory = directory_pattern.rstrip("/")
    prefix = re.compile(compile_glob(directory).pattern.removesuffix(r"\Z") + "/")

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
    """At most ``limit`` lines changed: additions plus deletions over every changed file.

    Fails while GitHub leaves changed files unlisted: their lines are unknown.

    Reads: ``changed_lines``, ``files_missing``.

    Example: ``max_changed_lines(20)``
    """

    def explain(pr: Snapshot) -> str:
        lines = f"{pr.changed_lines} line(s) changed"
        return f"{lines} in the listed files, and {_unlisted(pr)}" if pr.files_missing else lines

    return Check(
        f"at most {limit} changed lines",
        lambda pr: pr.changed_lines <= limit and not pr.files_missing,
        explain,
    )


def max_changed_files(limit: int) -> Check:
    """At most ``limit`` files changed, counting those GitHub leaves unlisted.

    Reads: ``files``, ``files_missing``.

    Example: ``max_changed_files(3)``
    """
    return Check(
        f"at most {limit} changed files",
        lambda pr: len(pr.files) + pr.files_missing <= limit,
        lambda pr: f"{len(pr.files) + pr.files_missing} file(s) changed",
    )


# -- who wrote it --------------------------------------------------------------------


def _author(pr: Snapshot) -> str:
    return f"{pr.author.login} ({pr.author.type})"


def author_in(*logins: str) -> Check:
    """The pull request's author is one of ``logins`` (exact logins, as GitHub spells them).

    Reads: ``author``.

    Example: ``author_in("r-ryantm", "dependabot[bot]")``
    """
    allowed = frozenset(logins)
    return Check(
        f"author is one of {', '.join(sorted(allowed))}",
        lambda pr: pr.author.login in allowed,
        lambda pr: pr.author.login,
    )


def author_is_bot() -> Check:
    """The author is a bot: a ``Bot`` account, or a login ending in ``[bot]``.

    Reads: ``author``.

    Example: ``author_is_bot()``
    """
    return Check("author is a bot", lambda pr: pr.author.is_bot, _author)


def author_is_human() -> Check:
    """The author is not a bot (the opposite of ``author_is_bot``).

    Reads: ``author``.

    Example: ``author_is_human()``
    """
    return Check("author is not a bot", lambda pr: not pr.author.is_bot, _author)


def author_can_write() -> Check:
    """The author has write, maintain or admin permission on the repository, and is no bot.

    Reads: ``author``.

    Example: ``author_can_write()``
    """
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
    """At least ``count`` users with write permission approved the current head.

    An approval counts while it is the reviewer's latest decision and was given on
    ``head_sha``: a push makes earlier approvals stale. The author and bots never count.
    The detail names the approvers.

    Reads: ``approvers_on_head``, ``head_sha``.

    Example: ``approved_by_writers(2)``
    """
    return Check(
        f"approved by {count} writer(s) on the current head",
        lambda pr: len(_writer_approvers(pr)) >= count,
        _approved_on_head(_writer_approvers),
    )


def approved_by_anyone(count: int = 1) -> Check:
    """At least ``count`` reviewers of any standing approved the current head.

    As ``approved_by_writers``, but anyone's approval counts, a bot's too; the author's
    never does.

    Reads: ``approvers_on_head``, ``head_sha``.

    Example: ``approved_by_anyone(1)``
    """
    return Check(
        f"approved by {count} reviewer(s) on the current head",
        lambda pr: len(pr.approvers_on_head) >= count,
        _approved_on_head(lambda pr: pr.approvers_on_head),
    )


def approved_by_code_owners() -> Check:
    """Every changed file has a code owner among the current head's approvers.

    Code owners come from CODEOWNERS at the base branch. Owners are matched by login; a
    team (``@org/team``) matches nobody unless the snapshot lists its members, so a file
    owned only by teams is reported as such. Bots' approvals do not count. A renamed
    file needs an owner of its old path too.

    Fails when no file changed, a file has no code owner, or GitHub leaves changed files
    unlisted. The detail names the first file without an owner's approval.

    Reads: ``approvers_on_head``, ``files``, ``files_missing``, ``owners_of``.

    Example: ``approved_by_code_owners()``
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
    """No reviewer's latest decision is a change request, on whatever commit it was made.

    A push does not clear a change request: the reviewer approves, or it is dismissed.

    Reads: ``changes_requested_by``.

    Example: ``no_changes_requested()``
    """

    def explain(pr: Snapshot) -> str:
        blockers = pr.changes_requested_by
        return f"changes requested by {_names(blockers)}" if blockers else "none"

    return Check("no outstanding change request", lambda pr: not pr.changes_requested_by, explain)


# -- CI and state --------------------------------------------------------------------


def checks_green(*required: str) -> Check:
    """Every check run and commit status on the head is green, and ``required`` ones ran.

    ``required``: names of check runs or statuses that must have reported on the head
    (none by default). Green is ``success``, ``neutral`` or ``skipped``; a pending or
    failing one fails the check, and so does a head with no result at all. Results on
    older commits are ignored.

    Reads: ``ci``, ``head_sha``.

    Example: ``checks_green("nixpkgs-review", "eval")``
    """

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
    """The pull request is not a draft.

    Reads: ``draft``.

    Example: ``not_draft()``
    """
    return Check(
        "not a draft",
        lambda pr: not pr.draft,
        lambda pr: "draft" if pr.draft else "ready for review",
    )


def targets(*branches: str) -> Check:
    """The pull request's base branch is one of ``branches`` (exact names, no patterns).

    Reads: ``base``.

    Example: ``targets("master", "staging")``
    """
    allowed = frozenset(branches)
    return Check(
        f"targets {', '.join(sorted(allowed))}", lambda pr: pr.base in allowed, lambda pr: pr.base
    )


def has_labels(*labels: str) -> Check:
    """The pull request carries every one of ``labels`` (exact names).

    Reads: ``labels``.

    Example: ``has_labels("backport")``
    """

    def explain(pr: Snapshot) -> str:
        missing = [label for label in labels if label not in pr.labels]
        return f"missing {', '.join(missing)}" if missing else "present"

    return Check(
        f"labelled {', '.join(labels)}",
        lambda pr: all(label in pr.labels for label in labels),
        explain,
    )


def lacks_labels(*labels: str) -> Check:
    """The pull request carries none of ``labels`` (exact names).

    Reads: ``labels``.

    Example: ``lacks_labels("do not merge", "work in progress")``
    """

    def explain(pr: Snapshot) -> str:
        present = [label for label in labels if label in pr.labels]
        return f"labelled {', '.join(present)}" if present else "none present"

    return Check(
        f"not labelled {', '.join(labels)}",
        lambda pr: not any(label in pr.labels for label in labels),
        explain,
    )


def title_matches(pattern: str, description: str = "") -> Check:
    r"""The title matches the regular expression ``pattern`` (Python's ``re.search``).

    ``pattern`` may match anywhere in the title: anchor it with ``\A`` and ``\Z`` to match
    the whole. ``description`` replaces the checklist's line, which otherwise shows the
    expression itself. The detail is the title.

    Reads: ``title``.

    Example: ``title_matches(r"\A[\w.+-]+: \S+ -> \S+\Z", "title is a version bump")``
    """
    compiled = re.compile(pattern)
    return Check(
        description or f"title matches {pattern}",
        lambda pr: compiled.search(pr.title) is not None,
        lambda pr: pr.title[:80],
    )
