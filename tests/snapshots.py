"""Build :class:`~shadowbot.snapshot.Snapshot` fixtures for tests, concisely.

Defaults are neutral: a plain user with no permission opens a ready (non-draft) pull
request against ``master`` that changes one file of one package, has no reviews and no
code owners, and one green check on its head. A test states only what it is about::

    pr = make_pr(author=writer("alice"), reviews=[approve(writer("carol"))])

Reviews and CI results made here are on the head of the pull request they are given to
unless a ``commit`` is named, so a stale approval reads ``approve(who, commit=OLD)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shadowbot.snapshot import (
    Actor,
    CIResult,
    CISource,
    CIState,
    FileChange,
    FileStatus,
    Permission,
    Review,
    ReviewState,
    Snapshot,
)

#: The default head commit, and an earlier one for stale reviews and results.
HEAD = "c0ffee0000000000000000000000000000000001"
OLD = "0dd0000000000000000000000000000000000002"
#: When the default pull request was opened; reviews follow a minute apart.
OPENED_AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
REPOSITORY = "example/pkgs"
PACKAGE_FILE = "pkgs/by-name/he/hello/package.nix"


# -- actors --------------------------------------------------------------------------


def user(login: str = "erin", permission: Permission = "none") -> Actor:
    """An account with no standing in the repository (the default author)."""
    return Actor(login, "User", "NONE", permission)


def writer(login: str = "alice", permission: Permission = "write") -> Actor:
    """A human with write (or ``maintain``/``admin``) permission: a merger."""
    return Actor(login, "User", "MEMBER", permission)


def outsider(login: str = "dave") -> Actor:
    """A contributor who can read but not write."""
    return Actor(login, "User", "CONTRIBUTOR", "read")


def bot(login: str = "update-bot[bot]", permission: Permission = "none") -> Actor:
    """A GitHub App account; give it ``permission="write"`` to test that bots never count."""
    return Actor(login, "Bot", "CONTRIBUTOR", permission)


# -- reviews and CI, resolved against the pull request's head --------------------------


@dataclass(frozen=True, slots=True)
class ReviewOn:
    """A review to add to a snapshot; ``commit=None`` means the snapshot's head."""

    author: Actor
    state: ReviewState
    commit: str | None = None


@dataclass(frozen=True, slots=True)
class CIOn:
    """A check run or status to add to a snapshot; ``commit=None`` means its head."""

    name: str
    state: CIState
    source: CISource = "check_run"
    commit: str | None = None


def approve(actor: Actor, commit: str | None = None) -> ReviewOn:
    return ReviewOn(actor, "APPROVED", commit)


def request_changes(actor: Actor, commit: str | None = None) -> ReviewOn:
    return ReviewOn(actor, "CHANGES_REQUESTED", commit)


def comment(actor: Actor, commit: str | None = None) -> ReviewOn:
    return ReviewOn(actor, "COMMENTED", commit)


def dismissed(actor: Actor, commit: str | None = None) -> ReviewOn:
    """The review GitHub shows once a reviewer's earlier review was dismissed."""
    return ReviewOn(actor, "DISMISSED", commit)


def green(name: str = "build", source: CISource = "check_run") -> CIOn:
    return CIOn(name, "success", source)


def failing(name: str = "build", source: CISource = "check_run") -> CIOn:
    return CIOn(name, "failure", source)


def pending(name: str = "build", source: CISource = "check_run") -> CIOn:
    return CIOn(name, "pending", source)


def ci_result(name: str, state: CIState, source: CISource = "check_run") -> CIOn:
    return CIOn(name, state, source)


# -- files ---------------------------------------------------------------------------


def changed(
    path: str, additions: int = 1, deletions: int = 1, status: FileStatus = "modified"
) -> FileChange:
    """A changed file; a bare path given to :func:`make_pr` means ``changed(path)``."""
    return FileChange(path, status, additions, deletions)


# -- the snapshot ----------------------------------------------------------------------


def make_pr(
    *,
    author: Actor | None = None,
    title: str = "hello: fix the build on aarch64",
    body: str = "",
    base: str = "master",
    head: str = HEAD,
    draft: bool = False,
    labels: Sequence[str] = (),
    files: Sequence[str | FileChange] = (PACKAGE_FILE,),
    reviews: Sequence[ReviewOn | Review] = (),
    ci: Sequence[CIOn | CIResult] | None = None,
    owners: Sequence[str] = (),
    code_owners: Mapping[str, Sequence[str]] | None = None,
    number: int = 1,
    repository: str = REPOSITORY,
    created_at: datetime = OPENED_AT,
) -> Snapshot:
    """A pull request; see the module docstring for the defaults.

    ``ci=None`` is one green ``build`` check on the head; ``ci=[]`` is no checks at all.
    ``owners`` are the code owners of every changed file; ``code_owners`` names them per
    path and wins over ``owners`` for the paths it lists.
    """
    changes = tuple(changed(f) if isinstance(f, str) else f for f in files)
    if isinstance(owners, str):
        raise TypeError("owners is a sequence of logins, not one login")
    ownership = {f.path: tuple(owners) for f in changes if owners}
    ownership.update((path, tuple(logins)) for path, logins in (code_owners or {}).items())
    submitted = [
        review
        if isinstance(review, Review)
        else Review(
            review.author,
            review.state,
            head if review.commit is None else review.commit,
            created_at + timedelta(minutes=1 + i),
        )
        for i, review in enumerate(reviews)
    ]
    results = tuple(
        result
        if isinstance(result, CIResult)
        else CIResult(
            result.name,
            result.source,
            result.state,
            head if result.commit is None else result.commit,
        )
        for result in ((green(),) if ci is None else ci)
    )
    return Snapshot(
        repository=repository,
        number=number,
        author=user() if author is None else author,
        title=title,
        body=body,
        base=base,
        head_sha=head,
        draft=draft,
        labels=frozenset(labels),
        files=changes,
        reviews=tuple(submitted),
        ci=results,
        code_owners=ownership,
        created_at=created_at,
        updated_at=max([created_at, *(r.submitted_at for r in submitted)]),
    )
