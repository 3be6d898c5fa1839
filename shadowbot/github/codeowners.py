"""CODEOWNERS as GitHub reads it: who owns each path of a repository. Pure, no I/O.

Each line is a pattern and zero or more owners (``@user``, ``@org/team`` or an email);
the last line whose pattern matches a path decides its owners, and a line with no owners
leaves the path unowned. Lines GitHub cannot read are skipped, as GitHub skips them, and
reported in :attr:`CodeOwners.errors`.
https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners#codeowners-syntax
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shadowbot.checks import compile_glob

#: Where GitHub looks for the file, in its order; the first one found is the only one used.
#: https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners#codeowners-file-location
LOCATIONS: tuple[str, ...] = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")

_USER = re.compile(r"@([A-Za-z0-9][A-Za-z0-9_-]*)")
_TEAM = re.compile(r"@([A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)")
_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+\.[A-Za-z]{2,}")


class InvalidLine(ValueError):
    """A line GitHub would skip; the message says why."""


@dataclass(frozen=True, slots=True)
class LineError:
    """A CODEOWNERS line that was skipped, with its 1-based number and the reason."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class OwnerRule:
    line: int
    pattern: str
    owners: tuple[str, ...]
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None


@dataclass(frozen=True, slots=True)
class CodeOwners:
    rules: tuple[OwnerRule, ...] = ()
    errors: tuple[LineError, ...] = ()

    def owners_of(self, path: str) -> tuple[str, ...]:
        """The owners of ``path`` (no leading slash): users by login without the ``@``,
        teams as ``org/team``, emails as written; ``()`` when unowned."""
        for rule in reversed(self.rules):  # the last matching pattern wins
            if rule.matches(path):
                return rule.owners
        return ()


def parse_codeowners(text: str) -> CodeOwners:
    rules: list[OwnerRule] = []
    errors: list[LineError] = []
    # A byte-order mark, as some editors write one, is not part of the first pattern.
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            rule = _parse_line(number, line)
        except InvalidLine as invalid:
            errors.append(LineError(number, raw, str(invalid)))
            continue
        if rule is not None:
            rules.append(rule)
    return CodeOwners(tuple(rules), tuple(errors))


def _parse_line(number: int, line: str) -> OwnerRule | None:
    tokens = _tokens(line)
    if not tokens:
        return None
    pattern, owners = tokens[0], tuple(_owner(token) for token in tokens[1:])
    return OwnerRule(number, pattern, owners, compile_pattern(pattern))


def _tokens(line: str) -> list[str]:
    """Whitespace-separated tokens up to an inline ``#`` comment; the pattern's escapes
    (``\\ `` for a space, ``\\#`` for a hash) resolved to the characters they stand for."""
    if line.startswith("\\#"):
        # GitHub documents this gitignore escape as one that does not work in CODEOWNERS.
        raise InvalidLine("escaping a leading # is not supported")
    if line.startswith("!"):
        raise InvalidLine("negation (!) is not supported")
    tokens: list[str] = []
    current: list[str] = []
    escaped = False
    for char in line:
        if escaped:
            if char in "*?":
                raise InvalidLine("escaped wildcards are not supported")
            current.append(char)
            escaped = False
        elif char == "\\" and not tokens:
            escaped = True
        elif char.isspace():
            if current:
                tokens.append("".join(current))
                current = []
        elif char == "#" and not current:
            break  # an inline comment
        elif char in "[]" and not tokens:
            raise InvalidLine("character ranges ([ ]) are not supported")
        else:
            current.append(char)
    if escaped:
        raise InvalidLine("the line ends with a lone backslash")
    return tokens + ["".join(current)] if current else tokens


def _owner(token: str) -> str:
    for form in (_TEAM, _USER):
        found = form.fullmatch(token)
        if found:
            return found.group(1)
    if _EMAIL.fullmatch(token):
        return token
    raise InvalidLine(f"{token!r} is not a @user, an @org/team or an email address")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A CODEOWNERS pattern as a regular expression over repository paths.

    ``compile_glob`` matches the pattern itself; as in gitignore, a pattern naming a
    directory also owns everything below it (``/apps/github``, ``**/logs``), except a last
    segment that is a lone ``*``: GitHub's ``docs/*`` matches ``docs/a.md`` but not
    ``docs/build-app/troubleshooting.md``.
    """
    if "***" in pattern:
        raise InvalidLine("*** is not a valid wildcard")
    glob = compile_glob(pattern)
    last_segment = pattern.rstrip("/").rsplit("/", 1)[-1]
    if pattern.endswith("/") or last_segment == "*":
        return glob
    return re.compile(glob.pattern.removesuffix(r"\Z") + r"(?:/.*)?\Z")
