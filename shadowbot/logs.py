"""Log lines an operator can follow, and that never show a secret.

:func:`configure` installs one handler on the root logger. Each record passes, in turn:

- :class:`ContextFilter`: the fields of what is being worked on — the delivery id, event,
  repository, PR, rule — set with :func:`log_context` around the work, are added to every
  line logged inside it (the modules logging there need not pass them), and to the line
  that reports an error escaping it;
- :class:`Redactor`: anything that looks like a token or a private key, and the configured
  secrets, are replaced in the message, its arguments, the exception text and the fields;
- a formatter: text, the fields appended as ``key=value``
  (``… processing a delivery failed delivery=… event=pull_request repo=o/r pr=7``), or,
  with ``SHADOWBOT_LOG_FORMAT=json``, one JSON object per line for log collectors.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import orjson

from shadowbot.settings import Settings

#: The fields a text line shows, in this order, when a record has them.
FIELDS = (
    "delivery",
    "event",
    "action",
    "installation",
    "repo",
    "pr",
    "rule",
    "comment",
    "method",
    "url",
    "attempt",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("shadowbot_log_context", default=_EMPTY)
#: Where an exception keeps the context it escaped from.
_ESCAPED = "_shadowbot_log_context"
#: What every LogRecord has; anything else on a record is an extra field.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


# -- context ----------------------------------------------------------------------------


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (None values left out) to every line logged inside, in this task and
    in the threads and tasks it starts; an error escaping keeps them for the line that
    reports it outside."""
    merged = {**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _CONTEXT.set(MappingProxyType(merged))
    try:
        yield
    except Exception as exc:
        if not hasattr(exc, _ESCAPED):
            with contextlib.suppress(AttributeError):  # a type with __slots__
                setattr(exc, _ESCAPED, merged)
        raise
    finally:
        _CONTEXT.reset(token)


class StoredDelivery(Protocol):
    @property
    def delivery_id(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def action(self) -> str | None: ...
    def body(self) -> bytes: ...


def delivery_fields(
    delivery: StoredDelivery, payload: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The log fields of a stored delivery: its id, event and action, and from its
    payload (parsed here unless given) the installation, repository and PR."""
    if payload is None:
        try:
            parsed = orjson.loads(delivery.body())
        except ValueError:  # not a stored body (orjson's JSONDecodeError is one too)
            parsed = None
        payload = parsed if isinstance(parsed, dict) else {}
    fields: dict[str, Any] = {
        "delivery": delivery.delivery_id,
        "event": delivery.event,
        "action": delivery.action,
        "installation": _get(payload, "installation", "id"),
        "repo": _get(payload, "repository", "full_name"),
        "pr": _pr_number(payload),
    }
    return {key: value for key, value in fields.items() if value is not None}


def _get(payload: Mapping[str, Any], *keys: str) -> Any:
    value: Any = payload
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _pr_number(payload: Mapping[str, Any]) -> Any:
    if isinstance(payload.get("pull_request"), Mapping):
        return _get(payload, "pull_request", "number")
    if _get(payload, "issue", "pull_request") is not None:  # a comment on a PR
        return _get(payload, "issue", "number")
    for key in ("check_run", "check_suite"):
        pulls = _get(payload, key, "pull_requests")
        if isinstance(pulls, list) and len(pulls) == 1 and isinstance(pulls[0], Mapping):
            return pulls[0].get("number")
    return None


class ContextFilter(logging.Filter):
    """Add the current :func:`log_context` fields to a record, or those its exception
    escaped from; a field the record has already (an ``extra``) wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        escaped = getattr(record.exc_info[1], _ESCAPED, None) if record.exc_info else None
        for fields in (_CONTEXT.get(), escaped or _EMPTY):
            for key, value in fields.items():
                if key not in record.__dict__:
                    setattr(record, key, value)
        return True


# -- redaction --------------------------------------------------------------------------

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A PEM private key, whole or cut short (RSA, EC, PKCS #8, OpenSSH...).
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?"
            r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.S,
        ),
        REDACTED,
    ),
    # GitHub's tokens, by their prefixes:
    # https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/
    (re.compile(r"\bgithub_pat_[\w-]+"), REDACTED),
    (re.compile(r"\bgh[pousr]_[\w-]+"), REDACTED),
    # A JWT (the app's, for one): base64url of '{"', then a payload and maybe a signature.
    (re.compile(r"\beyJ[\w-]*\.[\w-]+(?:\.[\w-]*)?"), REDACTED),
    (re.compile(r"(?i)\b(bearer)\s+[\w.~+/=-]+"), rf"\1 {REDACTED}"),
    # An Authorization header written out: `authorization: token …`, `'Authorization': '…'`.
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:\w+\s+)?)[^\s'\",}]+"),
        rf"\1{REDACTED}",
    ),
)


class Redactor(logging.Filter):
    """Replace secrets in a record: the ``secrets`` given, and whatever looks like a
    token, a JWT or a private key. The message is formatted here, with its arguments."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first: a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in extra_fields(record).items():
            if isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


def secrets_of(settings: Settings) -> list[str]:
    """The configured values that must never be logged: the webhook secret, the private
    key (whole, and line by line: a part is a secret too) and a database password."""
    found = []
    if settings.webhook_secret is not None:
        found.append(settings.webhook_secret.reveal())
    if settings.private_key is not None:
        key = settings.private_key.reveal()
        found.append(key)
        found.extend(line.strip() for line in key.splitlines() if len(line.strip()) >= 16)
    with contextlib.suppress(ValueError):
        password = urlsplit(settings.database_url).password
        if password:
            found.append(password)
    return found


# -- formats ----------------------------------------------------------------------------


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the record carries besides what every record has: ``extra``, the context."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    """The classic line, then the known fields the record has as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        pairs = [f"{key}={_text(record.__dict__[key])}" for key in FIELDS if key in record.__dict__]
        return " ".join([line, *pairs])


def _text(value: Any) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the fields, and the
    exception text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            line.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


# -- setup ------------------------------------------------------------------------------


def configure(
    settings: Settings, stream: IO[str] | None = None, *, force: bool = False
) -> logging.Handler | None:
    """Log to ``stream`` (standard error by default) at ``settings.log_level``, in
    ``settings.log_format``. Like ``logging.basicConfig``, nothing is changed when the
    root logger has handlers already (a test runner's), unless ``force``: the handler
    is added beside them. The handler added, if any."""
    # Alembic narrates every migration step at INFO; only its problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    root = logging.getLogger()
    if root.handlers and not force:
        return None
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.addFilter(ContextFilter())
    handler.addFilter(Redactor(secrets_of(settings)))
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    return handler
