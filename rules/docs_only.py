"""Documentation-only changes, approved by a writer."""

from shadowbot.checks import (
    approved_by_writers,
    checks_green,
    no_changes_requested,
    not_draft,
    only_touches,
)
from shadowbot.rules import Rule

rule = Rule.from_checks(
    name="docs-only",
    version=1,
    description=(
        "A non-draft change that only touches documentation (doc/, nixos/doc/ or Markdown "
        "files) merges once a user with write permission approved the current head, all "
        "checks are green and no change request is outstanding."
    ),
    applies_when=[only_touches("doc/", "nixos/doc/", "**/*.md")],
    requires=[approved_by_writers(1), checks_green(), no_changes_requested(), not_draft()],
)
