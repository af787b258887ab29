"""/metrics: Prometheus's text format, read back with prometheus-client's own parser.

Sends and presses go through the real Telegram adapter and the delivery engine against
the fake Bot API; backups are made by `db.backup`. Every fixture is synthetic.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlite_utils import Database
from starlette.applications import Starlette

from bots.telegram.bot import TelegramBot
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.prompting import Request, send_now
from db.backup import make_backup
from runner import last_backup
from tests.fakes.telegram import FakeTelegram
from tests.platforms import telegram_online
from tests.seeding import add_supporters
from tests.web_support import make_settings
from web.app import create_app

FIRST = 30_000
Labels = tuple[tuple[str, str], ...]


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(core: Core, fake: FakeTelegram) -> AsyncIterator[TelegramBot]:
    async with telegram_online(core, fake) as telegram:
        yield telegram


def engine_for(core: Core, bot: TelegramBot) -> DeliveryEngine:
    return DeliveryEngine(
        core.store,
        core.ctx,
        {"telegram": bot},
        tuning=Tuning(workers=4, backoff_base=0.05, backoff_cap=0.2),
    )


async def send_to(core: Core, fake: FakeTelegram, engine: DeliveryEngine, n: int) -> None:
    """A prompt to `n` new supporters, sent to its end."""

    def seed(db: Database) -> int:
        add_supporters(db, n, addresses=[str(FIRST + i) for i in range(n)])
        return send_now(db, core.ctx.catalog, Request("one-step-ahead", "ai-images"), "test").id

    for i in range(n):
        fake.private_chat(FIRST + i)
    await engine.send_prompt(await core.store.write(seed))


async def scrape(
    app: Starlette, client: tuple[str, int] = ("127.0.0.1", 40000), **headers: str
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        return await http.get("/metrics", headers=headers)


async def samples(app: Starlette) -> dict[str, dict[Labels, float]]:
    """Every sample of the scrape, by name and then by its labels (sorted)."""
    response = await scrape(app)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    found: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def app_for(
    core: Core, tmp_path: Path, messengers: Mapping[str, Any] | None = None, **more: Any
) -> Starlette:
    settings = make_settings(tmp_path, **more.pop("settings", {}))
    return create_app(core, settings, messengers=messengers, **more)


async def test_deliveries_by_state_and_platform_and_sends_after_a_send(
    core: Core, fake: FakeTelegram, bot: TelegramBot, tmp_path: Path
) -> None:
    engine = engine_for(core, bot)
    fake.fail_next("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    await send_to(core, fake, engine, 3)
    found = await samples(app_for(core, tmp_path, {"telegram": bot}, engine=engine))
    deliveries = found["campaignbot_deliveries"]
    assert deliveries[(("platform", "telegram"), ("state", "sent"))] == 2
    assert deliveries[(("platform", "telegram"), ("state", "gone"))] == 1
    sends = found["campaignbot_sends_total"]
    assert sends[(("outcome", "sent"), ("platform", "telegram"))] == 2
    assert sends[(("outcome", "gone"), ("platform", "telegram"))] == 1
    assert sends[(("outcome", "unknown"), ("platform", "telegram"))] == 0
    assert found["campaignbot_adapter_up"] == {(("platform", "telegram"),): 1.0}
    assert found["campaignbot_rate_limited_total"] == {(("platform", "telegram"),): 0.0}
    assert "process_resident_memory_bytes" in found  # the process's own
    assert "campaignbot_backup_age_seconds" not in found  # no backup folder set


async def test_a_429_is_counted_with_its_retry(
    core: Core, fake: FakeTelegram, bot: TelegramBot, tmp_path: Path
) -> None:
    engine = engine_for(core, bot)
    fake.fail_next("sendMessage", status=429, retry_after=1)
    await send_to(core, fake, engine, 2)
    found = await samples(app_for(core, tmp_path, {"telegram": bot}, engine=engine))
    telegram = (("platform", "telegram"),)
    # every 429 the Bot API answered (it holds the method for a second after the first)
    assert found["campaignbot_rate_limited_total"][telegram] == fake.too_many_requests >= 1
    assert found["campaignbot_send_retries_total"][telegram] >= fake.too_many_requests
    assert found["campaignbot_sends_total"][(("outcome", "sent"), *telegram)] == 2


async def test_presses_are_counted(
    core: Core, fake: FakeTelegram, bot: TelegramBot, tmp_path: Path
) -> None:
    app = app_for(core, tmp_path, {"telegram": bot})
    before = await samples(app)
    assert before["campaignbot_presses_total"] == {(("platform", "telegram"),): 0.0}
    fake.private_chat(4101, "Sam")
    fake.user_sends(4101, 4101, "/start")
    await fake.wait_for(lambda: any(_done_button(m) for m in fake.sent_to(4101)))
    ask = next(m for m in fake.sent_to(4101) if _done_button(m))
    query = fake.user_presses(4101, 4101, ask["message_id"], _done_button(ask))
    await fake.wait_for(lambda: query in fake.callback_answers)
    after = await samples(app_for(core, tmp_path, {"telegram": bot}))  # a fresh app: no cache
    assert after["campaignbot_presses_total"] == {(("platform", "telegram"),): 1.0}


def _done_button(message: dict[str, Any]) -> str:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"] == "I did it":
                return str(button["callback_data"])
    return ""


async def test_seconds_since_the_last_backup(core: Core, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    settings = make_settings(tmp_path, backup_dir=folder)
    when = last_backup(settings)
    assert when is not None
    found = await samples(create_app(core, settings, last_backup=when))
    assert found["campaignbot_backup_age_seconds"][()] == math.inf  # none yet
    make_backup(core.store.path, folder, keep=2)
    found = await samples(create_app(core, settings, last_backup=when))
    assert 0 <= found["campaignbot_backup_age_seconds"][()] < 600


async def test_refused_to_addresses_that_are_neither_local_nor_trusted(
    core: Core, tmp_path: Path
) -> None:
    app = app_for(core, tmp_path, settings={"trusted_proxies": ["127.0.0.1", "10.8.0.0/16"]})
    refused = await scrape(app, ("203.0.113.9", 40000))
    assert refused.status_code == 403 and "campaignbot" not in refused.text
    # through the trusted proxy, for a client outside: refused too
    outside = await scrape(app, ("127.0.0.1", 40000), **{"X-Forwarded-For": "203.0.113.9"})
    assert outside.status_code == 403
    # a scraper on a trusted network, or on this machine: served
    assert (await scrape(app, ("10.8.3.4", 40000))).status_code == 200
    assert (await scrape(app, ("::1", 40000))).status_code == 200
    # and /healthz stays open to all
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        assert (await http.get("/healthz")).status_code == 200
