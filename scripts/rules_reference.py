"""Write docs/rules.md, the rule author's reference, from the code's docstrings.

    .venv/bin/python scripts/rules_reference.py > docs/rules.md   # regenerate
    .venv/bin/python scripts/rules_reference.py --check           # is docs/rules.md current?

Everything in the document comes from the code: the checks of ``shadowbot.checks`` with
their signatures and docstrings, the fields of ``Snapshot`` and its parts with their
``#:`` comments, the derived views with their docstrings, where each name a rule file
imports is defined. A check without a ``Reads:`` or ``Example:`` paragraph, or a snapshot
field without its ``#:`` comment, stops the script: the reference has a hole there.
tests/test_rules_reference.py fails when the committed document and the code disagree.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import enum
import inspect
import io
import itertools
import re
import sys
import textwrap
import tokenize
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from shadowbot import checks, rules, snapshot, verdict

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "rules.md"
REGENERATE = ".venv/bin/python scripts/rules_reference.py > docs/rules.md"

#: What a rule file imports, by where it comes from, in the order the document shows them.
AUTHOR_API: list[tuple[str, list[Any]]] = [
    ("to define a rule", [rules.Rule]),
    ("to write a check of one's own", [checks.Check]),
    ("for a rule written as a function", [verdict.Verdict, verdict.Decision, verdict.CheckResult]),
    (
        "what a rule reads",
        [
            snapshot.Snapshot,
            snapshot.Actor,
            snapshot.FileChange,
            snapshot.Review,
            snapshot.CIResult,
        ],
    ),
]
SNAPSHOT_PARTS = [
    snapshot.Snapshot,
    snapshot.Actor,
    snapshot.FileChange,
    snapshot.Review,
    snapshot.CIResult,
]
VOCABULARIES = ["UserType", "Permission", "ReviewState", "FileStatus", "CIState", "CISource"]
CONSTANTS = ["WRITE_PERMISSIONS", "GREEN_STATES"]
_ROLE = re.compile(r":(?:\w+:)?\w+:`~?(?:[\w.]+\.)?([^`.]+)`")
_SECTION = re.compile(r"^# -- (.+?) -+$")


class ReferenceError(Exception):
    """Something the reference needs is not documented in the code."""


# -- reading the code ----------------------------------------------------------------


def markdown(docstring: str) -> str:
    """A docstring as Markdown: reST roles and literals become code, ``::`` a colon."""
    text = _ROLE.sub(r"`\1`", inspect.cleandoc(docstring))
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    return re.sub(r"::$", ":", text, flags=re.MULTILINE)


def docstring(obj: Any) -> str:
    """The object's own docstring, or "" (a dataclass's generated signature is none)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
    if not doc or (isinstance(obj, type) and doc.startswith(f"{obj.__name__}(")):
        return ""
    return markdown(doc)


def summary(obj: Any) -> str:
    """The first paragraph of the docstring, or of its module's when it has none (an
    enumeration without one: its values)."""
    if isinstance(obj, enum.EnumType) and not docstring(obj):
        members: list[enum.Enum] = list(obj.__members__.values())
        values = (member.value for member in members)
        return f"one of {', '.join(f'`{value}`' for value in values)}."
    doc = docstring(obj) or markdown(sys.modules[obj.__module__].__doc__ or "")
    return " ".join(doc.split("\n\n")[0].split())


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def _comment(line: str) -> str:
    """The ``# ...`` comment ending a source line, if any."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
            if token.type == tokenize.COMMENT:
                return token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        return ""
    return ""


def attribute_docs(node: type | ModuleType) -> dict[str, str]:
    """The documented assignments of a class or module: ``#:`` lines above each, or a
    comment ending its line (enum members)."""
    source = inspect.getsource(node)
    lines = source.splitlines()
    found: dict[str, str] = {}
    tree = ast.parse(textwrap.dedent(source))
    body = tree.body[0].body if isinstance(node, type) else tree.body  # type: ignore[attr-defined]
    for statement in body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            name = statement.target.id
        elif isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
            name = statement.targets[0].id
        else:
            continue
        above: list[str] = []
        number = statement.lineno - 2
        while number >= 0 and lines[number].strip().startswith("#:"):
            above.insert(0, lines[number].strip()[2:].strip())
            number -= 1
        text = " ".join(above) or _comment(lines[statement.lineno - 1])
        if text:
            found[name] = markdown(text)
    return found


def signature(function: Callable[..., Any], name: str) -> str:
    """``name(params)`` as written in the source (annotations are strings there)."""
    shown: list[str] = []
    starred = False
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name in ("cls", "self"):
            continue
        starred = starred or parameter.kind is inspect.Parameter.VAR_POSITIONAL
        text = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(parameter.kind.name, "")
        text += parameter.name
        if parameter.annotation is not inspect.Parameter.empty:
            text += f": {parameter.annotation}"
        if parameter.default is not inspect.Parameter.empty:
            text += f" = {parameter.default!r}"
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and not starred:
            shown.append("*")
            starred = True
        shown.append(text)
    return f"{name}({', '.join(shown)})"


def public_checks() -> Iterator[tuple[str, Callable[..., checks.Check]]]:
    """Every function of shadowbot.checks that returns a Check, in source order."""
    found = [
        (name, value)
        for name, value in vars(checks).items()
        if inspect.isfunction(value)
        and value.__module__ == checks.__name__
        and not name.startswith("_")
        and inspect.signature(value).return_annotation == "Check"
    ]
    yield from sorted(found, key=lambda item: item[1].__code__.co_firstlineno)


def check_sections() -> dict[str, str]:
    """Each check's section, from the ``# -- section ---`` comments of checks.py."""
    lines = inspect.getsource(checks).splitlines()
    current, sections = "", {}
    for number, line in enumerate(lines, start=1):
        heading = _SECTION.match(line)
        if heading:
            current = heading.group(1)
        for name, function in public_checks():
            if function.__code__.co_firstlineno == number:
                sections[name] = current
    return sections


def check_doc(name: str, function: Callable[..., Any]) -> dict[str, str]:
    """A check's docstring split into its text, its ``Reads:`` and its ``Example:``."""
    parts = {"text": "", "reads": "", "example": ""}
    kept = []
    for paragraph in docstring(function).split("\n\n"):
        for key, prefix in (("reads", "Reads:"), ("example", "Example:")):
            if paragraph.startswith(prefix):
                parts[key] = " ".join(paragraph.removeprefix(prefix).split())
                break
        else:
            kept.append(paragraph)
    parts["text"] = "\n\n".join(kept).strip()
    for key in ("text", "reads", "example"):
        if not parts[key]:
            what = "a summary" if key == "text" else f"a '{key.capitalize()}:' paragraph"
            raise ReferenceError(f"shadowbot.checks.{name}: the docstring lacks {what}")
    return parts


def read_names(reads: str) -> list[str]:
    """The attribute names a ``Reads:`` paragraph lists."""
    return re.findall(r"`(\w+)`", reads)


# -- writing the document ------------------------------------------------------------


def fields_list(cls: type) -> list[str]:
    docs = attribute_docs(cls)
    lines = []
    for field in dataclasses.fields(cls):
        if field.name not in docs:
            raise ReferenceError(
                f"{cls.__module__}.{cls.__name__}.{field.name}: no '#:' comment documents it"
            )
        default = ""
        if callable(field.default):
            default = f", default `{field.default.__name__}`"
        elif field.default is not dataclasses.MISSING:
            default = f", default `{field.default!r}`"
        lines.append(f"- `{field.name}`: `{field.type}`{default}. {docs[field.name]}")
    return lines


def derived_list(cls: type) -> list[str]:
    """Properties, cached views and methods: what a rule may read besides the fields."""
    lines = []
    field_names = {field.name for field in dataclasses.fields(cls)}
    for name, value in vars(cls).items():
        if name.startswith("_") or name in field_names:
            continue
        if isinstance(value, property):
            function, shown = value.fget, name
        elif isinstance(value, snapshot.memo):
            function, shown = value.function, name
        elif inspect.isfunction(value):
            function, shown = value, signature(value, name)
        else:
            continue
        doc = " ".join(paragraphs(docstring(function)))
        if not doc:
            raise ReferenceError(f"{cls.__module__}.{cls.__name__}.{name}: no docstring")
        returns = inspect.signature(function).return_annotation  # type: ignore[arg-type]
        lines.append(f"- `{shown}`: `{returns}`. {doc}")
    return lines


def imports_section() -> list[str]:
    out = [
        "## What a rule file imports",
        "",
        "A rule file imports only from these modules; their paths stay stable.",
        "",
        "```python",
    ]
    modules: dict[str, list[str]] = {}
    for _, objects in AUTHOR_API:
        for obj in objects:
            modules.setdefault(obj.__module__, []).append(obj.__name__)
    first, second = (name for name, _ in itertools.islice(public_checks(), 2))
    modules[checks.__name__].extend([first, second, "...  # the checks below"])
    for module, names in modules.items():
        out.append(f"from {module} import {', '.join(names)}")
    out += ["```", ""]
    for purpose, objects in AUTHOR_API:
        for obj in objects:
            out.append(f"- `{obj.__name__}` from `{obj.__module__}`, {purpose}: {summary(obj)}")
    out.append(f"- The checks (`{checks.__name__}`): see [Checks](#checks).")
    out.append("")
    return out


def rules_section() -> list[str]:
    out = ["## Rules", "", markdown(rules.__doc__ or ""), ""]
    for name in ("from_checks", "define"):
        method = getattr(rules.Rule, name)
        out += [f"### `Rule.{signature(method, name)}`", ""]
        if docstring(method):
            out += [docstring(method), ""]
    return out


def checks_section() -> list[str]:
    out = ["## Checks", "", markdown(checks.__doc__ or ""), ""]
    out += ["A check is a `Check`:", "", *fields_list(checks.Check), ""]
    sections = check_sections()
    current = None
    for name, function in public_checks():
        if sections[name] != current:
            current = sections[name]
            out += [f"### {current[:1].upper()}{current[1:]}", ""]
        doc = check_doc(name, function)
        out += [f"#### `{signature(function, name)}`", "", doc["text"], ""]
        out += [f"Reads: {doc['reads']}", "", f"Example: {doc['example']}", ""]
    return out


def snapshot_section() -> list[str]:
    out = ["## The snapshot", "", markdown(snapshot.__doc__ or ""), ""]
    for cls in SNAPSHOT_PARTS:
        out += [f"### `{cls.__name__}`", "", docstring(cls), ""]
        out += ["Fields:", "", *fields_list(cls), ""]
        derived = derived_list(cls)
        if derived:
            out += ["Derived:", "", *derived, ""]
    out += ["### Vocabularies", ""]
    for name in VOCABULARIES:
        values = ", ".join(f"`{value}`" for value in typing.get_args(getattr(snapshot, name)))
        out.append(f"- `{name}`: {values}")
    constants = attribute_docs(snapshot)
    for name in CONSTANTS:
        values = ", ".join(f"`{value}`" for value in sorted(getattr(snapshot, name)))
        out.append(f"- `{name}` ({values}): {constants[name]}")
    return [*out, ""]


def verdict_section() -> list[str]:
    out = ["## Verdicts", "", markdown(verdict.__doc__ or ""), ""]
    for cls in (verdict.Verdict, verdict.CheckResult):
        out += [f"### `{cls.__name__}`", ""]
        if docstring(cls):
            out += [docstring(cls), ""]
        docs = attribute_docs(cls)
        for field in dataclasses.fields(cls):
            out.append(f"- `{field.name}`: `{field.type}`. {docs.get(field.name, '')}".rstrip())
        for name, value in vars(cls).items():
            if isinstance(value, classmethod):
                line = f"- `{cls.__name__}.{signature(value.__func__, name)}`"
                doc = " ".join(paragraphs(docstring(value.__func__)))
                out.append(f"{line}: {doc}" if doc else line)
            elif isinstance(value, property) and value.fget is not None:
                out.append(f"- `{name}`: `{value.fget.__annotations__['return']}`")
        out.append("")
    out += ["### `Decision`", ""]
    members = attribute_docs(verdict.Decision)
    for member in verdict.Decision:
        out.append(f"- `Decision.{member.name}` (`{member.value}`): {members[member.name]}")
    return [*out, ""]


def render() -> str:
    out = [
        "# Writing rules: the reference",
        "",
        "<!-- Generated by scripts/rules_reference.py from the code's docstrings; do not",
        f"     edit. Regenerate: {REGENERATE} -->",
        "",
        "How to write a rule and judge it on history is in the README's",
        '"Writing a rule" section; this is every name a rule uses.',
        "",
        *imports_section(),
        *rules_section(),
        *checks_section(),
        *snapshot_section(),
        *verdict_section(),
    ]
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        nargs="?",
        const=DOCUMENT,
        type=Path,
        metavar="FILE",
        help="compare with FILE (docs/rules.md) instead of printing; exit 1 if it differs",
    )
    args = parser.parse_args(argv)
    try:
        text = render()
    except ReferenceError as exc:
        print(f"rules_reference: {exc}", file=sys.stderr)
        return 2
    if args.check is None:
        sys.stdout.write(text)
        return 0
    try:
        committed = args.check.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"rules_reference: cannot read {args.check}: {exc.strerror}", file=sys.stderr)
        return 2
    if committed == text:
        return 0
    diff = difflib.unified_diff(
        committed.splitlines(), text.splitlines(), str(args.check), "from the code", lineterm=""
    )
    shown = list(diff)
    print("\n".join(shown[:60]), file=sys.stderr)
    print(
        f"{args.check} disagrees with the code ({len(shown)} diff lines); regenerate it:"
        f" {REGENERATE}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
