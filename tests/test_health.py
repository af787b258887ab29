"""/healthz: each configured part, up or down, with 503 when any is down.

The adapters are the real ones against the fake Telegram and Discord servers; the
database is made unwritable by another connection holding its write lock; the
scheduler is the bot's own, stopped. Every fixture is synthetic.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from campaigns.core import Core
from campaigns.delivery import DeliveryEngine
from campaigns.messenger import Messenger
from scheduler import CampaignScheduler
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.platforms import discord_bot, telegram_bot
from tests.web_support import make_settings
from web.app import create_app
from web.health import JobScheduler

SAM = 4101
PATIENCE = 30.0  # seconds: generous, for a loaded machine


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.private_chat(SAM, "Sam")
        yield server


def app_for(
    core: Core,
    tmp_path: Path,
    messengers: Mapping[str, Messenger] | None = None,
    scheduler: JobScheduler | None = None,
) -> Starlette:
    return create_app(core, make_settings(tmp_path), messengers=messengers, scheduler=scheduler)


async def healthz(app: Starlette) -> tuple[int, dict[str, Any]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        response = await client.get("/healthz")
    return response.status_code, response.json()


async def until_status(app: Starlette, status: int) -> dict[str, Any]:
    """Ask /healthz until it answers `status`; its body then."""
    deadline = asyncio.get_running_loop().time() + PATIENCE
    while True:
        code, body = await healthz(app)
        if code == status:
            return body
        assert asyncio.get_running_loop().time() < deadline, (code, body)
        await asyncio.sleep(0.1)


async def test_a_telegram_adapter_online_is_up_with_its_times_and_nothing_identifying(
    core: Core, fake: FakeTelegram, tmp_path: Path
) -> None:
    bot = telegram_bot(core, fake, limits=False)
    app = app_for(core, tmp_path, {"telegram": bot})
    code, body = await healthz(app)
    assert code == 503 and body["adapters"]["telegram"]["up"] is False  # not yet online
    assert body["adapters"]["telegram"]["note"] == "not online"
    await bot.online()
    try:
        fake.user_sends(SAM, SAM, "/start")  # a poll that brings an update back
        await fake.wait_for(lambda: fake.sent_to(SAM))
        body = await until_status(app, 200)
        telegram = body["adapters"]["telegram"]
        assert body["ok"] is True and body["database"] == {"up": True}
        assert telegram["up"] is True and "note" not in telegram
        assert telegram["last_ok"].endswith("Z") and telegram["last_ok_age"] < PATIENCE
        assert telegram["last_event"] is not None  # the last poll answered
        text = str(body)
        for secret in (fake.token, fake.token.split(":")[1], str(SAM), "127.0.0.1", "bot.db"):
            assert secret not in text
    finally:
        await bot.offline()
    code, body = await healthz(app)
    assert code == 503 and body["adapters"]["telegram"]["up"] is False


async def test_a_bot_api_outage_turns_it_503_and_back_to_200_after(
    core: Core, fake: FakeTelegram, tmp_path: Path
) -> None:
    bot = telegram_bot(core, fake, limits=False, health_grace=0.5)
    await bot.online()
    try:
        app = app_for(core, tmp_path, {"telegram": bot})
        assert (await healthz(app))[0] == 200
        fake.outage()  # every request answered 500, the held poll too
        body = await until_status(app, 503)
        assert body["ok"] is False and body["database"]["up"] is True
        assert "has not answered" in body["adapters"]["telegram"]["note"]
        fake.end_outage()
        fake.user_sends(SAM, SAM, "/start")  # the next poll answers at once
        body = await until_status(app, 200)
        assert body["adapters"]["telegram"]["up"] is True
    finally:
        await bot.offline()


async def test_a_blip_shorter_than_the_grace_stays_up(
    core: Core, fake: FakeTelegram, tmp_path: Path
) -> None:
    bot = telegram_bot(core, fake, limits=False, health_grace=60)
    await bot.online()
    try:
        app = app_for(core, tmp_path, {"telegram": bot})
        fake.outage()
        await fake.wait_for(lambda: any(c.status == 500 for c in fake.calls("getUpdates")))
        assert (await healthz(app))[0] == 200
    finally:
        fake.end_outage()
        await bot.offline()


async def test_a_database_another_connection_holds_locked_is_503(
    core: Core, tmp_path: Path
) -> None:
    app = app_for(core, tmp_path)  # the dashboard on its own: only the database
    code, body = await healthz(app)
    assert (code, body) == (200, {"ok": True, "database": {"up": True}})
    other = sqlite3.connect(core.store.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock, as another process might
        await asyncio.sleep(1.1)  # past the last answer's second
        code, body = await healthz(app)
        assert code == 503 and body["database"]["up"] is False
        assert "SQLITE_BUSY" in body["database"]["note"]
    finally:
        other.execute("ROLLBACK")
        other.close()
    await until_status(app, 200)
    # the writer is none the worse for it
    assert await core.store.write(lambda db: db.execute("SELECT 1").fetchone()[0]) == 1


async def test_a_stopped_scheduler_is_503(core: Core, tmp_path: Path) -> None:
    engine = DeliveryEngine(core.store, core.ctx, {})
    scheduler = CampaignScheduler(core.store, core.ctx.catalog, engine)
    await scheduler.start()
    try:
        app = app_for(core, tmp_path, scheduler=scheduler.scheduler)
        code, body = await healthz(app)
        assert code == 200 and body["scheduler"]["up"] is True
        assert body["scheduler"]["next_run"].endswith("Z")
    finally:
        scheduler.shutdown()  # APScheduler stops at the loop's next turn
        await engine.stop()
    body = await until_status(app, 503)
    assert body["scheduler"]["up"] is False and body["scheduler"]["note"] == "not running"
    assert body["database"]["up"] is True


async def test_a_discord_adapter_is_up_while_its_gateway_is_and_down_when_it_is_gone(
    core: Core, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake_discord:
        bot = discord_bot(core, fake_discord, retry_first=0.2, retry_cap=0.5, health_grace=0.5)
        await bot.online()
        try:
            app = app_for(core, tmp_path, {"discord": bot})
            body = await until_status(app, 200)
            discord = body["adapters"]["discord"]
            assert discord["last_ok"] is not None and discord["last_event"] is not None
            assert fake_discord.token not in str(body)
            await fake_discord.gateway_outage()
            body = await until_status(app, 503)
            assert "gateway" in body["adapters"]["discord"]["note"]
            await fake_discord.end_gateway_outage()
            await until_status(app, 200)
        finally:
            await bot.offline()
