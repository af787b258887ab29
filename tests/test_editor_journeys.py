"""What organisers do in the dashboard without a pack file (issue 15, the editor's rest):
an ask's next step and outcome poll written in its form (drafts, versions, the same
checks as packs, a poll that went out keeping its answers by position) and previewed;
a campaign's welcome series in its form; and an ask moved, retired and brought back
from the campaign's page, which the weekly runs and the running bot follow.

Sends go through the real Telegram adapter and delivery engine to the fake Telegram;
the weekly runs are the scheduler's own `ensure_weekly_prompt`. The browser test comes
last: sync Playwright holds this thread's event loop from then to the end of the module.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, expect
from sqlite_utils import Database

from campaigns import pack_io, prompting
from campaigns.packs import BUNDLED_PACKS, AskVariant, load_pack
from campaigns.reloading import CatalogFollower
from db import catalog as catalog_db
from db import deliveries as deliveries_db
from db import journeys as journeys_db
from db import supporters as supporters_db
from db import versions as versions_db
from db.states import PromptKind
from db.stats import participation
from db.store import open_database
from db.times import utcnow
from scheduler import ensure_weekly_prompt
from tests import test_ask_editing as ask_editing
from tests.fakes.telegram import FakeTelegram
from tests.test_ask_editing import (
    ASK,
    ASK_FORM,
    BUNDLED,
    NEW,
    SUPPORTERS,
    Bot,
    act,
    audits,
    editor_url,
    field_error,
    flashes,
    form_at,
    make_campaign,
    page,
    save_ask,
    settings_for,
    signed_in_page,
)
from tests.web_support import LiveServer

ORDER = [
    "ai-images",
    "pre-screening",
    "age-verification",
    "encrypted-messaging",
    "mandatory-reporting",
]
WEEK = timedelta(days=7)

# The fixtures of tests/test_ask_editing.py: the same running bot, fake Telegram and browser.
settings = ask_editing.settings
telegram = ask_editing.telegram
bot = ask_editing.bot
playwright = ask_editing.playwright
browser = ask_editing.browser


def positions(html: str) -> list[str]:
    """The campaign page's asks that the weekly runs send, in their order."""
    rows = re.findall(
        r'<tr data-ask="([^"]+)">\s*<td class="num" data-part="position">(\d+)</td>', html
    )
    return [ask_id for ask_id, _ in sorted(rows, key=lambda row: int(row[1]))]


def retired_on(html: str) -> list[str]:
    return re.findall(r'<tr data-retired="([^"]+)">', html)


async def place(
    http: httpx.AsyncClient, slug: str, ask_id: str, action: str, **data: str
) -> list[str]:
    """Press a button of the ask's row on the campaign page; the flashes it leaves (what
    was done, and what the next weekly run sends)."""
    html = await page(http, f"/campaigns/{slug}")
    path = f"/campaigns/{slug}/asks/{ask_id}/{action}"
    response = await http.post(path, data=form_at(html, path) | data)
    assert response.status_code == 303, response.text[:400]
    return flashes(await page(http, response.headers["location"]))


def next_on(html: str) -> str:
    """The ask the campaign page marks as the next weekly run's."""
    (found,) = re.findall(r'<tr data-ask="([^"]+)">(?:(?!</tr>).)*data-part="next"', html, re.S)
    return str(found)


def export(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


# ---------------------------------------------------------------- next step and poll


async def test_the_next_step_and_poll_are_written_as_a_draft_then_published(bot: Bot) -> None:
    async with bot.signed_in("olive") as olive:
        html = await page(olive, editor_url(BUNDLED, ASK))
        values = form_at(html, editor_url(BUNDLED, ASK))
        # the form shows what the pack says
        assert values["next.invite"] == "1" and values["next.text"].startswith("Could you ask")
        assert [values[f"poll.answers.{n}"] for n in range(1, 6)] == [
            "Yes",
            "Not yet",
            "No",
            "I didn't write in the end",
            "",
        ]
        assert values["poll.after_days"] == "10"
        response = await save_ask(
            olive,
            BUNDLED,
            ASK,
            **{
                "next.text": "Now tell a friend why this matters.",
                "next.link.label": "Read the briefing",
                "next.link.url": "https://example.org/briefing",
                "next.invite": "",
                "poll.question": "Did your MP answer?",
                "poll.answers.1": "Yes",
                "poll.answers.2": "No",
                "poll.answers.3": "",
                "poll.answers.4": "",
                "poll.after_days": "12",
            },
        )
        assert response.status_code == 303, response.text[:400]
        (line,) = flashes(await page(olive, response.headers["location"]))
        assert line.startswith(f"Saved {BUNDLED}/{ASK} v2 as a draft (")
        assert "Next step: Next step's words" in line and "Outcome poll: Poll question" in line
        # a draft: the bot still sends v1's
        stored = await bot.core.store.read(catalog_db.get_ask, BUNDLED, ASK)
        assert stored is not None and stored.poll_labels[:2] == ["Yes", "Not yet"]
        assert await act(olive, BUNDLED, ASK, "publish") == (
            f"Published {BUNDLED}/{ASK} v2: the bot sends this text from now on."
        )
        exported = export((await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text)
    ask = next(found for found in exported["asks"] if found["id"] == ASK)
    assert ask["next"] == {
        "text": "Now tell a friend why this matters.",
        "link": {"label": "Read the briefing", "url": "https://example.org/briefing"},
        "invite": False,
    }
    assert ask["poll"] == {
        "question": "Did your MP answer?",
        "answers": ["Yes", "No"],
        "after_days": 12,
    }
    stored = await bot.core.store.read(catalog_db.get_ask, BUNDLED, ASK)
    assert stored is not None and stored.version == 2 and stored.next_invite is False
    db = open_database(bot.settings.db)
    ((who, _, target, detail),) = audits(db, "save-draft")
    assert (who, target) == ("web:olive", f"{BUNDLED}/{ASK}")
    assert {
        "next.text",
        "next.link.url",
        "next.invite",
        "poll.answers.2",
        "poll.after_days",
    } <= set(detail["fields"])
    db.close()


async def test_a_wrong_next_step_or_poll_is_named_beside_each_field_and_nothing_is_saved(
    bot: Bot,
) -> None:
    async with bot.signed_in("olive") as olive:
        response = await save_ask(
            olive,
            BUNDLED,
            ASK,
            **{
                "next.text": "",
                "next.link.label": "Read more",
                "next.link.url": "http://example.org/",
                "poll.question": "Did it work?",
                "poll.answers.1": "Yes",
                "poll.answers.2": "yes",
                "poll.answers.3": "x" * 41,
                "poll.answers.4": "",
                "poll.after_days": "40",
            },
        )
        assert response.status_code == 422
        html = response.text
        assert field_error(html, "next.text") == "is empty"
        assert field_error(html, "next.link.url") == "must be an https:// link"
        assert field_error(html, "poll.answers.3") == "is 41 characters long; at most 40 fit"
        assert field_error(html, "poll.after_days") == "must be a whole number of days, 1 to 28"
        assert 'aria-invalid="true"' in html.split('id="f-poll-answers-3"')[1][:400]
        # a poll of one answer: said beside the answers
        response = await save_ask(
            olive,
            BUNDLED,
            "age-verification",
            **{f"poll.answers.{n}": "" for n in range(2, 6)},
        )
        assert response.status_code == 422
        assert field_error(response.text, "poll.answers") == "give at least 2 answers (up to 5)"
    versions = await bot.core.store.read(lambda db: db["ask_versions"].count)
    assert versions == len(ORDER)  # nothing half-valid saved


async def test_a_poll_that_went_out_keeps_its_answers_in_order(bot: Bot) -> None:
    await bot.supporters()

    def poll_went_out(db: Database) -> None:
        prompt = journeys_db.ensure_step_prompt(
            db, campaign=BUNDLED, kind=PromptKind.POLL, ask_id=ASK, timezone="Europe/London"
        )
        supporter = supporters_db.get(db, "telegram", str(SUPPORTERS[0]))
        assert supporter is not None
        deliveries_db.record_direct(db, prompt.id, supporter)

    async with bot.signed_in("olive") as olive:
        before = await page(olive, editor_url(BUNDLED, ASK))
        assert 'id="f-poll-answers-1" name="poll.answers.1" value="Yes" readonly' not in before
        await bot.core.store.write(poll_went_out)
        html = await page(olive, editor_url(BUNDLED, ASK))
        # the four answers that went out are read-only, and the page says why
        for n in range(1, 5):
            assert re.search(rf'id="f-poll-answers-{n}"[^>]*readonly', html), n
        assert not re.search(r'id="f-poll-answers-5"[^>]*readonly', html)
        hint = re.search(r'data-locked="4">([^<]*)<', html)
        assert hint and "the first 4 stay as they are, in this order" in unescape(hint.group(1))
        # reordered (a forged form: the browser can't): refused beside the answers
        swapped = {"poll.answers.1": "Not yet", "poll.answers.2": "Yes"}
        response = await save_ask(olive, BUNDLED, ASK, **swapped)
        assert response.status_code == 422
        assert field_error(response.text, "poll.answers").startswith(
            "keep Yes, Not yet, No, I didn't write in the end first, in this order"
        )
        # taken away: refused beside the question
        gone = {"poll.question": ""} | {f"poll.answers.{n}": "" for n in range(1, 6)}
        response = await save_ask(olive, BUNDLED, ASK, **gone)
        assert response.status_code == 422
        assert "has gone out, so it stays" in field_error(response.text, "poll.question")
        assert await bot.core.store.read(versions_db.open_version, BUNDLED, ASK) is None
        # one added at the end, and the question reworded: fine
        response = await save_ask(
            olive,
            BUNDLED,
            ASK,
            **{"poll.answers.5": "They said no", "poll.question": "Has your MP replied?"},
        )
        assert response.status_code == 303, response.text[:300]
        assert await act(olive, BUNDLED, ASK, "publish") == (
            f"Published {BUNDLED}/{ASK} v2: the bot sends this text from now on."
        )
    stored = await bot.core.store.read(catalog_db.get_ask, BUNDLED, ASK)
    assert stored is not None
    assert stored.poll_labels == [
        "Yes",
        "Not yet",
        "No",
        "I didn't write in the end",
        "They said no",
    ]


async def test_a_draft_made_before_the_poll_went_out_is_not_published_over_it(bot: Bot) -> None:
    await bot.supporters()
    async with bot.signed_in("olive") as olive:
        swapped = {"poll.answers.1": "No", "poll.answers.3": "Yes"}
        assert (await save_ask(olive, BUNDLED, ASK, **swapped)).status_code == 303

        def poll_went_out(db: Database) -> None:
            prompt = journeys_db.ensure_step_prompt(
                db, campaign=BUNDLED, kind=PromptKind.POLL, ask_id=ASK, timezone="UTC"
            )
            supporter = supporters_db.get(db, "telegram", str(SUPPORTERS[1]))
            assert supporter is not None
            deliveries_db.record_direct(db, prompt.id, supporter)

        await bot.core.store.write(poll_went_out)
        line = await act(olive, BUNDLED, ASK, "publish")
    assert line.startswith(f"{BUNDLED}/{ASK} v2: its poll went out since: keep Yes, Not yet")
    stored = await bot.core.store.read(catalog_db.get_ask, BUNDLED, ASK)
    assert stored is not None and stored.version == 1 and stored.poll_labels[0] == "Yes"


async def test_the_preview_shows_the_next_step_and_the_poll(bot: Bot) -> None:
    async with bot.signed_in("olive") as olive:
        html = await page(olive, editor_url(BUNDLED, ASK))
        values = form_at(html, editor_url(BUNDLED, ASK))

        async def fragment(**changes: str) -> str:
            response = await olive.post(
                editor_url(BUNDLED, ASK), data=values | changes, headers={"X-Preview": "fragment"}
            )
            assert response.status_code == 200
            return response.text

        shown = await fragment(show="next")
        telegram = shown.split('data-look="telegram"')[1].split('data-look="discord"')[0]
        assert "Could you ask a friend to join" in unescape(telegram)
        assert "https://t.me/your_bot?start=i_example" in telegram  # stands in for theirs
        shown = await fragment(show="poll", **{"poll.answers.5": "Maybe"})
        telegram = unescape(shown.split('data-look="telegram"')[1].split('data-look="discord"')[0])
        assert "Did your MP reply to you?" in telegram
        buttons = re.findall(r'class="tg-button[^"]*">([^<]*)<', telegram)
        assert buttons == ["Yes", "Not yet", "No", "I didn't write in the end", "Maybe"]
        # a part the ask doesn't have: said so, not an error
        shown = await fragment(show="next", **{"next.text": "", "next.invite": ""})
        assert "This ask has no next step" in unescape(shown) and "data-errors='{}'" in shown
        # nothing saved by a preview
    assert await bot.core.store.read(versions_db.open_version, BUNDLED, ASK) is None


async def test_parts_of_the_ask_the_form_doesnt_hold_are_kept(bot: Bot) -> None:
    """Another wording under test (from a pack) survives an edit made in the form."""
    pack = load_pack(BUNDLED_PACKS / f"{BUNDLED}.toml")
    variant = AskVariant(name="short", ask="Write to your MP today about AI abuse images.")
    asks = [
        ask.model_copy(update={"variants": [variant]}) if ask.id == ASK else ask
        for ask in pack.asks
    ]
    await bot.core.store.write(
        pack_io.import_pack, pack.model_copy(update={"asks": asks}), "web:olive", "pack.toml"
    )
    async with bot.signed_in("olive") as olive:
        response = await save_ask(olive, BUNDLED, ASK, title="Bring the law up to date")
        assert response.status_code == 303, response.text[:300]
    draft = await bot.core.store.read(versions_db.open_version, BUNDLED, ASK)
    assert draft is not None
    assert draft.data["title"] == "Bring the law up to date"
    assert draft.data["variants"] == [variant.model_dump(mode="json", exclude_none=True)]


# ---------------------------------------------------------------- the welcome series


async def test_the_welcome_series_is_edited_in_the_campaign_form(bot: Bot) -> None:
    path = f"/campaigns/{BUNDLED}/edit"
    async with bot.signed_in("olive") as olive:
        values = form_at(await page(olive, path), path)
        assert values["welcome.1.after_days"] == "2" and values["welcome.3.text"] == ""
        assert values["welcome.2.link.url"] == "https://report.iwf.org.uk/"
        # out of order, a bad link: each said beside its field, nothing saved
        wrong = values | {
            "welcome.3.after_days": "4",
            "welcome.3.text": "A third message.",
            "welcome.2.link.url": "http://report.iwf.org.uk/",
        }
        response = await olive.post(path, data=wrong)
        assert response.status_code == 422
        assert field_error(response.text, "welcome.2.link.url") == "must be an https:// link"
        response = await olive.post(
            path, data=wrong | {"welcome.2.link.url": values["welcome.2.link.url"]}
        )
        assert response.status_code == 422
        assert "later than the one before" in field_error(response.text, "welcome")
        response = await olive.post(
            path, data=values | {"welcome.3.after_days": "15", "welcome.3.text": "x"}
        )
        assert field_error(response.text, "welcome.3.after_days") == (
            "must be a whole number of days, 1 to 14"
        )
        # right: saved, audited, exported
        right = values | {
            "welcome.1.text": "Welcome! One ask a week, and the reason behind it.",
            "welcome.3.after_days": "9",
            "welcome.3.text": "A week in: thank you for being here.",
            "welcome.3.link.label": "Our work",
            "welcome.3.link.url": "https://example.org/work",
        }
        response = await olive.post(path, data=right)
        assert response.status_code == 303
        assert flashes(await page(olive, response.headers["location"])) == [
            f"Saved campaign {BUNDLED}: message 1: words, message 3: days after joining, "
            "message 3: words, message 3: button label, message 3: web address changed."
        ]
        shown = await page(olive, f"/campaigns/{BUNDLED}")
        assert "Day 9: A week in: thank you for being here." in unescape(shown)
        exported = export((await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text)
    welcome = exported["campaign"]["welcome"]
    assert [message["after_days"] for message in welcome] == [2, 5, 9]
    assert welcome[0]["text"] == "Welcome! One ask a week, and the reason behind it."
    assert welcome[2]["link"] == {"label": "Our work", "url": "https://example.org/work"}
    db = open_database(bot.settings.db)
    ((_, _, _, detail),) = audits(db, "edit-campaign")
    assert detail["fields"][0] == "welcome.1.text"
    steps = db.execute("SELECT welcome FROM campaigns WHERE slug = ?", [BUNDLED]).fetchone()[0]
    assert len(json.loads(steps)) == 3  # what the journeys send from
    db.close()


# ---------------------------------------------------------------- order and retiring


async def weekly_run(bot: Bot, weeks_ago: int) -> str:
    """The campaign's weekly run as the scheduler makes it, sent to the fake Telegram;
    the id of the ask it sent."""
    run = utcnow() - weeks_ago * WEEK
    catalog = bot.core.ctx.catalog
    prompt_id = await bot.core.store.write(ensure_weekly_prompt, catalog, BUNDLED, run)
    assert prompt_id is not None
    await bot.engine.send_prompt(prompt_id)
    ask_id = await bot.core.store.read(
        lambda db: db.execute("SELECT ask_id FROM prompts WHERE id = ?", [prompt_id]).fetchone()[0]
    )
    return str(ask_id)


def titles(bot: Bot) -> dict[str, str]:
    return {ask.id: ask.title for ask in bot.core.ctx.catalog.packs[BUNDLED].asks}


async def test_moved_and_retired_asks_change_what_the_weekly_runs_send(
    bot: Bot, telegram: FakeTelegram
) -> None:
    await bot.supporters()
    follower = CatalogFollower(bot.core.store, bot.core.ctx)
    bundled_titles = titles(bot)
    assert await weekly_run(bot, 4) == "ai-images"
    async with bot.signed_in("olive") as olive:
        assert positions(await page(olive, f"/campaigns/{BUNDLED}")) == ORDER
        assert next_on(await page(olive, f"/campaigns/{BUNDLED}")) == "pre-screening"
        lines = await place(olive, BUNDLED, "mandatory-reporting", "move", position="2")
        assert lines == [
            f"Moved {BUNDLED}/mandatory-reporting from 5 to 2: the weekly runs send it in "
            "that place from now on.",
            "The next weekly run sends mandatory-reporting.",
        ]
        assert (await place(olive, BUNDLED, "age-verification", "move", move="up"))[0] == (
            f"Moved {BUNDLED}/age-verification from 4 to 3: the weekly runs send it in that "
            "place from now on."
        )
        order = [
            "ai-images",
            "mandatory-reporting",
            "age-verification",
            "pre-screening",
            "encrypted-messaging",
        ]
        html = await page(olive, f"/campaigns/{BUNDLED}")
        assert positions(html) == order and next_on(html) == "mandatory-reporting"
        # the running bot follows within a look
        catalog = await follower.check()
        assert [ask.id for ask in catalog.packs[BUNDLED].asks] == order
        assert await weekly_run(bot, 3) == "mandatory-reporting"
        for chat in SUPPORTERS:
            assert bundled_titles["mandatory-reporting"] in str(telegram.sent_to(chat)[-1]["text"])
        # retire the one that would go next: the run after skips it
        assert await place(olive, BUNDLED, "age-verification", "retire") == [
            f"Retired {BUNDLED}/age-verification: no weekly run sends it again (4 asks still "
            "go out). Its counts stay, and it can be brought back.",
            "The next weekly run sends pre-screening.",
        ]
        # retire one that went out: its counts stay in the report
        await place(olive, BUNDLED, "ai-images", "retire")
        html = await page(olive, f"/campaigns/{BUNDLED}")
        assert positions(html) == ["mandatory-reporting", "pre-screening", "encrypted-messaging"]
        assert retired_on(html) == ["age-verification", "ai-images"]
        await follower.check()
        assert "age-verification" not in titles(bot)
        assert await weekly_run(bot, 2) == "pre-screening"
        for chat in SUPPORTERS:
            assert bundled_titles["pre-screening"] in str(telegram.sent_to(chat)[-1]["text"])
        report = await bot.core.store.read(participation)
        assert {"ai-images", "mandatory-reporting", "pre-screening"} <= {
            row.ask_id for row in report.by_ask_week
        }
        # the export keeps the order and leaves the retired asks out
        exported = export((await olive.get(f"/campaigns/{BUNDLED}/pack.toml")).text)
        assert [ask["id"] for ask in exported["asks"]] == [
            "mandatory-reporting",
            "pre-screening",
            "encrypted-messaging",
        ]
        # brought back: last, with its published text and version
        assert await place(olive, BUNDLED, "age-verification", "restore") == [
            f"Brought {BUNDLED}/age-verification back: the weekly runs send it at 4, last.",
            "The next weekly run sends encrypted-messaging.",
        ]
        html = await page(olive, f"/campaigns/{BUNDLED}")
        assert positions(html)[-1] == "age-verification" and retired_on(html) == ["ai-images"]
        await follower.check()
        assert titles(bot)["age-verification"] == bundled_titles["age-verification"]
        versions = await bot.core.store.read(versions_db.of_ask, BUNDLED, "age-verification")
        assert [version.version for version in versions] == [1]  # no new version
    db = open_database(bot.settings.db)
    found = [
        (action, target, detail)
        for _, action, target, detail in audits(db, "move-ask", "retire-ask", "restore-ask")
    ]
    assert [(action, target) for action, target, _ in found] == [
        ("move-ask", f"{BUNDLED}/mandatory-reporting"),
        ("move-ask", f"{BUNDLED}/age-verification"),
        ("retire-ask", f"{BUNDLED}/age-verification"),
        ("retire-ask", f"{BUNDLED}/ai-images"),
        ("restore-ask", f"{BUNDLED}/age-verification"),
    ]
    assert found[0][2]["before"] == 5 and found[0][2]["after"] == 2
    db.close()


async def test_order_changes_that_cant_be_made_change_nothing(bot: Bot) -> None:
    async with bot.signed_in("olive") as olive:
        html = await page(olive, f"/campaigns/{BUNDLED}")
        path = f"/campaigns/{BUNDLED}/asks/ai-images/move"
        stale = form_at(html, path)
        # first can't go up; a position off the end; not a number
        assert "Move ai-images up" in html and re.search(
            r'value="up" aria-label="Move ai-images up" disabled', html
        )
        for data, said in (
            ({"move": "up"}, "can go from 1 to 5: it is at 1"),
            ({"position": "9"}, "can go from 1 to 5: it is at 1"),
            ({"position": "two"}, "a position is a number from 1 to 5"),
        ):
            response = await olive.post(path, data=stale | data)
            (line,) = flashes(await page(olive, response.headers["location"]))
            assert said in line, line
        # someone else moved an ask since the page was opened: refused, nothing written
        await place(olive, BUNDLED, "pre-screening", "move", move="down")
        response = await olive.post(path, data=stale | {"move": "down"})
        (line,) = flashes(await page(olive, response.headers["location"]))
        assert line.startswith(f"the asks of {BUNDLED} changed since you opened the page")
        # a send scheduled by hand still goes: retiring says so
        later = (utcnow() + WEEK).strftime("%Y-%m-%d %H:%M")
        request = prompting.Request(BUNDLED, "encrypted-messaging")
        await bot.core.store.write(
            prompting.schedule, bot.core.ctx.catalog, request, later, "UTC", "web:olive"
        )
        lines = await place(olive, BUNDLED, "encrypted-messaging", "retire")
        assert lines[1] == (
            "1 send of it scheduled by hand still goes out: cancel it on the Prompts page if "
            "it shouldn't."
        )
        await place(olive, BUNDLED, "encrypted-messaging", "restore")
        # a campaign's only ask can't be retired (no button, and a forged press is refused)
        assert (await make_campaign(olive)).status_code == 303
        assert (await save_ask(olive, NEW)).status_code == 303
        await act(olive, NEW, ASK_FORM["id"], "publish")
        html = await page(olive, f"/campaigns/{NEW}")
        assert f"/campaigns/{NEW}/asks/first-step/retire" not in html
        response = await olive.post(
            f"/campaigns/{NEW}/asks/first-step/retire",
            data=form_at(html, f"/campaigns/{NEW}/asks/first-step/move"),
        )
        (line,) = flashes(await page(olive, response.headers["location"]))
        assert "is the campaign's only ask" in line
        # staff can't
    async with bot.signed_in("stan") as stan:
        response = await stan.post(f"/campaigns/{BUNDLED}/asks/ai-images/retire", data={})
        assert response.status_code in (303, 403)
    pack = await bot.core.store.read(pack_io.pack_from_db, BUNDLED)
    assert pack is not None
    assert [ask.id for ask in pack.asks] == [
        "ai-images",
        "age-verification",
        "pre-screening",
        "mandatory-reporting",
        "encrypted-messaging",
    ]


# ---------------------------------------------------------------- in the browser


def test_next_step_poll_welcome_and_order_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    with LiveServer(settings_for(tmp_path)) as server:
        page_ = signed_in_page(browser, server, f"/campaigns/{BUNDLED}/asks/{ASK}")
        errors: list[str] = []
        page_.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        # the poll: what went out would be read-only; here nothing went out yet
        expect(page_.get_by_label("Answer 1")).to_have_value("Yes")
        page_.get_by_label("Answer 5").fill("They refused")
        page_.get_by_label("Its poll").check()
        telegram = page_.locator("#preview-output [data-look=telegram]")
        expect(telegram).to_contain_text("Did your MP reply to you?")
        expect(telegram.locator(".tg-button")).to_have_count(5)
        expect(telegram.locator(".tg-button").nth(4)).to_have_text("They refused")
        # the next step, with a wrong link marked beside it as it is typed
        page_.get_by_label("Its next step").check()
        page_.get_by_label("Next step's words", exact=False).fill("Tell one friend today.")
        expect(telegram).to_contain_text("Tell one friend today.")
        page_.get_by_label("Next step's button label", exact=False).fill("Read more")
        page_.get_by_label("Next step's web address", exact=False).fill("http://example.org/")
        expect(page_.locator("#error-next-link-url")).to_have_text("must be an https:// link")
        page_.get_by_label("Next step's web address", exact=False).fill("https://example.org/more")
        expect(page_.locator("#error-next-link-url")).to_be_hidden()
        expect(telegram.locator(".tg-button")).to_have_text(["Read more"])
        page_.get_by_label("Add the supporter's own invite link").uncheck()
        page_.get_by_role("button", name="Save draft").click()
        expect(page_.get_by_role("status").first).to_contain_text(f"Saved {BUNDLED}/{ASK} v2")
        page_.get_by_role("button", name="Publish").click()
        expect(page_.locator("#ask-state")).to_contain_text("Supporters get v2")
        expect(page_.get_by_label("Next step's words", exact=False)).to_have_value(
            "Tell one friend today."
        )
        page_.screenshot(path=str(tmp_path / "ask-journey.png"), full_page=True)

        # the welcome series
        page_.goto(f"{server.url}/campaigns/{BUNDLED}/edit")
        page_.get_by_label("Message 3: days after joining").fill("9")
        page_.get_by_label("Message 3: words").fill("A week in: thank you.")
        page_.get_by_role("button", name="Save campaign").click()
        expect(page_.locator("[data-part=welcome]")).to_contain_text("Day 9: A week in: thank you.")

        # the order: move one up, retire one, bring it back
        page_.get_by_role("button", name="Move mandatory-reporting up").click()
        expect(
            page_.locator('tr[data-ask="mandatory-reporting"] [data-part=position]')
        ).to_have_text("4")
        page_.get_by_role("button", name="Retire pre-screening").click()
        expect(page_.locator('tr[data-retired="pre-screening"]')).to_be_visible()
        expect(page_.locator('tr[data-ask="pre-screening"]')).to_have_count(0)
        page_.get_by_role("button", name="Bring pre-screening back").click()
        expect(page_.locator('tr[data-ask="pre-screening"] [data-part=position]')).to_have_text("5")
        # a position typed, and Enter
        page_.get_by_label("Position of pre-screening").fill("1")
        page_.get_by_label("Position of pre-screening").press("Enter")
        expect(page_.locator('tr[data-ask="pre-screening"] [data-part=position]')).to_have_text("1")
        expect(page_.get_by_role("status").first).to_contain_text("from 5 to 1")
        page_.screenshot(path=str(tmp_path / "campaign-order.png"), full_page=True)
        assert page_.evaluate("window.cspViolations") == []
        assert errors == []
        page_.context.close()

        # the editor still fits a phone, every field labelled
        phone = signed_in_page(browser, server, f"/campaigns/{BUNDLED}/asks/{ASK}", width=390)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        unlabelled = phone.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(el => el.labels.length === 0).map(el => el.name)"""
        )
        assert unlabelled == []
        phone.context.close()
