"""The deliberately loose rule: any approval merges."""

from shadowbot.checks import approved_by_anyone, not_draft
from shadowbot.rules import Rule

rule = Rule.from_checks(
    name="any-approval",
    version=1,
    description=(
        "Deliberately loose, there for the backtest to prove unsafe: any pull request that is"
        " not a draft merges once anyone but its author approved the current head, whatever "
        "its checks, change requests or the approver's standing."
    ),
    # GitHub cannot merge a draft at all, so a draft is outside even this rule's reach.
    applies_when=[not_draft()],
    requires=[approved_by_anyone(1)],
)
