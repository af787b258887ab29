"""Signing in and out, who is signed in, and who may do what.

Every dashboard page needs a signed-in account (`RequireSignIn` is the default,
so a new page can't be left open by mistake); organiser-only handlers say so
with `@organiser_only`, and a staff account gets 403 there. The session cookie
holds only a random session token; the session itself is a row on the server
(`web.sessions`), so signing out, removing the account or changing its password
ends it at once. Sign-in attempts are throttled by `web.throttle`; nothing typed
into the form is logged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
)
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from db import users as users_db
from db.times import utcnow
from db.users import UserRow
from web import accounts, throttle
from web.context import Dashboard, flash
from web.security import MAX_FORM_FIELDS, SESSION_FIELD, client_address
from web.sessions import Sessions

log = logging.getLogger(__name__)

SIGN_IN = "/sign-in"
PUBLIC = frozenset({SIGN_IN})


class WebUser(BaseUser):
    def __init__(self, row: UserRow) -> None:
        self.row = row

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.row.name


class SessionBackend(AuthenticationBackend):
    """The account whose live session the cookie's token names, if any."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        token = conn.session.get(SESSION_FIELD)
        if token is None:
            return None
        row = await self.sessions.user(token)
        if row is None:
            conn.session.clear()  # ended, expired, or never ours
            return None
        conn.scope["campaignbot.user"] = row
        scopes = ["signed_in", "organiser"] if row.is_organiser else ["signed_in"]
        return AuthCredentials(scopes), WebUser(row)


class RequireSignIn:
    """Sends anyone not signed in to the sign-in page (JSON callers get a 401)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC:
            await self.app(scope, receive, send)
            return
        if scope.get("campaignbot.user") is not None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response: Response
        if scope["path"].endswith(".json"):
            response = JSONResponse({"error": "sign in first"}, status_code=401)
        else:
            target = request.url.path
            if request.method == "GET" and request.url.query:
                target += "?" + request.url.query
            response = RedirectResponse(f"{SIGN_IN}?next={quote(target)}", status_code=303)
        await response(scope, receive, send)


def current_user(request: Request) -> UserRow:
    user: UserRow | None = request.scope.get("campaignbot.user")
    if user is None:  # RequireSignIn lets no one through without an account
        raise HTTPException(401)
    return user


def actor(request: Request) -> str:
    """How the audit names this account."""
    return f"web:{current_user(request).name}"


Handler = Callable[[Request], Awaitable[Response]]


def organiser_only(handler: Handler) -> Handler:
    """Organisers may; staff get 403."""

    @functools.wraps(handler)
    async def checked(request: Request) -> Response:
        if not current_user(request).is_organiser:
            raise HTTPException(403, "This needs an organiser account.")
        return await handler(request)

    return checked


def safe_next(value: object) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    text = value if isinstance(value, str) else ""
    parts = urlsplit(text)
    if (
        not text.startswith("/")
        or text.startswith("//")
        or "\\" in text
        or parts.scheme
        or parts.netloc
        or parts.path in (SIGN_IN, "/sign-out")
    ):
        return "/"
    return text


def routes(dash: Dashboard, sessions: Sessions) -> list[BaseRoute]:
    store = dash.core.store
    checks = throttle.PasswordChecks()

    async def sign_in_page(request: Request) -> Response:
        if request.scope.get("campaignbot.user") is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        return dash.render(
            request, "sign_in.html", {"next": safe_next(request.query_params.get("next"))}
        )

    async def sign_in(request: Request) -> Response:
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        name = str(form.get("name") or "").strip()[:64]
        password = str(form.get("password") or "")
        target = safe_next(form.get("next"))
        client = client_address(request.scope)

        def again(message: str, status: int) -> Response:
            context = {"next": target, "name": name, "error": message}
            return dash.render(request, "sign_in.html", context, status)

        if not await store.write(throttle.reserve, name, client, utcnow()):
            # No Retry-After: when to try again is not something to tell a guesser.
            return again(
                "Too many failed sign-ins from here. Please wait a few minutes and try again.",
                429,
            )
        row = await store.read(users_db.get, name) if accounts.NAME.fullmatch(name) else None
        try:
            verified = await checks.verify(row, password)
        except throttle.Busy:
            await store.write(throttle.not_checked, name, client)
            log.warning("dashboard sign-in refused: too many password checks at once")
            return again("The dashboard is busy. Please try again in a moment.", 503)
        if verified is None:
            # Never what was typed: a name may be a mistyped password.
            if row is None:
                log.info("dashboard sign-in failed: no such account")
            else:
                log.info("dashboard sign-in failed: wrong password for account %d", row.id)
            return again("That name and password don't match an account.", 401)
        user = verified.user
        if verified.new_hash:
            await store.write(users_db.rehash, user.id, user.password_hash, verified.new_hash)
        await store.write(throttle.succeeded, name, client)
        token = await sessions.start(user.id, replacing=request.session.get(SESSION_FIELD))
        request.session.clear()
        request.session[SESSION_FIELD] = token
        log.info("dashboard sign-in: %s (%s)", user.name, user.role)
        return RedirectResponse(target, status_code=303)

    async def sign_out(request: Request) -> Response:
        await sessions.end(request.session.get(SESSION_FIELD))
        request.session.clear()
        flash(request, "You’re signed out.")
        return RedirectResponse(SIGN_IN, status_code=303)

    return [
        Route(SIGN_IN, sign_in_page, methods=["GET"]),
        Route(SIGN_IN, sign_in, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
    ]
