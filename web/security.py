"""Keys, CSRF, client addresses and response headers for the dashboard.

Every key is derived from the bot's secret with its own label, so the session
cookie, the CSRF token and the link tokens can never stand in for each other
(or for a button id).

CSRF is starlette-csrf's double-submit check: a signed random token in a
cookie, which every state-changing request must send back. Here the token is
also bound to the session: it carries a tag derived from the session's token
(or "signed out"), so a token made for another session, or before signing in,
is refused, and signing in or out hands out a new one. The library reads the
token from a header only; plain HTML forms send it as a hidden field, so this
subclass also reads that field (from a URL-encoded body, which it hands on to
the app unchanged), and lets a page know the token before its cookie is set.
It overrides the library's private methods, so the library is pinned to one
version in pyproject.toml (issue 12 weighs replacing it).

One address takes a file: the Campaigns page's pack import (`UPLOADS`), a
multipart form that works without script. There the token is read from the
multipart body too (starlette's parser, over python-multipart), and the body may be
as big as a pack and the form around it; a bigger one is refused with 413 before
any of it is parsed. Everywhere else a multipart body gets its token from the
header only, and the route refuses the file.
"""

from __future__ import annotations

import hashlib
import hmac
import http.cookies
import ipaddress
import secrets
from collections.abc import AsyncGenerator
from urllib.parse import parse_qs

from itsdangerous import BadData
from starlette.datastructures import Headers, MutableHeaders
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_csrf.middleware import CSRFMiddleware

from campaigns.keys import derive_key
from campaigns.pack_io import MAX_PACK_BYTES

CSRF_FIELD = "csrftoken"
CSRF_COOKIE = "campaignbot_csrf"
SESSION_COOKIE = "campaignbot_session"
SESSION_FIELD = "sid"  # where the signed session cookie keeps the session token
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 50
# Where a multipart form (a file) is taken, and how big its whole body may be: a pack
# (`pack_io.MAX_PACK_BYTES`) with room for the part headers and the other fields.
UPLOADS = {"/campaigns/import": MAX_PACK_BYTES + 16 * 1024}
MULTIPART = "multipart/form-data"
SIGNED_OUT = "-"

# Pages, forms, scripts and styles come from us alone; charts are data: images.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# The public impact counter (web/impact.py), which any site may frame or embed: no
# X-Frame-Options, and a policy that allows any frame ancestor and runs no script.
FRAMEABLE = frozenset({"/impact", "/impact.json", "/impact.svg"})
FRAMEABLE_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'self'; form-action 'none'; "
    "frame-ancestors *; base-uri 'none'"
)


def session_key(secret: bytes) -> str:
    return derive_key(secret, b"campaignbot/web-session/v1").hex()


def csrf_key(secret: bytes) -> str:
    return derive_key(secret, b"campaignbot/web-csrf/v1").hex()


class FormCSRFMiddleware(CSRFMiddleware):
    """starlette-csrf with tokens bound to the session, also read from a form field.

    Needs the session (SessionMiddleware) outside it, and the sign-in check too,
    so that a session found to have ended counts as signed out here.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        tag = self._tag(scope)
        cookie = Request(scope).cookies.get(self.cookie_name)
        bound = cookie is not None and self._tag_of(cookie) == tag
        token = cookie if cookie is not None and bound else self._new_token(tag)
        scope.setdefault("state", {})["csrf_token"] = token
        scope["campaignbot.csrf"] = (tag, None if bound else token)
        if scope["method"] in self.safe_methods:
            await super().__call__(scope, receive, send)
            return
        if not bound:  # no cookie, a forged one, or one from another session
            await self._get_error_response(Request(scope))(scope, receive, send)
            return
        limit = _body_limit(scope)
        declared = Headers(scope=scope).get("content-length", "")
        body = None
        if not (declared.isdigit() and int(declared) > limit):  # else refused unread
            body = await _read_body(receive, limit)
        if body is None:
            await _too_large(scope)(scope, receive, send)
            return
        scope["campaignbot.body"] = body
        await super().__call__(scope, _replay(body), send)

    def _tag(self, scope: Scope) -> str:
        """Which session a token is for: a digest of the session's token, or signed out."""
        token = scope.get("session", {}).get(SESSION_FIELD)
        if not isinstance(token, str):
            return SIGNED_OUT
        digest = hmac.new(self.secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        return digest[:32]

    def _new_token(self, tag: str) -> str:
        return str(self.serializer.dumps(f"{tag}:{secrets.token_urlsafe(32)}"))

    def _tag_of(self, token: str) -> str | None:
        try:
            value = self.serializer.loads(token)
        except BadData:
            return None
        return value.split(":", 1)[0] if isinstance(value, str) else None

    def _generate_csrf_token(self) -> str:
        return self._new_token(SIGNED_OUT)

    def _get_error_response(self, request: Request) -> Response:
        return PlainTextResponse(
            "This form has expired or came from another site. "
            "Go back, reload the page and try again.",
            status_code=403,
        )

    async def _get_submitted_csrf_token(self, request: Request) -> str | None:
        header = request.headers.get(self.header_name)
        if header:
            return header
        content_type = request.headers.get("content-type", "")
        body: bytes = request.scope.get("campaignbot.body", b"")
        if _takes_upload(request.scope):
            return await _multipart_token(request.headers, body)
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return None
        try:
            fields = parse_qs(body.decode("latin-1"), max_num_fields=MAX_FORM_FIELDS)
        except ValueError:  # more fields than any of our forms has
            return None
        values = fields.get(CSRF_FIELD)
        return values[0] if values else None

    async def send(self, message: Message, send: Send, scope: Scope) -> None:
        # As the library does, but with the token the page was given; and a new
        # one when the request signed in or out (the session changed under it).
        if message["type"] == "http.response.start":
            tag, new = scope["campaignbot.csrf"]
            if self._tag(scope) != tag:
                new = self._new_token(self._tag(scope))
            if new:
                headers = MutableHeaders(scope=message)
                cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
                cookie[self.cookie_name] = new
                cookie[self.cookie_name]["path"] = self.cookie_path
                cookie[self.cookie_name]["secure"] = self.cookie_secure
                cookie[self.cookie_name]["httponly"] = self.cookie_httponly
                cookie[self.cookie_name]["samesite"] = self.cookie_samesite
                headers.append("set-cookie", cookie.output(header="").strip())
        await send(message)


def _takes_upload(scope: Scope) -> bool:
    """Is this a multipart form posted to the one address that takes a file?"""
    content_type = Headers(scope=scope).get("content-type", "")
    return scope["path"] in UPLOADS and content_type.startswith(MULTIPART)


def _body_limit(scope: Scope) -> int:
    return UPLOADS[scope["path"]] if _takes_upload(scope) else MAX_FORM_BYTES


def _too_large(scope: Scope) -> Response:
    if _takes_upload(scope):
        return PlainTextResponse(
            f"That file is too big to import: a pack may be {MAX_PACK_BYTES // 1024} KB. "
            "Go back and choose the pack file itself.",
            status_code=413,
        )
    return PlainTextResponse("Request too large", status_code=413)


async def _multipart_token(headers: Headers, body: bytes) -> str | None:
    """The CSRF field of a multipart body (read whole already, within its limit).

    Parsed as the route will parse it, but with room for more files than it takes,
    so that two files get the route's own answer rather than a refused token.
    """

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        headers,
        stream(),
        max_files=MAX_FORM_FIELDS,
        max_fields=MAX_FORM_FIELDS,
        max_part_size=len(body) + 1,
    )
    try:
        form = await parser.parse()
    except MultiPartException:  # not a multipart body, or more parts than any form has
        return None
    try:
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


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
        framed = scope["path"] in FRAMEABLE

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if not framed:
                    headers.setdefault("X-Frame-Options", "DENY")
                policy = FRAMEABLE_POLICY if framed else CONTENT_SECURITY_POLICY
                headers.setdefault("Content-Security-Policy", policy)
                if not static:
                    # Staff data: nothing kept in caches once someone signs out.
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def client_address(scope: Scope) -> str:
    """Who is asking, for throttling: the client's address as the app sees it.

    That is the TCP peer, or, when the peer is one of `trusted_proxies`, the
    address its X-Forwarded-For names (uvicorn's ProxyHeadersMiddleware, set up
    in `web.app`, has already put it in the scope). An IPv6 client counts by its
    /64, which one person usually holds whole; anything that isn't an address
    counts as "unknown".
    """
    client = scope.get("client")
    try:
        address = ipaddress.ip_address(str(client[0]) if client else "")
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
