"""Rules: named, versioned, described pure functions ``snapshot -> Verdict``.

A rule file in a rules directory defines exactly one module-level :class:`Rule`, either
as checks::

    rule = Rule.from_checks(
        name="docs-only", version=1, description="...",
        applies_when=[only_touches("doc/")],
        requires=[approved_by_writers(1), checks_green()],
    )

or as a function::

    @Rule.define(name="tiny", version=1, description="...")
    def tiny(pr: Snapshot) -> Verdict: ...

The file's bytes, with those of the directory's helper files (``_*.py``, importable from
rule files by their module name), are its source: :func:`load_rules` hashes them, and the
registry (:mod:`shadowbot.storage`) refuses a known version whose hash changed. Editing a
shared helper therefore asks for a version bump of every rule in the directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from shadowbot.checks import Check
from shadowbot.errors import RuleLoadError
from shadowbot.snapshot import Snapshot
from shadowbot.verdict import CheckResult, Decision, Verdict

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")

RuleFunction = Callable[[Snapshot], Verdict]

# What :meth:`Rule.decide` answers for check-list rules: the decision alone, shared.
_MERGE, _HOLD, _SKIP = Verdict(Decision.MERGE), Verdict(Decision.HOLD), Verdict(Decision.SKIP)


@dataclass(frozen=True)
class Rule:
    name: str
    version: int
    description: str
    function: RuleFunction = field(repr=False, compare=False)
    #: The same decision as ``function`` without building the checklist; ``None`` means
    #: ``function`` itself is used.
    decider: RuleFunction | None = field(default=None, repr=False, compare=False)
    #: sha256 of the defining file, set by the loader.
    source_hash: str = ""
    source_path: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise RuleLoadError(
                f"rule name {self.name!r} must be lowercase letters, digits and dashes"
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise RuleLoadError(f"rule {self.name}: version must be an integer")
        if self.version < 1:
            raise RuleLoadError(f"rule {self.name}: version must be at least 1")
        if not isinstance(self.description, str) or not self.description.strip():
            raise RuleLoadError(f"rule {self.name}: a description is required")

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def evaluate(self, pr: Snapshot) -> Verdict:
        """The verdict with its full checklist, as a person is shown it."""
        return _checked(self.function(pr))

    def decide(self, pr: Snapshot) -> Verdict:
        """A verdict with the same decision as :meth:`evaluate`, its checklist possibly
        left out: the backtest's fast path."""
        if self.decider is not None:
            return self.decider(pr)  # built by from_checks: always a Verdict
        return _checked(self.function(pr))

    @classmethod
    def define(cls, *, name: str, version: int, description: str) -> Callable[[RuleFunction], Rule]:
        """A decorator: the function ``(pr: Snapshot) -> Verdict`` below it becomes the
        rule. It must be pure (read only the snapshot, no I/O) and return a
        :class:`~shadowbot.verdict.Verdict`; anything else, or an exception, is an
        ``error`` verdict."""

        def wrap(function: RuleFunction) -> Rule:
            return cls(name, version, description, function)

        return wrap

    @classmethod
    def from_checks(
        cls,
        *,
        name: str,
        version: int,
        description: str,
        applies_when: Iterable[Check] = (),
        requires: Iterable[Check],
    ) -> Rule:
        """``skip`` unless every ``applies_when`` check passes; then ``merge`` if every
        ``requires`` check passes, else ``hold``. The checklist shows them all."""
        scope = tuple(applies_when)
        required = tuple(requires)
        if not required:
            raise RuleLoadError(f"rule {name}: at least one required check is needed")

        def function(pr: Snapshot) -> Verdict:
            in_scope: list[CheckResult] = []
            for check in scope:
                result = check(pr)
                if not result.passed:
                    return Verdict.skip(f"{result.check}: {result.detail}", (result,))
                in_scope.append(result)
            return Verdict.from_checks((*in_scope, *(check(pr) for check in required)))

        scope_tests = tuple(check.passes for check in scope)
        required_tests = tuple(check.passes for check in required)

        def decider(pr: Snapshot) -> Verdict:
            for passes in scope_tests:
                if not passes(pr):
                    return _SKIP
            for passes in required_tests:
                if not passes(pr):
                    return _HOLD
            return _MERGE

        return cls(name, version, description, function, decider)


def _checked(verdict: object) -> Verdict:
    if not isinstance(verdict, Verdict):
        raise TypeError(f"returned {type(verdict).__name__}, not a Verdict")
    return verdict


def load_rules(directory: Path) -> list[Rule]:
    """Load every rule file in ``directory``, sorted by rule name (the evaluation order).

    Files whose name starts with ``_`` are helpers and define no rule.
    """
    if not directory.is_dir():
        raise RuleLoadError(f"rules directory {directory} does not exist")
    files = sorted(directory.glob("*.py"))
    helpers = [path for path in files if path.name.startswith("_")]
    shared = hashlib.sha256()
    for helper in helpers:
        shared.update(helper.name.encode() + b"\0" + helper.read_bytes())
    rules: dict[str, Rule] = {}
    # Helpers are imported by plain module name, and dropped again afterwards so that
    # another rules directory with a helper of the same name gets its own.
    before = set(sys.modules)
    sys.path.insert(0, str(directory))
    try:
        for path in files:
            if path in helpers:
                continue
            rule = _load_file(path, shared.digest() if helpers else b"")
            if rule.name in rules:
                other = rules[rule.name].source_path
                raise RuleLoadError(f"rule {rule.name} is defined twice: in {other} and {path}")
            rules[rule.name] = rule
    finally:
        sys.path.remove(str(directory))
        for name in {path.stem for path in helpers} & (set(sys.modules) - before):
            del sys.modules[name]
    if not rules:
        raise RuleLoadError(f"no rule files (*.py) in {directory}")
    return [rules[name] for name in sorted(rules)]


def _load_file(path: Path, shared: bytes) -> Rule:
    digest = hashlib.sha256(path.read_bytes() + shared).hexdigest()
    module_name = f"shadowbot_rule_{path.stem}_{digest[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RuleLoadError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except RuleLoadError as exc:
        raise RuleLoadError(f"{path}: {exc}") from exc
    except Exception as exc:  # a broken rule file is the rule author's error, reported
        raise RuleLoadError(f"{path}: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(module_name, None)
    found = [v for v in vars(module).values() if isinstance(v, Rule)]
    if len(found) != 1:
        raise RuleLoadError(f"{path}: defines {len(found)} rules; a rule file defines exactly one")
    return replace(found[0], source_hash=digest, source_path=path)
