"""The dashboard's "Send now" (organisers only), over the real app in-process: the
confirmation says what `send --dry-run` says and sends nothing; only its own one-use
button sends, audited as the CLI's `send --now`; a forged, replayed or someone
else's confirm, a draft, a retired campaign or an unknown ask is one line and sends
nothing. Then once in Debian's chromium with scripts off, on a phone-sized screen.
(The send reaching the fake Telegram and the fake Discord from a running bot is in
tests/test_editor_end_to_end.py.)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright, expect
from sqlite_utils import Database
from starlette.applications import Starlette

from campaigns import editing
from campaigns.core import Core
from db import catalog as catalog_db
from db import prompts as prompts_db
from db.store import open_database
from settings import Settings
from tests.browser import ARGS, CHROMIUM
from tests.messengers import RecordingMessenger
from tests.seeding import add_supporters
from tests.test_ask_editing import ASK_FORM, add_sam
from tests.web_support import (
    PASSWORDS,
    LiveServer,
    csrf_of,
    make_settings,
    opened_core,
    signed_in,
    with_users,
)
from web.app import create_app

CAMPAIGN, ASK = "one-step-ahead", "ai-images"
TITLE = "Bring the law up to speed"  # the start of ai-images' title
COST = "cost: Telegram: 3 supporters × 0.1 Stars = 0.3 Stars (paid broadcast is on)"
EXPIRED = "That confirmation has expired or was already used, so nothing was sent."
TOKEN = re.compile(r'name="confirm" value="([^"]+)"')


def seed(db: Database) -> None:
    """Sam, a second organiser; three supporters on Telegram and two on Discord."""
    add_sam(db)
    with db.atomic():
        add_supporters(db, 3, "telegram")
        add_supporters(db, 2, "discord")


def fresh_settings(folder: Path, *, paid: bool = False) -> Settings:
    return with_users(make_settings(folder, telegram_paid_broadcast=paid), seed)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fresh_settings(tmp_path)


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    with opened_core(settings) as opened:
        yield opened


def messengers() -> dict[str, RecordingMessenger]:
    """As `campaignbot run` hands them to its dashboard (this one sends nothing itself)."""
    return {"telegram": RecordingMessenger("telegram"), "discord": RecordingMessenger("discord")}


@pytest.fixture
def app(settings: Settings, core: Core) -> Starlette:
    """The dashboard as `campaignbot run` serves it (the bot is up)."""
    return create_app(core, settings, messengers=messengers())


@pytest.fixture
async def olive(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Olive, an organiser."""
    async with signed_in(app, "olive") as http:
        yield http


async def ask_to_send(http: httpx.AsyncClient, **changes: str) -> httpx.Response:
    """Press "Send now…" on the schedule form."""
    token = csrf_of((await http.get("/prompts/new")).text)
    data = {
        "csrftoken": token,
        "intent": "sendnow",
        "campaign": CAMPAIGN,
        "ask": ASK,
        "date": "",
        "time": "",
        "timezone": "Europe/London",
        "platform": "",
        "source": "",
    } | changes
    return await http.post("/prompts/new", data=data)


async def confirm(http: httpx.AsyncClient, page: httpx.Response, **changes: str) -> httpx.Response:
    """Press "Send to N supporters now" on a confirmation page."""
    found = TOKEN.search(page.text)
    assert found, page.text
    data = {
        "csrftoken": csrf_of(page.text),
        "confirm": found.group(1),
        "campaign": CAMPAIGN,
        "ask": ASK,
    } | changes
    return await http.post("/prompts/send-now", data=data)


def reach(html: str) -> list[str]:
    block = html[html.index('id="send-reach"') :]
    block = block[: block.index("</ul>")]
    return [unescape(item) for item in re.findall(r"<li>(.*?)</li>", block)]


async def prompts(core: Core) -> list[tuple[str, str | None, str]]:
    rows = await core.store.read(prompts_db.listed)
    return [(p.ask_id, p.platform, p.created_by) for p in rows]


async def audited(core: Core) -> list[tuple[str, str, str]]:
    return await core.store.read(
        lambda db: db.execute("SELECT actor, action, target FROM audit ORDER BY id").fetchall()
    )


async def test_the_confirmation_shows_the_ask_and_whom_it_reaches_and_sends_nothing(
    olive: httpx.AsyncClient, core: Core
) -> None:
    page = await ask_to_send(olive)
    assert page.status_code == 200
    text = unescape(page.text)
    assert f"{CAMPAIGN}/{ASK} (" in text and "would go to" in text
    assert reach(page.text) == [
        "telegram: 3 supporters",
        "discord: 2 supporters",
        "console: 0 supporters (this bot doesn't send there: skipped)",
        "total: 5",
    ]
    assert "Send to 5 supporters now" in text
    for look in ("telegram", "discord"):  # the ask as previewed
        mock = text[text.index(f'data-mock="{look}"') :]
        assert TITLE in mock[: mock.index("</figure>")]
    assert "Stars" not in text  # paid broadcasts are off
    assert await prompts(core) == []
    actions = [action for _, action, _ in await audited(core)]
    assert "dry-run" in actions and "send-now" not in actions

    only_discord = await ask_to_send(olive, platform="discord")
    assert reach(only_discord.text) == ["discord: 2 supporters", "total: 2"]
    assert "Send to 2 supporters now" in only_discord.text


async def test_confirming_sends_once_audited_as_the_clis_send(
    olive: httpx.AsyncClient, core: Core
) -> None:
    page = await ask_to_send(olive, ask="", platform="telegram")  # "the next one in order"
    sent = await confirm(olive, page)
    assert sent.status_code == 303 and sent.headers["location"] == "/sends"
    [(ask_id, platform, created_by)] = await prompts(core)
    assert (platform, created_by) == ("telegram", "web:olive")
    assert f"/{ask_id} (" in unescape(page.text)  # the ask shown is the ask sent
    sends = await olive.get("/sends")
    assert f"Sending prompt 1 ({CAMPAIGN}/{ask_id}) now" in unescape(sends.text)
    [row] = [r for r in await audited(core) if r[1] == "send-now"]
    assert row == ("web:olive", "send-now", "prompt:1")

    # the same confirm again (a double click, a reload, the back button) sends nothing
    again = await confirm(olive, page)
    assert again.status_code == 409
    assert EXPIRED in unescape(again.text)
    assert len(await prompts(core)) == 1


async def test_a_confirm_never_shown_or_shown_to_someone_else_sends_nothing(
    app: Starlette, core: Core, olive: httpx.AsyncClient
) -> None:
    page = await ask_to_send(olive)
    forged = await confirm(olive, page, confirm="made-up-token")
    assert forged.status_code == 409 and EXPIRED in unescape(forged.text)
    missing = await olive.post(
        "/prompts/send-now", data={"csrftoken": csrf_of(page.text), "campaign": CAMPAIGN}
    )
    assert missing.status_code == 409
    # the form is filled in again with the choices, to press "Send now…" anew
    assert f'<option value="{CAMPAIGN}" selected>' in missing.text
    # another organiser, on the same dashboard
    async with signed_in(app, "sam", "sam-second-organiser-pass") as sam:
        token = csrf_of((await sam.get("/prompts/new")).text)
        found = TOKEN.search(page.text)
        assert found
        borrowed = await sam.post(
            "/prompts/send-now", data={"csrftoken": token, "confirm": found.group(1)}
        )
    assert borrowed.status_code == 409
    # used up by that try: no good to olive either now
    assert (await confirm(olive, page)).status_code == 409
    assert await prompts(core) == []
    # and without the CSRF token, as every form, nothing at all
    bare = await olive.post("/prompts/send-now", data={"confirm": "x"})
    assert bare.status_code == 403
    assert await prompts(core) == []


async def test_staff_can_neither_see_nor_confirm_a_send(settings: Settings, core: Core) -> None:
    async with signed_in(create_app(core, settings, messengers=messengers()), "stan") as stan:
        token = csrf_of((await stan.get("/")).text)
        asked = await stan.post(
            "/prompts/new", data={"csrftoken": token, "intent": "sendnow", "campaign": CAMPAIGN}
        )
        confirmed = await stan.post("/prompts/send-now", data={"csrftoken": token, "confirm": "x"})
    assert (asked.status_code, confirmed.status_code) == (403, 403)
    assert await prompts(core) == []


def draft(db: Database) -> None:
    values = ASK_FORM | {"id": "still-a-draft", "topic": "ai-images"}
    editing.save_draft(db, CAMPAIGN, values, editing.NEW_ASK, "", "web:sam")


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"ask": "still-a-draft"}, "ask", "is a draft"),
        ({"ask": "no-such-ask"}, "ask", "unknown ask 'no-such-ask'"),
        ({"campaign": "nope"}, "campaign", "unknown campaign 'nope'"),
        ({"platform": "myspace"}, "platform", "platform must be one of"),
        ({"source": "not a source!"}, "source", "A source is letters"),
    ],
)
async def test_what_cant_be_sent_is_one_line_and_nothing_is_sent(
    olive: httpx.AsyncClient, core: Core, changes: dict[str, str], field: str, words: str
) -> None:
    await core.store.write(draft)
    page = await ask_to_send(olive, **changes)
    assert page.status_code == 422
    assert "Nothing was sent. Please check:" in page.text
    error = re.search(rf'<p class="field-error" id="error-{field}">(.*?)</p>', page.text)
    assert error is not None and words in unescape(error.group(1)), page.text
    assert TOKEN.search(page.text) is None
    assert await prompts(core) == []


async def test_a_campaign_retired_after_the_confirmation_sends_nothing(
    olive: httpx.AsyncClient, core: Core
) -> None:
    page = await ask_to_send(olive)
    assert await core.store.write(catalog_db.retire_campaign, CAMPAIGN)
    # before the running bot's catalog job has swapped its campaigns (every 2 s)
    late = await confirm(olive, page)
    assert late.status_code == 422
    assert f"Nothing was sent: campaign {CAMPAIGN!r} is retired" in unescape(late.text)
    # nor can it be asked for again (the follower keeps the last campaign running,
    # so this dashboard's campaigns still name it: the store decides)
    again = await ask_to_send(olive)
    assert again.status_code == 422 and "is retired, so it sends nothing" in again.text
    assert await prompts(core) == []
    assert "send-now" not in [action for _, action, _ in await audited(core)]


async def test_a_paid_send_says_its_cost_in_the_dry_runs_words(tmp_path: Path) -> None:
    settings = fresh_settings(tmp_path, paid=True)
    with opened_core(settings) as core:
        async with signed_in(create_app(core, settings, messengers=messengers()), "olive") as http:
            page = await ask_to_send(http)
    assert reach(page.text)[-1] == COST


async def test_without_the_bot_it_is_queued_until_one_runs(settings: Settings, core: Core) -> None:
    async with signed_in(create_app(core, settings), "olive") as http:  # `campaignbot web` alone
        page = await ask_to_send(http)
        assert "total: 5 (platforms without a running adapter are skipped)" in reach(page.text)
        assert "Send to 5 supporters now" in page.text
        sent = await confirm(http, page)
        assert sent.status_code == 303
        sends = unescape((await http.get("/sends")).text)
    assert f"Queued prompt 1 ({CAMPAIGN}/{ASK})." in sends
    assert "it waits for `campaignbot run` on this database" in sends
    assert await prompts(core) == [(ASK, None, "web:olive")]


async def test_an_audience_of_nobody_offers_no_send(olive: httpx.AsyncClient) -> None:
    page = await ask_to_send(olive, source="nowhere")
    assert page.status_code == 200
    assert "No supporter would get it now, so there is nothing to send." in page.text
    assert TOKEN.search(page.text) is None


@pytest.fixture
def chromium() -> str:
    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium (make chromium)"
    return CHROMIUM


async def test_in_chromium_without_scripts_on_a_phone(settings: Settings, chromium: str) -> None:
    """Keyboard only, scripts off, a phone-sized screen: the form, the confirmation,
    the send, and the Sends page with its line."""
    with LiveServer(settings, messengers=messengers()) as server:
        async with async_playwright() as driver:
            browser = await driver.chromium.launch(executable_path=chromium, args=ARGS)
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, java_script_enabled=False, locale="en-GB"
            )
            context.set_default_timeout(10_000)
            page = await context.new_page()
            await page.goto(f"{server.url}/sign-in")
            await page.get_by_label("Name").fill("olive")
            await page.get_by_label("Password").fill(PASSWORDS["olive"])
            await page.get_by_label("Password").press("Enter")
            await page.goto(f"{server.url}/prompts/new")
            await page.get_by_label("Ask").select_option(ASK)
            await page.get_by_label("Platform").select_option("discord")
            send_now = page.get_by_role("button", name="Send now…")
            await send_now.focus()
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("heading", level=1)).to_have_text(
                f"Send {CAMPAIGN}/{ASK} now?"
            )
            await expect(page.locator("#send-reach")).to_contain_text("discord: 2 supporters")
            go = page.get_by_role("button", name="Send to 2 supporters now")
            wide = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, wide  # nothing runs off a phone's screen
            await go.focus()
            await page.keyboard.press("Enter")
            await expect(page).to_have_url(f"{server.url}/sends")
            await expect(page.get_by_role("status").first).to_contain_text(
                f"Sending prompt 1 ({CAMPAIGN}/{ASK}) now"
            )
            await browser.close()
    db = open_database(settings.db)
    try:
        rows = prompts_db.listed(db)
    finally:
        db.close()
    assert [(p.ask_id, p.platform, p.created_by) for p in rows] == [(ASK, "discord", "web:olive")]
