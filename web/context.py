"""What every page handler shares: the core, the settings, templates and charts."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from campaigns import wording
from campaigns.core import Core
from campaigns.links import LinkTokens
from campaigns.messenger import Messenger
from db.times import from_text
from db.users import UserRow
from settings import Settings
from web.charts import Charts
from web.tables import WRAPPED, label

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"


@cache
def static_url(name: str) -> str:
    """A static file's address, with a fingerprint so a changed file is fetched anew."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


def number(value: int | float | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def percent(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return "–"
    return f"{100 * part / whole:.1f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped unless a template says otherwise
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = number
    env.filters["duration"] = duration
    env.globals["percent"] = percent
    env.globals["static_url"] = static_url
    env.globals["done_label"] = wording.DONE_LABEL
    env.globals["column_label"] = label
    env.globals["wrapped"] = WRAPPED
    return env


@dataclass
class Dashboard:
    """The dashboard's shared state, handed to each area's routes."""

    core: Core
    settings: Settings
    messengers: Mapping[str, Messenger] | None
    tokens: LinkTokens
    charts: Charts = field(default_factory=Charts)
    templates: Jinja2Templates = field(default_factory=lambda: Jinja2Templates(env=_environment()))

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.settings.timezone)
        env = self.templates.env
        env.filters["local"] = self.local
        env.filters["in_zone"] = in_zone

    @property
    def tracking(self) -> bool:
        """Are asks' links tracked (a public base URL is set)?"""
        return bool(self.settings.public_base_url)

    def local(self, text: str | None, style: str = "long") -> str:
        """Stored UTC text in the dashboard's time zone."""
        if not text:
            return "–"
        return _format(from_text(text).astimezone(self.zone), style)

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        user: UserRow | None = request.scope.get("campaignbot.user")
        page = {
            "user": user,
            "csrf_token": request.scope.get("state", {}).get("csrf_token", ""),
            "flashes": pop_flashes(request),
            "path": request.url.path,
            "zone": self.settings.timezone,
            "tracking": self.tracking,
        }
        return self.templates.TemplateResponse(
            request, name, {**page, **(context or {})}, status_code=status, headers=headers
        )


def _format(moment: datetime, style: str) -> str:
    if style == "short":
        return f"{moment:%d %b %H:%M}"
    if style == "date":
        return f"{moment:%a %-d %b %Y}"
    return f"{moment:%a %-d %b %Y, %H:%M} {moment.tzname()}"


def in_zone(text: str | None, zone: str) -> str:
    """Stored UTC text in a named time zone (a prompt's own)."""
    if not text:
        return "–"
    return _format(from_text(text).astimezone(ZoneInfo(zone)), "long")


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message for the next page this browser shows."""
    if "session" not in request.scope:
        return
    # A new list, so the session knows it changed.
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def pop_flashes(request: Request) -> list[tuple[str, str]]:
    if "session" not in request.scope:
        return []
    found = request.session.pop("flash", [])
    return [(str(kind), str(message)) for kind, message in found]
