"""A human's change to one package, approved by that package's code owners."""

from shadowbot.checks import (
    approved_by_code_owners,
    author_is_human,
    checks_green,
    confined_to_one,
    no_changes_requested,
    not_draft,
    targets,
)
from shadowbot.rules import Rule

rule = Rule.from_checks(
    name="package-owner",
    version=1,
    description=(
        "A human's non-draft change confined to one pkgs/by-name package, against master or "
        "staging, merges once a code owner of every changed file approved the current head, "
        "all checks are green and no change request is outstanding."
    ),
    # Bots' pull requests are bot-version-bump's to judge, with its stricter scope.
    applies_when=[
        author_is_human(),
        targets("master", "staging"),
        confined_to_one("pkgs/by-name/*/*"),
    ],
    requires=[approved_by_code_owners(), checks_green(), no_changes_requested(), not_draft()],
)
