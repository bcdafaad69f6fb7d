"""The sandbox's two kinds of failure: a test's mistake, and Discord's own error answers."""

from __future__ import annotations

from typing import Any


class SandboxError(AssertionError):
    """A test used the sandbox wrongly, or something it waited for never happened."""


class DiscordHTTPError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            data["errors"] = self.errors
        return data


def missing_permissions() -> DiscordHTTPError:
    return DiscordHTTPError(403, 50013, "Missing Permissions")


def unknown(kind: str, code: int) -> DiscordHTTPError:
    return DiscordHTTPError(404, code, f"Unknown {kind}")
