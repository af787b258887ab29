"""Accounts, sessions, roles and CSRF, over HTTP against the real app (in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaigns.core import Core
from db import users as users_db
from settings import Settings
from tests.web_support import (
    PASSWORDS,
    asgi_client,
    csrf_of,
    form_token,
    make_settings,
    opened_core,
    sign_in,
    with_users,
)
from web import accounts, throttle
from web.app import create_app
from web.auth import safe_next

PAGES = ["/", "/participation", "/sources", "/prompts", "/prompts/new", "/sends", "/audit"]
DOWNLOADS = ["/participation/asks.csv", "/sources/sources.csv", "/overview/trend.csv", "/audit.csv"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    with opened_core(with_users(settings)) as opened:
        yield opened


@pytest.fixture
async def client(core: Core, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(core, settings)) as http:
        yield http


async def test_every_page_needs_signing_in(client: httpx.AsyncClient) -> None:
    for path in [*PAGES, *DOWNLOADS, "/participation?platform=telegram"]:
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/sign-in?next=/"), path
    progress = await client.get("/sends/progress.json")
    assert progress.status_code == 401
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    assert "set-cookie" not in health.headers
    style = await client.get("/static/style.css")
    assert style.status_code == 200 and "text/css" in style.headers["content-type"]


async def test_sign_in_and_out(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-in?next=/sources")
    wrong = await client.post(
        "/sign-in",
        data={"name": "olive", "password": "not it", "csrftoken": csrf_of(page.text)},
    )
    assert wrong.status_code == 401
    assert "don&#39;t match an account" in wrong.text
    assert (await client.get("/")).status_code == 303
    right = await client.post(
        "/sign-in",
        data={
            "name": "Olive",  # names are not case-sensitive
            "password": PASSWORDS["olive"],
            "csrftoken": csrf_of(page.text),
            "next": "/sources",
        },
    )
    assert right.status_code == 303 and right.headers["location"] == "/sources"
    cookie = right.headers["set-cookie"]
    assert "campaignbot_session=" in cookie
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here; see the https test
    for path in [*PAGES, *DOWNLOADS]:
        assert (await client.get(path)).status_code == 200, path
    home = await client.get("/")
    assert "olive" in home.text and "organiser" in home.text
    out = await client.post("/sign-out", data={"csrftoken": csrf_of(home.text)})
    assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    after = await client.get("/sign-in")
    assert "You’re signed out." in after.text or "You&#39;re signed out." in after.text
    assert (await client.get("/")).status_code == 303


@pytest.mark.parametrize(
    ("more", "base"),
    [
        ({"public_base_url": "https://act.example.org"}, "https://act.example.org"),
        ({"web_https": True}, "https://dashboard.test"),  # no public_base_url needed
    ],
)
async def test_cookies_are_secure_behind_https(
    tmp_path: Path, more: dict[str, Any], base: str
) -> None:
    settings = with_users(make_settings(tmp_path, **more))
    with opened_core(settings) as core:
        transport = httpx.ASGITransport(app=create_app(core, settings))
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            page = await c.get("/sign-in")
            assert "secure" in page.headers["set-cookie"].lower()  # the CSRF cookie
            signed = await c.post(
                "/sign-in",
                data={
                    "name": "stan",
                    "password": PASSWORDS["stan"],
                    "csrftoken": csrf_of(page.text),
                },
            )
            assert signed.status_code == 303
            cookies = signed.headers.get_list("set-cookie")
            assert {c.split("=", 1)[0] for c in cookies} == {
                "campaignbot_session",
                "campaignbot_csrf",
            }
            assert all("secure" in cookie.lower() for cookie in cookies)


ATTACKER = {"x-forwarded-for": "203.0.113.7"}
COLLEAGUE = {"x-forwarded-for": "198.51.100.20"}


async def attempt(
    client: httpx.AsyncClient, name: str, password: str, headers: dict[str, str]
) -> httpx.Response:
    page = await client.get("/sign-in", headers=headers)
    data = {"name": name, "password": password, "csrftoken": csrf_of(page.text)}
    return await client.post("/sign-in", data=data, headers=headers)


async def test_failures_hold_back_that_client_only(client: httpx.AsyncClient, core: Core) -> None:
    for _ in range(throttle.PAIR_LIMIT):
        failed = await attempt(client, "olive", "guess", ATTACKER)
        assert failed.status_code == 401
    blocked = await attempt(client, "olive", PASSWORDS["olive"], ATTACKER)
    assert blocked.status_code == 429
    assert "retry-after" not in blocked.headers  # when to strike again is not for them to know
    assert "Too many failed sign-ins" in blocked.text
    # the account is not locked: a client that has not failed signs in
    await sign_in(client, "olive", headers=COLLEAGUE)
    client.cookies.clear()
    # the same client may still sign in to another account (an office behind one address)
    await sign_in(client, "stan", headers=ATTACKER)
    client.cookies.clear()
    # once the wait is over, the right password works (and clears the pair's count)
    await core.store.write(
        lambda db: db.execute("UPDATE sign_in_failures SET blocked_until = '2000-01-01T00:00:00Z'")
    )
    await sign_in(client, "olive", headers=ATTACKER)
    left = await core.store.read(users_db.failures, list(throttle.scopes("olive", "203.0.113.7")))
    assert [(row.scope, row.failures) for row in left] == [("client:203.0.113.7", 5)]


async def test_sign_in_is_throttled_per_client(client: httpx.AsyncClient) -> None:
    for n in range(throttle.CLIENT_LIMIT):
        failed = await attempt(client, f"nobody{n}", "guess", ATTACKER)
        assert failed.status_code == 401
    blocked = await attempt(client, "olive", PASSWORDS["olive"], ATTACKER)
    assert blocked.status_code == 429
    await sign_in(client, "olive", headers=COLLEAGUE)


async def test_staff_read_but_may_not_act(client: httpx.AsyncClient, core: Core) -> None:
    await sign_in(client, "stan")
    prompts = await client.get("/prompts")
    assert prompts.status_code == 200
    assert "Schedule a prompt" not in prompts.text
    token = csrf_of(prompts.text)
    assert (await client.get("/prompts/new")).status_code == 403
    schedule = await client.post(
        "/prompts/new",
        data={
            "csrftoken": token,
            "campaign": "one-step-ahead",
            "date": "2099-01-01",
            "time": "10:00",
            "timezone": "Europe/London",
            "intent": "schedule",
        },
    )
    assert schedule.status_code == 403
    assert "organiser account" in schedule.text
    preview = await client.post(
        "/prompts/new",
        data={"csrftoken": token, "campaign": "one-step-ahead", "intent": "preview"},
    )
    assert preview.status_code == 403
    cancel = await client.post("/prompts/1/cancel", data={"csrftoken": token})
    assert cancel.status_code == 403
    count = await core.store.read(lambda db: db.execute("SELECT count(*) FROM prompts").fetchone())
    assert count == (0,)


async def test_state_changes_need_the_csrf_token(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-in")
    refused = await client.post("/sign-in", data={"name": "olive", "password": PASSWORDS["olive"]})
    assert refused.status_code == 403
    await sign_in(client, "olive")
    form = {
        "campaign": "one-step-ahead",
        "date": "2099-01-01",
        "time": "10:00",
        "timezone": "Europe/London",
        "intent": "schedule",
    }
    assert (await client.post("/prompts/new", data=form)).status_code == 403
    forged = await client.post("/prompts/new", data={**form, "csrftoken": "forged.token"})
    assert forged.status_code == 403
    assert "reload the page" in forged.text
    assert (await client.post("/sign-out")).status_code == 403
    # the sign-in page's token ended with signing in (see test_web_sessions for more)
    before = csrf_of(page.text)
    assert (
        await client.post("/prompts/new", data={**form, "csrftoken": before})
    ).status_code == 403
    # the token in a header (as a script would send it) is accepted too
    token = await form_token(client)
    sent = await client.post("/prompts/new", data=form, headers={"x-csrftoken": token})
    assert sent.status_code == 303


async def test_a_password_change_or_removal_ends_sessions(
    client: httpx.AsyncClient, core: Core
) -> None:
    await sign_in(client, "olive")
    assert (await client.get("/")).status_code == 200
    new_hash = accounts.hash_password("a brand new password")
    await core.store.write(users_db.set_password, "olive", new_hash)
    assert (await client.get("/")).status_code == 303
    await sign_in(client, "olive", "a brand new password")
    assert (await client.get("/")).status_code == 200
    await core.store.write(users_db.remove, "olive")
    assert (await client.get("/")).status_code == 303


async def test_pages_carry_protective_headers(client: httpx.AsyncClient) -> None:
    await sign_in(client, "stan")
    page = await client.get("/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert "cdn" not in page.text.lower() and "https://" not in page.text.split("<body")[0]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/sources?platform=telegram", "/sources?platform=telegram"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/sign-in", "/"),
        (None, "/"),
    ],
)
def test_after_sign_in_only_local_pages(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected
