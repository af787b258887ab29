"""The dashboard as one Starlette app.

Two parts. The open part is the health check (`web.health`), the metrics
(`web.metrics`: this machine and trusted proxies only), the public impact counter
(`web.impact`), the tracked-link redirect and the static files: no session, no
cookies, no database writes but the link's own count. Everything else is the
dashboard proper, behind (outermost first) the signed session cookie, the
session and account lookup, the CSRF check and the sign-in requirement.

In front of both, X-Forwarded-For and X-Forwarded-Proto are believed only from
a peer in `trusted_proxies` (uvicorn's ProxyHeadersMiddleware, here rather
than in the server so every way of serving the app honours the setting).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from campaigns.core import Core
from campaigns.links import LinkTokens
from campaigns.messenger import Messenger
from settings import Settings
from web import auth, editor, organiser, participation, preview
from web import links as link_routes
from web import packs as pack_routes
from web.context import STATIC, Dashboard
from web.health import Health, JobScheduler
from web.impact import METHODS as IMPACT_METHODS
from web.impact import ImpactBoard
from web.metrics import LastBackup, Metrics, SendCounts
from web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    FormCSRFMiddleware,
    SecurityHeaders,
    csrf_key,
    session_key,
)
from web.sessions import Sessions

log = logging.getLogger(__name__)

MESSAGES = {
    400: "That request isn't something this page understands.",
    401: "Please sign in.",
    403: "You don't have access to this.",
    404: "There's nothing here.",
    405: "That isn't something this page does.",
}


def create_app(
    core: Core,
    settings: Settings,
    *,
    messengers: Mapping[str, Messenger] | None = None,
    routes: Sequence[BaseRoute] = (),
    scheduler: JobScheduler | None = None,
    engine: SendCounts | None = None,
    last_backup: LastBackup | None = None,
) -> Starlette:
    """The dashboard over a core. `messengers` are the running bot's (for test sends,
    and /healthz and /metrics watch those that report their health); None when the
    dashboard runs on its own. `routes` are served beside the dashboard on the same
    port, outside its sign-in and forms (such as a chat platform's webhook, which
    checks its own secret). `scheduler` (APScheduler's, for /healthz), `engine` (its
    counts, for /metrics) and `last_backup` (when the latest backup was taken, for
    /metrics) are the running bot's too: without them, those parts are left out."""
    secret = settings.button_secret()
    tokens = LinkTokens(secret)
    dash = Dashboard(core=core, settings=settings, messengers=messengers, tokens=tokens)
    secure = settings.dashboard_https
    sessions = Sessions(core.store, settings)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = exc.detail if exc.detail and exc.status_code == 403 else None
        message = message or MESSAGES.get(exc.status_code, "That didn't work.")
        if not _wants_html(request):
            return PlainTextResponse(message, status_code=exc.status_code)
        return dash.render(
            request,
            "error.html",
            {"status": exc.status_code, "message": message},
            exc.status_code,
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        # The route's pattern, not the path: a path may hold a link token.
        log.error("dashboard error on %s", _route_of(request), exc_info=exc)
        return PlainTextResponse(
            "Sorry, something went wrong on our side. It has been logged.", status_code=500
        )

    dashboard = Starlette(
        routes=[
            *auth.routes(dash, sessions),
            *participation.routes(dash),
            *organiser.routes(dash),
            *preview.routes(dash),
            *pack_routes.routes(dash),
            *editor.routes(dash),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=session_key(secret),
                session_cookie=SESSION_COOKIE,
                max_age=settings.web_session_hours * 3600,
                same_site="lax",
                https_only=secure,
            ),
            Middleware(AuthenticationMiddleware, backend=auth.SessionBackend(sessions)),
            Middleware(
                FormCSRFMiddleware,
                secret=csrf_key(secret),
                cookie_name=CSRF_COOKIE,
                cookie_secure=secure,
                cookie_httponly=True,
                cookie_samesite="lax",
                header_name="x-csrftoken",
            ),
            Middleware(auth.RequireSignIn),
        ],
        exception_handlers={HTTPException: http_error, 500: server_error},
    )

    health = Health(core.store, messengers=messengers, scheduler=scheduler)
    metrics = Metrics(
        core,
        settings.trusted_proxies,
        messengers=messengers,
        engine=engine,
        last_backup=last_backup,
    )
    # The public counter: any site may frame or embed these (web.security.FRAMEABLE).
    impact = ImpactBoard(core.store, lambda: core.ctx.catalog, dash.zone)

    app = Starlette(
        routes=[
            Route("/healthz", health.endpoint, methods=["GET", "HEAD"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            # Each takes every method, so none falls through to the dashboard's forms.
            Route("/impact", impact.page, methods=IMPACT_METHODS),
            Route("/impact.json", impact.data, methods=IMPACT_METHODS),
            Route("/impact.svg", impact.badge, methods=IMPACT_METHODS),
            link_routes.route(core.store, tokens),
            *routes,
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
            Mount("", app=dashboard),
        ],
        middleware=[
            Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies),
            Middleware(SecurityHeaders),
        ],
        exception_handlers={500: server_error},
    )
    app.state.dashboard = dash
    app.state.impact = impact
    return app


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "an unmatched path"


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not path.endswith((".json", ".csv")) and "text/html" in request.headers.get(
        "accept", "text/html"
    )
