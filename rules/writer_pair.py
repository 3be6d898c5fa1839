"""Two committers: one writes, another approves."""

from shadowbot.checks import (
    approved_by_writers,
    author_can_write,
    checks_green,
    no_changes_requested,
    not_draft,
)
from shadowbot.rules import Rule

rule = Rule.from_checks(
    name="writer-pair",
    version=1,
    description=(
        "A non-draft pull request opened by a user with write permission merges once another "
        "writer approved the current head, all checks are green and no change request is "
        "outstanding."
    ),
    applies_when=[author_can_write()],
    requires=[approved_by_writers(1), checks_green(), no_changes_requested(), not_draft()],
)
