"""The ``shadowbot`` command: it only parses arguments, builds what a command needs, runs it."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, cast

from shadowbot import __version__
from shadowbot.errors import HistoryError, RuleLoadError, ShadowbotError
from shadowbot.logs import configure as configure_logging
from shadowbot.offline.collect_command import add_collect_arguments, positive, run_collect
from shadowbot.offline.compare import compare_command, load_rule_set
from shadowbot.offline.explain import explain_command
from shadowbot.offline.history import STDIN, HistoryReader
from shadowbot.offline.report import (
    Progress,
    rules_as_json,
    rules_as_text,
)
from shadowbot.offline.run import backtest_command
from shadowbot.rules import Rule, load_rules
from shadowbot.settings import ENVIRONMENT_HELP, Settings, default_database_url, load_settings

log = logging.getLogger("shadowbot")

#: Malformed history lines shown one by one; the rest are counted.
SHOWN_WARNINGS = 20
#: The exit status of a command whose reader went away (``… | head``): a shell's
#: 128 + SIGPIPE, as if the signal had ended it.
CLOSED_PIPE = 141


def _environment_epilog() -> str:
    width = max(map(len, ENVIRONMENT_HELP))
    lines = [f"  {name:<{width}}  {text}" for name, text in ENVIRONMENT_HELP.items()]
    return (
        "settings (environment variables; a --config TOML file uses the same names in\n"
        "lower case without the prefix):\n"
        + "\n".join(lines)
        + f"\n\ndefault database: {default_database_url()}"
    )


def _global_options(default: object) -> argparse.ArgumentParser:
    """Options every command takes, before or after its name. A command's copy defaults to
    SUPPRESS so that it leaves a value given before the command alone."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--config", type=Path, metavar="FILE", default=default, help="a TOML settings file"
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shadowbot",
        description="Judge automatic-merge rules in shadow mode. shadowbot never merges.",
        epilog=_environment_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_global_options(None)],
    )
    parser.add_argument("--version", action="version", version=f"shadowbot {__version__}")
    commands = _Commands(
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
        _global_options(argparse.SUPPRESS),
    )

    rules = commands.add_parser(
        "rules", help="list the rules with version and description (records nothing)"
    )
    rules.add_argument("--rules", type=Path, metavar="DIR", help="a directory of your own rules")
    rules.add_argument("--format", choices=("table", "json"), default="table")

    backtest = commands.add_parser(
        "backtest",
        help="judge the rules on a recorded history (records the rule versions it judged)",
    )
    backtest.add_argument(
        "history", type=Path, help="a history file (.jsonl or .jsonl.gz), or - for standard input"
    )
    backtest.add_argument("--rules", type=Path, metavar="DIR", help="judge your own rules")
    backtest.add_argument("--format", choices=("table", "json"), default="table")
    backtest.add_argument("--strict", action="store_true", help="stop at the first malformed line")
    backtest.add_argument(
        "--scratch",
        action="store_true",
        help="judge a work in progress: record no rule version, touch no database",
    )
    backtest.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    backtest.add_argument(
        "--max-errors",
        type=positive,
        default=3,
        metavar="N",
        help="judge a rule no more once it raised or ran out of time on N PRs (default 3;"
        " a rule that runs out of time is quarantined at its first)",
    )
    backtest.add_argument(
        "--jobs",
        type=positive,
        default=1,
        metavar="N",
        help="judge the history in N processes, with the same result (a file; standard input"
        " is read by one)",
    )
    focus = backtest.add_mutually_exclusive_group()
    focus.add_argument(
        "--explain",
        metavar="RULE",
        help="every claim and miss of RULE (NAME or NAME@VERSION) with its result and why,"
        " losses and misses first",
    )
    focus.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("A", "B"),
        help="two rule sets (directories, or rule files: two versions of one rule) side by"
        " side, with the PRs where they decided differently",
    )

    add_collect_arguments(
        commands.add_parser(
            "collect",
            help="write a repository's pull requests from GitHub's GraphQL API as a history"
            " (GITHUB_TOKEN, or the app's installation)",
        )
    )
    export = commands.add_parser(
        "export", help="write what the live bot saw as a history, to backtest a new version on"
    )
    export.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="the history to write (.gz: gzip)"
    )
    export.add_argument(
        "--repository", metavar="OWNER/REPO", help="which one, when the bot saw several"
    )

    commands.add_parser("migrate", help="upgrade the database to the latest schema")
    commands.add_parser(
        "serve",
        help="receive GitHub's webhooks and post verdicts (shadow mode: never merges)",
        epilog=_environment_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo = commands.add_parser(
        "demo", help="watch shadowbot work on a simulated GitHub, on this machine"
    )
    demo.add_argument(
        "--database",
        type=Path,
        default=Path("shadowbot-demo.db"),
        help="the demo's SQLite file, made anew (default shadowbot-demo.db)",
    )
    demo.add_argument("--port", type=int, default=0, help="the simulated GitHub's port")
    demo.add_argument(
        "--keep-running",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep serving the pages after the story until Ctrl-C (default: in a terminal)",
    )
    demo.add_argument("--script", type=Path, metavar="FILE", help="play a scenario script")
    _add_ledger_commands(commands)
    return parser


class _Commands:
    """Subcommands that all take the global options too."""

    def __init__(
        self,
        commands: argparse._SubParsersAction[argparse.ArgumentParser],
        options: argparse.ArgumentParser,
    ) -> None:
        self.commands = commands
        self.options = options

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return self.commands.add_parser(name, parents=[self.options], **kwargs)

    def actions(self, parser: argparse.ArgumentParser) -> _Commands:
        return _Commands(
            parser.add_subparsers(dest="action", required=True, metavar="ACTION"), self.options
        )


def _add_ledger_commands(commands: _Commands) -> None:
    ledger = commands.add_parser("ledger", help="the live ledger: each rule version's record")
    actions = commands.actions(ledger)
    show = actions.add_parser("show", help="every rule version's state and record")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.add_argument("--rule", metavar="NAME", help="only NAME (every version) or NAME@VERSION")
    actions.add_parser("verify", help="settle the stored evidence again; compare with the ledger")

    rule = commands.add_parser("rule", help="enable or disable a rule by hand (audited)")
    actions = commands.actions(rule)
    for action, text in (
        ("disable", "stop a rule version evaluating and posting"),
        ("enable", "bring a disabled rule version back into shadow mode"),
    ):
        one = actions.add_parser(action, help=text)
        one.add_argument("name", metavar="NAME", help="NAME (its newest version) or NAME@VERSION")
        one.add_argument("--reason", required=True, metavar="TEXT", help="why, for the audit log")

    report = commands.add_parser("report", help="the evidence for a policy proposal, in Markdown")
    report.add_argument("--out", type=Path, metavar="FILE", help="write it here, not to stdout")
    report.add_argument("--rule", metavar="NAME", help="only NAME (every version) or NAME@VERSION")


def _directory(option: str, path: Path) -> Path:
    """``path`` when it is a directory, else a one-line error saying what it is instead."""
    if path.is_dir():
        return path
    if path.exists():
        raise ShadowbotError(
            f"{option}: {path} is a file; give the directory that holds the rule files"
            f" ({path.parent})"
        )
    raise ShadowbotError(f"{option}: {path} does not exist")


def _file(option: str, path: Path) -> Path:
    """``path`` unless it is a directory or missing: a one-line error then."""
    if path.is_dir():
        raise ShadowbotError(f"{option}: {path} is a directory; give a file")
    if not path.exists():
        raise ShadowbotError(f"{option}: {path} does not exist")
    return path


def _load(settings: Settings, override: Path | None) -> list[Rule]:
    if override is not None:
        return load_rules(_directory("--rules", override))
    if settings.rules_dir is not None:
        return load_rules(_directory("rules_dir (SHADOWBOT_RULES_DIR)", settings.rules_dir))
    return load_rules(settings.rules_path())


def _register(settings: Settings, rules: Sequence[Rule]) -> None:
    """Record each rule version's source, refusing a changed rule under a known version."""
    from shadowbot.storage import migrated, register_rules

    with migrated(settings.database_url) as engine:
        try:
            register_rules(engine, rules)
        except RuleLoadError as exc:
            raise RuleLoadError(
                f"{exc}; or pass --scratch to backtest a work in progress without recording it"
            ) from exc


def run_rules(settings: Settings, args: argparse.Namespace) -> int:
    """Only lists: the registry is written by what judges a rule (backtest, serve)."""
    rules = _load(settings, args.rules)
    print(rules_as_json(rules) if args.format == "json" else rules_as_text(rules))
    return 0


def _warn_malformed(shown: str) -> tuple[Callable[[HistoryError], None], Callable[[], None]]:
    """A reporter of malformed lines that shows the first SHOWN_WARNINGS, and what to call
    at the end to count the rest."""
    count = 0

    def report(error: HistoryError) -> None:
        nonlocal count
        count += 1
        if count <= SHOWN_WARNINGS:
            print(f"{shown}: skipped {error}", file=sys.stderr)

    def finish() -> None:
        if count > SHOWN_WARNINGS:
            more = count - SHOWN_WARNINGS
            print(f"{shown}: … and {more} more malformed line(s) skipped", file=sys.stderr)

    return report, finish


def run_backtest(settings: Settings, args: argparse.Namespace) -> int:
    if args.compare and args.rules:
        raise ShadowbotError("--compare A B names both rule sets: drop --rules")
    if args.compare:
        for path in args.compare:  # both named before either runs a rule file
            if not path.exists():
                raise ShadowbotError(f"--compare: {path} does not exist")
        rule_sets = [load_rule_set(path) for path in args.compare]
    else:
        rule_sets = [_load(settings, args.rules)]
    if not args.scratch:
        for rules in rule_sets:
            _register(settings, rules)
    shown = "standard input" if args.history == STDIN else str(args.history)
    report, finish = _warn_malformed(shown)
    reader = HistoryReader(args.history, strict=args.strict, on_error=report)
    # Rule errors are summed up in the report; a warning per evaluation would drown it.
    logging.getLogger("shadowbot.core.engine").setLevel(logging.ERROR)
    progress = Progress(enabled=args.progress)
    try:
        if args.compare:
            first, second = rule_sets
            labels = (str(args.compare[0]), str(args.compare[1]))
            text = compare_command(
                reader, first, second, settings, args.format, labels, progress, args.max_errors
            )
        elif args.explain:
            text = explain_command(
                reader, rule_sets[0], args.explain, settings, args.format, progress, args.max_errors
            )
        else:
            text = backtest_command(
                reader, rule_sets[0], settings, args.format, progress, args.max_errors, args.jobs
            )
    finally:
        finish()
    print(text)
    return 0


def run_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from shadowbot.storage import current_revision, migrated

    with migrated(settings.database_url) as engine:
        print(f"database at revision {current_revision(engine)}")
    return 0


def run_serve(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from shadowbot.live.service import serve

    asyncio.run(serve(settings))
    return 0


def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from shadowbot.live.demo import prepare_database
    from shadowbot.live.demo import run_demo as play_demo

    if args.script is not None:
        _file("--script", args.script)
    database: Path = args.database.resolve()
    prepare_database(database)
    logging.getLogger().setLevel(logging.WARNING)  # the story is the output
    keep_running = sys.stdout.isatty() if args.keep_running is None else args.keep_running
    asyncio.run(play_demo(settings, database, args.port, keep_running, print, script=args.script))
    return 0


def run_ledger_show(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from shadowbot.offline.ledger_view import (
        load_views,
        select_views,
        views_as_json,
        views_as_text,
    )
    from shadowbot.storage import migrated

    with migrated(settings.database_url) as engine, Session(engine) as session:
        views = select_views(load_views(session, settings), args.rule)
    print(views_as_json(views) if args.format == "json" else views_as_text(views))
    return 0


def run_ledger_verify(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from shadowbot.live.settling import verify
    from shadowbot.storage import migrated
    from shadowbot.storage.ledger_store import current_entries, last_settlement

    with migrated(settings.database_url) as engine:
        with Session(engine) as session:
            last = last_settlement(session)
            results = len(current_entries(session))
        if last is None:
            print("no settlement has run yet: nothing to verify")
            return 0
        differences = verify(engine, settings)
    for d in differences:
        stale = " (evidence newer than the last settlement run: not settled yet)" if d.stale else ""
        print(
            f"{d.rule} {d.repository}#{d.number}: ledger says {d.stored},"
            f" the evidence says {d.computed}{stale}"
        )
    tampered = [d for d in differences if not d.stale]
    if tampered:
        print(f"ledger verify: {len(tampered)} result(s) differ from their evidence")
        return 1
    matching = results - sum(d.stored != "nothing" for d in differences)
    print(f"ledger verified: {matching} results match their evidence")
    return 0


def run_rule_override(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from sqlmodel import Session

    from shadowbot.offline.ledger_view import override_rule
    from shadowbot.storage import migrated, utcnow

    reason = " ".join(args.reason.split())
    if not reason:
        raise ShadowbotError(f"rule {args.action}: --reason must say why (it is audited)")
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor a passwd entry
        user = "unknown"
    actor = f"cli:{user}"
    with migrated(settings.database_url) as engine, Session(engine) as session:
        done = override_rule(session, settings, args.name, args.action, reason, actor, utcnow())
        session.commit()
    if not done.written:
        shown = "already disabled" if args.action == "disable" else f"not disabled ({done.after})"
        why = f": {done.why}" if done.why else ""
        print(f"{done.rule} is {shown}{why}; nothing changed")
        return 0
    print(f"{done.rule}: {done.before} -> {done.after} ({done.why})")
    for change in done.others:
        print(f"also {change.rule}: {change.before} -> {change.after} ({change.reason})")
    return 0


def run_report(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from shadowbot.offline.evidence_report import gather_report, render_report
    from shadowbot.storage import migrated, utcnow

    if args.out is not None and args.out.is_dir():
        raise ShadowbotError(f"--out: {args.out} is a directory; give a file")
    with migrated(settings.database_url) as engine, Session(engine) as session:
        text = render_report(gather_report(session, settings, args.rule, utcnow()))
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ShadowbotError(f"--out: cannot write {args.out}: {exc.strerror}") from None
    print(f"report written to {args.out}", file=sys.stderr)
    return 0


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    import gzip
    import tempfile

    from sqlmodel import Session

    from shadowbot.offline.export import export_history
    from shadowbot.storage import migrated

    out: Path = args.out
    if out.is_dir():
        raise ShadowbotError(f"--out: {out} is a directory; give a file")
    folder = out.parent
    if not folder.is_dir():
        raise ShadowbotError(f"--out: the folder {folder} does not exist")
    # Written beside it, then moved over it: an interrupted export leaves the old file.
    handle, partial = tempfile.mkstemp(prefix=f".{out.name}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as raw, migrated(settings.database_url) as engine:
            zipped = gzip.GzipFile(fileobj=raw, mode="wb") if out.suffix == ".gz" else None
            stream = cast(IO[bytes], zipped or raw)
            with stream, Session(engine) as session:
                done = export_history(session, stream, args.repository)
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    print(
        f"{out}: {done.records} pull requests of {done.repository} ({done.events} events)",
        file=sys.stderr,
    )
    return 0


COMMANDS = {
    "demo": run_demo,
    "rules": run_rules,
    "backtest": run_backtest,
    "migrate": run_migrate,
    "serve": run_serve,
    "ledger show": run_ledger_show,
    "ledger verify": run_ledger_verify,
    "rule disable": run_rule_override,
    "rule enable": run_rule_override,
    "report": run_report,
    "collect": run_collect,
    "export": run_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = None if args.config is None else _file("--config", args.config)
        settings = load_settings(config_file=config)
        configure_logging(settings)
        action = getattr(args, "action", None)
        code = COMMANDS[f"{args.command} {action}" if action else args.command](settings, args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except ShadowbotError as exc:
        print(f"shadowbot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _discard_output()
        return CLOSED_PIPE


def _discard_output() -> None:
    """Whoever read the output (``| head``) has gone: what is still buffered goes nowhere,
    rather than into a second BrokenPipeError at exit.
    https://docs.python.org/3/library/signal.html#note-on-sigpipe"""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (captured in tests)
        pass
