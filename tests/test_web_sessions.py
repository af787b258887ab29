"""Sessions are rows on the server: a captured cookie stops working the moment its
session ends (sign-out, a new password, the account removed, idle or too old),
account ids never come back, and the CSRF token belongs to one session."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlite_utils import Database

from campaigns.core import Core
from db import migrations
from db import users as users_db
from db.store import connect, open_database
from db.times import to_text, utcnow
from settings import Settings
from tests.web_support import (
    PASSWORDS,
    asgi_client,
    csrf_of,
    form_token,
    make_settings,
    opened_core,
    run_cli,
    sign_in,
    with_users,
)
from web import accounts
from web.app import create_app

SCHEDULE = {
    "campaign": "one-step-ahead",
    "date": "2099-01-01",
    "time": "10:00",
    "timezone": "Europe/London",
    "intent": "schedule",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    with opened_core(with_users(settings)) as opened:
        yield opened


@pytest.fixture
async def app(core: Core, settings: Settings) -> object:
    return create_app(core, settings)


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as http:
        yield http


def copy_of(client: httpx.AsyncClient, app: object) -> httpx.AsyncClient:
    """Another browser holding the same cookies: a captured cookie."""
    thief = asgi_client(app)
    for cookie in client.cookies.jar:
        thief.cookies.set(cookie.name, cookie.value or "", cookie.domain, cookie.path)
    return thief


async def signed_in(client: httpx.AsyncClient) -> bool:
    response = await client.get("/")
    assert response.status_code in (200, 303)
    return response.status_code == 200


async def count(core: Core, sql: str) -> int:
    def read(db: Database) -> int:
        return int(db.execute(sql).fetchone()[0])

    return await core.store.read(read)


async def test_a_removed_accounts_cookie_never_signs_in_as_the_next_account(
    client: httpx.AsyncClient, core: Core, settings: Settings, app: object
) -> None:
    await sign_in(client, "stan")
    token = await form_token(client, "/prompts")
    removed = run_cli(["users", "remove", "stan"], settings)
    assert removed.returncode == 0, removed.stderr
    added = run_cli(
        ["users", "add", "nora", "--role", "organiser"], settings, "nora-new-password\n"
    )
    assert added.returncode == 0, added.stderr
    async with copy_of(client, app) as thief:
        assert not await signed_in(thief)
        page = await thief.get("/prompts/new")
        assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")
        tried = await thief.post("/prompts/new", data={**SCHEDULE, "csrftoken": token})
        assert tried.status_code in (303, 403)
    assert await count(core, "SELECT count(*) FROM prompts") == 0
    stan_id = 2
    nora = await core.store.read(users_db.get, "nora")
    assert nora is not None and nora.id > stan_id  # ids are never given out again


async def test_sign_out_ends_a_captured_cookie(client: httpx.AsyncClient, app: object) -> None:
    await sign_in(client, "olive")
    async with copy_of(client, app) as thief:
        assert await signed_in(thief)
        out = await client.post("/sign-out", data={"csrftoken": await form_token(client)})
        assert out.status_code == 303
        assert not await signed_in(thief)
    assert not await signed_in(client)


@pytest.mark.parametrize(
    "command",
    [["users", "set-password", "olive"], ["users", "remove", "olive"]],
    ids=["set-password", "remove"],
)
async def test_a_new_password_or_removal_ends_a_captured_cookie(
    client: httpx.AsyncClient, core: Core, settings: Settings, app: object, command: list[str]
) -> None:
    await sign_in(client, "olive")
    async with copy_of(client, app) as thief, asgi_client(app) as second:
        await sign_in(second, "olive")  # another browser of the same person
        assert await signed_in(thief)
        done = run_cli(command, settings, "a brand new password\n")
        assert done.returncode == 0, done.stderr
        assert not await signed_in(thief)
        assert not await signed_in(second)
    assert await count(core, "SELECT count(*) FROM dashboard_sessions") == 0


async def test_a_session_ends_when_idle_or_too_old(
    client: httpx.AsyncClient, core: Core, settings: Settings
) -> None:
    idle = timedelta(minutes=settings.web_session_idle_minutes)
    lifetime = timedelta(hours=settings.web_session_hours)
    now = utcnow()
    await sign_in(client, "olive")
    await age(core, last_seen=now - idle + timedelta(minutes=2))
    assert await signed_in(client)  # used recently enough
    await age(core, last_seen=now - idle - timedelta(minutes=1))
    assert not await signed_in(client)
    assert await count(core, "SELECT count(*) FROM dashboard_sessions") == 0  # purged

    await sign_in(client, "olive")
    await age(core, created=now - lifetime + timedelta(minutes=5))
    assert await signed_in(client)
    await age(core, created=now - lifetime - timedelta(minutes=1))
    assert not await signed_in(client)  # in use all along, but too old
    assert await count(core, "SELECT count(*) FROM dashboard_sessions") == 0


async def age(
    core: Core, *, last_seen: datetime | None = None, created: datetime | None = None
) -> None:
    """Move every session back in time, as if it had been made or used then."""

    def write(db: Database) -> None:
        if last_seen is not None:
            db.execute("UPDATE dashboard_sessions SET last_seen_at = ?", [to_text(last_seen)])
        if created is not None:
            db.execute("UPDATE dashboard_sessions SET created_at = ?", [to_text(created)])

    await core.store.write(write)


async def test_the_cookie_holds_a_token_the_database_holds_only_a_hash_of(
    client: httpx.AsyncClient, core: Core, settings: Settings
) -> None:
    await sign_in(client, "olive")
    cookie = client.cookies["campaignbot_session"]
    payload = base64.b64decode(cookie.split(".", 1)[0])
    session_token = json.loads(payload)["sid"]
    assert set(json.loads(payload)) == {"sid"}  # no account id, nothing to edit
    rows = await core.store.read(
        lambda db: db.execute("SELECT token_hash, user_id FROM dashboard_sessions").fetchall()
    )
    assert len(rows) == 1 and rows[0][1] == 1
    assert session_token not in rows[0][0]
    for name in (settings.db.name, settings.db.name + "-wal"):
        stored = await asyncio.to_thread((settings.db.parent / name).read_bytes)
        assert session_token.encode() not in stored


async def test_pages_write_last_seen_once_a_minute_and_open_routes_never(
    client: httpx.AsyncClient, core: Core
) -> None:
    await sign_in(client, "olive")
    seen = "SELECT last_seen_at FROM dashboard_sessions"
    recent = to_text(utcnow() - timedelta(seconds=30))
    await core.store.write(
        lambda db: db.execute("UPDATE dashboard_sessions SET last_seen_at = ?", [recent])
    )
    for path in ("/", "/prompts", "/sends/progress.json"):
        assert (await client.get(path)).status_code == 200
    assert await core.store.read(lambda db: db.execute(seen).fetchone()[0]) == recent
    older = to_text(utcnow() - timedelta(minutes=3))
    await core.store.write(
        lambda db: db.execute("UPDATE dashboard_sessions SET last_seen_at = ?", [older])
    )
    for path in ("/healthz", "/l/1.AAAAAAAAAAAAAAAA", "/static/style.css"):
        response = await client.get(path)
        assert response.status_code in (200, 404), path
        assert "set-cookie" not in response.headers, path
    assert await core.store.read(lambda db: db.execute(seen).fetchone()[0]) == older
    assert (await client.get("/")).status_code == 200
    assert await core.store.read(lambda db: db.execute(seen).fetchone()[0]) > older


async def test_the_csrf_token_is_bound_to_the_session_and_renewed_at_sign_in(
    client: httpx.AsyncClient, core: Core, app: object
) -> None:
    before = csrf_of((await client.get("/sign-in")).text)
    await sign_in(client, "olive")
    after = await form_token(client)
    assert after != before
    refused = await client.post("/prompts/new", data={**SCHEDULE, "csrftoken": before})
    assert refused.status_code == 403  # the token from before signing in is spent
    # Another session's own cookie and token (planted by someone who can set cookies
    # for this site) don't work with this session.
    async with asgi_client(app) as other:
        await sign_in(other, "stan")
        planted = await form_token(other)
        client.cookies.set(
            "campaignbot_csrf", other.cookies["campaignbot_csrf"], domain="dashboard.test"
        )
    forged = await client.post("/prompts/new", data={**SCHEDULE, "csrftoken": planted})
    assert forged.status_code == 403
    assert await count(core, "SELECT count(*) FROM prompts") == 0
    # a fresh page gives this session a good token again
    good = await client.post(
        "/prompts/new", data={**SCHEDULE, "csrftoken": await form_token(client)}
    )
    assert good.status_code == 303
    assert await count(core, "SELECT count(*) FROM prompts") == 1


def test_account_ids_are_never_reused_and_the_migration_keeps_accounts(
    tmp_path: Path,
) -> None:
    db = connect(tmp_path / "old.db")
    migrations.migrations.apply(db, stop_before="0003_dashboard_sessions")
    stamp = to_text(utcnow())
    for name, role in (("olive", "organiser"), ("stan", "staff")):
        db.execute(
            "INSERT INTO users (name, role, password_hash, chat, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [name, role, accounts.hash_password(PASSWORDS[name]), "telegram:4242", stamp, stamp],
        )
    db.conn.commit()
    db.close()
    db = open_database(tmp_path / "old.db")  # the remaining migrations
    olive, stan = users_db.get(db, "olive"), users_db.get(db, "stan")
    assert olive is not None and (olive.id, olive.role, olive.chat) == (
        1,
        "organiser",
        "telegram:4242",
    )
    assert stan is not None and stan.id == 2
    assert accounts.verify(olive, PASSWORDS["olive"]) is not None
    with db.atomic():
        assert users_db.remove(db, "stan")
        nora = users_db.add(db, name="nora", role="organiser", password_hash="x", chat=None)
    assert nora.id == 3
    db.close()
