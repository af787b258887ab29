"""Outcome polls: answering by button (one answer per supporter, changeable), what a
press that doesn't hold up leaves alone, the results in `campaignbot stats` and on
the dashboard, /mydata, /forget and retention.

The bundled pack's ask "ai-images" carries a poll. Each test sends it the way the
delivery engine would (a delivery row, then the adapter's `send`), and reads its
answers' labels from the store rather than repeating the pack's words.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlite_utils import Database

from bots.console import ConsoleChat
from bots.telegram.bot import TelegramBot
from campaigns import polls, reports, retention, wording
from campaigns.buttons import Verb
from campaigns.catalog import Catalog
from campaigns.compose import poll_message
from campaigns.core import Core
from campaigns.dashboard import poll_page
from campaigns.dialogue import Context
from campaigns.model import Button, ChatKind, Message, Origin
from campaigns.reports import Table
from db import catalog as catalog_db
from db import deliveries as deliveries_db
from db import journeys as journeys_db
from db import supporters as supporters_db
from db.catalog import AskRow
from db.prompts import PromptRow
from db.states import PromptKind
from db.stats import Filters, participation
from settings import Settings
from tests.chat import GROUP, count, press, say, text_of
from tests.fakes.discord import MEMBER_DEFAULT, FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.platforms import discord_bot, telegram_online
from tests.web_support import (
    add_users,
    asgi_client,
    make_settings,
    opened_core,
    prepared_db,
    run_cli,
    sign_in,
    signed_in,
    with_users,
)
from web.app import create_app

CAMPAIGN, ASK = "one-step-ahead", "ai-images"
A = Origin("telegram", "7001")
B = Origin("discord", "7002")
C = Origin("console", "7003")
D = Origin("telegram", "7004")  # sent the poll, never answers


def poll_of(db: Database) -> tuple[PromptRow, AskRow]:
    """The poll prompt of the ask (made on first use, as the journey makes it)."""
    prompt = journeys_db.ensure_step_prompt(
        db, campaign=CAMPAIGN, kind=PromptKind.POLL, ask_id=ASK, timezone="Europe/London"
    )
    ask = catalog_db.get_ask(db, CAMPAIGN, ASK)
    assert ask is not None and len(ask.poll_labels) >= 3, "the bundled ask lost its poll"
    return prompt, ask


def send_poll(db: Database, ctx: Context, platform: str, address: str) -> Message:
    """Record the poll's delivery to a supporter; the message that carries it."""
    supporter = supporters_db.get(db, platform, address)
    assert supporter is not None
    prompt, ask = poll_of(db)
    deliveries_db.record_direct(db, prompt.id, supporter)
    return poll_message(ctx.ids, ask, prompt)


def answer_id(message: Message, index: int) -> str:
    found = message.all_buttons()[index].id
    assert found is not None
    return found


def answers(db: Database) -> list[tuple[str, int]]:
    return [
        (str(k), int(a)) for k, a in db.execute("SELECT supporter_key, answer FROM poll_answers")
    ]


def labels(db: Database) -> list[str]:
    ask = catalog_db.get_ask(db, CAMPAIGN, ASK)
    assert ask is not None
    return ask.poll_labels


# ---------------------------------------------------------------- answering


def test_answer_change_and_the_same_answer_again(db: Database, ctx: Context) -> None:
    say(db, ctx, A, "/start")
    message = send_poll(db, ctx, A.platform, A.chat)
    assert [b.label for b in message.all_buttons()] == labels(db)
    first = press(db, ctx, A, answer_id(message, 0))
    assert first.answer == wording.POLL_THANKS and first.counted
    assert first.edit is not None  # the message now shows the choice
    assert next(b.label for b in first.edit.all_buttons()) == "\u2713 " + labels(db)[0]
    changed = press(db, ctx, A, answer_id(message, 1))
    assert changed.answer == wording.POLL_CHANGED and changed.edit is not None
    shown = [b.label for b in changed.edit.all_buttons()]
    assert shown[1] == "\u2713 " + labels(db)[1] and not shown[0].startswith("\u2713")
    again = press(db, ctx, A, answer_id(changed.edit, 1))
    assert again.answer == wording.POLL_ALREADY and not again.counted and again.edit is None
    supporter = supporters_db.get(db, A.platform, A.chat)
    assert supporter is not None
    assert answers(db) == [(supporter.key, 1)]  # one answer per supporter: the latest
    assert count(db, "SELECT count(*) FROM actions") == 0  # a poll answer is not an action


def test_a_press_proves_an_unknown_delivery_arrived(db: Database, ctx: Context) -> None:
    say(db, ctx, A, "/start")
    message = send_poll(db, ctx, A.platform, A.chat)
    prompt, _ = poll_of(db)
    db.execute("UPDATE deliveries SET state = 'unknown' WHERE prompt_id = ?", [prompt.id])
    assert press(db, ctx, A, answer_id(message, 0)).answer == wording.POLL_THANKS
    sent = count(
        db, "SELECT count(*) FROM deliveries WHERE prompt_id = ? AND state = 'sent'", [prompt.id]
    )
    assert sent == 1


def test_buttons_that_do_not_hold_up_change_nothing(db: Database, ctx: Context) -> None:
    say(db, ctx, A, "/start")
    say(db, ctx, B, "/start")
    message = send_poll(db, ctx, A.platform, A.chat)
    prompt, ask = poll_of(db)
    genuine = answer_id(message, 0)
    ask_prompt = count(db, "SELECT id FROM prompts WHERE kind != 'poll' LIMIT 1")
    made = [
        ctx.ids.make(Verb.POLL, argument)
        for argument in (
            f"{prompt.id}-{len(ask.poll_labels)}",  # an answer the poll doesn't have
            f"{prompt.id}-9",
            f"{prompt.id}-00",
            f"{prompt.id}-x",
            f"{prompt.id}",
            f"{prompt.id}-",
            f"-{prompt.id}-0",
            "9" * 19 + "-0",  # more than SQLite holds
            "9" * 18 + "-0",  # fits, but no such prompt
            f"{ask_prompt}-0",  # a weekly ask's prompt is not a poll
        )
    ]
    forged = [genuine[:-3] + "AAA", genuine.replace(f":{prompt.id}-0:", f":{prompt.id}-1:")]
    for value in [*made, *forged]:
        assert press(db, ctx, A, value).answer == wording.BUTTON_STALE, value
    # a poll sent to another chat: B was never sent it
    assert press(db, ctx, B, genuine).answer == wording.BUTTON_STALE
    # a poll button in a group, even from someone who was sent the poll
    group = Origin("telegram", GROUP.chat, ChatKind.GROUP, user=A.chat)
    say(db, ctx, group, "/subscribe_group", admin=True)
    assert press(db, ctx, group, genuine).answer == wording.BUTTON_STALE
    assert answers(db) == []
    # and someone who left gets the usual answer, and nothing is kept
    say(db, ctx, A, "/stop")
    assert press(db, ctx, A, genuine).answer == wording.NOT_SUBSCRIBED
    assert answers(db) == []


# ---------------------------------------------------------------- the three platforms


async def deliver(core: Core, platform: str, address: str) -> Message:
    return await core.store.write(send_poll, core.ctx, platform, address)


def tg_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


@pytest.fixture
async def telegram(core: Core) -> AsyncIterator[tuple[TelegramBot, FakeTelegram]]:
    async with FakeTelegram() as fake:
        fake.private_chat(4301, "Sam")
        fake.group_chat(-4300, "Supporters", admins={4302}, members={4301})
        async with telegram_online(core, fake) as bot:
            yield bot, fake


async def test_telegram_answer_change_same_and_refusals(
    telegram: tuple[TelegramBot, FakeTelegram], core: Core
) -> None:
    bot, fake = telegram
    fake.user_sends(4301, 4301, "/start")
    await fake.wait_for(lambda: len(fake.sent_to(4301)) >= 2)
    await bot.send("4301", ChatKind.PRIVATE, await deliver(core, "telegram", "4301"))
    sent = fake.sent_to(4301)[-1]
    options = tg_buttons(sent)
    names = await core.store.read(labels)
    assert [b["text"] for b in options] == names

    async def pressed(index: int, data: str | None = None) -> str:
        value = data or options[index]["callback_data"]
        query = fake.user_presses(4301, 4301, sent["message_id"], value, forge=data is not None)
        await fake.wait_for(lambda: query in fake.callback_answers)
        return str(fake.callback_answers[query]["text"])

    def marked(index: int) -> bool:
        now = next(m for m in fake.sent_to(4301) if m["message_id"] == sent["message_id"])
        return bool([b["text"] for b in tg_buttons(now)][index] == "\u2713 " + names[index])

    assert await pressed(2) == wording.POLL_THANKS
    await fake.wait_for(lambda: marked(2))
    assert await pressed(0) == wording.POLL_CHANGED
    await fake.wait_for(lambda: marked(0))
    assert await pressed(0) == wording.POLL_ALREADY
    forged = options[0]["callback_data"][:-3] + "AAA"
    assert await pressed(0, forged) == wording.BUTTON_STALE
    assert [a for _, a in await core.store.read(answers)] == [0]
    # in a group, a poll button is refused: polls go to private chats only
    fake.user_sends(-4300, 4302, "/subscribe_group")
    await fake.wait_for(lambda: len(fake.sent_to(-4300)) >= 2)
    await bot.send("-4300", ChatKind.GROUP, await deliver(core, "telegram", "-4300"))
    post = fake.sent_to(-4300)[-1]
    query = fake.user_presses(-4300, 4301, post["message_id"], tg_buttons(post)[1]["callback_data"])
    await fake.wait_for(lambda: query in fake.callback_answers)
    assert fake.callback_answers[query]["text"] == wording.BUTTON_STALE
    assert len(await core.store.read(answers)) == 1


async def test_discord_answer_change_same_and_a_forged_button(core: Core) -> None:
    fake = FakeDiscord()
    await fake.start()
    fake.add_user(5301, "sam")
    fake.add_guild(7300, "Supporters", [7301], members={5301: MEMBER_DEFAULT})
    bot = discord_bot(core, fake, organiser_guild=7300)
    await bot.online()
    try:
        record = await fake.run_slash_command("subscribe", user_id=5301)
        await fake.wait_for_response(record)
        await bot.send("5301", ChatKind.PRIVATE, await deliver(core, "discord", "5301"))
        sent = fake.dms_to(5301)[-1]
        names = await core.store.read(labels)
        ids = [c["custom_id"] for row in sent["components"] for c in row["components"]]
        assert [c["label"] for row in sent["components"] for c in row["components"]] == names

        async def pressed(value: str, forge: bool = False) -> dict[str, Any]:
            interaction = await fake.press_button(int(sent["id"]), value, user_id=5301, forge=forge)
            await fake.wait_for_response(interaction)
            return interaction.responses[0]

        first = await pressed(ids[1])
        assert first["type"] == 7  # the message itself shows the choice
        shown = [c["label"] for row in first["data"]["components"] for c in row["components"]]
        assert shown[1] == "\u2713 " + names[1]
        changed = await pressed(ids[3])
        assert changed["type"] == 7
        shown = [c["label"] for row in changed["data"]["components"] for c in row["components"]]
        assert shown[3] == "\u2713 " + names[3] and shown[1] == names[1]
        same = await pressed(ids[3])
        assert same["data"]["content"] == wording.POLL_ALREADY
        # Discord sends presses only of buttons a message has: a forged id comes on one
        forged = ids[0][:-3] + "AAA"
        carrier = Message(text="x", buttons=((Button("Yes", id=forged),),))
        await bot.send("5301", ChatKind.PRIVATE, carrier)
        sent = fake.dms_to(5301)[-1]
        assert (await pressed(forged))["data"]["content"] == wording.BUTTON_STALE
        assert [a for _, a in await core.store.read(answers)] == [3]
    finally:
        await bot.offline()
        await fake.stop()


async def test_console_answer_and_change(core: Core) -> None:
    screen = io.StringIO()
    chat = ConsoleChat(
        core,
        stdin=io.StringIO(""),
        console=Console(file=screen, width=100, highlight=False),
        address="4401",
    )
    await chat.handle_line("/start")
    await chat.send("4401", ChatKind.PRIVATE, await deliver(core, "console", "4401"))
    names = await core.store.read(labels)
    assert f"[2] {names[1]}" in screen.getvalue()
    await chat.handle_line("2")
    assert f"» {wording.POLL_THANKS}" in screen.getvalue()
    assert f"[2] \u2713 {names[1]}" in screen.getvalue()  # the message again, with the choice
    await chat.handle_line("1")
    assert f"» {wording.POLL_CHANGED}" in screen.getvalue()
    await chat.handle_line("1")
    assert f"» {wording.POLL_ALREADY}" in screen.getvalue()
    assert [a for _, a in await core.store.read(answers)] == [0]


# ---------------------------------------------------------------- results


def seed_answers(db: Database, ctx: Context) -> None:
    """A (telegram, leaflet) and B (discord) chose the first answer; C (console) chose
    the second, then changed to the third; D (telegram) was sent the poll, no answer."""
    for origin in (A, B, C, D):
        say(db, ctx, origin, "/start leaflet" if origin == A else "/start")
    sent = {origin: send_poll(db, ctx, origin.platform, origin.chat) for origin in (A, B, C, D)}
    for origin, index in ((A, 0), (B, 0), (C, 1), (C, 2)):
        assert press(db, ctx, origin, answer_id(sent[origin], index)).counted


def test_counts_and_shares_per_answer_with_filters(db: Database, ctx: Context) -> None:
    seed_answers(db, ctx)
    names = labels(db)
    question = poll_of(db)[1].poll_question
    counts = [2, 0, 1] + [0] * (len(names) - 3)
    rows = polls.table(polls.results(db))[1]
    assert [row[2] for row in rows] == [question] * len(names)
    assert [row[3:] for row in rows] == [
        [name, n, round(100 * n / 3, 1), 3, 4] for name, n in zip(names, counts, strict=True)
    ]
    assert rows[0][5] == 66.7 and rows[2][5] == 33.3
    telegram = polls.results(db, Filters(platform="telegram"))[0]
    assert (telegram.asked, telegram.answered, telegram.counts[0]) == (2, 1, 1)
    leaflet = polls.results(db, Filters(source="leaflet"))[0]
    assert (leaflet.asked, leaflet.answered) == (1, 1)
    assert polls.results(db, Filters(source="(none)"))[0].asked == 3
    assert polls.results(db, Filters(campaign="no-such-campaign")) == []
    assert polls.results(db, Filters(since="2999-01-01T00:00:00Z")) == []
    # a poll sent but not answered yet shows with zero answers and no share
    db.execute("DELETE FROM poll_answers")
    rows = polls.table(polls.results(db))[1]
    assert [row[4:] for row in rows] == [[0, None, 0, 4]] * len(names)


def test_csv_defuses_a_question_that_looks_like_a_formula(db: Database, ctx: Context) -> None:
    seed_answers(db, ctx)
    db.execute("UPDATE asks SET poll_question = '=HYPERLINK(\"x\")' WHERE id = ?", [ASK])
    assert "'=HYPERLINK" in polls.to_csv(polls.results(db))
    # the participation report has no poll table: asking it for one is a mistake, not sources
    with pytest.raises(ValueError, match="not a participation table"):
        reports.table(participation(db), Table.POLLS)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path)
    db = prepared_db(settings)
    ctx = Context.from_secret(Catalog.load(settings.packs), settings.button_secret())
    seed_answers(db, ctx)
    add_users(db)
    db.close()
    return settings


def test_stats_table_json_and_csv(settings: Settings) -> None:
    shown = run_cli(["stats"], settings)
    assert shown.returncode == 0, shown.stderr
    assert "Outcome polls" in shown.stdout
    assert "Did your MP reply to you?" in shown.stdout and "66.7%" in shown.stdout
    as_json = run_cli(["stats", "--json"], settings)
    assert as_json.returncode == 0, as_json.stderr
    found = json.loads(as_json.stdout)["polls"]
    assert [(r["count"], r["share_percent"], r["answered"], r["asked"]) for r in found[:3]] == [
        (2, 66.7, 3, 4),
        (0, 0.0, 3, 4),
        (1, 33.3, 3, 4),
    ]
    assert found[0]["campaign"] == CAMPAIGN and found[0]["ask_id"] == ASK
    as_csv = run_cli(["stats", "--csv", "--table", "polls"], settings)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0] == polls.HEADER
    assert rows[1][4:] == ["2", "66.7", "3", "4"]
    only = run_cli(["stats", "--csv", "--table", "polls", "--platform", "discord"], settings)
    assert [row[4:] for row in csv.reader(io.StringIO(only.stdout))][1] == ["1", "100.0", "1", "1"]


async def test_dashboard_page_and_its_csv_match_the_cli(settings: Settings) -> None:
    with opened_core(settings) as core:
        async with asgi_client(create_app(core, settings)) as http:
            assert (await http.get("/polls")).status_code == 303  # sign in first
            await sign_in(http, "stan")
            page = await http.get("/polls")
            assert page.status_code == 200
            assert 'href="/polls" aria-current="page"' in page.text
            assert "Did your MP reply to you?" in page.text
            assert "66.7%" in page.text and "75.0% of those asked" in page.text
            assert "data:image/svg+xml;base64," in page.text  # the bars
            download = await http.get("/polls/polls.csv")
            assert download.status_code == 200
            cli = run_cli(["stats", "--csv", "--table", "polls"], settings)
            assert download.text == cli.stdout
            filtered = await http.get("/polls?platform=telegram")
            assert "50.0% of those asked" in filtered.text
            assert (await http.get("/polls/nothing.csv")).status_code == 404


async def test_the_page_before_any_poll_went_out(tmp_path: Path) -> None:
    empty = with_users(make_settings(tmp_path))
    with opened_core(empty) as core:
        async with signed_in(create_app(core, empty), "olive") as http:
            page = await http.get("/polls?campaign=one-step-ahead")
            assert page.status_code == 200 and "No poll has gone out yet" in page.text
            download = await http.get("/polls/polls.csv")
            assert download.text.splitlines() == [",".join(polls.HEADER)]


def test_the_page_model(db: Database, ctx: Context) -> None:
    seed_answers(db, ctx)
    page = poll_page(db, Filters())
    assert [(p.asked, p.answered) for p in page.polls] == [(4, 3)]
    assert page.results.name == "polls" and page.results.header == polls.HEADER
    assert page.results.rows == polls.table(page.polls)[1]


# ---------------------------------------------------------------- privacy


def test_mydata_shows_the_question_and_the_answer(db: Database, ctx: Context) -> None:
    seed_answers(db, ctx)
    names = labels(db)
    reply = say(db, ctx, C, "/mydata")
    title = poll_of(db)[1].title
    line = f"Your answer to \u201cDid your MP reply to you?\u201d (after \u201c{title}\u201d): "
    assert line + names[2] in text_of(reply)
    attachment = reply[0].attachment
    assert attachment is not None
    given = json.loads(attachment.content)["poll_answers"]
    assert [(g["question"], g["your_answer"], g["ask"]) for g in given] == [
        ("Did your MP reply to you?", names[2], ASK)
    ]
    assert given[0]["first_answered_at"] <= given[0]["answered_at"]  # C changed their answer
    assert "Your answer to" not in text_of(say(db, ctx, D, "/mydata"))  # D never answered


def test_forget_keeps_the_answers_in_the_totals_and_nothing_leads_back(
    db: Database, ctx: Context
) -> None:
    seed_answers(db, ctx)
    before = polls.table(polls.results(db))
    key = supporters_db.get(db, C.platform, C.chat)
    assert key is not None
    say(db, ctx, C, "/forget yes")
    assert supporters_db.get(db, C.platform, C.chat) is None
    assert polls.table(polls.results(db)) == before
    assert count(db, "SELECT count(*) FROM poll_answers WHERE supporter_key = ?", [key.key]) == 1
    assert count(db, "SELECT count(*) FROM supporters WHERE key = ?", [key.key]) == 0
    assert C.chat not in str(db.execute("SELECT * FROM poll_answers").fetchall())
    assert text_of(say(db, ctx, C, "/mydata")) == wording.NOTHING_HELD
    # back with /start, they are someone new: the old poll is not theirs to answer again
    say(db, ctx, C, "/start")
    prompt, _ = poll_of(db)
    old = ctx.ids.make(Verb.POLL, f"{prompt.id}-0")
    assert press(db, ctx, C, old).answer == wording.BUTTON_STALE
    assert polls.table(polls.results(db)) == before


def test_retention_makes_old_answers_anonymous_with_the_counts_kept(
    db: Database, ctx: Context
) -> None:
    seed_answers(db, ctx)
    old = "2024-06-10T09:00:00Z"
    for table in ("deliveries", "poll_answers"):
        db.execute(f"UPDATE {table} SET created_at = ?", [old])
    before = polls.table(polls.results(db))
    assert retention.anonymise_old_records(db, "", "2024-12-01T00:00:00Z") > 0
    linked = count(
        db, "SELECT count(*) FROM poll_answers WHERE supporter_key IN (SELECT key FROM supporters)"
    )
    assert linked == 0
    assert polls.table(polls.results(db)) == before
    # a person's delivery and answer of one month share their new key
    pairs = count(
        db,
        "SELECT count(*) FROM poll_answers x JOIN deliveries d"
        " ON d.prompt_id = x.prompt_id AND d.supporter_key = x.supporter_key",
    )
    assert pairs == 3
