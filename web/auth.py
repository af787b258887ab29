"""Signing in and out, who is signed in, and who may do what.

Every dashboard page needs a signed-in account (`RequireSignIn` is the default,
so a new page can't be left open by mistake); organiser-only handlers say so
with `@organiser_only`, and a staff account gets 403 there. The session cookie
holds only the account id and its session version.
"""

from __future__ import annotations

import asyncio
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
from db.store import Store
from db.times import utcnow
from db.users import UserRow
from web import accounts
from web.context import Dashboard, flash
from web.security import client_address

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
    """The account named in the signed session cookie, if it still exists unchanged."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        held = conn.session.get("user")
        if not isinstance(held, dict):
            return None
        user_id, version = held.get("id"), held.get("v")
        if not isinstance(user_id, int) or not isinstance(version, int):
            conn.session.clear()
            return None
        row = await self.store.read(users_db.get_by_id, user_id)
        if row is None or row.session_version != version:
            conn.session.clear()  # removed, or its password changed since
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


def routes(dash: Dashboard) -> list[BaseRoute]:
    store = dash.core.store

    async def sign_in_page(request: Request) -> Response:
        if request.scope.get("campaignbot.user") is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        return dash.render(
            request, "sign_in.html", {"next": safe_next(request.query_params.get("next"))}
        )

    async def sign_in(request: Request) -> Response:
        form = await request.form()
        name = str(form.get("name") or "").strip()[:64]
        password = str(form.get("password") or "")
        target = safe_next(form.get("next"))
        client = client_address(request.scope)
        now = utcnow()

        def again(message: str, status: int, wait: int = 0) -> Response:
            headers = {"Retry-After": str(wait)} if wait else None
            context = {"next": target, "name": name, "error": message}
            return dash.render(request, "sign_in.html", context, status, headers)

        wait = await store.read(accounts.wait_seconds, name, client, now)
        if wait:
            minutes = max(1, round(wait / 60))
            return again(
                "Too many failed sign-ins. Please wait about "
                f"{minutes} minute{'s' if minutes != 1 else ''} and try again.",
                429,
                wait,
            )
        row = await store.read(users_db.get, name) if accounts.NAME.fullmatch(name) else None
        verified = await asyncio.to_thread(accounts.verify, row, password)
        if verified is None:
            await store.write(accounts.note_failure, name, client, now)
            log.info("dashboard sign-in failed for %r", name)
            return again("That name and password don't match an account.", 401)
        user = verified.user
        if verified.new_hash:
            await store.write(users_db.rehash, user.id, user.password_hash, verified.new_hash)
        await store.write(accounts.note_success, user.name)
        request.session.clear()
        request.session["user"] = {"id": user.id, "v": user.session_version}
        log.info("dashboard sign-in: %s (%s)", user.name, user.role)
        return RedirectResponse(target, status_code=303)

    async def sign_out(request: Request) -> Response:
        request.session.clear()
        flash(request, "You’re signed out.")
        return RedirectResponse(SIGN_IN, status_code=303)

    return [
        Route(SIGN_IN, sign_in_page, methods=["GET"]),
        Route(SIGN_IN, sign_in, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
    ]
