from datetime import timedelta

import pytest

from shadowbot.core.ledger import Thresholds
from shadowbot.errors import ConfigError
from shadowbot.settings import (
    _PARSERS,
    _THRESHOLD_KEYS,
    ENV_PREFIX,
    ENVIRONMENT_HELP,
    Secret,
    load_settings,
)
from shadowbot.snapshot import Actor, counts_as_merger


def test_defaults_need_no_setting_at_all(data_home):
    settings = load_settings({})
    # In the user's data directory, not wherever the command runs.
    assert settings.database_url == f"sqlite:///{data_home / 'shadowbot' / 'shadowbot.db'}"
    assert settings.thresholds == Thresholds(max_losses=3, promote_wins=100, rfc_ready_rules=5)
    assert settings.rule_timeout == 1.0
    assert settings.grace_period == timedelta(hours=24)


def test_environment_overrides_the_config_file(tmp_path):
    config = tmp_path / "shadowbot.toml"
    config.write_text(
        'database_url = "sqlite:///from-file.db"\nmax_losses = 5\n'
        "[rules.docs-only]\npromote_wins = 20\n"
    )
    settings = load_settings(
        {"SHADOWBOT_DATABASE_URL": "sqlite:///from-env.db", "SHADOWBOT_PROMOTE_WINS": "50"},
        config,
    )
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.thresholds == Thresholds(max_losses=5, promote_wins=50)
    assert settings.thresholds_for("docs-only") == Thresholds(max_losses=5, promote_wins=20)
    assert settings.thresholds_for("other") == settings.thresholds


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SHADOWBOT_RULE_TIMEOUT": "soon"}, "SHADOWBOT_RULE_TIMEOUT"),
        ({"SHADOWBOT_RULE_TIMEOUT": "-1"}, "SHADOWBOT_RULE_TIMEOUT"),
        ({"SHADOWBOT_MAX_LOSSES": "three"}, "SHADOWBOT_MAX_LOSSES"),
        ({"SHADOWBOT_PORT": "0"}, "SHADOWBOT_PORT"),
        ({"SHADOWBOT_CLOSED_UNMERGED": "maybe"}, "SHADOWBOT_CLOSED_UNMERGED"),
        ({"SHADOWBOT_PRIVATE_KEY": "/no/such/key.pem"}, "SHADOWBOT_PRIVATE_KEY"),
    ],
)
def test_a_wrong_setting_is_one_error_naming_it(environ, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(environ)


def test_config_file_errors_name_the_file_and_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("rule_timout = 2\n")
    with pytest.raises(ConfigError, match="unknown setting 'rule_timout'"):
        load_settings({}, config)
    config.write_text("[rules.x]\nmax_loses = 1\n")
    with pytest.raises(ConfigError, match=r"rules\.x\.max_loses: unknown threshold"):
        load_settings({}, config)
    config.write_text("not toml =")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, config)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, tmp_path / "missing.toml")


def test_secrets_never_show_in_a_repr(tmp_path):
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEvery-secret\n-----END RSA PRIVATE KEY-----"
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem)
    settings = load_settings(
        {"SHADOWBOT_WEBHOOK_SECRET": "hunter2", "SHADOWBOT_PRIVATE_KEY": str(key_file)}
    )
    text = repr(settings) + str(settings)
    assert "hunter2" not in text and "MIIEvery-secret" not in text
    assert settings.private_key == Secret(pem)
    assert settings.webhook_secret is not None and settings.webhook_secret.reveal() == "hunter2"
    # A PEM given directly in the environment works too.
    assert load_settings({"SHADOWBOT_PRIVATE_KEY": pem}).private_key == Secret(pem)


def test_settings_are_frozen():
    settings = load_settings({})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_posting_mode_is_global_with_per_repository_overrides(tmp_path):
    config = tmp_path / "shadowbot.toml"
    config.write_text(
        'posting_mode = "per-rule"\n[repositories."Example/Quiet"]\nposting_mode = "silent"\n'
    )
    settings = load_settings({}, config)
    assert settings.posting_mode_for("example/quiet") == "silent"
    assert settings.posting_mode_for("example/other") == "per-rule"
    config.write_text('[repositories."a/b"]\nposting_mode = "loud"\n')
    with pytest.raises(ConfigError, match=r"repositories\.a/b\.posting_mode: expected one of"):
        load_settings({}, config)


def test_configured_mergers_are_matched_whatever_the_case_github_shows():
    settings = load_settings({"SHADOWBOT_MERGERS": "Alice, carol"})
    assert settings.mergers == frozenset({"alice", "carol"})
    author = Actor("erin")
    assert counts_as_merger(Actor("alice", permission="read"), author, settings.mergers)
    assert counts_as_merger(Actor("Carol", permission="none"), author, settings.mergers)
    assert not counts_as_merger(Actor("Erin", permission="admin"), author, settings.mergers)


def test_every_setting_read_from_the_environment_is_listed_in_the_help():
    read = {ENV_PREFIX + name.upper() for name in _PARSERS.keys() | _THRESHOLD_KEYS}
    assert read == set(ENVIRONMENT_HELP)
