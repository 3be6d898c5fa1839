"""An update bot's version bump of one package, approved by its code owners."""

from shadowbot.checks import (
    approved_by_code_owners,
    author_is_bot,
    checks_green,
    confined_to_one,
    no_changes_requested,
    not_draft,
    targets,
    title_matches,
)
from shadowbot.rules import Rule

# "<package>: <old> -> <new>", the title r-ryantm and other update bots give a bump. The
# lookahead refuses "1.0 -> 1.0", which bumps nothing.
VERSION_BUMP = r"\A[\w.+-]+: (?P<old>\S+) -> (?!(?P=old)\Z)\S+\Z"

rule = Rule.from_checks(
    name="bot-version-bump",
    version=1,
    description=(
        "An update bot's non-draft version bump (`pkg: old -> new`) of a single pkgs/by-name "
        "package into master merges once a code owner of every changed file approved the "
        "current head, all checks are green and no change request is outstanding."
    ),
    applies_when=[
        author_is_bot(),
        title_matches(VERSION_BUMP, "title is a version bump (<pkg>: <old> -> <new>)"),
        targets("master"),
        confined_to_one("pkgs/by-name/*/*"),
    ],
    requires=[approved_by_code_owners(), checks_green(), no_changes_requested(), not_draft()],
)
