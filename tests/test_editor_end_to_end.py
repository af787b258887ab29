"""Issue 15's last "done when", end to end: with `require_approval` on and `campaignbot
run` running (a real process, against the fake Telegram and the fake Discord), one
organiser writes a new campaign and its ask in the browser and sees the three previews,
a second organiser approves and publishes it, and the running bot, never restarted,
takes the campaign up (`campaigns/reloading.py`, the scheduler's `catalog` job):
supporters join it on both platforms by name, the organiser schedules it and then sends
it now from the dashboard (a confirmation first: whom it reaches, then "Send to 2
supporters now"), and both fakes receive the new text.

Everything waits on a condition (a fake's `wait_for`, a line of the bot's log, a
browser expectation), never on a pause. Playwright's async API shares the test's event
loop with the fakes and the process's pipes.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import re
import signal
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from db.times import utcnow
from settings import Settings
from tests.browser import ARGS, CHROMIUM, WATCH_CSP
from tests.cli_run import RunningBot, discord_env, telegram_env
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.test_ask_editing import (
    ASK_FORM,
    CAMPAIGN_FORM,
    LABELS,
    NEW,
    OLIVE_CHAT,
    SAM_PASSWORD,
    editor_url,
    settings_for,
)
from tests.web_support import PASSWORDS, cli_env

ASK_ID = ASK_FORM["id"]
TITLE = ASK_FORM["title"]
CAMPAIGN_TITLE = CAMPAIGN_FORM["title"]
TG_SUPPORTER, DC_SUPPORTER = 7101, 7201


@pytest.fixture
def chromium() -> str:
    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium (make chromium)"
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=chromium, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.private_chat(OLIVE_CHAT, "Olive")
        fake.private_chat(TG_SUPPORTER, "Tam")
        yield fake


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    fake.add_user(DC_SUPPORTER, "dee")
    yield fake
    await fake.stop()


async def signed_in(browser: Browser, url: str, name: str, password: str) -> Page:
    """A fresh browser session (its own cookies) signed in as `name`, at `url`."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    await page.add_init_script(WATCH_CSP)
    await page.goto(url)
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(url)
    return page


async def write_and_submit(page: Page, base: str) -> None:
    """Organiser A: the campaign, then its ask with the three previews, then asks for
    approval (with the setting on, she can't publish her own words)."""
    await page.get_by_role("link", name="New campaign").click()
    await page.get_by_label("Campaign id").fill(NEW)
    await page.get_by_label("Title", exact=True).fill(CAMPAIGN_TITLE)
    await page.get_by_label("Description").fill(CAMPAIGN_FORM["description"])
    # its weekly run falls days away, so only the sends below reach supporters
    weekday = calendar.day_name[(utcnow() + timedelta(days=3)).weekday()].lower()
    await page.get_by_label("Weekday").select_option(weekday)
    await page.get_by_label("Time", exact=True).fill(CAMPAIGN_FORM["schedule.time"])
    await page.get_by_role("button", name="Make campaign").click()
    await expect(page).to_have_url(f"{base}/campaigns/{NEW}")
    await expect(page.get_by_text("not running yet")).to_be_visible()

    await page.get_by_role("link", name="New ask").click()
    await page.get_by_label("Ask id").fill(ASK_ID)
    for name, label in LABELS.items():
        await page.get_by_label(label, exact=True).fill(ASK_FORM[name])
    for look in ("telegram", "discord", "console"):
        shown = page.locator(f"#preview-output [data-look={look}]")
        await expect(shown).to_contain_text(TITLE[:40])
        await expect(shown).to_contain_text(ASK_FORM["statistic.figure"])
    await page.get_by_role("button", name="Save draft").click()
    await expect(page).to_have_url(f"{base}{editor_url(NEW, ASK_ID)}")
    await expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    await page.get_by_role("button", name="Request approval").click()
    await expect(page.get_by_role("status").first).to_contain_text(
        f"{NEW}/{ASK_ID} v1 is waiting for another organiser's approval."
    )
    assert await page.evaluate("window.cspViolations") == []


async def approve_and_publish(page: Page) -> None:
    """Organiser B: approves the draft, then publishes it."""
    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status").first).to_contain_text(
        f"Approved {NEW}/{ASK_ID} v1: it can be published now."
    )
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("status").first).to_contain_text(f"Published {NEW}/{ASK_ID} v1")
    assert await page.evaluate("window.cspViolations") == []


async def send_now(page: Page, base: str) -> int:
    """Organiser A sends the ask now from the schedule page: "Send now…" shows whom it
    reaches and sends nothing; "Send to 2 supporters now" sends it. The prompt's id."""
    await page.goto(f"{base}/prompts/new")
    await page.get_by_label("Campaign").select_option(NEW)
    await page.get_by_label("Ask").select_option(ASK_ID)
    await page.get_by_role("button", name="Send now…").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Send {NEW}/{ASK_ID} now?")
    reach = page.locator("#send-reach")
    await expect(reach).to_contain_text("telegram: 1 supporter")
    await expect(reach).to_contain_text("discord: 1 supporter")
    await expect(page.locator('[data-mock="telegram"]')).to_contain_text(TITLE[:40])
    await page.get_by_role("button", name="Send to 2 supporters now").click()
    await expect(page).to_have_url(f"{base}/sends")
    said = page.get_by_role("status").filter(has_text="Sending prompt")
    await expect(said).to_contain_text(f"({NEW}/{ASK_ID}) now")
    found = re.search(r"Sending prompt (\d+) ", await said.inner_text())
    assert found, await said.inner_text()
    assert await page.evaluate("window.cspViolations") == []
    return int(found.group(1))


async def schedule_later(page: Page, base: str) -> None:
    """Organiser A schedules the published ask in the dashboard's schedule form."""
    day = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d")
    await page.goto(f"{base}/prompts/new")
    await page.get_by_label("Campaign").select_option(NEW)
    await page.get_by_label("Ask").select_option(ASK_ID)
    await page.get_by_label("Date").fill(day)
    await page.get_by_label("Time", exact=True).fill("18:00")
    await page.get_by_role("button", name="Schedule", exact=True).click()
    await expect(page).to_have_url(f"{base}/prompts")
    await expect(page.get_by_role("status").first).to_contain_text(
        f": {NEW}/{ASK_ID} at {day} 18:00 Europe/London."
    )


def button(message: dict[str, Any], label: str) -> str:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == label))


def tg_asks(telegram: FakeTelegram, chat: int) -> list[dict[str, Any]]:
    return [m for m in telegram.sent_to(chat) if TITLE in str(m.get("text", ""))]


def dc_asks(discord: FakeDiscord, user: int) -> list[dict[str, Any]]:
    return [m for m in discord.dms_to(user) if TITLE in json.dumps(m, ensure_ascii=False)]


def deliveries(settings: Settings, prompt_id: int) -> list[tuple[str, str, int]]:
    """A prompt's deliveries as the running bot recorded them: (platform, state, the
    version of the ask sent), read from the bot's database file."""
    conn = sqlite3.connect(f"file:{settings.db}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT s.platform, d.state, p.ask_version FROM deliveries d"
            " JOIN prompts p ON p.id = d.prompt_id JOIN supporters s ON s.id = d.supporter_id"
            " WHERE p.id = ? ORDER BY s.platform",
            [prompt_id],
        ).fetchall()
    finally:
        conn.close()


@pytest.mark.timeout(90)
async def test_an_ask_written_approved_and_sent_while_the_bot_runs_reaches_both_platforms(
    tmp_path: Path, browser: Browser, telegram: FakeTelegram, discord: FakeDiscord
) -> None:
    settings = settings_for(tmp_path, require_approval=True)
    env = (
        cli_env(settings)
        | telegram_env(telegram)
        | discord_env(discord)
        | {
            "CAMPAIGNBOT_WEB_PORT": "0",
            "CAMPAIGNBOT_REQUIRE_APPROVAL": "true",
        }
    )
    async with RunningBot(env, tmp_path / "run.log") as bot:
        base = await bot.dashboard()
        await discord.wait_until_connected(timeout=30)
        await discord.wait_for(lambda: discord.global_commands, timeout=20)
        started = bot.pid

        olive = await signed_in(browser, f"{base}/campaigns", "olive", PASSWORDS["olive"])
        await write_and_submit(olive, base)
        sam = await signed_in(browser, f"{base}{editor_url(NEW, ASK_ID)}", "sam", SAM_PASSWORD)
        await approve_and_publish(sam)

        # the running bot takes the campaign up by itself (its catalog job, every 2 s)
        await bot.wait_for_output(f"campaign {NEW}: weekly ask now", within=15)
        assert bot.running and bot.pid == started

        # the dashboard the bot serves offers the new ask to schedule (the day after
        # tomorrow: the send that is watched below goes now, from the same page)
        await schedule_later(olive, base)

        # supporters join it by name: a start link on Telegram, /subscribe on Discord
        telegram.user_sends(TG_SUPPORTER, TG_SUPPORTER, f"/start {NEW}-leaflet")
        await telegram.wait_for(
            lambda: any(
                str(m.get("text", "")).startswith(f"Welcome to {CAMPAIGN_TITLE}.")
                for m in telegram.sent_to(TG_SUPPORTER)
            ),
            timeout=10,
        )
        record = await discord.run_slash_command(
            "subscribe",
            user_id=DC_SUPPORTER,
            options=[{"name": "campaign", "type": 3, "value": NEW}],
        )
        answer = await discord.wait_for_response(record, timeout=10)
        assert answer["data"]["content"].startswith(f"Welcome to {CAMPAIGN_TITLE}.")
        # joining shows the campaign's ask at once; the send below comes on top
        await telegram.wait_for(lambda: len(tg_asks(telegram, TG_SUPPORTER)) == 1, timeout=10)
        await discord.wait_for(lambda: len(dc_asks(discord, DC_SUPPORTER)) == 1, timeout=10)

        # the organiser sends it now from the dashboard, and confirms
        prompt_id = await send_now(olive, base)

        # both platforms receive the new text, from the bot that was never restarted
        await telegram.wait_for(lambda: len(tg_asks(telegram, TG_SUPPORTER)) == 2, timeout=15)
        await discord.wait_for(lambda: len(dc_asks(discord, DC_SUPPORTER)) == 2, timeout=15)
        sent = tg_asks(telegram, TG_SUPPORTER)[-1]
        assert ASK_FORM["statistic.figure"] in sent["text"]
        assert button(sent, "I did it")  # an ask supporters can answer
        post = json.dumps(dc_asks(discord, DC_SUPPORTER)[-1], ensure_ascii=False)
        assert ASK_FORM["statistic.figure"] in post and ASK_FORM["link.url"] in post
        assert bot.running and bot.pid == started

        # the send is the published v1, recorded as delivered once on each platform
        done = [("discord", "sent", 1), ("telegram", "sent", 1)]
        await telegram.wait_for(lambda: deliveries(settings, prompt_id) == done, timeout=10)
        await olive.context.close()
        await sam.context.close()

        # and it stops cleanly, having logged no error on the way
        assert bot.process is not None
        bot.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.process.wait(), timeout=15) == 0, bot.output()
    assert "Traceback" not in bot.output() and " ERROR " not in bot.output(), bot.output()
    assert not [c for c in telegram.rejected if c.method != "getUpdates"], telegram.rejected
    assert discord.rejected == []
