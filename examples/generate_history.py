"""Generate the bundled history: a synthetic, nixpkgs-like repository's pull requests.

    python examples/generate_history.py --output examples/history.jsonl.gz
    python examples/generate_history.py --count 100000 --seed 7 --output - | head

The output follows docs/history-format.md: the header line, then one pull request per
line, ordered by the time of its last event. It is a pure function of ``--count`` and
``--seed`` (one ``random.Random(seed)``, no clock, no set order): the same arguments give
the same bytes, given the same Python minor version (``random``) and zlib (``.gz``; the
gzip header carries no name and mtime 0).

**The repository.** ``example/pkgs``, one new pull request every ~105 minutes on average.
The history holds the pull requests that end from 2023-01-01Z on, so 10,000 of them span
about two years; a longer history runs further at the same rate, which keeps the reorder
buffer bounded. Pull requests are made from 60 days before that date, and until enough
have ended, so the history is in a steady state throughout (some opened in late 2022;
long-running pull requests end among quick ones). PR numbers rise with creation time and
skip the numbers taken by issues. Bases: ``master``; ``staging`` for most wide changes and
a few heavy package updates (~8 % in all); the stable release branch of the day
(``release-23.11`` and its neighbours) for a few backports.

**People.** 45 writers (``write``, ``MEMBER``), 5 admins (``admin``, ``OWNER`` or
``MEMBER``), 1,500 outside contributors (``read`` or ``none``; ``CONTRIBUTOR``,
``FIRST_TIME_CONTRIBUTOR`` or ``NONE``), of whom 350 maintain packages without commit
rights, and two bots: ``update-bot[bot]`` and ``dependency-bot[bot]``. Activity is skewed:
a few people author and review most pull requests.

**Files.** 3,000 packages under ``pkgs/by-name/<first two letters>/<name>/package.nix`` (a
patch file beside it in some), each with 0-3 code owners drawn from writers and outside
maintainers; documentation under ``doc/``, ``nixos/doc/manual/`` and ``*.md`` (owned by a
team or nobody); NixOS modules under ``nixos/modules/`` with their tests (some owned);
``lib/``, ``pkgs/top-level/all-packages.nix`` and ``pkgs/stdenv/`` owned by the admins. A
new package's file has no code owner yet (CODEOWNERS is read at the base).

**Kinds of pull request** (share of new ones): bot version bumps 35 % (``<pkg>: <old> ->
<new>`` by update-bot, a few GitHub Actions bumps by dependency-bot), human single-package
updates and fixes 22 %, new packages 8 %, documentation 8 %, NixOS modules 12 %, wide or
treewide changes (many packages, ``lib/``, ``stdenv``) 10 %, the rest (maintainer list, CI
workflows, the legacy package tree) 5 %. Reverts are pull requests of their own, by the
writer who reverts (a few per thousand).

**Timeline.** ``opened`` (some humans open drafts, often titled ``WIP:``, then
``ready_for_review``), a topic label, and CI on every head: the ``ci/eval`` status, and
for package changes the ``build (x86_64-linux)`` and ``build (aarch64-linux)`` check runs
(aarch64 ``skipped`` for x86-only packages), each ``pending`` then final; a rebuild label
after the first evaluation. Then reviews on the head of their time, pushes (each with new
CI; the old head's unfinished runs vanish), comments, an occasional ``edited``,
``converted_to_draft`` or ``reopened``, and the end: ``merged`` by a writer at the current
head, ``closed``, or nothing (still open). A merged change may be ``reverted`` days later.

**Outcome model.** Every head has a latent quality: *flawed* (a visible defect a careful
reviewer sees; the first head is flawed with a probability that depends on the kind and
the author, a fix push yields a sound head with probability 0.85) or *sound*. CI fails on
a flawed head with a per-kind probability (90 % for bot bumps, less for human changes); on
a sound head it is always green in the end (a flaky build failure is re-run green). Code
owners and writers are careful: they review after CI and approve exactly the sound heads;
on a flawed one they request changes (or comment on a red build), after which the author
pushes a fix (re-reviewed, usually by the same person) or the pull request is closed or
abandoned. Once a careful reviewer approved a sound head, the pull request is merged at
it, or at a later sound head pushed after the approval (a rebase or a nit, not always
re-approved), and nobody objects afterwards (wide changes aside, see below). Outside
contributors' reviews are unreliable: they approve a flawed head about half the time (less
often when CI is red), after which a careful reviewer is more likely to step in and
request changes, or the pull request is closed or abandoned, or (rarely, a quarter of the
unchallenged cases) a writer merges it anyway and a writer reverts it days later. Sound
heads nobody careful reviewed are often merged by a writer without any approval; flawed
ones so merged are reverted. Only wide changes carry a hidden risk no reviewer can see:
3 % of merged wide changes are reverted days later, and 2 % of approved ones draw a second
writer's change request. So documentation approved by a writer, bot bumps approved by a
code owner with green CI and single-package changes approved by their code owners are
never objected to, closed or reverted, while an outsider's approval is a poor predictor,
and writer-approved wide changes are a medium risk.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# The model lives in the history_generator package beside this script (Python puts the
# script's folder first on sys.path when it runs it).
from history_generator import generate, header, write

__all__ = ["generate", "header", "main", "write"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="pull requests (10000)")
    parser.add_argument("--seed", type=int, default=2024, help="random seed (2024)")
    parser.add_argument(
        "--output", default="-", help="a path (.gz: gzip-compressed), or - for stdout"
    )
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count cannot be negative")
    lines = generate(args.count, args.seed)
    if args.output == "-":
        try:
            write(lines, sys.stdout.buffer.write)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            # The reader left early (`| head`); keep the interpreter's final flush quiet.
            # https://docs.python.org/3/library/signal.html#note-on-sigpipe
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        return 0
    path = Path(args.output)
    with path.open("wb") as raw:
        if path.suffix == ".gz":
            # No file name and mtime 0 in the gzip header: the bytes depend on the content only.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
                write(lines, packed.write)
        else:
            write(lines, raw.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
