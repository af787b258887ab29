"""Discord's error bodies, and the exception the fake raises to answer with one.

Discord answers a refused REST call with ``{"message": ..., "code": ...}`` and, for
a body that fails validation, an ``errors`` tree that mirrors the body's shape::

    {"code": 50035, "message": "Invalid Form Body",
     "errors": {"embeds": {"0": {"title": {"_errors": [
         {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}]}}}}}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
PathPart = str | int


@dataclass(frozen=True)
class FieldError:
    """One entry of an ``errors`` tree: where in the body, and what is wrong there."""

    path: tuple[PathPart, ...]
    code: str
    message: str

    def under(self, *prefix: PathPart) -> FieldError:
        return FieldError((*prefix, *self.path), self.code, self.message)


class FakeDiscordError(Exception):
    """A test scripted something no real Discord user or server could do."""


class ApiError(Exception):
    """Raised inside a handler; the server turns it into Discord's error response."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: Json | None = None,
        headers: dict[str, str] | None = None,
        extra: Json | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> Json:
        body: Json = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def error_tree(errors: Iterable[FieldError]) -> Json:
    """Nest field errors the way Discord does (list indices become string keys)."""
    tree: Json = {}
    for error in errors:
        node = tree
        for part in error.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": error.code, "message": error.message})
    return tree


def invalid_form_body(errors: Sequence[FieldError]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors=error_tree(errors))


def unauthorized() -> ApiError:
    return ApiError(401, 0, "401: Unauthorized")


def not_found() -> ApiError:
    return ApiError(404, 0, "404: Not Found")


def method_not_allowed() -> ApiError:
    return ApiError(405, 0, "405: Method Not Allowed")


def not_implemented(method: str, template: str) -> ApiError:
    # 501 is not in discord.py's retry set, so the client fails fast and loudly.
    return ApiError(501, 0, f"fake Discord does not implement {method} {template}")


# JSON error codes, https://discord.com/developers/docs/topics/opcodes-and-status-codes
UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
UNKNOWN_GUILD = (404, 10004, "Unknown Guild")
UNKNOWN_MEMBER = (404, 10007, "Unknown Member")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
UNKNOWN_USER = (404, 10013, "Unknown User")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
UNKNOWN_COMMAND = (404, 10063, "Unknown application command")
ENTITY_TOO_LARGE = (413, 40005, "Request entity too large")
ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
MISSING_ACCESS = (403, 50001, "Missing Access")
DM_ACTION = (403, 50003, "Cannot execute action on a DM channel")
NOT_AUTHOR = (403, 50005, "Cannot edit a message authored by another user")
EMPTY_MESSAGE = (400, 50006, "Cannot send an empty message")
CANNOT_DM = (403, 50007, "Cannot send messages to this user")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")
INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
INVALID_JSON = (400, 50109, "The request body contains invalid JSON.")


def api_error(kind: tuple[int, int, str]) -> ApiError:
    status, code, message = kind
    return ApiError(status, code, message)
