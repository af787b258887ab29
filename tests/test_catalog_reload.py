"""The running bot picks campaign changes up within seconds, without a restart (issue
15, part 5): a campaign imported from the command line or the dashboard, a schedule
changed, a campaign retired. The scheduler's follow job is driven directly here (no
sleeps): each look is one small read, and a change is swapped in everywhere at once
(the core and its engine, the weekly jobs, the dashboard, Discord's campaign options).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from rich.console import Console
from sqlite_utils import Database

from bots.console import ConsoleChat
from campaigns import pack_io, wording
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.dialogue import Context
from campaigns.packs import BUNDLED_PACKS, Pack, load_pack
from campaigns.prompting import Request, send_now
from campaigns.reloading import FOLLOW_SECONDS, CatalogFollower, read_catalog
from db import catalog as catalog_db
from db import subscriptions as subscriptions_db
from db import supporters as supporters_db
from db.store import Store, open_database
from runner import open_core
from scheduler import CampaignScheduler
from settings import Settings
from tests.cli_run import RunningBot, base_env, run
from tests.conftest import SECRET
from tests.fakes.discord import MEMBER_DEFAULT, FakeDiscord, FakeDiscordError
from tests.platforms import discord_bot
from tests.seeding import bundled_folder
from tests.web_support import csrf_of, make_settings, run_cli, signed_in, with_users
from web.app import create_app

MAIN, MAIN_TITLE = "one-step-ahead", "One Step Ahead"
NEW, NEW_TITLE = "bare", "Bare"
# A campaign the bundled folder does not have: what an organiser imports.
NEW_PACK = f"""
[campaign]
slug = "{NEW}"
title = "{NEW_TITLE}"
description = "A campaign that arrives while the bot runs."

[campaign.schedule]
weekday = "monday"
time = "09:00"
timezone = "Europe/London"

[[asks]]
id = "only"
title = "The only ask"
topic = "things"
ask = "Do the thing."

[asks.statistic]
figure = "1"
sentence = "One thing."
source = "Us"
url = "https://example.org/"

[asks.link]
label = "Do it"
url = "https://example.org/do"
"""
NEVER = 3600.0  # the follow job's own interval in these tests: they drive it themselves
SAM, ADMIN, GUILD, CHANNEL = 6101, 6102, 7600, 7601
MANAGE_GUILD = 1 << 5


@dataclass
class Running:
    """A bot as `campaignbot run` wires it, minus the adapters' networks: the core, a
    console chat as its messenger, the engine and a started scheduler that follows."""

    settings: Settings
    core: Core
    chat: ConsoleChat
    screen: io.StringIO
    engine: DeliveryEngine
    scheduler: CampaignScheduler

    def job_ids(self) -> set[str]:
        return {job.id for job in self.scheduler.scheduler.get_jobs()}

    def next_weekly(self, slug: str) -> datetime:
        job = self.scheduler.scheduler.get_job(f"weekly:{slug}")
        assert job is not None, f"no weekly job for {slug}"
        moment: datetime = job.next_run_time
        return moment

    async def write(self, sql: str, params: list[Any] | None = None) -> None:
        await self.core.store.write(lambda db: db.execute(sql, params or []))

    async def stored_version(self) -> int:
        return await self.core.store.read(catalog_db.catalog_version)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    packs = bundled_folder(tmp_path / "packs")
    return with_users(make_settings(tmp_path / "data", packs=packs))


@pytest.fixture
async def running(settings: Settings) -> AsyncIterator[Running]:
    core = open_core(settings)
    screen = io.StringIO()
    chat = ConsoleChat(core, console=Console(file=screen, width=100), address="pat")
    engine = DeliveryEngine(core.store, core.ctx, {chat.platform: chat}, tuning=Tuning(workers=1))
    core.attach(engine)
    follower = CatalogFollower(core.store, core.ctx, settings.default_campaign)
    scheduler = CampaignScheduler(
        core.store, core.ctx.catalog, engine, follower=follower, follow_seconds=NEVER
    )
    await scheduler.start()
    try:
        yield Running(settings, core, chat, screen, engine, scheduler)
    finally:
        scheduler.shutdown()
        await engine.stop()
        core.close()


def changed_schedule(**schedule: object) -> Pack:
    """The bundled campaign with its schedule changed, as an organiser imports it."""
    pack = load_pack(BUNDLED_PACKS / f"{MAIN}.toml")
    moved = pack.campaign.schedule.model_copy(update=schedule)
    return pack.model_copy(
        update={"campaign": pack.campaign.model_copy(update={"schedule": moved})}
    )


async def import_pack(running: Running, pack: Pack, actor: str = "web:olive") -> None:
    """An import as the dashboard's Campaigns page makes it (validated, one transaction)."""
    await running.core.store.write(pack_io.import_pack, pack, actor, "pack.toml")


def lines_from(caplog: pytest.LogCaptureFixture, *loggers: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name in loggers]


# ------------------------------------------------------------------ the scheduler and the core


async def test_a_campaign_imported_from_the_command_line_runs_at_the_next_look(
    running: Running, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert f"weekly:{NEW}" not in running.job_ids()
    job = running.scheduler.scheduler.get_job("catalog")
    assert job is not None and job.trigger.interval.total_seconds() == NEVER
    before = running.core.ctx.catalog

    pack_file = tmp_path / "bare.toml"
    pack_file.write_text(NEW_PACK, encoding="utf-8")
    done = run_cli(["campaigns", "import", str(pack_file)], running.settings)
    assert done.returncode == 0, done.stderr
    assert running.core.ctx.catalog is before  # nothing moves until the bot looks

    assert await running.scheduler.follow_catalog() is True
    catalog = running.core.ctx.catalog
    assert sorted(catalog.packs) == [NEW, MAIN]
    assert catalog.version == await running.stored_version()
    # the scheduler, the engine and the organiser desk hold the same catalog now
    assert running.scheduler.catalog is catalog
    assert running.engine.ctx.catalog is catalog and running.core.desk.ctx.catalog is catalog
    # its weekly job: Mondays 09:00 in London
    monday = running.next_weekly(NEW).astimezone(ZoneInfo("Europe/London"))
    assert (monday.strftime("%A"), monday.time()) == ("Monday", time(9, 0))
    assert "campaign bare: weekly ask now mondays 09:00 Europe/London" in lines_from(
        caplog, "scheduler"
    )
    assert f"weekly:{MAIN}" in running.job_ids()  # the others are untouched
    # one more look finds nothing new
    assert await running.scheduler.follow_catalog() is False
    assert running.core.ctx.catalog is catalog

    # `/start bare` over the console core joins it...
    await running.chat.handle_line(f"/start {NEW}")
    assert f"Welcome to {NEW_TITLE}." in running.screen.getvalue()

    def joined(db: Database) -> list[str]:
        found = supporters_db.get(db, "console", "pat")
        assert found is not None
        return sorted(row.campaign for row in subscriptions_db.of_supporter(db, found.id))

    assert await running.core.store.read(joined) == [NEW]
    # ...and the engine sends its ask there
    prompt = await running.core.store.write(send_now, catalog, Request(NEW), "test")
    await running.scheduler.dispatch()
    for task in list(running.engine._running.values()):
        await task
    assert "Do the thing." in running.screen.getvalue()
    sent = await running.core.store.read(
        lambda db: db.execute("SELECT state FROM prompts WHERE id = ?", [prompt.id]).fetchone()
    )
    assert sent == ("sent",)


async def test_a_changed_schedule_moves_the_next_run_and_keeps_the_job(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    london = running.next_weekly(MAIN).astimezone(ZoneInfo("Europe/London"))
    assert (london.strftime("%A"), london.time()) == ("Tuesday", time(18, 30))

    await import_pack(
        running, changed_schedule(weekday="wednesday", time=time(7, 15), timezone="Europe/Paris")
    )
    assert await running.scheduler.follow_catalog() is True
    paris = running.next_weekly(MAIN).astimezone(ZoneInfo("Europe/Paris"))
    assert (paris.strftime("%A"), paris.time()) == ("Wednesday", time(7, 15))
    assert paris > datetime.now(UTC)
    assert sorted(i for i in running.job_ids() if i.startswith("weekly:")) == [f"weekly:{MAIN}"]
    assert lines_from(caplog, "scheduler") == [
        "campaign one-step-ahead: weekly ask now wednesdays 07:15 Europe/Paris"
    ]

    # a change that is not the schedule (the grace window) moves nothing and says nothing
    caplog.clear()
    await import_pack(
        running,
        changed_schedule(
            weekday="wednesday", time=time(7, 15), timezone="Europe/Paris", grace_hours=1.0
        ),
    )
    assert await running.scheduler.follow_catalog() is True
    assert running.core.ctx.catalog.packs[MAIN].campaign.schedule.grace_hours == 1.0
    assert running.next_weekly(MAIN) == paris
    assert lines_from(caplog, "scheduler") == []


async def test_a_retired_campaign_loses_its_weekly_job(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await import_pack(running, pack_io.read_pack(NEW_PACK.encode(), "bare.toml"))
    assert await running.scheduler.follow_catalog() is True
    assert f"weekly:{NEW}" in running.job_ids()

    assert await running.core.store.write(catalog_db.retire_campaign, NEW) is True
    assert await running.scheduler.follow_catalog() is True
    assert f"weekly:{NEW}" not in running.job_ids() and f"weekly:{MAIN}" in running.job_ids()
    assert NEW not in running.core.ctx.catalog.packs
    assert "campaign bare: retired, so no weekly ask" in lines_from(caplog, "scheduler")
    # a weekly run that fired just before is harmless
    await running.scheduler.weekly(NEW)
    # and an import brings it back, job and all
    await import_pack(running, pack_io.read_pack(NEW_PACK.encode(), "bare.toml"))
    assert await running.scheduler.follow_catalog() is True
    assert f"weekly:{NEW}" in running.job_ids()


# ------------------------------------------------------------------ a stored catalog it can't run


async def test_a_stored_catalog_that_breaks_the_rules_keeps_the_old_one_and_says_so_once(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = running.core.ctx.catalog
    # not through an import (that is validated): a write from elsewhere, such as a hand edit
    await running.write(
        "UPDATE asks SET link_url = 'http://insecure.example' WHERE campaign = ? AND id = ?",
        [MAIN, "ai-images"],
    )
    broken = await running.stored_version()
    assert await running.scheduler.follow_catalog() is False
    assert running.core.ctx.catalog is before and running.scheduler.catalog is before
    [line] = lines_from(caplog, "campaigns.reloading")
    assert "\n" not in line and f"version {broken}" in line
    assert "ask 'ai-images'" in line and "link.url" in line
    assert f"keeps running version {before.version}" in line
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None  # one line, no traceback

    # the bot carries on with the old catalog, and later looks say nothing more
    caplog.clear()
    assert await running.scheduler.follow_catalog() is False
    assert caplog.records == []
    assert f"weekly:{MAIN}" in running.job_ids()
    await running.chat.handle_line("/start")
    assert f"Welcome to {MAIN_TITLE}." in running.screen.getvalue()

    # the next change is tried again: here, the fix
    await running.write(
        "UPDATE asks SET link_url = 'https://example.org/fixed' WHERE campaign = ? AND id = ?",
        [MAIN, "ai-images"],
    )
    assert await running.scheduler.follow_catalog() is True
    catalog = running.core.ctx.catalog
    fixed = {ask.id: ask for ask in catalog.packs[MAIN].asks}["ai-images"]
    assert fixed.link.url == "https://example.org/fixed"
    assert catalog.version == await running.stored_version() > broken


async def test_a_database_with_no_campaign_left_keeps_the_old_catalog(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = running.core.ctx.catalog
    assert await running.core.store.write(catalog_db.retire_campaign, MAIN) is True
    assert await running.scheduler.follow_catalog() is False
    assert running.core.ctx.catalog is before and f"weekly:{MAIN}" in running.job_ids()
    [line] = lines_from(caplog, "campaigns.reloading")
    assert "holds no campaigns" in line


# ------------------------------------------------------------------ what a look costs


async def test_a_look_when_nothing_changed_is_one_small_read(settings: Settings) -> None:
    store = Store(settings.db, readers=1)  # one read connection: every read is traced
    try:
        catalog = await store.read(read_catalog, None)
        ctx = Context.from_secret(catalog, SECRET)
        follower = CatalogFollower(store, ctx)
        scheduler = CampaignScheduler(
            store, catalog, DeliveryEngine(store, ctx, {}), follower=follower
        )
        assert scheduler.follow_seconds == FOLLOW_SECONDS <= 2.0
        read: list[str] = []
        written: list[str] = []
        await store.read(lambda db: db.conn.set_trace_callback(read.append))
        await store.write(lambda db: db.conn.set_trace_callback(written.append))
        read.clear()
        written.clear()

        for _ in range(3):
            assert await scheduler.follow_catalog() is False
        assert read == ["SELECT version FROM catalog_version"] * 3
        assert written == []  # the writer is left alone
        count = await store.read(lambda db: db.execute("SELECT count(*) FROM catalog_version"))
        assert count.fetchone() == (1,)  # one row, by its primary key
        assert ctx.catalog is catalog
    finally:
        store.close()


def test_a_pinned_context_keeps_its_catalog_through_a_swap(catalog: Catalog) -> None:
    ctx = Context.from_secret(catalog, SECRET)
    pinned = ctx.pinned()
    newer = Catalog(catalog.packs, catalog.default, version=catalog.version + 1)
    ctx.swap_catalog(newer)
    assert ctx.catalog is newer and pinned.catalog is catalog
    assert pinned.start_links is ctx.start_links and pinned.ids is ctx.ids


# ------------------------------------------------------------------ the dashboard


@pytest.fixture
async def olive(running: Running) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        running.core, running.settings, scheduler=running.scheduler.scheduler, engine=running.engine
    )
    async with signed_in(app, "olive") as http:
        yield http


def options_of(html: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no {name} select"
    return re.findall(r'<option[^>]*value="([^"]*)"', select.group(1))


async def test_the_dashboard_sees_a_new_campaign_without_a_restart(
    running: Running, olive: httpx.AsyncClient
) -> None:
    page = await olive.get("/campaigns")
    assert 'id="waiting"' not in page.text
    posted = await olive.post(
        "/campaigns/import",
        files={"pack": ("bare.toml", NEW_PACK.encode())},
        data={"csrftoken": csrf_of(page.text)},
    )
    assert posted.status_code == 303
    before, stored = running.core.ctx.catalog.version, await running.stored_version()
    waiting = unescape((await olive.get("/campaigns")).text)
    assert 'id="waiting"' in waiting
    assert f"it runs version {before}, the database holds version {stored}" in waiting
    assert NEW not in options_of((await olive.get("/prompts/new")).text, "campaign")
    refused = await olive.get(f"/participation?campaign={NEW}")
    assert "There&#39;s no campaign of that name." in refused.text

    assert await running.scheduler.follow_catalog() is True
    assert 'id="waiting"' not in (await olive.get("/campaigns")).text
    form = await olive.get(f"/prompts/new?campaign={NEW}")
    assert options_of(form.text, "campaign") == sorted([MAIN, NEW])
    assert re.search(rf'<option[^>]*value="{NEW}"[^>]*selected', form.text)
    shown = await olive.get(f"/participation?campaign={NEW}")
    assert shown.status_code == 200 and "no campaign of that name" not in shown.text
    assert NEW in options_of(shown.text, "campaign")
    # a prompt for it can be scheduled from the dashboard at once
    scheduled = await olive.post(
        "/prompts/new",
        data={
            "campaign": NEW,
            "ask": "only",
            "date": "2031-01-06",
            "time": "09:00",
            "timezone": "Europe/London",
            "csrftoken": csrf_of(form.text),
        },
    )
    assert scheduled.status_code == 303, scheduled.text


# ------------------------------------------------------------------ Discord


@pytest.fixture
async def discord(running: Running) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    fake.add_user(SAM, "sam")
    fake.add_user(ADMIN, "ada")
    members = {SAM: MEMBER_DEFAULT, ADMIN: MEMBER_DEFAULT | MANAGE_GUILD}
    fake.add_guild(GUILD, "Supporters", [CHANNEL], members=members)
    bot = discord_bot(running.core, fake)
    await bot.online()
    try:
        yield fake
    finally:
        await bot.offline()
        assert fake.rejected == []
        await fake.stop()


async def suggested(fake: FakeDiscord, command: str, typed: str) -> list[Any]:
    record = await fake.autocomplete(command, "campaign", typed, user_id=SAM)
    answer = await fake.wait_for_response(record)
    assert answer["type"] == 8
    return [(c["name"], c["value"]) for c in answer["data"]["choices"]]


async def test_discord_offers_a_new_campaign_as_soon_as_the_bot_has_it(
    running: Running, discord: FakeDiscord
) -> None:
    fake = discord
    subscribe = next(c for c in fake.global_commands if c["name"] == "subscribe")
    option = next(o for o in subscribe["options"] if o["name"] == "campaign")
    assert option["autocomplete"] is True and not option.get("choices")
    assert await suggested(fake, "subscribe", "") == [(MAIN_TITLE, MAIN)]
    syncs = len(fake.calls_to("PUT", "/applications/{application_id}/commands"))

    await import_pack(running, pack_io.read_pack(NEW_PACK.encode(), "bare.toml"))
    assert await suggested(fake, "subscribe", "") == [(MAIN_TITLE, MAIN)]  # not yet
    assert await running.scheduler.follow_catalog() is True
    assert await suggested(fake, "subscribe", "") == [(MAIN_TITLE, MAIN), (NEW_TITLE, NEW)]
    assert await suggested(fake, "subscribe", "BA") == [(NEW_TITLE, NEW)]  # slug or title
    assert await suggested(fake, "invite", "step") == [(MAIN_TITLE, MAIN)]
    assert await suggested(fake, "subscribe", "nothing like it") == []
    # nothing was synced again: the suggestions come from the running catalog
    assert len(fake.calls_to("PUT", "/applications/{application_id}/commands")) == syncs

    record = await fake.run_slash_command(
        "subscribe", user_id=SAM, options=[{"name": "campaign", "type": 3, "value": NEW}]
    )
    answer = await fake.wait_for_response(record)
    assert answer["data"]["content"].startswith(f"Welcome to {NEW_TITLE}.")


async def test_a_campaign_typed_on_discord_is_checked(
    running: Running, discord: FakeDiscord
) -> None:
    fake = discord
    # autocomplete only suggests: what was typed may come instead of a suggestion
    record = await fake.run_slash_command(
        "subscribe", user_id=SAM, options=[{"name": "campaign", "type": 3, "value": "nope"}]
    )
    answer = await fake.wait_for_response(record)
    assert answer["data"]["content"] == wording.campaigns_unknown("nope", [MAIN])
    assert await running.core.store.read(supporters_db.get, "discord", str(SAM)) is None
    # a title typed in full is that campaign
    record = await fake.run_slash_command(
        "subscribe",
        user_id=SAM,
        options=[{"name": "campaign", "type": 3, "value": "one step ahead"}],
    )
    answer = await fake.wait_for_response(record)
    assert answer["data"]["content"].startswith(f"Welcome to {MAIN_TITLE}.")
    # in /channel, the answer goes to the admin alone and nothing is posted in the channel
    record = await fake.run_slash_command(
        "channel",
        user_id=ADMIN,
        guild_id=GUILD,
        channel_id=CHANNEL,
        options=[
            {"name": "channel", "value": str(CHANNEL)},
            {"name": "campaign", "value": "nope"},
        ],
    )
    answer = await fake.wait_for_response(record)
    assert answer["data"]["content"] == wording.campaigns_unknown("nope", [MAIN])
    assert record.ephemeral and fake.messages_in(CHANNEL) == []


async def test_the_fake_discord_sends_autocomplete_only_where_a_user_could(
    running: Running, discord: FakeDiscord
) -> None:
    fake = discord
    with pytest.raises(FakeDiscordError, match="does not autocomplete"):
        await fake.autocomplete("subscribe", "code", "lea", user_id=SAM)
    with pytest.raises(FakeDiscordError, match="has no option"):
        await fake.autocomplete("subscribe", "nope", "x", user_id=SAM)
    with pytest.raises(FakeDiscordError, match="not registered"):
        await fake.autocomplete("nope", "campaign", "x", user_id=SAM)
    with pytest.raises(FakeDiscordError, match="lacks the permissions"):
        await fake.autocomplete("channel", "campaign", "x", user_id=SAM, guild_id=GUILD)
    # in a server, with another option filled in already: the payload Discord sends
    record = await fake.autocomplete(
        "channel",
        "campaign",
        "one",
        user_id=ADMIN,
        guild_id=GUILD,
        channel_id=CHANNEL,
        options=[{"name": "stop", "value": False}],
    )
    assert record.type == 4
    options = record.data["options"]
    assert options[-1] == {"name": "campaign", "type": 3, "value": "one", "focused": True}
    assert options[0] == {"name": "stop", "type": 5, "value": False}
    assert [c["value"] for c in (await fake.wait_for_response(record))["data"]["choices"]] == [MAIN]


def test_stored_version_and_catalog_are_read_together(settings: Settings) -> None:
    db = open_database(settings.db)
    try:
        catalog = read_catalog(db, None)
        assert catalog.version == catalog_db.catalog_version(db)
        assert not db.conn.in_transaction  # the read transaction is over
    finally:
        db.close()


# ------------------------------------------------------------------ `campaignbot run` itself


@pytest.mark.timeout(120)
async def test_campaignbot_run_follows_an_import_within_seconds(tmp_path: Path) -> None:
    env = base_env(tmp_path)  # no chat tokens: the scheduler and the dashboard
    pack_file = tmp_path / "bare.toml"
    pack_file.write_text(NEW_PACK, encoding="utf-8")
    async with RunningBot(env, tmp_path / "bot.log") as bot:
        await bot.wait_for_output("weekly ask of one-step-ahead: next at")
        code, output = await run(env, "campaigns", "import", str(pack_file))
        assert code == 0, output
        # the follow job looks every two seconds; the wait is generous, not a measure
        await bot.wait_for_output("campaign bare: weekly ask now mondays 09:00 Europe/London")
        assert "Traceback" not in bot.output()
        assert await bot.stop() == 0
