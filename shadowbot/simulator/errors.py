"""The simulator's errors: each one is answered as GitHub answers it.

Handlers and state code raise these; only the API middleware turns them into HTTP responses
(``{"message": ..., "documentation_url": ...}``, as GitHub's error bodies are shaped:
https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api).
"""

from __future__ import annotations

from typing import Any

from shadowbot.errors import ShadowbotError

DOCS = "https://docs.github.com/rest"


class SimulatorError(ShadowbotError):
    """A request or a scenario step the simulated GitHub refuses."""

    status = 400

    def __init__(self, message: str, *, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "documentation_url": DOCS}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class BadCredentials(SimulatorError):
    status = 401

    def __init__(self, message: str = "Bad credentials") -> None:
        super().__init__(message)


class NotFound(SimulatorError):
    status = 404

    def __init__(self, message: str = "Not Found") -> None:
        super().__init__(message)


class NotAllowed(SimulatorError):
    """405: GitHub's answer to merging a pull request that cannot be merged."""

    status = 405


class Conflict(SimulatorError):
    status = 409


class ValidationFailed(SimulatorError):
    status = 422

    def __init__(
        self, message: str = "Validation Failed", *, errors: list[Any] | None = None, **error: Any
    ) -> None:
        super().__init__(
            message, errors=errors if errors is not None else [error] if error else None
        )
