"""One exception hierarchy for everything shadowbot reports to a user."""


class ShadowbotError(Exception):
    """A problem the user can fix; its message says what and where."""


class ConfigError(ShadowbotError):
    """A setting is missing or wrong; the message names the setting."""


class RuleLoadError(ShadowbotError):
    """A rule file could not be loaded, or its version was not bumped after a change."""


class HistoryError(ShadowbotError):
    """A history file or one of its lines is malformed."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
        self.reason = message


class StorageError(ShadowbotError):
    """The database cannot be opened, migrated or is at an unexpected revision."""
