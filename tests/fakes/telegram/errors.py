"""Bot API error answers, worded the way api.telegram.org words them.

Every refusal in the fake is an :class:`ApiError`; the server turns it into
``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}``.
The helpers below add the status prefix Telegram puts in front of the text
("Bad Request: ", "Forbidden: ", ...), so call sites only write the reason.
"""

from __future__ import annotations

from typing import Any

Json = Any  # a decoded JSON value; Telegram objects are dict[str, Json]


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Json] | None = None
    ) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Json]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Json] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str, parameters: dict[str, Json] | None = None) -> ApiError:
    """400 "Bad Request: <reason>"."""
    return ApiError(400, f"Bad Request: {reason}", parameters)


def forbidden(reason: str) -> ApiError:
    """403 "Forbidden: <reason>"."""
    return ApiError(403, f"Forbidden: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    """429 with ``parameters.retry_after``, as Telegram's flood control answers."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def unauthorized() -> ApiError:
    """401 for a token the server does not know."""
    return ApiError(401, "Unauthorized")


def not_found() -> ApiError:
    """404 for a method name the Bot API does not have."""
    return ApiError(404, "Not Found")


def conflict(reason: str) -> ApiError:
    """409 "Conflict: <reason>"."""
    return ApiError(409, f"Conflict: {reason}")


_SERVER_ERRORS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}
# Telegram's nginx answers these itself, with its own HTML page rather than JSON.
GATEWAY_ERRORS = frozenset({502, 504})


def server_error(status: int = 500) -> ApiError:
    """A 5xx answer (injected by tests to model a platform outage)."""
    return ApiError(status, _SERVER_ERRORS.get(status, "Internal Server Error"))


def gateway_page(status: int) -> str:
    """The HTML page nginx sends for a gateway error, as api.telegram.org does."""
    title = f"{status} {_SERVER_ERRORS[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
