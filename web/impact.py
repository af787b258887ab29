"""The public impact counter: `/impact` (a card to link to or frame in an iframe),
`/impact.json` and `/impact.svg` (a badge). Open to anyone: no sign-in, no cookie.

The numbers are the core's (`campaigns.impact`), which never hands out a count under
10: each such count arrives as None and is shown as "fewer than 10" (in the JSON,
`null`, with `"fewer_than": 10` saying what null means). `?campaign=<slug>` narrows
any of the three to one campaign shown on the counter; any other campaign is a 404
that repeats nothing of the request, and every other query parameter is ignored.

They are counted at most once a minute (`FRESH_FOR`) and kept in memory, with each
response drawn once from them, so a burst of visitors (a card framed on a busy page,
a badge in a newsletter) costs one read of the database a minute. The request that
finds the count a minute old starts the next (about 0.3 s at a million actions, on
the store's read pool, which leaves the event loop free) and, like every request
meanwhile, is answered from the last count at once.
Answers say `Cache-Control: public, max-age=60` and carry an ETag; the JSON and the
badge may be read from any site (CORS), and `web.security` lets any site frame all
three (`FRAMEABLE`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from campaigns import impact
from campaigns.catalog import Catalog
from campaigns.impact import FEWER_THAN, CampaignImpact, Figures, Impact
from db.store import Store
from db.times import to_text, utcnow
from web.charts import FONT, text_width
from web.context import TEMPLATES, static_url

log = logging.getLogger(__name__)

FRESH_FOR = 60.0  # seconds a count is served before the next is taken
FEWER = f"fewer than {FEWER_THAN}"
THIS_WEEK = f"the last {impact.THIS_WEEK.days} days"  # what the card says "this week" is
OPEN = {"Cache-Control": "public, max-age=60", "Cross-Origin-Resource-Policy": "cross-origin"}
SHARED = {**OPEN, "Access-Control-Allow-Origin": "*"}  # readable by scripts on any site
NOT_LISTED = "There's no campaign by that name on this counter."
READ_ONLY = "This counter can only be read."
# The routes take these methods (Starlette would give other routes a method it refuses
# here): GET and HEAD are answered, the rest get a plain 405.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
NOT_YET = "The counter isn't available just now. Try again in a minute."

JSON = "application/json"
HTML = "text/html; charset=utf-8"
SVG = "image/svg+xml"


def shown(count: int | None) -> str:
    """A count as the card and the badge print it."""
    return FEWER if count is None else f"{count:,}"


@dataclass(frozen=True, slots=True)
class Body:
    content: bytes
    media_type: str
    headers: dict[str, str]  # with its ETag


class Drawn:
    """One count and the responses drawn from it, each drawn when first asked for."""

    def __init__(self, found: Impact, zone: ZoneInfo) -> None:
        self.impact = found
        self.zone = zone
        self._bodies: dict[tuple[str, str | None], Body] = {}  # at most 3 per campaign, +3

    def body(self, kind: str, slug: str | None) -> Body | None:
        """`kind` (page, json or badge) for one campaign or all; None: not on the counter."""
        key = (kind, slug)
        found = self._bodies.get(key)
        if found is not None:
            return found
        one = None
        if slug is not None:
            one = self.impact.campaign(slug)
            if one is None:
                return None
        if kind == "page":
            content, media_type, headers = page(self.impact, one, self.zone), HTML, OPEN
        elif kind == "json":
            content, media_type, headers = data(self.impact, one), JSON, SHARED
        else:
            content, media_type, headers = badge(self.impact, one), SVG, SHARED
        etag = '"' + hashlib.sha256(content).hexdigest()[:20] + '"'
        found = self._bodies[key] = Body(content, media_type, {**headers, "ETag": etag})
        return found


class ImpactBoard:
    """The counter, counted at most once every `fresh_for` seconds of `clock` (both
    clocks can be set, for tests)."""

    def __init__(
        self,
        store: Store,
        catalog: Callable[[], Catalog],
        zone: ZoneInfo,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        fresh_for: float = FRESH_FOR,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.zone = zone
        self.clock = clock  # when to count again
        self.now = now  # the moment a count is of ("this week" ends there)
        self.fresh_for = fresh_for
        self._drawn: Drawn | None = None
        self._started: float | None = None  # when the latest count was begun (`clock`)
        self._counting: asyncio.Future[None] | None = None

    async def current(self) -> Drawn | None:
        """The latest count; None if none could be taken yet.

        A count a minute old is taken again in the background, and every request is
        answered from the last one meanwhile: only while there is none at all do
        requests wait, all for the same count. Counting begins at most once a
        minute, failed or not."""
        counting = self._counting
        if counting is None and (
            self._started is None or self.clock() - self._started >= self.fresh_for
        ):
            self._started = self.clock()
            counting = self._counting = asyncio.ensure_future(self._count())
        if self._drawn is None and counting is not None:
            # Shielded: a visitor who leaves must not cancel the count under the others.
            await asyncio.shield(counting)
        return self._drawn

    async def settled(self) -> None:
        """Wait for a count under way, if there is one (for tests, and for a caller
        that wants the newest count before it goes on)."""
        if self._counting is not None:
            await asyncio.shield(self._counting)

    async def _count(self) -> None:
        try:
            found = await self.store.read(impact.impact, self.catalog(), self.now())
            self._drawn = Drawn(found, self.zone)
        except Exception:  # the database is away or closing: keep the last count
            log.exception("the impact counter could not be counted; keeping the last count")
        finally:
            self._counting = None

    # ---------------------------------------------------------------- the routes

    async def page(self, request: Request) -> Response:
        return await self._answer(request, "page")

    async def data(self, request: Request) -> Response:
        return await self._answer(request, "json")

    async def badge(self, request: Request) -> Response:
        return await self._answer(request, "badge")

    async def _answer(self, request: Request, kind: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse(READ_ONLY, status_code=405, headers={"Allow": "GET, HEAD"})
        slug = None
        if request.scope["query_string"]:  # most requests have none: skip parsing
            slug = request.query_params.get("campaign") or None
        drawn = await self.current()
        if drawn is None:
            return PlainTextResponse(NOT_YET, status_code=503, headers={"Retry-After": "60"})
        body = drawn.body(kind, slug)
        if body is None:
            return PlainTextResponse(NOT_LISTED, status_code=404)
        if request.headers.get("if-none-match") == body.headers["ETag"]:
            return Response(status_code=304, headers=body.headers)
        return Response(body.content, media_type=body.media_type, headers=body.headers)


# -------------------------------------------------------------------- drawing


def _figures(figures: Figures) -> dict[str, int | None]:
    return {
        "acted_this_week": figures.acted_this_week,
        "acted_in_all": figures.acted_in_all,
        "asks_sent": figures.asks_sent,
    }


def data(found: Impact, one: CampaignImpact | None) -> bytes:
    """The JSON: counts as numbers, or null for "fewer than 10"."""
    campaigns = [one] if one is not None else list(found.campaigns)
    body: dict[str, Any] = {
        "counted_at": to_text(found.counted_at),
        "this_week": {"from": to_text(found.week_from), "to": to_text(found.counted_at)},
        "fewer_than": FEWER_THAN,
        "null_means": FEWER,
        "campaigns": [
            {"campaign": c.slug, "title": c.title, **_figures(c.figures)} for c in campaigns
        ],
    }
    if one is None:
        body["all_campaigns"] = _figures(found.everyone)
    return json.dumps(body, ensure_ascii=False, indent=1).encode()


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # titles come from packs: escaped as HTML and as XML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shown"] = shown
    env.globals["static_url"] = static_url
    return env


def page(found: Impact, one: CampaignImpact | None, zone: ZoneInfo) -> bytes:
    """The card: each campaign's three figures, and what they count."""
    counted = found.counted_at.astimezone(zone)
    return (
        _templates()
        .get_template("impact.html")
        .render(
            one=one,
            campaigns=[one] if one is not None else list(found.campaigns),
            everyone=found.everyone,
            this_week=THIS_WEEK,
            fewer=FEWER,
            counted=_when(counted),
        )
        .encode()
    )


def _when(moment: datetime) -> str:
    return f"{moment:%-d %b %Y, %H:%M} {moment.tzname()}"


BADGE_SIZE = 11
BADGE_PAD = 6


def badge(found: Impact, one: CampaignImpact | None) -> bytes:
    """A badge: "supporters acted | 1,234", or for one campaign "<title> | 1,234 acted"."""
    if one is None:
        label, value = "supporters acted", shown(found.everyone.acted_in_all)
        title = f"{value} supporters acted on our campaigns"
    else:
        acted = one.figures.acted_in_all
        label, value = one.title, f"{shown(acted)} acted"
        title = f"{one.title}: {shown(acted)} supporters acted"
    left = math.ceil(text_width(label, BADGE_SIZE)) + 2 * BADGE_PAD
    right = math.ceil(text_width(value, BADGE_SIZE)) + 2 * BADGE_PAD
    return (
        _templates()
        .get_template("impact.svg")
        .render(label=label, value=value, title=title, left=left, right=right, font=FONT)
        .encode()
    )
