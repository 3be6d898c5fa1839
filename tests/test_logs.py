"""Logs an operator can follow: every line about a delivery says which delivery, event,
repository, PR and rule it is about, as ``key=value`` or as JSON, and no secret shows.

The live tests run the real app against the GitHub simulator, with the log set up as
``shadowbot serve`` sets it up (``configure``), writing to a buffer.
"""

import io
import json
import logging

import pytest
from livebot import PACKAGE, SECRET, running_bot, sim_fixture  # noqa: F401

from shadowbot.cli import main
from shadowbot.errors import ConfigError
from shadowbot.logs import configure, log_context
from shadowbot.settings import load_settings

TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
LEAKY_RULE = """
from shadowbot.rules import Rule
from shadowbot.verdict import Verdict


@Rule.define(name="leaky", version=1, description="raises, its message full of secrets")
def leaky(pr):
    raise RuntimeError("no package here")
"""


@pytest.fixture
def logged(app_key_pem):
    """Set up the log from ``env`` (over the live bot's secrets) into a buffer, returned.
    The handler is removed afterwards."""
    handlers = []
    root = logging.getLogger()
    level = root.level
    # Levels other commands set in this process (a backtest quiets the engine) are not
    # what `serve` runs with.
    quieted = {
        logger: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if name.startswith("shadowbot") and isinstance(logger, logging.Logger) and logger.level
    }
    for logger in quieted:
        logger.setLevel(logging.NOTSET)

    def logged(**env):
        settings = load_settings(
            {"SHADOWBOT_WEBHOOK_SECRET": SECRET, "SHADOWBOT_PRIVATE_KEY": app_key_pem, **env}
        )
        buffer = io.StringIO()
        handlers.append(configure(settings, buffer, force=True))
        return buffer

    yield logged
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(level)
    for logger, quiet in quieted.items():
        logger.setLevel(quiet)


def text_lines(buffer):
    return buffer.getvalue().splitlines()


def json_lines(buffer):
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


async def run_leaky_pr(sim, tmp_path):
    """A PR opened while the first read of it fails once (502, retried) and a rule that
    raises: the client and the engine each log a line while the delivery is processed."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "leaky.py").write_text(LEAKY_RULE)
    sim.fail_next(1, status=502, method="GET", path=f"/repos/{sim.repo}/pulls/*")
    async with running_bot(sim, tmp_path, SHADOWBOT_RULES_DIR=str(rules)) as bot:
        number = await sim.open_pr(sim.repo, "alice", "hello: fix", files=[PACKAGE])
        await bot.quiet()
    (delivery,) = [d for d in sim.deliveries if d.event == "pull_request"]
    return number, delivery.guid


async def test_text_lines_about_a_delivery_carry_its_fields(sim, tmp_path, logged, app_key_pem):
    buffer = logged()
    number, guid = await run_leaky_pr(sim, tmp_path)
    lines = text_lines(buffer)
    about = f"delivery={guid} event=pull_request action=opened installation={sim.installation_id}"
    where = f"repo={sim.repo} pr={number}"
    (raised,) = [line for line in lines if "rule raised RuntimeError" in line]
    assert raised.endswith(f"{about} {where} rule=leaky@1")
    (retry,) = [line for line in lines if "GitHub answered 502; retrying" in line]
    assert f"{about} {where} method=GET url=" in retry
    assert retry.endswith("attempt=1")
    text = buffer.getvalue()
    assert SECRET not in text and "PRIVATE KEY" not in text


async def test_json_lines_parse_one_by_one_with_the_fields(sim, tmp_path, logged):
    buffer = logged(SHADOWBOT_LOG_FORMAT="json")
    number, guid = await run_leaky_pr(sim, tmp_path)
    lines = json_lines(buffer)  # every line parses
    (raised,) = [line for line in lines if line["message"] == "rule raised RuntimeError"]
    assert raised["level"] == "WARNING" and raised["logger"] == "shadowbot.core.engine"
    assert raised["time"].endswith("+00:00")
    expected = {"delivery": guid, "event": "pull_request", "repo": sim.repo, "pr": number}
    assert expected.items() <= raised.items()
    assert raised["rule"] == "leaky@1"
    (retry,) = [line for line in lines if line["message"].startswith("GitHub answered 502")]
    assert expected.items() <= retry.items() and retry["method"] == "GET"


async def test_a_failed_delivery_is_reported_with_its_repository_and_pr(sim, tmp_path, logged):
    """The worker reports the failure outside the delivery's processing: the exception
    carries the fields out."""
    buffer = logged(SHADOWBOT_LOG_FORMAT="json")
    sim.fail_next(1, status=404, method="GET", path=f"/repos/{sim.repo}/pulls/*")
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "alice", "hello: fix", files=[PACKAGE])
        await bot.quiet()
    (failed,) = [line for line in json_lines(buffer) if "delivery failed" in line["message"]]
    assert failed["level"] == "ERROR"
    assert (failed["event"], failed["repo"], failed["pr"]) == ("pull_request", sim.repo, number)
    assert "BadRequest" in failed["exception"] and "Traceback" in failed["exception"]


# -- secrets ----------------------------------------------------------------------------

log = logging.getLogger("shadowbot.test")

JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3NTAwMDAwMDAsImlzcyI6IjEifQ"
    ".c2lnbmF0dXJlLW9mLXRoZS1hcHA"
)
LEAKS = [
    TOKEN,
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "gho_abcdefghijklmnopqrstuvwxyz0123456789",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "ghs_WITH-dashes_from-token_urlsafe",
    JWT,
]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_tokens_and_configured_secrets_are_redacted_everywhere(logged, app_key_pem, log_format):
    buffer = logged(SHADOWBOT_LOG_FORMAT=log_format)
    for leak in LEAKS:
        log.warning("sending with %s", leak)
    log.warning("the webhook secret is %r", SECRET)
    log.warning("headers: %s", {"Authorization": "token sekrit-value-1", "Accept": "json"})
    log.warning("authorization: Bearer %s", "opaque-value-2")
    log.warning("the key:\n%s", app_key_pem)
    log.warning("the key's repr: %r", app_key_pem)
    log.warning("a line of the key: %s", app_key_pem.splitlines()[5])
    try:
        raise RuntimeError(f"GitHub refused {TOKEN} (secret {SECRET}, key {app_key_pem})")
    except RuntimeError:
        log.exception("it failed", extra={"url": f"https://x/?access_token={TOKEN}"})
    with log_context(repo="o/r"):
        log.warning("in context", extra={"rule": SECRET})
    text = buffer.getvalue()
    for leak in [*LEAKS, SECRET, "sekrit-value-1", "opaque-value-2", "PRIVATE KEY"]:
        assert leak not in text
    for line in app_key_pem.splitlines()[1:-1]:
        assert line not in text
    assert "[redacted]" in text and "it failed" in text and "Traceback" in text
    assert "Bearer [redacted]" in text
    if log_format == "json":
        assert len(json_lines(buffer)) == len(LEAKS) + 8


def test_ordinary_words_are_left_alone(logged):
    buffer = logged()
    log.info("renewed the token for installation 3; tokens_total=2, ghost_town, eyJust")
    assert "renewed the token for installation 3; tokens_total=2, ghost_town, eyJust" in (
        buffer.getvalue()
    )


# -- the fields and the context ---------------------------------------------------------


def test_the_context_reaches_lines_inside_and_the_error_escaping_it(logged):
    buffer = logged()
    with pytest.raises(ValueError) as raised:
        with log_context(delivery="d-1", event="pull_request", repo="o/r", pr=7):
            log.warning("inside")
            with log_context(rule="writer-pair@1"):
                log.warning("deeper")
            raise ValueError("boom")
    log.error("failed", exc_info=raised.value)
    log.warning("after, unrelated")
    log.warning("after, its own fields", extra={"delivery": "d-2", "pr": 8})
    inside, deeper, failed, *rest = text_lines(buffer)
    assert inside.endswith(": inside delivery=d-1 event=pull_request repo=o/r pr=7")
    assert deeper.endswith("pr=7 rule=writer-pair@1")
    assert failed.endswith(": failed delivery=d-1 event=pull_request repo=o/r pr=7")
    after = [line for line in rest if " WARNING " in line]
    assert after[0].endswith(": after, unrelated")
    assert after[1].endswith(": after, its own fields delivery=d-2 pr=8")


def test_a_field_with_spaces_is_quoted(logged):
    buffer = logged()
    log.warning("x", extra={"rule": "a rule", "repo": ""})
    assert text_lines(buffer)[0].endswith(' repo="" rule="a rule"')


# -- the setting ------------------------------------------------------------------------


def test_an_unknown_log_format_is_one_line_naming_the_setting(monkeypatch, capsys, tmp_path):
    with pytest.raises(ConfigError, match="SHADOWBOT_LOG_FORMAT: expected one of text, json"):
        load_settings({"SHADOWBOT_LOG_FORMAT": "xml"})
    monkeypatch.setenv("SHADOWBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SHADOWBOT_LOG_FORMAT", "logfmt")
    assert main(["rules"]) == 2
    err = capsys.readouterr().err
    assert (
        err == "shadowbot: error: SHADOWBOT_LOG_FORMAT: expected one of text, json, got 'logfmt'\n"
    )
