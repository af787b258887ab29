"""An ask's other languages and other wordings, written in the dashboard (issue 16's
languages and wording experiments, for organisers who don't write TOML).

The ask's form has a collapsible part per language the bot speaks besides English
(`<details>`, no script needed) and up to two other wordings; both are checked as a
pack's are, each problem beside its field, and are part of the ask's version. The
preview draws the form's ask in the language chosen, and each wording. A Welsh
supporter on the fake Telegram gets the Welsh saved in the dashboard.

The browser test comes last: sync Playwright holds this thread's event loop from then
to the end of the module.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from html import unescape
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from campaigns import campaign_languages, journeys, languages
from campaigns.packs import BUNDLED_PACKS, CampaignTranslation, load_pack
from campaigns.reloading import CatalogFollower
from campaigns.wording import DONE_LABEL
from db import versions as versions_db
from db.times import utcnow
from tests import test_ask_editing as ask_editing
from tests.fakes.telegram import FakeTelegram
from tests.test_ask_editing import (
    ASK,
    BUNDLED,
    SUPPORTERS,
    Bot,
    act,
    editor_url,
    field_error,
    flashes,
    form_at,
    page,
    save_ask,
    settings_for,
    signed_in_page,
)
from tests.web_support import LiveServer

# The fixtures of tests/test_ask_editing.py: the same running bot, fake Telegram and browser.
settings = ask_editing.settings
telegram = ask_editing.telegram
bot = ask_editing.bot
playwright = ask_editing.playwright
browser = ask_editing.browser

RHYS = 8101  # reads Welsh: his Telegram app says so
DONE_CY = languages.gettext(DONE_LABEL, "cy")
WELSH = {
    "translations.cy.title": "Dewch â'r gyfraith i fyny i'r oes ar ddelweddau AI",
    "translations.cy.ask": "Ysgrifennwch at eich AS a gofynnwch am adolygiad o'r gyfraith.",
    "translations.cy.link_label": "Ysgrifennwch at eich AS",
    "translations.cy.poll_question": "Wnaeth eich AS ateb?",
    "translations.cy.poll_answers.1": "Do",
    "translations.cy.poll_answers.2": "Ddim eto",
    "translations.cy.poll_answers.3": "Naddo",
    "translations.cy.poll_answers.4": "Wnes i ddim ysgrifennu",
}
SHORT = {"variants.1.name": "short", "variants.1.ask": "Two minutes: email your MP today."}


def look(html: str, name: str) -> str:
    """One app's preview, as text."""
    return unescape(html.split(f'data-look="{name}"')[1].split('data-look="')[0])


async def fragment(http: httpx.AsyncClient, **changes: str) -> str:
    """The editor's live preview of the ask's form with `changes` (nothing saved)."""
    url = editor_url(BUNDLED, ASK)
    values = form_at(await page(http, url), url) | changes
    response = await http.post(url, data=values, headers={"X-Preview": "fragment"})
    assert response.status_code == 200, response.text[:300]
    return response.text


def welsh_part(html: str) -> str:
    found = re.search(r'<details class="translation" id="translation-cy"[^>]*>', html)
    assert found, "no Welsh part in the form"
    return found.group(0)


# ---------------------------------------------------------------- languages


async def test_the_welsh_written_in_the_form_reaches_a_welsh_supporter(
    bot: Bot, telegram: FakeTelegram
) -> None:
    await bot.supporters()
    telegram.user(RHYS, "Rhys", language_code="cy")
    telegram.private_chat(RHYS, "Rhys")
    telegram.user_sends(RHYS, RHYS, "/start")
    await telegram.wait_for(lambda: len(telegram.sent_to(RHYS)) >= 2)

    async with bot.signed_in("olive") as olive:
        html = await page(olive, editor_url(BUNDLED, ASK))
        # one closed part for Welsh, every field empty: the pack has no Welsh yet
        assert " open" not in welsh_part(html)
        values = form_at(html, editor_url(BUNDLED, ASK))
        assert all(values[name] == "" for name in WELSH)
        assert "<summary>The ask in Cymraeg" in html

        # the preview in Welsh: the bot's words and the ask's translation as typed
        shown = await fragment(olive, language="cy", **WELSH)
        telegram_look = look(shown, "telegram")
        assert WELSH["translations.cy.title"] in telegram_look
        assert DONE_CY in telegram_look and "20,254" in telegram_look  # the figure stays
        shown = await fragment(olive, language="cy", show="poll", **WELSH)
        assert "Wnaeth eich AS ateb?" in look(shown, "telegram")
        assert "Ddim eto" in look(shown, "discord")
        shown = await fragment(olive, language="en", **WELSH)
        assert WELSH["translations.cy.title"] not in shown and DONE_LABEL in look(shown, "console")
        assert await bot.core.store.read(versions_db.open_version, BUNDLED, ASK) is None

        response = await save_ask(olive, BUNDLED, ASK, **WELSH)
        assert response.status_code == 303, response.text[:400]
        draft = await bot.core.store.read(versions_db.open_version, BUNDLED, ASK)
        assert draft is not None and draft.version == 2
        assert draft.data["translations"] == {
            "cy": {
                "title": WELSH["translations.cy.title"],
                "ask": WELSH["translations.cy.ask"],
                "link_label": WELSH["translations.cy.link_label"],
                "poll_question": "Wnaeth eich AS ateb?",
                "poll_answers": ["Do", "Ddim eto", "Naddo", "Wnes i ddim ysgrifennu"],
            }
        }
        html = await page(olive, editor_url(BUNDLED, ASK))
        assert " open" in welsh_part(html)  # it has words: shown open
        assert (
            form_at(html, editor_url(BUNDLED, ASK))["translations.cy.title"]
            == (WELSH["translations.cy.title"])
        )
        # the stand-alone preview of the draft isn't there yet: still v1's words
        stored = await page(olive, f"/asks/{BUNDLED}/{ASK}/preview?language=cy")
        assert WELSH["translations.cy.title"] not in stored and DONE_CY in stored

        line = await act(olive, BUNDLED, ASK, "publish")
        assert line.startswith(f"Published {BUNDLED}/{ASK} v2")
        stored = await page(olive, f"/asks/{BUNDLED}/{ASK}/preview?language=cy")
        assert WELSH["translations.cy.title"] in look(stored, "telegram")
        # its form tries other Welsh words, in the language chosen there
        tried = form_at(stored, "/asks/preview")
        assert tried["language"] == "cy"
        assert tried["translations.cy.title"] == WELSH["translations.cy.title"]
        tried["translations.cy.title"] = "Teitl arall"
        response = await olive.post("/asks/preview", data=tried, headers={"X-Preview": "fragment"})
        assert "Teitl arall" in look(response.text, "telegram")

    await CatalogFollower(bot.core.store, bot.core.ctx).check()
    await bot.send_now()
    await telegram.wait_for(lambda: len(telegram.sent_to(RHYS)) >= 3)
    welsh = telegram.sent_to(RHYS)[-1]
    assert WELSH["translations.cy.title"] in welsh["text"]
    assert WELSH["translations.cy.ask"] in welsh["text"] and "20,254" in welsh["text"]
    buttons = [b["text"] for row in welsh["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[0] == WELSH["translations.cy.link_label"] and DONE_CY in buttons
    english = telegram.sent_to(SUPPORTERS[0])[-1]["text"]
    assert "Bring the law up to speed on AI abuse images" in english
    assert WELSH["translations.cy.title"] not in english


async def test_a_translation_is_checked_as_a_packs_each_problem_beside_its_field(
    bot: Bot,
) -> None:
    async with bot.signed_in("olive") as olive:
        response = await save_ask(
            olive,
            BUNDLED,
            ASK,
            reminder="",
            **{
                "translations.cy.title": "T" * 81,
                "translations.cy.reminder": "Nodyn atgoffa",
                "translations.cy.poll_answers.1": "Do",
                "translations.cy.poll_answers.5": "Efallai",
            },
        )
        assert response.status_code == 422
        html = response.text
        assert field_error(html, "translations.cy.title") == "is 81 characters long; at most 80 fit"
        assert field_error(html, "translations.cy.poll_answers.2") == (
            "give this answer in Cymraeg too, or leave every translated answer empty"
        )
        assert field_error(html, "translations.cy.poll_answers.5") == (
            "the poll has no answer here to translate"
        )
        assert " open" in welsh_part(html)  # a problem inside: shown open
        # the pack's own check of the whole ask, said beside the field it names
        response = await save_ask(
            olive, BUNDLED, ASK, reminder="", **{"translations.cy.reminder": "Nodyn"}
        )
        assert response.status_code == 422
        assert field_error(response.text, "translations.cy.reminder") == "the ask has no reminder"
        # the live preview marks the same fields
        shown = await fragment(olive, language="cy", **{"translations.cy.title": "T" * 81})
        assert "&#34;translations.cy.title&#34;" in shown or '"translations.cy.title"' in shown
        assert "Cymraeg: Heading: is 81 characters long" in unescape(shown)
    assert await bot.core.store.read(versions_db.open_version, BUNDLED, ASK) is None


# ---------------------------------------------------------------- wordings


async def test_other_wordings_are_part_of_the_version_and_each_is_previewed(
    bot: Bot, telegram: FakeTelegram
) -> None:
    await bot.supporters()
    async with bot.signed_in("olive") as olive:
        html = await page(olive, editor_url(BUNDLED, ASK))
        assert "Other wordings to test" in html and "data-running" not in html
        # checked as a pack's: each problem beside the wording it is about
        own = form_at(html, editor_url(BUNDLED, ASK))["ask"]
        wrong = {
            "variants.1.name": "short",
            "variants.1.ask": own,
            "variants.2.name": "original",
            "variants.2.ask": "Other words.",
        }
        response = await save_ask(olive, BUNDLED, ASK, **wrong)
        assert response.status_code == 422
        assert field_error(response.text, "variants.2.name").startswith(
            "a variant can't be called 'original'"
        )
        wrong["variants.2.name"] = "short"
        response = await save_ask(olive, BUNDLED, ASK, **wrong)
        assert field_error(response.text, "variants.2.name") == "two variants have the same name"
        wrong |= {"variants.2.name": "b"}
        response = await save_ask(olive, BUNDLED, ASK, **wrong)
        assert field_error(response.text, "variants.1.ask") == (
            "a variant says the same as the ask: change its words"
        )
        response = await save_ask(olive, BUNDLED, ASK, **{"variants.1.title": "Only a title"})
        assert field_error(response.text, "variants.1.name").startswith("give this wording a")
        assert field_error(response.text, "variants.1.ask") == "is empty"
        assert await bot.core.store.read(versions_db.open_version, BUNDLED, ASK) is None

        # each wording previewed, under its name
        shown = await fragment(olive, show="variant.1", **SHORT)
        assert SHORT["variants.1.ask"] in look(shown, "telegram")
        shown = await fragment(olive, show="variant.2", **SHORT)
        assert "This ask has no other wording 2" in unescape(shown)
        # a language the ask is translated into: its readers get the translation
        welsh = {"translations.cy.title": "Teitl", "language": "cy"}
        shown = await fragment(olive, show="variant.1", **SHORT, **welsh)
        assert "data-translated-away" in shown and "Teitl" in look(shown, "telegram")

        response = await save_ask(olive, BUNDLED, ASK, **SHORT)
        assert response.status_code == 303, response.text[:400]
        html = await page(olive, editor_url(BUNDLED, ASK))
        assert "Other wording 1 (short)" in html  # the Show choice names it
        draft = await bot.core.store.read(versions_db.open_version, BUNDLED, ASK)
        assert draft is not None and draft.data["variants"] == [
            {"name": "short", "ask": SHORT["variants.1.ask"]}
        ]
        await act(olive, BUNDLED, ASK, "publish")
    await CatalogFollower(bot.core.store, bot.core.ctx).check()
    await bot.send_now()
    texts = [telegram.sent_to(chat)[-1]["text"] for chat in SUPPORTERS]
    assert all("20,254" in text for text in texts)
    async with bot.signed_in("olive") as olive:
        html = await page(olive, editor_url(BUNDLED, ASK))
        running = re.search(r"data-running>([^<]*)<", html)
        assert running and "This experiment is running: v2 went out" in unescape(running.group(1))
        response = await save_ask(olive, BUNDLED, ASK, **{"variants.1.ask": "Email your MP now."})
        assert response.status_code == 303
    draft = await bot.core.store.read(versions_db.open_version, BUNDLED, ASK)
    assert draft is not None and draft.version == 3  # a new version; v2 stays as it went


# ---------------------------------------------------------------- the campaign


async def test_the_campaign_in_welsh_and_its_welcome_series_reach_a_welsh_supporter(
    bot: Bot, telegram: FakeTelegram
) -> None:
    path = f"/campaigns/{BUNDLED}/edit"
    welsh = {
        "translations.cy.title": "Un Cam o'r Blaen",
        "translations.cy.welcome.1": "Croeso! Un cais yr wythnos, a'r rheswm drosto.",
        "translations.cy.welcome.2": "Diolch am fod yma.",
    }
    async with bot.signed_in("olive") as olive:
        html = await page(olive, path)
        assert re.search(r'<details class="translation" id="translation-cy" data-language', html)
        values = form_at(html, path)
        # checked as a pack's: a text for each welcome message, or none
        response = await olive.post(path, data=values | {"translations.cy.welcome.3": "Tri"})
        assert response.status_code == 422
        assert field_error(response.text, "translations.cy.welcome.1") == (
            "give this message too, or leave every translated one empty"
        )
        assert field_error(response.text, "translations.cy.welcome.3") == (
            "the welcome series has no message here to translate"
        )
        assert re.search(r'id="translation-cy" data-language="cy" open', response.text)
        response = await olive.post(path, data=values | welsh)
        assert response.status_code == 303, response.text[:400]
        (line,) = flashes(await page(olive, response.headers["location"]))
        assert line == (
            f"Saved campaign {BUNDLED}: name of the campaign (Cymraeg), welcome message 1 "
            "(Cymraeg), welcome message 2 (Cymraeg) changed."
        )
        again = form_at(await page(olive, path), path)
        assert {name: again[name] for name in welsh} == welsh
        exported = tomllib.loads((await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text)
    assert exported["campaign"]["translations"] == {
        "cy": {
            "title": welsh["translations.cy.title"],
            "welcome": [welsh["translations.cy.welcome.1"], welsh["translations.cy.welcome.2"]],
        }
    }

    # the welcome series' steps exist before Rhys joins, as they would in a running bot
    await bot.core.store.write(journeys.reach_due_steps, [BUNDLED], ["telegram"], utcnow())
    telegram.user(RHYS, "Rhys", language_code="cy")
    telegram.private_chat(RHYS, "Rhys")
    telegram.user_sends(RHYS, RHYS, "/start")
    await telegram.wait_for(lambda: len(telegram.sent_to(RHYS)) >= 2)
    later = utcnow() + timedelta(days=2, hours=6)  # the first message's day has come
    added = await bot.core.store.write(journeys.reach_due_steps, [BUNDLED], ["telegram"], later)
    assert added == 1
    waiting = await bot.core.store.read(
        lambda db: db.execute(
            "SELECT DISTINCT prompt_id FROM deliveries WHERE state = 'pending'"
        ).fetchall()
    )
    for (prompt_id,) in waiting:
        await bot.engine.send_prompt(prompt_id)
    await telegram.wait_for(lambda: len(telegram.sent_to(RHYS)) >= 3)
    assert telegram.sent_to(RHYS)[-1]["text"] == welsh["translations.cy.welcome.1"]
    # /campaigns names the campaign in Welsh for him (its description stays the pack's),
    # once the running bot has followed the change (its 2 s job, here by hand)
    await CatalogFollower(bot.core.store, bot.core.ctx).check()
    telegram.user_sends(RHYS, RHYS, "/campaigns")
    await telegram.wait_for(lambda: len(telegram.sent_to(RHYS)) >= 4)
    assert welsh["translations.cy.title"] in str(telegram.sent_to(RHYS)[-1]["text"])


def test_the_campaigns_own_words_in_a_language_fall_back_to_the_packs() -> None:
    campaign = load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml").campaign
    welsh = campaign.model_copy(
        update={"translations": {"cy": CampaignTranslation(title="Un Cam o'r Blaen")}}
    )
    assert campaign_languages.title(welsh, "cy") == "Un Cam o'r Blaen"
    assert campaign_languages.description(welsh, "cy") == campaign.description  # left out
    assert campaign_languages.title(welsh, "en") == campaign.title
    with languages.speaking("cy"):
        assert campaign_languages.title(welsh) == "Un Cam o'r Blaen"
        assert campaign_languages.title(campaign) == campaign.title  # no Welsh at all


# ---------------------------------------------------------------- in the browser


def test_the_welsh_part_of_the_form_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with LiveServer(settings) as server:
        page_ = signed_in_page(browser, server, editor_url(BUNDLED, ASK))
        errors: list[str] = []
        page_.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        title = page_.get_by_label("Heading (Cymraeg)")
        expect(title).to_be_hidden()  # closed until opened
        page_.locator("#translation-cy > summary").click()
        expect(title).to_be_visible()
        title.fill("Teitl Cymraeg newydd")
        page_.get_by_label("Cymraeg", exact=True).check()
        telegram_look = page_.locator("#preview-output [data-look=telegram]")
        expect(telegram_look).to_contain_text("Teitl Cymraeg newydd")
        expect(telegram_look).to_contain_text(DONE_CY)
        # a wrong translated field is marked beside it as it is typed
        page_.get_by_label("Words of the reminder (Cymraeg)").fill("R" * 281)
        expect(page_.locator("#error-translations-cy-reminder")).to_contain_text("at most 280")
        page_.get_by_label("Words of the reminder (Cymraeg)").fill("")
        expect(page_.locator("#error-translations-cy-reminder")).to_be_hidden()
        page_.get_by_label("English", exact=True).check()
        expect(telegram_look).not_to_contain_text("Teitl Cymraeg newydd")
        page_.screenshot(path=str(tmp_path / "welsh.png"), full_page=True)
        page_.get_by_role("button", name="Save draft").click()
        expect(page_.locator("#ask-state")).to_contain_text("draft v2")
        expect(page_.get_by_label("Heading (Cymraeg)")).to_have_value("Teitl Cymraeg newydd")
        assert errors == []
        assert page_.evaluate("window.cspViolations") == []
