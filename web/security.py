"""Keys, CSRF and response headers for the dashboard.

Every key is derived from the bot's secret with its own label, so the session
cookie, the CSRF token and the link tokens can never stand in for each other
(or for a button id).

CSRF is starlette-csrf's double-submit check: a signed random token in a
cookie, which every state-changing request must send back. The library reads it
from a header only; plain HTML forms send it as a hidden field, so this
subclass also reads that field (from a URL-encoded body, which it hands on to
the app unchanged), and lets a page know the token before its cookie is set.
"""

from __future__ import annotations

import http.cookies
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_csrf.middleware import CSRFMiddleware

from campaigns.links import derive_key

CSRF_FIELD = "csrftoken"
CSRF_COOKIE = "campaignbot_csrf"
SESSION_COOKIE = "campaignbot_session"
MAX_FORM_BYTES = 64 * 1024

# Pages, forms, scripts and styles come from us alone; charts are data: images.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def session_key(secret: bytes) -> str:
    return derive_key(secret, b"campaignbot/web-session/v1").hex()


def csrf_key(secret: bytes) -> str:
    return derive_key(secret, b"campaignbot/web-csrf/v1").hex()


class FormCSRFMiddleware(CSRFMiddleware):
    """starlette-csrf that also takes the token from a form field."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        cookie = Request(scope).cookies.get(self.cookie_name)
        token = cookie if cookie and self._valid(cookie) else self._generate_csrf_token()
        scope.setdefault("state", {})["csrf_token"] = token
        scope["campaignbot.new_csrf"] = token if token != cookie else None
        if scope["method"] in self.safe_methods:
            await super().__call__(scope, receive, send)
            return
        body = await _read_body(receive, MAX_FORM_BYTES)
        if body is None:
            await PlainTextResponse("Request too large", status_code=413)(scope, receive, send)
            return
        scope["campaignbot.body"] = body
        await super().__call__(scope, _replay(body), send)

    def _valid(self, token: str) -> bool:
        try:
            self.serializer.loads(token)
        except Exception:
            return False
        return True

    async def _get_submitted_csrf_token(self, request: Request) -> str | None:
        header = request.headers.get(self.header_name)
        if header:
            return header
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return None
        body: bytes = request.scope.get("campaignbot.body", b"")
        values = parse_qs(body.decode("latin-1"), max_num_fields=200).get(CSRF_FIELD)
        return values[0] if values else None

    async def send(self, message: Message, send: Send, scope: Scope) -> None:
        # As the library does, but with the token the page was given.
        new = scope.get("campaignbot.new_csrf")
        if message["type"] == "http.response.start" and new:
            headers = MutableHeaders(scope=message)
            cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            cookie[self.cookie_name] = new
            cookie[self.cookie_name]["path"] = self.cookie_path
            cookie[self.cookie_name]["secure"] = self.cookie_secure
            cookie[self.cookie_name]["httponly"] = self.cookie_httponly
            cookie[self.cookie_name]["samesite"] = self.cookie_samesite
            headers.append("set-cookie", cookie.output(header="").strip())
        await send(message)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class SecurityHeaders:
    """Headers every dashboard response carries; pages also get a strict CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                if not static:
                    # Staff data: nothing kept in caches once someone signs out.
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def client_address(scope: Scope) -> str:
    """The client's address as uvicorn saw it (behind a local proxy, from its header)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
