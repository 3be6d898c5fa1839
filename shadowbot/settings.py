"""One frozen settings object, loaded once at start and passed in.

Sources, later ones winning: built-in defaults, an optional TOML file (``--config``), then
``SHADOWBOT_*`` environment variables. Nothing here runs at import time. Secrets are
wrapped in :class:`Secret` so they never appear in a repr or a log line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from platformdirs import user_data_path

from shadowbot.core.ledger import Thresholds
from shadowbot.core.reduction import LivePolicy
from shadowbot.core.settlement import Policy
from shadowbot.errors import ConfigError
from shadowbot.resources import bundled_path

ENV_PREFIX = "SHADOWBOT_"
T = TypeVar("T")


def default_database_path() -> Path:
    """``shadowbot.db`` in the user's data directory (``$XDG_DATA_HOME/shadowbot`` or
    ``~/.local/share/shadowbot`` on Linux): the rule registry and the ledger must not
    depend on the directory a command happens to run in."""
    return user_data_path("shadowbot", appauthor=False) / "shadowbot.db"


def default_database_url() -> str:
    return f"sqlite:///{default_database_path()}"


class Secret:
    """A secret value that prints as ``'********'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    #: Default: :func:`default_database_url`, read when the settings are built.
    database_url: str = field(default_factory=default_database_url)
    #: A directory of the user's own rules; ``None`` means the bundled rules.
    rules_dir: Path | None = None
    #: Seconds a rule may run on one snapshot before it yields ``error``.
    rule_timeout: float = 1.0
    thresholds: Thresholds = Thresholds()
    #: Per-rule threshold overrides, by rule name.
    rule_thresholds: Mapping[str, Thresholds] = field(default_factory=dict)
    grace_period: timedelta = timedelta(hours=24)
    #: A merged revert within this long after a win's merge turns the win into a loss.
    revert_window: timedelta = timedelta(days=7)
    #: The wins needed for promotion given as a target loss rate (DESIGN.md:
    #: ``promote_max_loss_rate = 0.01`` means 299 clean wins), instead of promote_wins.
    promote_max_loss_rate: float | None = None
    #: How often every open verdict comment's reactions are read, in seconds.
    harvest_interval: float = 600.0
    #: How often the settlement job runs, in seconds.
    settle_interval: float = 60.0
    #: How often missed merges, closes and failed deliveries are looked for, in seconds.
    reconcile_interval: float = 900.0
    closed_unmerged: Literal["neutral", "loss"] = "neutral"
    #: DESIGN.md's backtest counts a claim on a PR closed unmerged as a loss.
    backtest_closed_unmerged: Literal["neutral", "loss"] = "loss"
    #: Logins counted as mergers whatever their repository permission (lowered).
    mergers: frozenset[str] = frozenset()
    handle: str = "shadowbot"
    #: DESIGN.md "Posting modes": combined (default), per-rule or silent.
    posting_mode: Literal["combined", "per-rule", "silent"] = "combined"
    #: Per-repository posting modes, by ``owner/name``, from ``[repositories."o/n"]``.
    repository_modes: Mapping[str, str] = field(default_factory=dict)
    #: Post the combined comment only once some rule claims ``merge``, or always.
    post_when: Literal["merge", "always"] = "merge"
    app_id: int | None = None
    private_key: Secret | None = None
    webhook_secret: Secret | None = None
    github_api_url: str = "https://api.github.com"
    host: str = "127.0.0.1"
    port: int = 8080
    #: Deliveries one process handles at once (one pull request's always one at a time).
    workers: int = 8
    #: How long a claim on a delivery lasts (renewed while it is processed): a process
    #: that died holding one is taken over after this long.
    delivery_lease: float = 60.0
    log_level: str = "INFO"
    #: ``text`` lines for people, or ``json``, one object per line, for log collectors.
    log_format: Literal["text", "json"] = "text"
    #: Where people reach the pages (``https://shadowbot.example.org``), without a
    #: trailing slash; None when the pages are not published. Absolute links (the Atom
    #: feed, verdict comments) start with it.
    public_url: str | None = None
    #: GitHub's web address, for links to pull requests (GitHub Enterprise Server: yours).
    github_web_url: str = "https://github.com"
    #: Repositories (``owner/name``, lowered) whose data is private (DESIGN.md, "Pages and
    #: privacy"), besides those GitHub says are private.
    private_repositories: frozenset[str] = frozenset()
    #: Private repositories whose details (titles, logins, notes) the pages may show.
    shown_repositories: frozenset[str] = frozenset()

    def details_hidden(self, repository: str, private: bool | None = False) -> bool:
        """Whether the pages must leave out ``repository``'s titles, logins and notes: it
        is private (GitHub says so, ``private``; None: not known yet, so kept private; or
        ``private_repositories`` lists it) and ``shown_repositories`` does not name it. It
        still counts in the figures either way."""
        name = repository.lower()
        secret = private is not False or name in self.private_repositories
        return secret and name not in self.shown_repositories

    def posting_mode_for(self, repository: str) -> str:
        return self.repository_modes.get(repository.lower(), self.posting_mode)

    def rules_path(self) -> Path:
        """The directory of the rules to run: ``rules_dir``, or the bundled rules."""
        return self.rules_dir or bundled_path("rules")

    def thresholds_for(self, rule_name: str) -> Thresholds:
        return self.rule_thresholds.get(rule_name, self.thresholds)

    def live_policy(self) -> LivePolicy:
        return LivePolicy(
            grace_period=self.grace_period,
            revert_window=self.revert_window,
            closed_unmerged=self.closed_unmerged,
            mergers=self.mergers,
        )

    def backtest_policy(self) -> Policy:
        return Policy(grace_period=self.grace_period, closed_unmerged=self.backtest_closed_unmerged)


# -- parsing -------------------------------------------------------------------------


def _positive_float(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number of seconds, got {value!r}") from None
    if not number > 0:
        raise ConfigError(f"{name}: must be greater than 0, got {value!r}")
    return number


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*\Z")


def _duration(default_unit: str) -> Callable[[str, Any], timedelta]:
    """A duration: a number in ``default_unit``, or with a unit, ``30s``, ``5m``, ``24h``,
    ``7d`` (tests and the demo settle in seconds)."""

    def parse(name: str, value: Any) -> timedelta:
        text = str(value) if not isinstance(value, bool) else ""
        found = _DURATION.match(text)
        if found is None or not float(found.group(1)) > 0:
            raise ConfigError(
                f"{name}: expected a duration greater than 0 such as 30s, 5m, 24h or 7d,"
                f" got {value!r}"
            )
        unit = found.group(2) or default_unit
        return timedelta(seconds=float(found.group(1)) * _UNITS[unit])

    return parse


def _rate(name: str, value: Any) -> float:
    number = _positive_float(name, value)
    if not number < 1:
        raise ConfigError(f"{name}: expected a loss rate between 0 and 1, got {value!r}")
    return number


def _int(name: str, value: Any, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name}: must be at most {maximum}, got {number}")
    return number


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def parse(name: str, value: Any) -> str:
        if value not in allowed:
            raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
        return str(value)

    return parse


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: expected a non-empty text, got {value!r}")
    return value.strip()


def _logins(name: str, value: Any) -> frozenset[str]:
    """Logins, lowered: GitHub ignores their case, and so does every comparison with them."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ConfigError(f"{name}: expected a list of logins, got {value!r}")
    return frozenset(_text(name, item).lower() for item in items if str(item).strip())


_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}\Z")


def _repositories(name: str, value: Any) -> frozenset[str]:
    """``owner/name`` repositories, lowered: GitHub ignores their case."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ConfigError(f"{name}: expected a list of owner/name repositories, got {value!r}")
    found = set()
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if not _REPOSITORY.match(text):
            raise ConfigError(f"{name}: expected owner/name, got {item!r}")
        found.add(text.lower())
    return frozenset(found)


def _web_url(name: str, value: Any) -> str:
    """An absolute http(s) URL, without a trailing slash."""
    text = _text(name, value).rstrip("/")
    if not re.match(r"https?://[^/\s]+(/\S*)?\Z", text):
        raise ConfigError(f"{name}: expected an http:// or https:// URL, got {value!r}")
    return text


def _private_key(name: str, value: Any) -> Secret:
    text = _text(name, value)
    if "-----BEGIN" in text:
        return Secret(text)
    path = Path(text).expanduser()
    try:
        return Secret(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{name}: not a PEM and not a readable key file: {exc}") from None


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "database_url": _text,
    "rules_dir": lambda n, v: Path(_text(n, v)).expanduser(),
    "rule_timeout": _positive_float,
    "grace_period": _duration("h"),
    "revert_window": _duration("d"),
    "promote_max_loss_rate": _rate,
    "harvest_interval": lambda n, v: _duration("s")(n, v).total_seconds(),
    "settle_interval": lambda n, v: _duration("s")(n, v).total_seconds(),
    "reconcile_interval": lambda n, v: _duration("s")(n, v).total_seconds(),
    "closed_unmerged": _choice("neutral", "loss"),
    "backtest_closed_unmerged": _choice("neutral", "loss"),
    "mergers": _logins,
    "handle": lambda n, v: _text(n, v).lstrip("@"),
    "posting_mode": _choice("combined", "per-rule", "silent"),
    "post_when": _choice("merge", "always"),
    "app_id": lambda n, v: _int(n, v, minimum=1),
    "private_key": _private_key,
    "webhook_secret": lambda n, v: Secret(_text(n, v)),
    "github_api_url": lambda n, v: _text(n, v).rstrip("/"),
    "host": _text,
    "port": lambda n, v: _int(n, v, minimum=1, maximum=65535),
    "workers": lambda n, v: _int(n, v, minimum=1, maximum=256),
    "delivery_lease": lambda n, v: max(_duration("s")(n, v).total_seconds(), 1.0),
    "log_level": _choice("DEBUG", "INFO", "WARNING", "ERROR"),
    "log_format": _choice("text", "json"),
    "public_url": _web_url,
    "github_web_url": _web_url,
    "private_repositories": _repositories,
    "shown_repositories": _repositories,
}
_THRESHOLD_KEYS = {f.name for f in fields(Thresholds)}

#: Setting names as users type them: environment variable -> meaning. Shown by ``--help``.
ENVIRONMENT_HELP: dict[str, str] = {
    "SHADOWBOT_DATABASE_URL": "database URL (default: shadowbot.db in your data directory)",
    "SHADOWBOT_RULES_DIR": "directory of your own rules (default: the bundled rules)",
    "SHADOWBOT_RULE_TIMEOUT": "seconds a rule may run per pull request (default 1)",
    "SHADOWBOT_MAX_LOSSES": "a rule with more losses than this is disabled (default 3)",
    "SHADOWBOT_PROMOTE_WINS": "wins with no loss that promote a rule (default 100)",
    "SHADOWBOT_RFC_READY_RULES": "promoted rules that make a policy proposal (default 5)",
    "SHADOWBOT_GRACE_PERIOD": "how long after a merge or close a 👎 counts (24h; or 30s, 5m, 7d)",
    "SHADOWBOT_REVERT_WINDOW": "how long after a merge a revert turns a win into a loss (7d)",
    "SHADOWBOT_PROMOTE_MAX_LOSS_RATE": "promote at the wins that bound the loss rate here (0.01)",
    "SHADOWBOT_HARVEST_INTERVAL": "how often reactions on open verdicts are read (600s)",
    "SHADOWBOT_SETTLE_INTERVAL": "how often claims are settled (60s)",
    "SHADOWBOT_RECONCILE_INTERVAL": "how often missed merges and deliveries are looked for (900s)",
    "SHADOWBOT_CLOSED_UNMERGED": "neutral or loss for a claim on a PR closed unmerged",
    "SHADOWBOT_BACKTEST_CLOSED_UNMERGED": "the same, in backtests (default loss)",
    "SHADOWBOT_MERGERS": "comma-separated logins that count as mergers",
    "SHADOWBOT_HANDLE": "the handle the bot answers to (default shadowbot)",
    "SHADOWBOT_POSTING_MODE": "combined, per-rule or silent (default combined)",
    "SHADOWBOT_POST_WHEN": "merge (post once a rule claims merge) or always",
    "SHADOWBOT_APP_ID": "GitHub App id",
    "SHADOWBOT_PRIVATE_KEY": "GitHub App private key: a PEM file path or the PEM itself",
    "SHADOWBOT_WEBHOOK_SECRET": "webhook secret",
    "SHADOWBOT_GITHUB_API_URL": "GitHub API base URL (GitHub Enterprise Server too)",
    "SHADOWBOT_HOST": "address to listen on (default 127.0.0.1)",
    "SHADOWBOT_PORT": "port to listen on (default 8080)",
    "SHADOWBOT_WORKERS": "deliveries processed at once by one process (default 8)",
    "SHADOWBOT_DELIVERY_LEASE": "a dead replica's deliveries are taken over after this (60s)",
    "SHADOWBOT_LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR",
    "SHADOWBOT_LOG_FORMAT": "text (default) or json, one object per line",
    "SHADOWBOT_PUBLIC_URL": "where people reach the pages, e.g. https://shadowbot.example.org",
    "SHADOWBOT_GITHUB_WEB_URL": "GitHub's web address for PR links (https://github.com)",
    "SHADOWBOT_PRIVATE_REPOSITORIES": "comma-separated owner/name: private, details hidden",
    "SHADOWBOT_SHOWN_REPOSITORIES": "private owner/name whose details the pages may show",
}


def _named(prefix: str) -> Callable[[str], str]:
    """How a setting is named in an error message: its source, then its key."""
    return lambda key: prefix + key


def _thresholds(
    base: Thresholds, values: Mapping[str, Any], where: Callable[[str], str]
) -> Thresholds:
    changes = {}
    for key, value in values.items():
        if key not in _THRESHOLD_KEYS:
            raise ConfigError(f"{where(key)}: unknown threshold")
        changes[key] = _int(where(key), value, minimum=0 if key == "max_losses" else 1)
    return replace(base, **changes)


def _from_mapping(values: Mapping[str, Any], where: Callable[[str], str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, value in values.items():
        if key in _PARSERS:
            parsed[key] = _PARSERS[key](where(key), value)
    return parsed


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Build the settings from a TOML file and the environment; raise ConfigError."""
    environ = os.environ if environ is None else environ
    file_values = _read_toml(config_file) if config_file else {}
    unknown = set(file_values) - set(_PARSERS) - _THRESHOLD_KEYS - {"rules", "repositories"}
    if unknown:
        raise ConfigError(f"{config_file}: unknown setting {sorted(unknown)[0]!r}")
    values = _from_mapping(file_values, _named(f"{config_file}: "))
    thresholds = _thresholds(
        Thresholds(),
        {k: v for k, v in file_values.items() if k in _THRESHOLD_KEYS},
        _named(f"{config_file}: "),
    )
    env_values = {
        name: value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX)
        and (name := key[len(ENV_PREFIX) :].lower()) in _PARSERS.keys() | _THRESHOLD_KEYS
    }
    values.update(_from_mapping(env_values, lambda key: ENV_PREFIX + key.upper()))
    thresholds = _thresholds(
        thresholds,
        {k: v for k, v in env_values.items() if k in _THRESHOLD_KEYS},
        lambda key: ENV_PREFIX + key.upper(),
    )
    per_rule = file_values.get("rules", {})
    if not isinstance(per_rule, dict):
        raise ConfigError(f"{config_file}: [rules] must be a table of per-rule thresholds")
    overrides = {}
    for name, table in per_rule.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{config_file}: [rules.{name}] must be a table of thresholds")
        overrides[name] = _thresholds(thresholds, table, _named(f"{config_file}: rules.{name}."))
    modes = _repository_modes(file_values.get("repositories", {}), config_file)
    return Settings(
        thresholds=thresholds, rule_thresholds=overrides, repository_modes=modes, **values
    )


def _repository_modes(table: Any, config_file: Path | None) -> dict[str, str]:
    """``[repositories."owner/name"] posting_mode = ...`` tables, keyed in lower case
    because GitHub repository names are case-insensitive."""
    if not isinstance(table, dict):
        raise ConfigError(f"{config_file}: [repositories] must be a table per repository")
    modes = {}
    for name, options in table.items():
        where = f"{config_file}: repositories.{name}"
        if not isinstance(options, dict) or set(options) - {"posting_mode"}:
            raise ConfigError(f"{where}: only posting_mode can be set per repository")
        if "posting_mode" in options:
            parse = _PARSERS["posting_mode"]
            modes[name.lower()] = parse(f"{where}.posting_mode", options["posting_mode"])
    return modes


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from None
