"""Hostile input never gets a 500: every route of the app, walked with each hostile
value in its path, its query string and its form, answers 4xx or a polite page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from campaigns.core import Core
from settings import Settings
from tests.web_support import csrf_of, form_token, make_settings, opened_core, sign_in, with_users
from web.app import create_app

# Already URL-encoded, so bytes that aren't UTF-8 reach the app as they are.
HOSTILE = [
    "9" * 30,  # an id beyond 64 bits
    "9223372036854775808",  # 2**63, one past SQLite's largest integer
    "-1",
    "0",
    "9999-12-31",  # a date with no day after it
    "0001-01-01",
    "2024-02-30",
    "2024-1-5",
    "1e309",
    "%00",
    "%ff%fe",  # not UTF-8
    "%F0%9F%92%A3",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%27%20OR%201%3D1%20--",
    "..%2F..%2Fetc%2Fpasswd",
    "x" * 5000,
    "zzzzzzzzzzzzz.AAAAAAAAAAAAAAAA",  # a link token whose id is beyond 64 bits
]
QUERY = ["campaign", "ask", "platform", "source", "since", "until", "all", "next", "table"]
FORM = ["campaign", "ask", "date", "time", "timezone", "platform", "source", "intent"]
FORM += ["name", "password", "next"]


def every_route(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    """(method, path pattern) for every route the app has, mounted ones included."""
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            if inner is None:  # static files
                found.append(("GET", f"{prefix}{route.path}/{{path}}"))
            else:
                found += every_route(inner, prefix + route.path)
        elif isinstance(route, Route):
            found += [(m, prefix + route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return found


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, public_base_url="https://act.example.org")


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    with opened_core(with_users(settings)) as opened:
        yield opened


@pytest.fixture
def app(core: Core, settings: Settings) -> Starlette:
    return create_app(core, settings)


@pytest.fixture
async def organiser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    # App errors are raised here rather than turned into a 500: nothing may slip by.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://act.example.org") as http:
        await sign_in(http, "olive")
        yield http


def test_the_walk_covers_every_route(app: Starlette) -> None:
    walked = every_route(app.routes)
    assert ("GET", "/l/{token}") in walked
    assert ("POST", "/prompts/{prompt_id:int}/cancel") in walked
    assert ("GET", "/static/{path}") in walked
    assert len(walked) >= 18, walked


@pytest.mark.parametrize("value", HOSTILE, ids=lambda value: value[:24])
async def test_every_route_survives_hostile_values(
    app: Starlette, organiser: httpx.AsyncClient, value: str
) -> None:
    token = await form_token(organiser, "/prompts/new")
    walk = sorted(every_route(app.routes), key=lambda entry: entry[1] == "/sign-out")
    for method, pattern in walk:
        path = re.sub(r"\{\w+(:\w+)?\}", value, pattern)
        query = "&".join(f"{name}={value}" for name in QUERY)
        body = "&".join(f"{name}={value}" for name in FORM) + f"&csrftoken={token}"
        response = await organiser.request(
            method,
            f"{path}?{query}",
            content=body if method == "POST" else None,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code < 500, (method, pattern, response.status_code)
        assert "Traceback" not in response.text


async def test_odd_forms_get_a_4xx(organiser: httpx.AsyncClient, core: Core) -> None:
    token = await form_token(organiser, "/prompts/new")
    many = "&".join(f"field{n}=x" for n in range(400))
    urlencoded = {"content-type": "application/x-www-form-urlencoded"}
    for headers in (urlencoded, {**urlencoded, "x-csrftoken": token}):
        for path in ("/sign-in", "/prompts/new"):
            answer = await organiser.post(
                path, content=f"{many}&csrftoken={token}", headers=headers
            )
            assert 400 <= answer.status_code < 500, (path, answer.status_code)
    huge = await organiser.post(
        "/prompts/new", content="x=" + "y" * 100_000 + f"&csrftoken={token}", headers=urlencoded
    )
    assert huge.status_code == 413
    upload = await organiser.post(
        "/prompts/new",
        files={"file": ("a.txt", b"hello")},
        data={"campaign": "one-step-ahead"},
        headers={"x-csrftoken": token},
    )
    assert upload.status_code == 400
    # a local time that is past the year 9999 in UTC
    far = await organiser.post(
        "/prompts/new",
        data={
            "campaign": "one-step-ahead",
            "date": "9999-12-31",
            "time": "23:59",
            "timezone": "Etc/GMT+12",
            "intent": "schedule",
            "csrftoken": token,
        },
    )
    assert far.status_code == 422 and "before the year 9999" in far.text
    count = await core.store.read(lambda db: db.execute("SELECT count(*) FROM prompts").fetchone())
    assert count == (0,)


async def test_a_bad_date_is_named_next_to_its_field(organiser: httpx.AsyncClient) -> None:
    page = await organiser.get("/participation?since=2024-1-5&until=9999-12-31")
    assert page.status_code == 200
    assert page.text.count("Give a date as YYYY-MM-DD.") == 2
    csv = await organiser.get("/participation/asks.csv?until=9999-12-31")
    assert csv.status_code == 200
    assert csrf_of(page.text)
