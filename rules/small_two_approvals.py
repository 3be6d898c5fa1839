"""Small changes, approved by two reviewers of any standing."""

from shadowbot.checks import (
    approved_by_anyone,
    checks_green,
    max_changed_files,
    max_changed_lines,
    no_changes_requested,
)
from shadowbot.rules import Rule

rule = Rule.from_checks(
    name="small-two-approvals",
    version=1,
    description=(
        "A small change (at most 20 changed lines in at most 3 files) merges once two "
        "reviewers other than its author, whoever they are, approved the current head, all "
        "checks are green and no change request is outstanding."
    ),
    applies_when=[max_changed_lines(20), max_changed_files(3)],
    requires=[approved_by_anyone(2), checks_green(), no_changes_requested()],
)
