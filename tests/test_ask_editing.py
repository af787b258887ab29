"""Campaigns and asks written in the dashboard (issue 15, parts 1, 3 and 6): a campaign
and its asks made and changed in forms checked as packs are; an ask a draft until
published, approved first by a second organiser when the setting says so; a
published text never changed, so an edit after delivery is a new version and counts
stay with the version supporters received; a draft tried in one's own chat; every
change audited; forged, stale and unpublished requests refused in one line.

Sends go through the real Telegram adapter and delivery engine to the fake Telegram.
The browser test comes last: sync Playwright holds this thread's event loop from then
to the end of the module.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from sqlite_utils import Database

from campaigns import editing, pack_io, prompting
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, prepare
from campaigns.model import ChatKind, Origin
from campaigns.packs import BUNDLED_PACKS, load_pack
from campaigns.versions import digest
from db import audit as audit_db
from db import catalog as catalog_db
from db import dashboard as dashboard_db
from db import migrations
from db import users as users_db
from db import versions as versions_db
from db.catalog import CampaignOrigin
from db.stats import participation
from db.store import connect, open_database
from db.times import utcnow
from runner import open_core
from settings import Settings
from tests.browser import ARGS, CHROMIUM, WATCH_CSP
from tests.cli_run import assert_one_clean_line
from tests.fakes.telegram import FakeTelegram
from tests.platforms import telegram_bot
from tests.seeding import add_supporters
from tests.test_packs_in_out import EVERY_FIELD
from tests.web_support import (
    PASSWORDS,
    LiveServer,
    asgi_client,
    csrf_of,
    make_settings,
    run_cli,
    sign_in,
    with_users,
)
from web import accounts
from web.app import create_app
from web.editor import FORGED

BUNDLED, ASK = "one-step-ahead", "ai-images"
V1_TITLE = "Bring the law up to speed on AI abuse images"
V1_URL = "https://www.writetothem.com/"
NEW = "kids-online"
OLIVE_CHAT = 4242  # olive's linked Telegram chat
SUPPORTERS = [7001, 7002, 7003]
SAM_PASSWORD = "sam-second-organiser-pass"
SCRIPT = "<script>alert(1)</script>"

CAMPAIGN_FORM = {
    "slug": NEW,
    "title": "Kids online",
    "description": "Keeping children safe online, one step a week.",
    "schedule.weekday": "wednesday",
    "schedule.time": "19:00",
    "schedule.timezone": "Europe/London",
    "schedule.grace_hours": "6",
    "schedule.reminder_days": "",
    "sources": "leaflet, web",
    "after_last": "repeat",
}
ASK_FORM = {
    "id": "first-step",
    "title": "Ask your school about its online safety lessons",
    "ask": "Write to your child's school and ask how it teaches online safety.",
    "topic": "schools",
    "statistic.figure": "1 in 4",
    "statistic.sentence": "One in four children saw something upsetting online in 2023.",
    "statistic.source": "A survey of parents",
    "statistic.url": "https://example.org/survey",
    "statistic.year": "2024",
    "statistic.period": "2023",
    "link.label": "Write to the school",
    "link.url": "https://example.org/write",
    "reminder": "",
}


# ---------------------------------------------------------------- reading pages


class _Forms(HTMLParser):
    """Each form's action and the values it would post (a checked radio, a selected
    option, a text area's text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((found.get("action", ""), {}))
        elif not self.forms or ("name" not in found and tag != "option"):
            return
        elif tag == "input":
            if found.get("type") in ("radio", "checkbox") and "checked" not in found:
                return
            self.forms[-1][1][found["name"]] = found.get("value", "")
        elif tag == "textarea":
            self._textarea = found["name"]
            self.forms[-1][1][found["name"]] = ""
        elif tag == "select":
            self._select = found["name"]
        elif tag == "option" and self._select is not None:
            values = self.forms[-1][1]
            if self._select not in values or "selected" in found:
                values[self._select] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self.forms:
            self.forms[-1][1][self._textarea] += data


def form_at(html: str, action: str) -> dict[str, str]:
    parser = _Forms()
    parser.feed(html)
    found = [values for where, values in parser.forms if where == action]
    assert len(found) == 1, (action, [where for where, _ in parser.forms])
    return dict(found[0])


def flashes(html: str) -> list[str]:
    return [
        unescape(text.strip())
        for text in re.findall(r'class="flash flash-\w+"[^>]*>([^<]*)<', html)
        if text.strip()
    ]


def field_error(html: str, name: str) -> str:
    slot = name.replace(".", "-")
    found = re.search(rf'<p class="field-error" id="error-{slot}"[^>]*>([^<]*)</p>', html)
    assert found, f"no error place for {name}"
    return unescape(found.group(1))


def states(html: str) -> dict[str, str]:
    """The campaign page's asks: id → state."""
    rows = re.findall(
        r'<tr data-ask="([^"]+)">.*?<td data-part="state">([^<]*)</td>', html, flags=re.S
    )
    return {ask_id: unescape(state) for ask_id, state in rows}


def editor_url(slug: str, ask_id: str | None = None) -> str:
    return f"/campaigns/{slug}/asks/{ask_id or '_new'}"


# ---------------------------------------------------------------- doing things


async def page(http: httpx.AsyncClient, path: str, status: int = 200) -> str:
    response = await http.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:400])
    return response.text


async def make_campaign(http: httpx.AsyncClient, **changes: str) -> httpx.Response:
    html = await page(http, "/campaigns/_new")
    values = form_at(html, "/campaigns/_new") | CAMPAIGN_FORM | changes
    return await http.post("/campaigns/_new", data=values)


async def save_ask(
    http: httpx.AsyncClient, slug: str, ask_id: str | None = None, **changes: str
) -> httpx.Response:
    """Open the ask's editor (a new ask's, with no id), change fields, save the draft."""
    html = await page(http, editor_url(slug, ask_id))
    values = form_at(html, editor_url(slug, ask_id))
    if ask_id is None:
        values |= ASK_FORM
    return await http.post(editor_url(slug, ask_id), data=values | changes)


async def act(http: httpx.AsyncClient, slug: str, ask_id: str, action: str) -> str:
    """Press one of the draft's buttons; the flash it leaves on the editor."""
    html = await page(http, editor_url(slug, ask_id))
    action_url = f"{editor_url(slug, ask_id)}/{action}"
    response = await http.post(action_url, data=form_at(html, action_url))
    assert response.status_code == 303, response.text[:400]
    shown = await page(http, response.headers["location"])
    (line,) = flashes(shown)
    return line


def audits(db: Database, *actions: str) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    return [
        (row.actor, row.action, row.target, json.loads(row.detail or "{}"))
        for row in reversed(audit_db.latest(db, 500))
        if row.action in actions
    ]


async def in_store(core: Core, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return await core.store.read(lambda db: db.execute(sql, list(params)).fetchall())


# ---------------------------------------------------------------- fixtures


def add_sam(db: Database) -> None:
    """A second organiser, for approvals."""
    with db.atomic():
        users_db.add(
            db,
            name="sam",
            role="organiser",
            password_hash=accounts.hash_password(SAM_PASSWORD),
            chat=None,
        )


def settings_for(folder: Path, *, require_approval: bool = False) -> Settings:
    settings = make_settings(folder, require_approval=require_approval)
    return with_users(settings, add_sam, olive=f"telegram:{OLIVE_CHAT}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.private_chat(OLIVE_CHAT, "Olive")
        for chat in SUPPORTERS:
            fake.private_chat(chat)
        yield fake
        assert not [call for call in fake.rejected if call.method != "getUpdates"]


class Bot:
    """The running bot as `campaignbot run` wires it: a core over the settings' store,
    the Telegram adapter, the engine and the dashboard with the adapter for test sends."""

    def __init__(self, settings: Settings, telegram: FakeTelegram) -> None:
        self.settings = settings
        self.telegram = telegram

    async def __aenter__(self) -> Bot:
        self.core = open_core(self.settings)
        self.adapter = telegram_bot(self.core, self.telegram, limits=False)
        await self.adapter.online()
        self.engine = DeliveryEngine(self.core.store, self.core.ctx, {"telegram": self.adapter})
        self.app = create_app(self.core, self.settings, messengers={"telegram": self.adapter})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.adapter.offline()
        self.core.close()

    @asynccontextmanager
    async def signed_in(self, name: str) -> AsyncIterator[httpx.AsyncClient]:
        async with asgi_client(self.app) as http:
            await sign_in(http, name, SAM_PASSWORD if name == "sam" else PASSWORDS[name])
            yield http

    async def supporters(self) -> None:
        def add(db: Database) -> None:
            add_supporters(db, len(SUPPORTERS), addresses=[str(c) for c in SUPPORTERS])

        await self.core.store.write(add)

    async def send_now(self, slug: str = BUNDLED, ask_id: str = ASK) -> int:
        request = prompting.Request(slug, ask_id)
        prompt = await self.core.store.write(
            prompting.send_now, self.core.ctx.catalog, request, "test"
        )
        await self.engine.send_prompt(prompt.id)
        return prompt.id


@pytest.fixture
async def bot(settings: Settings, telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(settings, telegram) as running:
        yield running


def newest_text(telegram: FakeTelegram, chat: int) -> str:
    return str(telegram.sent_to(chat)[-1]["text"])


# ---------------------------------------------------------------- making and sending


async def test_a_campaign_and_an_ask_made_in_the_dashboard_reach_supporters(
    settings: Settings, telegram: FakeTelegram
) -> None:
    async with Bot(settings, telegram) as running, running.signed_in("olive") as olive:
        made = await make_campaign(olive)
        assert made.status_code == 303 and made.headers["location"] == f"/campaigns/{NEW}"
        shown = await page(olive, f"/campaigns/{NEW}")
        assert "not running yet" in shown and states(shown) == {}
        exported = await olive.get(f"/campaigns/{NEW}/pack.toml")  # no pack holds it yet
        assert exported.status_code == 303
        assert "has no published ask yet" in flashes(await page(olive, "/campaigns"))[0]

        # the new ask's form previews as it is typed, in the three apps, saving nothing
        html = await page(olive, editor_url(NEW))
        values = form_at(html, editor_url(NEW)) | ASK_FORM
        fragment = await olive.post(editor_url(NEW), data=values, headers={"X-Preview": "fragment"})
        assert fragment.status_code == 200
        for look in ("telegram", "discord", "console"):
            assert f'data-look="{look}"' in fragment.text
        assert ASK_FORM["title"] in fragment.text and "1 in 4" in fragment.text
        assert await running.core.store.read(versions_db.of_ask, NEW, "first-step") == []

        saved = await olive.post(editor_url(NEW), data=values)
        assert saved.status_code == 303
        assert saved.headers["location"] == editor_url(NEW, "first-step")
        shown = await page(olive, f"/campaigns/{NEW}")
        assert states(shown) == {"first-step": "v1 (draft, saved by web:olive) · never published"}
        # a draft is sent to no one: the schedule form refuses it by name
        form = form_at(await page(olive, "/prompts/new"), "/prompts/new")
        tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")
        when = {"date": tomorrow, "time": "18:00", "timezone": "Europe/London"}
        refused = await olive.post(
            "/prompts/new", data=form | when | {"campaign": NEW, "ask": "first-step"}
        )
        assert refused.status_code == 422
        assert "ask &#39;first-step&#39; in kids-online is a draft" in refused.text

        assert await act(olive, NEW, "first-step", "publish") == (
            f"Published {NEW}/first-step v1: the bot sends this text from now on."
        )
        shown = await page(olive, f"/campaigns/{NEW}")
        assert states(shown) == {"first-step": "published v1"}
        assert "The bot runs this campaign" in shown

    # the bot's next start runs it; the existing schedule form sends it
    async with Bot(settings, telegram) as running, running.signed_in("olive") as olive:
        assert NEW in running.core.ctx.catalog.packs
        await running.supporters()
        form = form_at(await page(olive, "/prompts/new"), "/prompts/new")
        scheduled = await olive.post(
            "/prompts/new", data=form | when | {"campaign": NEW, "ask": "first-step"}
        )
        assert scheduled.status_code == 303, scheduled.text
        [(prompt_id,)] = await in_store(
            running.core, "SELECT id FROM prompts WHERE campaign = ?", NEW
        )
        await running.engine.send_prompt(prompt_id)
        for chat in SUPPORTERS:
            text = newest_text(telegram, chat)
            assert ASK_FORM["title"] in text and "1 in 4" in text
        assert await in_store(
            running.core, "SELECT ask_version FROM prompts WHERE id = ?", prompt_id
        ) == [(1,)]
        db = open_database(settings.db)
        fields = [*list(ASK_FORM)[:10], "link.label", "link.url"]  # all but the reminder
        assert audits(db, "create-campaign", "save-draft", "publish", "schedule") == [
            ("web:olive", "create-campaign", NEW, {"title": "Kids online"}),
            (
                "web:olive",
                "save-draft",
                f"{NEW}/first-step",
                {"version": 1, "fields": fields, "title": ASK_FORM["title"]},
            ),
            (
                "web:olive",
                "publish",
                f"{NEW}/first-step",
                {"version": 1, "replaces": None, "approved_by": None},
            ),
            ("web:olive", "schedule", f"prompt:{prompt_id}", audits(db, "schedule")[0][3]),
        ]
        db.close()


# ---------------------------------------------------------------- approval


async def test_with_approval_a_second_organiser_approves_before_anything_is_published(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    settings = settings_for(tmp_path, require_approval=True)
    async with (
        Bot(settings, telegram) as running,
        running.signed_in("olive") as olive,
        running.signed_in("sam") as sam,
    ):
        saved = await save_ask(olive, BUNDLED, ASK, title="Make the law see AI abuse images")
        assert saved.status_code == 303
        html = await page(olive, editor_url(BUNDLED, ASK))
        assert "Supporters get v1" in html and "draft v2, saved by web:olive" in html
        # the author sees no Approve and no Publish, and can't use them anyway
        assert f"{editor_url(BUNDLED, ASK)}/approve" not in html
        assert f"{editor_url(BUNDLED, ASK)}/publish" not in html
        draft = form_at(html, f"{editor_url(BUNDLED, ASK)}/test")
        for action in ("publish", "approve"):
            refused = await olive.post(f"{editor_url(BUNDLED, ASK)}/{action}", data=draft)
            assert refused.status_code == 303
            (line,) = flashes(await page(olive, editor_url(BUNDLED, ASK)))
            assert (
                line
                == {
                    "publish": f"{BUNDLED}/{ASK} v2 (draft, saved by web:olive) needs a second "
                    "organiser's approval before it is published",
                    "approve": f"you saved {BUNDLED}/{ASK} v2 last, so another organiser must "
                    "approve it",
                }[action]
            )

        assert await act(olive, BUNDLED, ASK, "request-approval") == (
            f"{BUNDLED}/{ASK} v2 is waiting for another organiser's approval."
        )
        shown = await page(sam, f"/campaigns/{BUNDLED}")
        assert states(shown)[ASK] == "published v1 · v2 (awaiting approval, saved by web:olive)"
        assert await act(sam, BUNDLED, ASK, "approve") == (
            f"Approved {BUNDLED}/{ASK} v2: it can be published now."
        )
        assert states(await page(olive, f"/campaigns/{BUNDLED}"))[ASK] == (
            "published v1 · v2 (approved by web:sam)"
        )
        # still v1 until it is published
        row = await running.core.store.read(catalog_db.get_ask, BUNDLED, ASK)
        assert row is not None and row.title == V1_TITLE and row.version == 1
        assert await act(olive, BUNDLED, ASK, "publish") == (
            f"Published {BUNDLED}/{ASK} v2: the bot sends this text from now on."
        )
        row = await running.core.store.read(catalog_db.get_ask, BUNDLED, ASK)
        assert row is not None and row.title == "Make the law see AI abuse images"
        assert row.version == 2

        # an edit of the approved text goes back to needing approval
        await save_ask(olive, BUNDLED, ASK, title="A third title")
        await act(olive, BUNDLED, ASK, "request-approval")
        await act(sam, BUNDLED, ASK, "approve")
        assert (await save_ask(olive, BUNDLED, ASK, title="A fourth title")).status_code == 303
        assert states(await page(olive, f"/campaigns/{BUNDLED}"))[ASK] == (
            "published v2 · v3 (draft, saved by web:olive)"
        )
        html = await page(olive, editor_url(BUNDLED, ASK))
        refused = await olive.post(
            f"{editor_url(BUNDLED, ASK)}/publish",
            data=form_at(html, f"{editor_url(BUNDLED, ASK)}/test"),
        )
        assert refused.status_code == 303
        assert (
            "needs a second organiser's approval"
            in flashes(await page(olive, editor_url(BUNDLED, ASK)))[0]
        )

        db = open_database(settings.db)
        target = f"{BUNDLED}/{ASK}"
        assert [
            (who, what, detail.get("version"))
            for who, what, where, detail in audits(
                db, "save-draft", "request-approval", "approve", "publish"
            )
            if where == target
        ] == [
            ("web:olive", "save-draft", 2),
            ("web:olive", "request-approval", 2),
            ("web:sam", "approve", 2),
            ("web:olive", "publish", 2),
            ("web:olive", "save-draft", 3),
            ("web:olive", "request-approval", 3),
            ("web:sam", "approve", 3),
            ("web:olive", "save-draft", 3),
        ]
        (publish,) = [d for _, what, _, d in audits(db, "publish") if d["version"] == 2]
        assert publish == {"version": 2, "replaces": 1, "approved_by": "web:sam"}
        db.close()


async def test_without_approval_the_draft_buttons_are_publish_test_and_discard(
    bot: Bot,
) -> None:
    async with bot.signed_in("olive") as olive:
        await save_ask(olive, BUNDLED, ASK, title="Another title")
        html = await page(olive, editor_url(BUNDLED, ASK))
        base = editor_url(BUNDLED, ASK)
        for action in ("publish", "test", "discard"):
            assert f'action="{base}/{action}"' in html
        for action in ("approve", "request-approval"):
            assert f'action="{base}/{action}"' not in html
            refused = await olive.post(f"{base}/{action}", data=form_at(html, f"{base}/test"))
            assert refused.status_code == 303
            assert flashes(await page(olive, base)) == [
                "approval is not asked for here: publish the draft"
            ]
        assert await act(olive, BUNDLED, ASK, "discard") == (
            f"Discarded the draft {BUNDLED}/{ASK} v2."
        )
        assert states(await page(olive, f"/campaigns/{BUNDLED}"))[ASK] == "published v1"
        db = open_database(bot.settings.db)
        assert audits(db, "discard-draft") == [
            (
                "web:olive",
                "discard-draft",
                f"{BUNDLED}/{ASK}",
                {"version": 2, "title": "Another title"},
            )
        ]
        db.close()


# ---------------------------------------------------------------- versions and counts


def done_button(message: dict[str, Any]) -> str:
    rows = message["reply_markup"]["inline_keyboard"]
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == "I did it"))


async def test_an_edit_after_delivery_is_v2_and_what_went_out_stays_v1(
    bot: Bot, telegram: FakeTelegram
) -> None:
    await bot.supporters()
    first = await bot.send_now()
    v1_message = telegram.sent_to(SUPPORTERS[0])[-1]
    assert V1_TITLE in v1_message["text"]
    # a second send of v1, begun (its deliveries made) but not yet out when v2 comes
    request = prompting.Request(BUNDLED, ASK)
    second = await bot.core.store.write(prompting.send_now, bot.core.ctx.catalog, request, "t")
    await bot.core.store.write(prepare, second.id, ["telegram"])

    async with bot.signed_in("olive") as olive:
        saved = await save_ask(
            olive,
            BUNDLED,
            ASK,
            title="New words for AI images",
            **{"link.url": "https://example.org/v2"},
        )
        assert saved.status_code == 303
        assert flashes(await page(olive, saved.headers["location"])) == [
            f"Saved {BUNDLED}/{ASK} v2 as a draft (Ask: Title, Link: Web address)."
        ]
        # the draft changes nothing supporters get: v1 still goes out
        row = await bot.core.store.read(catalog_db.get_ask, BUNDLED, ASK)
        assert row is not None and row.title == V1_TITLE and row.version == 1
        await act(olive, BUNDLED, ASK, "publish")

    # the send begun before the publish goes on with the text it began with
    await bot.engine.send_prompt(second.id)
    for chat in SUPPORTERS:
        assert V1_TITLE in newest_text(telegram, chat)
    # a press on the v1 message: counted for v1's prompt, the message redrawn as v1
    query = telegram.user_presses(
        SUPPORTERS[0], SUPPORTERS[0], v1_message["message_id"], done_button(v1_message)
    )
    await telegram.wait_for(lambda: query in telegram.callback_answers)

    def edited() -> dict[str, Any] | None:
        now = next(
            m
            for m in telegram.sent_to(SUPPORTERS[0])
            if m["message_id"] == v1_message["message_id"]
        )
        return now if "✓" in str(now["text"]) else None

    redrawn = await telegram.wait_for(edited)
    assert redrawn is not None
    assert V1_TITLE in redrawn["text"] and "New words" not in redrawn["text"]
    assert redrawn["reply_markup"]["inline_keyboard"][0][0]["url"] == V1_URL

    # a new send is v2
    third = await bot.send_now()
    for chat in SUPPORTERS:
        assert "New words for AI images" in newest_text(telegram, chat)
    versions = await in_store(
        bot.core,
        "SELECT id, ask_version FROM prompts WHERE id IN (?, ?, ?) ORDER BY id",
        first,
        second.id,
        third,
    )
    assert versions == [(first, 1), (second.id, 1), (third, 2)]
    sent = await bot.core.store.read(versions_db.delivered, BUNDLED, ASK)
    assert sent == {1: 2 * len(SUPPORTERS), 2: len(SUPPORTERS)}
    done = await in_store(bot.core, "SELECT prompt_id FROM actions WHERE kind = 'done'")
    assert done == [(first,)]

    # a tracked link goes where the button the supporter saw went
    def targets(db: Database) -> dict[int, str]:
        found = {}
        for delivery_id, prompt_id in db.execute(
            "SELECT id, prompt_id FROM deliveries WHERE prompt_id IN (?, ?)", [first, third]
        ).fetchall():
            target = dashboard_db.link_target(db, delivery_id)
            assert target is not None
            found[prompt_id] = target.url
        return found

    assert await bot.core.store.read(targets) == {first: V1_URL, third: "https://example.org/v2"}

    # the pages say so: sent per version, the published one on the campaign's page
    async with bot.signed_in("olive") as olive:
        html = await page(olive, editor_url(BUNDLED, ASK))
        rows = dict(
            re.findall(r'<tr data-version="(\d)">.*?<td class="num">([\d,]+)</td>', html, re.S)
        )
        assert rows == {"2": str(len(SUPPORTERS)), "1": str(2 * len(SUPPORTERS))}
        assert "Supporters get v2" in html
        shown = await page(olive, f"/campaigns/{BUNDLED}")
        assert states(shown)[ASK] == "published v2"
    # the report counts what went out, per version of the text supporters received
    report = await bot.core.store.read(participation)
    counted = {
        found.ask_version: (found.counts.delivered, found.counts.done)
        for found in report.by_ask_week
        if found.ask_id == ASK
    }
    assert counted == {1: (2 * len(SUPPORTERS), 1), 2: (len(SUPPORTERS), 0)}


async def test_export_gives_the_published_text_never_a_draft(bot: Bot, tmp_path: Path) -> None:
    original = pack_io.to_toml(load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml"))
    async with bot.signed_in("olive") as olive:
        assert (await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text == original
        await save_ask(olive, BUNDLED, ASK, title="Not yet published")
        exported = (await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text
        assert exported == original and "Not yet published" not in exported
        await act(olive, BUNDLED, ASK, "publish")
        exported = (await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text
    path = tmp_path / "out.toml"
    path.write_text(exported)
    pack = load_pack(path)
    ask = pack.ask(ASK)
    assert ask is not None and ask.title == "Not yet published"
    bundled = load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")
    # the rest of the ask (its next step and poll, shown in the form and posted back as
    # they were) and the other asks are as they were
    before = bundled.ask(ASK)
    assert before is not None and ask.model_copy(update={"title": before.title}) == before
    assert [a for a in pack.asks if a.id != ASK] == [a for a in bundled.asks if a.id != ASK]


# ---------------------------------------------------------------- refusals


async def test_staff_and_forged_forms_change_nothing(bot: Bot) -> None:
    def written(db: Database) -> tuple[int, int, int]:
        return (
            db["ask_versions"].count,
            db["campaigns"].count,
            db.execute("SELECT count(*) FROM audit").fetchone()[0],
        )

    before = await bot.core.store.read(written)
    async with bot.signed_in("olive") as olive:
        html = await page(olive, editor_url(BUNDLED, ASK))
        form = form_at(html, editor_url(BUNDLED, ASK)) | {"title": "Forged"}
        new_campaign = form_at(await page(olive, "/campaigns/_new"), "/campaigns/_new")
    async with bot.signed_in("stan") as stan:
        for path in (
            "/campaigns/_new",
            f"/campaigns/{BUNDLED}",
            f"/campaigns/{BUNDLED}/edit",
            editor_url(BUNDLED),
            editor_url(BUNDLED, ASK),
        ):
            assert (await stan.get(path)).status_code == 403, path
        token = csrf_of(await page(stan, "/"))
        mine = {"csrftoken": token}
        for path, data in (
            (editor_url(BUNDLED, ASK), form | mine),
            (f"{editor_url(BUNDLED, ASK)}/publish", mine | {"version": "1"}),
            ("/campaigns/_new", new_campaign | CAMPAIGN_FORM | mine),
            (f"/campaigns/{BUNDLED}/edit", CAMPAIGN_FORM | mine),
        ):
            assert (await stan.post(path, data=data)).status_code == 403, path
        assert "/campaigns/_new" not in await page(stan, "/")
    async with bot.signed_in("olive") as olive:
        # a form from another session (its CSRF token isn't this one's)
        forged = await olive.post(editor_url(BUNDLED, ASK), data=form)
        assert forged.status_code == 403
        html = await page(olive, editor_url(BUNDLED, ASK))
        form = form_at(html, editor_url(BUNDLED, ASK)) | {"title": "Forged"}
        # fields no page of ours writes
        for bad in ("", "abc", "1e3", "9" * 30, "-1"):
            answer = await olive.post(editor_url(BUNDLED, ASK), data=form | {"version": bad})
            assert answer.status_code == 400, bad
            assert flashes(answer.text) == [FORGED]
        answer = await olive.post(editor_url(BUNDLED, ASK), data=form | {"version": "0"})
        assert answer.status_code == 400  # 0 is a new ask's, posted to an existing one
        for path in (
            "/campaigns/NOPE",
            f"/campaigns/{BUNDLED}/asks/..%2Fx",
            f"{editor_url(BUNDLED, ASK)}/delete",
        ):
            assert (await olive.get(path)).status_code in (404, 405), path
        answer = await olive.post(f"{editor_url(BUNDLED, ASK)}/explode", data=form)
        assert answer.status_code == 404
    assert await bot.core.store.read(written) == before


async def test_a_stale_form_is_refused_in_one_line(bot: Bot) -> None:
    async with bot.signed_in("olive") as olive, bot.signed_in("sam") as sam:
        olives = form_at(await page(olive, editor_url(BUNDLED, ASK)), editor_url(BUNDLED, ASK))
        assert (await save_ask(sam, BUNDLED, ASK, title="Sam's title")).status_code == 303
        answer = await olive.post(editor_url(BUNDLED, ASK), data=olives | {"title": "Olive's"})
        assert answer.status_code == 409
        assert flashes(answer.text) == [
            f"{BUNDLED}/{ASK} changed since you opened it: it is now v2 (draft, saved by "
            "web:sam). Open it again to see the change, then make yours"
        ]
        assert field_error(answer.text, "title") == ""  # her typing is kept, not judged
        assert 'value="Olive&#39;s"' in answer.text
        # ...and saving that page again is refused again: she must see sam's change first
        again = await olive.post(
            editor_url(BUNDLED, ASK), data=form_at(answer.text, editor_url(BUNDLED, ASK))
        )
        assert again.status_code == 409
        # the draft is edited in place: two tabs on v2 can't overwrite each other either
        html = await page(olive, editor_url(BUNDLED, ASK))
        olives = form_at(html, editor_url(BUNDLED, ASK))
        assert olives["version"] == "2"
        assert (await save_ask(sam, BUNDLED, ASK, title="Sam again")).status_code == 303
        answer = await olive.post(editor_url(BUNDLED, ASK), data=olives | {"title": "Olive's"})
        assert answer.status_code == 409
        # and a button pressed on a page that was open meanwhile
        action = f"{editor_url(BUNDLED, ASK)}/publish"
        pressed = await olive.post(action, data=form_at(html, action))
        assert pressed.status_code == 303
        assert flashes(await page(olive, editor_url(BUNDLED, ASK)))[0].startswith(
            f"{BUNDLED}/{ASK} changed since you opened it"
        )
        # a campaign's form too
        path = f"/campaigns/{BUNDLED}/edit"
        olives = form_at(await page(olive, path), path)
        sams = form_at(await page(sam, path), path)
        assert (await sam.post(path, data=sams | {"title": "Sam's campaign"})).status_code == 303
        answer = await olive.post(path, data=olives | {"title": "Olive's campaign"})
        assert answer.status_code == 409
        assert "was changed by someone else since you opened it" in answer.text
        row = await bot.core.store.read(catalog_db.get_ask, BUNDLED, ASK)
        assert row is not None and row.title == V1_TITLE
        campaign = await bot.core.store.read(catalog_db.get_campaign, BUNDLED)
        assert campaign is not None and campaign.title == "Sam's campaign"


async def test_a_draft_is_never_sent_by_name(bot: Bot) -> None:
    async with bot.signed_in("olive") as olive:
        assert (await save_ask(olive, BUNDLED)).status_code == 303  # a new ask, a draft
    expected = (
        f"ask 'first-step' in {BUNDLED} is a draft, v1 (draft, saved by web:olive), and not "
        "published: publish it on the dashboard's Campaigns page first"
    )
    # the chat desk's /sendnow and /preview
    organiser = Origin("telegram", "900", ChatKind.PRIVATE, user="900", organiser=True)
    for command in ("sendnow", "preview"):
        answer = await bot.core.command(organiser, command, (BUNDLED, "first-step"))
        assert [m.text for m in answer] == [expected]
    # `campaignbot send` (closing the store first: the command line opens its own)
    bot.core.close()
    result = run_cli(["send", BUNDLED, "--now", "--ask", "first-step"], bot.settings)
    assert result.returncode != 0
    assert_one_clean_line(result.stderr, "first-step", "is a draft")
    db = open_database(bot.settings.db)
    assert db["prompts"].count == 0
    db.close()
    bot.core = open_core(bot.settings)  # for the fixture's own closing


# ---------------------------------------------------------------- forms checked as packs


async def test_nothing_half_valid_is_saved_and_each_error_is_beside_its_field(bot: Bot) -> None:
    async with bot.signed_in("olive") as olive:
        answer = await make_campaign(
            olive,
            slug="Kids Online",
            title="",
            description="x" * 700,
            **{
                "schedule.weekday": "someday",
                "schedule.time": "25:61",
                "schedule.timezone": "Mars/Olympus",
                "schedule.grace_hours": "lots",
                "schedule.reminder_days": "9",
                "sources": "leaflet, Bad Code!, other",
                "after_last": "never",
            },
        )
        assert answer.status_code == 422
        expected = {
            "slug": "must be lowercase letters, digits and hyphens, such as 'ai-images'",
            "title": "is empty",
            "description": "is 700 characters long; at most 600 fit",
            "schedule.weekday": "must be one of monday, tuesday, wednesday, thursday, friday, "
            "saturday, sunday",
            "schedule.time": "must be a time of day, such as 18:30",
            "schedule.timezone": "'Mars/Olympus' is not an IANA time zone (try 'Europe/London')",
            "schedule.grace_hours": "must be a number of hours, such as 6",
            "schedule.reminder_days": "must be from 1 to 6 days",
            "sources": "'code!' must be lowercase letters, digits, _ and -, as in a /start link",
            "after_last": "must be repeat or stop",
        }
        for name, message in expected.items():
            assert field_error(answer.text, name) == message, name
        assert 'value="Kids Online"' in answer.text  # what was typed stays, to fix
        # a slug that is taken, beside the slug
        answer = await make_campaign(olive, slug=BUNDLED)
        assert answer.status_code == 422
        assert field_error(answer.text, "slug").startswith("is another campaign's")

        # an ask: every wrong field named, nothing saved
        answer = await save_ask(
            olive,
            BUNDLED,
            id="Bad Id",
            title="",
            **{"statistic.url": "http://example.org/", "statistic.year": "twenty", "link.url": "x"},
        )
        assert answer.status_code == 422
        assert field_error(answer.text, "id") == (
            "must be lowercase letters, digits and hyphens, such as 'ai-images'"
        )
        assert field_error(answer.text, "title") == "is empty"
        assert field_error(answer.text, "statistic.url") == "must be an https:// link"
        assert (
            field_error(answer.text, "statistic.year")
            == "must be a year of four digits, such as 2024"
        )
        assert field_error(answer.text, "link.url") == "'x' is not a web link"
        # an id already taken, with the other fields fine
        answer = await save_ask(olive, BUNDLED, id=ASK)
        assert answer.status_code == 422
        assert field_error(answer.text, "id").startswith("is already an ask of this campaign")
        # a huge text, and a control character
        answer = await save_ask(olive, BUNDLED, ASK, ask="x" * 5000, reminder="bell \x07")
        assert answer.status_code == 422
        assert field_error(answer.text, "ask") == "is 5000 characters long; at most 400 fit"
        assert field_error(answer.text, "reminder") == "contains a control character (U+0007)"

    def written(db: Database) -> tuple[int, int, int]:
        return (
            db["ask_versions"].count,
            db["campaigns"].count,
            db.execute("SELECT count(*) FROM audit").fetchone()[0],
        )

    assert await bot.core.store.read(written) == (5, 1, 0)


async def test_markup_and_odd_unicode_are_kept_as_text(bot: Bot, telegram: FakeTelegram) -> None:
    title = f"{SCRIPT} Cafe\u0301 🚸 שלום"
    async with bot.signed_in("olive") as olive:
        assert (await make_campaign(olive, title=title)).status_code == 303
        shown = await page(olive, f"/campaigns/{NEW}")
        assert SCRIPT not in shown and "&lt;script&gt;" in shown
        saved = await save_ask(olive, NEW, title=title, ask=f"{SCRIPT}\r\nSecond line")
        assert saved.status_code == 303
        html = await page(olive, editor_url(NEW, "first-step"))
        assert SCRIPT not in html.split("<footer")[0].replace('<script src="', "")
        draft = await bot.core.store.read(versions_db.open_version, NEW, "first-step")
        assert draft is not None
        data = draft.data
        assert data["title"] == f"{SCRIPT} Café 🚸 שלום"  # composed, as a pack stores it
        assert data["ask"] == f"{SCRIPT}\nSecond line"  # a browser's CR LF, as a pack's LF
        await act(olive, NEW, "first-step", "publish")
        campaign = await bot.core.store.read(catalog_db.get_campaign, NEW)
        assert campaign is not None and campaign.title == f"{SCRIPT} Café 🚸 שלום"


async def test_editing_a_campaign_keeps_what_the_form_doesnt_show(bot: Bot) -> None:
    before = load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")
    async with bot.signed_in("olive") as olive:
        path = f"/campaigns/{BUNDLED}/edit"
        values = form_at(await page(olive, path), path)
        assert values["schedule.weekday"] == before.campaign.schedule.weekday
        same = await olive.post(path, data=values)
        assert same.status_code == 303
        assert flashes(await page(olive, same.headers["location"])) == [
            f"Nothing to save: campaign {BUNDLED} already says that."
        ]
        values = form_at(await page(olive, path), path)
        changed = await olive.post(
            path,
            data=values
            | {"schedule.time": "07:15", "schedule.weekday": "friday", "sources": "leaflet"},
        )
        assert changed.status_code == 303
        assert flashes(await page(olive, changed.headers["location"])) == [
            f"Saved campaign {BUNDLED}: weekday, time, source codes changed."
        ]
        exported = (await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text
    after = tomllib_loads(exported)
    assert after["campaign"]["schedule"]["time"] == "07:15"
    assert after["campaign"]["sources"] == ["leaflet"]
    # the welcome series (posted back as the form showed it) and the asks are as they were
    assert after["campaign"].get("welcome") == before.model_dump(mode="json", exclude_none=True)[
        "campaign"
    ].get("welcome")
    pack = await bot.core.store.read(pack_io.pack_from_db, BUNDLED)
    assert pack is not None and pack.asks == before.asks
    versions = await bot.core.store.read(lambda db: db["ask_versions"].count)
    assert versions == len(before.asks)  # no ask got a new version
    db = open_database(bot.settings.db)
    assert audits(db, "edit-campaign") == [
        (
            "web:olive",
            "edit-campaign",
            BUNDLED,
            {"fields": ["schedule.weekday", "schedule.time", "sources"]},
        )
    ]
    db.close()


def tomllib_loads(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)


# ---------------------------------------------------------------- a test of the draft


async def test_a_draft_tried_in_ones_own_chat_counts_nothing(
    bot: Bot, telegram: FakeTelegram
) -> None:
    async with bot.signed_in("olive") as olive:
        await save_ask(olive, BUNDLED, ASK, title="A draft to try")
        line = await act(olive, BUNDLED, ASK, "test")
        assert line == f"Sent a test of {BUNDLED}/{ASK} (draft v2) to your telegram chat."
        (received,) = telegram.sent_to(OLIVE_CHAT)
        assert "A draft to try" in received["text"]
        # its preview is what went: the page's Telegram look holds the same HTML
        html = await page(olive, editor_url(BUNDLED, ASK))
        sent = re.search(r'<pre data-sent="telegram">(.*?)</pre>', html, re.S)
        assert sent is not None and "A draft to try" in unescape(sent.group(1))
        # a press on the test message counts nothing
        query = telegram.user_presses(
            OLIVE_CHAT, OLIVE_CHAT, received["message_id"], done_button(received)
        )
        await telegram.wait_for(lambda: query in telegram.callback_answers)
    async with bot.signed_in("sam") as sam:
        line = await act(sam, BUNDLED, ASK, "test")
        assert line.startswith("Your account has no linked chat.")
    assert await in_store(bot.core, "SELECT count(*) FROM actions") == [(0,)]
    assert await in_store(bot.core, "SELECT count(*) FROM prompts") == [(0,)]
    row = await bot.core.store.read(catalog_db.get_ask, BUNDLED, ASK)
    assert row is not None and row.title == V1_TITLE
    db = open_database(bot.settings.db)
    assert audits(db, "test-send") == [
        (
            "web:olive",
            "test-send",
            f"{BUNDLED}/{ASK}",
            {"platform": "telegram", "ok": "ok", "version": 2, "draft": True},
        )
    ]
    db.close()


# ---------------------------------------------------------------- versions in the store


def test_every_ask_from_before_versions_is_its_own_published_v1(tmp_path: Path) -> None:
    """0008 on a database of 0007: each ask's row becomes its v1, content exactly as
    the pack's ask (its next step and poll too); prompts that went out sent v1."""
    path = tmp_path / "old.db"
    old = connect(path)
    migrations.migrations.apply(old, stop_before="0008_ask_versions")
    packs = [
        load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml"),
        pack_io.read_pack(EVERY_FIELD.encode(), "every-field.toml"),
    ]
    with old.atomic():
        for pack in packs:
            campaign = {**pack_io.campaign_row(pack), "origin": "pack", "pack_file": "x.toml"}
            catalog_db.upsert_campaign(old, campaign, [pack_io.ask_row(a) for a in pack.asks])
        for state in ("sent", "scheduled"):
            old.execute(
                "INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,"
                " created_by, created_at) VALUES (?, ?, 'manual', 't', 'UTC', ?, 'me', 't')",
                [BUNDLED, ASK, state],
            )
    old.close()
    db = open_database(path)
    for pack in packs:
        for ask in pack.asks:
            found = versions_db.published(db, pack.campaign.slug, ask.id)
            assert found is not None and found.version == 1 and found.published_by == "migration"
            assert pack_io.ask_of(found.content) == ask
            assert versions_db.same_content(found.content, pack_io.ask_content(ask))
    assert db.execute("SELECT DISTINCT version FROM asks").fetchall() == [(1,)]
    assert db.execute("SELECT state, ask_version FROM prompts ORDER BY id").fetchall() == [
        ("sent", 1),
        ("scheduled", None),
    ]
    # the same packs written again (the first start's copy-in) make no new version
    with db.atomic():
        for pack in packs:
            pack_io.write_pack(db, pack, CampaignOrigin.PACK, pack_file="x.toml", pack_hash="h")
    assert db["ask_versions"].count == sum(len(pack.asks) for pack in packs)
    db.close()


def test_an_import_that_changes_an_ask_publishes_its_next_version_over_a_draft(
    db: Database,
) -> None:
    pack = load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")
    with db.atomic():
        v1 = versions_db.published(db, BUNDLED, ASK)
        assert v1 is not None
        values = editing.content_values(BUNDLED, v1.content) | {"title": "A draft"}
        saved = editing.save_draft(db, BUNDLED, values, 1, digest(v1), "web:olive")
    assert saved.draft is not None and saved.draft.version == 2
    changed = pack.model_copy(
        update={
            "asks": [
                ask.model_copy(update={"title": "From the import"}) if ask.id == ASK else ask
                for ask in pack.asks
            ]
        }
    )
    with db.atomic():
        found = pack_io.import_pack(db, changed, "cli:olive", "pack.toml")
    assert found.changed == (ASK,)
    published = versions_db.published(db, BUNDLED, ASK)
    assert published is not None and published.version == 2
    assert published.published_by == "cli:olive" and published.created_by == "cli:olive"
    draft = versions_db.open_version(db, BUNDLED, ASK)
    assert draft is not None and draft.version == 3 and draft.data["title"] == "A draft"
    row = catalog_db.get_ask(db, BUNDLED, ASK)
    assert row is not None and (row.version, row.title) == (2, "From the import")
    assert [v.state for v in versions_db.of_ask(db, BUNDLED, ASK)] == [
        "draft",
        "published",
        "superseded",
    ]
    # the other asks were not changed, and kept their v1; the same import again: nothing
    others = db.execute("SELECT DISTINCT version FROM asks WHERE id != ?", [ASK]).fetchall()
    assert others == [(1,)]
    with db.atomic():
        assert not pack_io.import_pack(db, changed, "cli:olive", "pack.toml").any
    assert db["ask_versions"].count == len(pack.asks) + 2
    # the draft, published, is v3 over the import's v2
    with db.atomic():
        editing.publish(db, BUNDLED, ASK, 3, digest(draft), "web:sam", require_approval=False)
    row = catalog_db.get_ask(db, BUNDLED, ASK)
    assert row is not None and (row.version, row.title) == (3, "A draft")


# ---------------------------------------------------------------- in a browser

LABELS = {  # the ask's form, by label
    "title": "Title",
    "ask": "What to do",
    "topic": "Topic",
    "statistic.figure": "Figure",
    "statistic.sentence": "Sentence",
    "statistic.source": "Source",
    "statistic.url": "Source link",
    "statistic.year": "Year the source came out (optional)",
    "link.label": "Button label",
    "link.url": "Web address",
}


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium (make chromium)"
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield browser
    browser.close()


def signed_in_page(browser: Browser, server: LiveServer, path: str, width: int = 1280) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.add_init_script(WATCH_CSP)
    page.goto(server.url + path)
    page.get_by_label("Name").fill("olive")
    page.get_by_label("Password").fill(PASSWORDS["olive"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.url + path)
    return page


def test_a_campaign_and_an_ask_made_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with LiveServer(settings) as server:
        page = signed_in_page(browser, server, "/campaigns")

        page.get_by_role("link", name="New campaign").click()
        expect(page.get_by_role("heading", name="New campaign")).to_be_visible()
        page.get_by_label("Campaign id").fill(NEW)
        page.get_by_label("Title", exact=True).fill("Kids online")
        page.get_by_label("Description").fill(CAMPAIGN_FORM["description"])
        page.get_by_label("Weekday").select_option("wednesday")
        page.get_by_label("Time", exact=True).fill("25:00")
        page.get_by_role("button", name="Make campaign").click()
        # wrong: said beside the field, what was typed kept
        expect(page.locator("#error-schedule-time")).to_have_text(
            "must be a time of day, such as 18:30"
        )
        expect(page.get_by_label("Time", exact=True)).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Campaign id")).to_have_value(NEW)
        page.get_by_label("Time", exact=True).fill("19:00")
        page.get_by_role("button", name="Make campaign").click()
        expect(page).to_have_url(f"{server.url}/campaigns/{NEW}")
        expect(page.get_by_text("not running yet")).to_be_visible()
        # from here on nothing is refused (the 422 above is the browser's one error line)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        page.get_by_role("link", name="New ask").click()
        expect(page.locator("[data-preview-waiting]")).to_be_visible()
        page.get_by_label("Ask id").fill("first-step")
        for name, label in LABELS.items():
            page.get_by_label(label, exact=True).fill(ASK_FORM[name])
        looks = {
            name: page.locator(f"#preview-output [data-look={name}]")
            for name in ("telegram", "discord", "console")
        }
        for shown in looks.values():
            expect(shown).to_contain_text(ASK_FORM["title"][:40])
        expect(looks["telegram"]).to_contain_text("1 in 4")
        # a field made wrong is marked beside it as it is typed
        page.get_by_label("Web address", exact=True).fill("http://example.org/")
        expect(page.locator("#error-link-url")).to_have_text("must be an https:// link")
        page.get_by_label("Web address", exact=True).fill(ASK_FORM["link.url"])
        expect(page.locator("#error-link-url")).to_be_hidden()
        page.screenshot(path=str(tmp_path / "new-ask.png"), full_page=True)

        page.get_by_role("button", name="Save draft").click()
        expect(page).to_have_url(f"{server.url}{editor_url(NEW, 'first-step')}")
        expect(page.locator("#ask-state")).to_contain_text("Not published yet")
        for shown in looks.values():
            expect(shown).to_contain_text(ASK_FORM["title"][:40])
        page.get_by_role("button", name="Publish").click()
        expect(page.get_by_role("status").first).to_contain_text(f"Published {NEW}/first-step v1")
        expect(page.locator("#ask-state")).to_contain_text("Supporters get v1")
        page.get_by_role("link", name=NEW).first.click()
        expect(page.locator('tr[data-ask="first-step"] [data-part=state]')).to_have_text(
            "published v1"
        )
        assert page.evaluate("window.cspViolations") == []
        assert errors == []
        page.context.close()

        # the editor fits a phone, every field labelled
        phone = signed_in_page(browser, server, editor_url(NEW, "first-step"), width=390)
        expect(phone.locator("[data-look=console]")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        unlabelled = phone.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(el => el.labels.length === 0).map(el => el.name)"""
        )
        assert unlabelled == []
        phone.context.close()
