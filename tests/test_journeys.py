"""Supporter journeys: the next step after "I did it", the welcome series and outcome
polls, sent by the delivery engine (paced, exactly once, crash-safe) and counted.

Every pack, id and word here is synthetic: a made-up campaign in a temp folder. Time
is driven by passing `now` to the scheduler's journey job, never by sleeping.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlite_utils import Database

from bots.console import ConsoleChat
from campaigns import journeys, prompting, wording
from campaigns.buttons import Verb
from campaigns.catalog import Catalog
from campaigns.compose import poll_message
from campaigns.core import Core
from campaigns.dashboard import overview
from campaigns.delivery import DeliveryEngine, Tuning, prepare
from campaigns.dialogue import Context
from campaigns.messenger import OutcomeUnknown
from campaigns.prompting import Request, send_now
from campaigns.supporters import export
from db import catalog as catalog_db
from db import journeys as journeys_db
from db import prompts as prompts_db
from db import supporters as supporters_db
from db.states import PromptKind, PromptState
from db.store import Store
from db.times import to_text, utcnow
from scheduler import CampaignScheduler
from tests.cli_run import base_env, run
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.messengers import RecordingMessenger
from tests.platforms import discord_bot, telegram_bot
from tests.seeding import pack_folder
from tests.web_support import add_users, make_settings, opened_core, signed_in
from web.app import create_app

SECRET = b"journey-test-secret-not-for-production-0123"
QUICK = Tuning(workers=4, backoff_base=0.05, backoff_cap=0.2, flush_every=0.01)

PACK = """
[campaign]
slug = "walk"
title = "Walk Together"
description = "A made-up campaign for the journey tests."

[campaign.schedule]
weekday = "monday"
time = "09:00"
timezone = "Europe/London"

[[campaign.welcome]]
after_days = 1
text = "Welcome one: how the weekly ask works."

[[campaign.welcome]]
after_days = 3
text = "Welcome two: meet the people behind the walk."

[campaign.welcome.link]
label = "Meet the team"
url = "https://example.org/team"

[[campaign.welcome]]
after_days = 6
text = "Welcome three: thank you for staying with us."

[[asks]]
id = "letter"
title = "Write to the council"
topic = "letters"
ask = "Write a short letter to your council about safe walking routes."

[asks.statistic]
figure = "42"
sentence = "Forty-two councils answered a made-up survey."
source = "A made-up survey"
url = "https://example.org/survey"

[asks.link]
label = "Write now"
url = "https://example.org/write"

[asks.next]
text = "Next: share your letter with a neighbour."

[asks.next.link]
label = "Share it"
url = "https://example.org/share"

[asks.poll]
question = "Did your council reply?"
answers = ["Yes", "Not yet", "No"]
after_days = 5

[[asks]]
id = "friend"
title = "Walk with a friend"
topic = "walks"
ask = "Take a friend on this week's walk."

[asks.statistic]
figure = "7"
sentence = "Seven in ten made-up walkers came with a friend."
source = "A made-up count"
url = "https://example.org/count"

[asks.link]
label = "Plan a walk"
url = "https://example.org/plan"

[asks.next]
text = "Bring one more friend next time."
invite = true
"""

NEXT_TEXT = "Next: share your letter with a neighbour."
WELCOMES = ("Welcome one", "Welcome two", "Welcome three")
QUESTION = "Did your council reply?"


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    return pack_folder(tmp_path / "packs", {"walk": PACK})


@pytest.fixture
def jcore(tmp_path: Path, packs: Path) -> Iterator[Core]:
    """A core over a temp-file store, with the synthetic pack."""
    catalog = Catalog.load(packs)
    store = Store(tmp_path / "journeys.db")
    store.submit(catalog.sync).result()
    core = Core(store, Context.from_secret(catalog, SECRET))
    yield core
    core.close()


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def until(check: Callable[[], Awaitable[bool]], within: float = 15) -> None:
    """Wait until `check()` holds (generous: the machine may be busy)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, "not in time"
        await asyncio.sleep(0.02)


async def quiet(core: Core, engine: DeliveryEngine, within: float = 15) -> None:
    """Wait until no journey step waits to go out and the engine sends nothing."""

    async def done() -> bool:
        return not engine.running and not await core.store.read(journeys_db.sending_steps)

    await until(done, within)


def states(db: Database, kind: str) -> dict[str, int]:
    rows = db.execute(
        "SELECT d.state, count(*) FROM deliveries d JOIN prompts p ON p.id = d.prompt_id"
        " WHERE p.kind = ? GROUP BY d.state",
        [kind],
    ).fetchall()
    return dict(rows)


def tg_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def tg_texts(fake: FakeTelegram, chat: int, part: str) -> list[dict[str, Any]]:
    return [m for m in fake.sent_to(chat) if part in m.get("text", "")]


async def tg_ask(fake: FakeTelegram, chat: int, at_least: int = 1) -> dict[str, Any]:
    def asks() -> list[dict[str, Any]]:
        return [
            m
            for m in fake.sent_to(chat)
            if any(b.get("text") == wording.DONE_LABEL for b in tg_buttons(m))
        ]

    await fake.wait_for(lambda: len(asks()) >= at_least)
    return asks()[-1]


def done_data(message: dict[str, Any]) -> str:
    return str(
        next(b["callback_data"] for b in tg_buttons(message) if b["text"] == wording.DONE_LABEL)
    )


async def press_done(fake: FakeTelegram, chat: int, user: int, message: dict[str, Any]) -> str:
    query = fake.user_presses(chat, user, message["message_id"], done_data(message))
    await fake.wait_for(lambda: query in fake.callback_answers)
    return str(fake.callback_answers[query]["text"])


# ---------------------------------------------------------------- next steps


async def test_a_next_step_arrives_once_after_i_did_it_on_telegram(
    jcore: Core, telegram: FakeTelegram
) -> None:
    sam = 8101
    telegram.private_chat(sam, "Sam")
    bot = telegram_bot(jcore, telegram, limits=False)
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"telegram": bot}, tuning=QUICK)
    jcore.attach(engine)
    await bot.online()
    try:
        telegram.user_sends(sam, sam, "/start")
        first = await tg_ask(telegram, sam)
        telegram.user_sends(sam, sam, "/ask")
        second = await tg_ask(telegram, sam, 2)
        assert await press_done(telegram, sam, sam, first) == wording.DONE_THANKS
        # within seconds, not on a weekly cycle: the core starts the engine on it
        await telegram.wait_for(lambda: tg_texts(telegram, sam, NEXT_TEXT), timeout=10)
        step = tg_texts(telegram, sam, NEXT_TEXT)[0]
        assert wording.next_step_intro("Write to the council") in step["text"]
        assert [(b["text"], b.get("url")) for b in tg_buttons(step)] == [
            ("Share it", "https://example.org/share")
        ]
        # pressing again, and a later run of the same ask done again: nothing more
        assert await press_done(telegram, sam, sam, second) == wording.DONE_ALREADY
        later = await jcore.store.write(send_now, jcore.ctx.catalog, Request("walk", "letter"), "t")
        engine.start(later.id)
        third = await tg_ask(telegram, sam, 2)  # the first lost its buttons when pressed
        assert third["message_id"] not in (first["message_id"], second["message_id"])
        assert done_data(third) != done_data(first)
        assert await press_done(telegram, sam, sam, third) == wording.DONE_THANKS
        await quiet(jcore, engine)
        assert len(tg_texts(telegram, sam, NEXT_TEXT)) == 1
        assert await jcore.store.read(states, "next") == {"sent": 1}
        # the step's prompt is 'sent' again, ready for whoever reaches it next
        prompts = await jcore.store.read(
            lambda db: db.execute("SELECT state FROM prompts WHERE kind = 'next'").fetchall()
        )
        assert prompts == [("sent",)]
    finally:
        await engine.stop()
        await bot.offline()
    assert not [c for c in telegram.rejected if c.method != "getUpdates"], telegram.rejected


async def test_a_group_press_brings_the_next_step_to_subscribers_only(
    jcore: Core, telegram: FakeTelegram
) -> None:
    group, admin, subscribed, member = -8200, 8201, 8202, 8203
    telegram.group_chat(group, "Walkers", admins={admin}, members={subscribed, member})
    telegram.private_chat(subscribed, "Sub")
    telegram.private_chat(member, "Mem")
    bot = telegram_bot(jcore, telegram, limits=False)
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"telegram": bot}, tuning=QUICK)
    jcore.attach(engine)
    await bot.online()
    try:
        telegram.user_sends(subscribed, subscribed, "/start")
        await tg_ask(telegram, subscribed)
        telegram.user_sends(group, admin, "/subscribe_group")
        post = await tg_ask(telegram, group)
        for who in (subscribed, member):
            assert await press_done(telegram, group, who, post) == wording.DONE_THANKS
        await telegram.wait_for(lambda: tg_texts(telegram, subscribed, NEXT_TEXT), timeout=10)
        await quiet(jcore, engine)
        assert not tg_texts(telegram, group, NEXT_TEXT)  # never in the group itself
        assert not tg_texts(telegram, member, NEXT_TEXT)  # not subscribed: nothing
        assert await jcore.store.read(states, "next") == {"sent": 1}
    finally:
        await engine.stop()
        await bot.offline()


async def test_a_next_step_on_discord(jcore: Core) -> None:
    alex = 8301
    fake = FakeDiscord()
    await fake.start()
    fake.add_user(alex, "alex")
    bot = discord_bot(jcore, fake)
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"discord": bot}, tuning=QUICK)
    jcore.attach(engine)
    await bot.online()
    try:
        record = await fake.run_slash_command("subscribe", user_id=alex)
        await fake.wait_for_response(record)

        def asks() -> list[dict[str, Any]]:
            return [m for m in fake.dms_to(alex) if m.get("embeds")]

        await fake.wait_for(lambda: asks())
        ask = asks()[-1]
        done = next(
            c["custom_id"]
            for row in ask["components"]
            for c in row["components"]
            if c.get("label") == wording.DONE_LABEL
        )
        pressed = await fake.press_button(int(ask["id"]), done, user_id=alex)
        await fake.wait_for_response(pressed)

        def steps() -> list[dict[str, Any]]:
            return [m for m in fake.dms_to(alex) if NEXT_TEXT in m.get("content", "")]

        await fake.wait_for(lambda: steps(), timeout=10)
        await quiet(jcore, engine)
        assert len(steps()) == 1
        links = [c for row in steps()[0]["components"] for c in row["components"]]
        assert [(c["label"], c.get("url")) for c in links] == [
            ("Share it", "https://example.org/share")
        ]
        assert fake.rejected == []
    finally:
        await engine.stop()
        await bot.offline()
        await fake.stop()


async def test_a_typed_done_brings_the_next_step_to_the_console(jcore: Core) -> None:
    screen = io.StringIO()
    chat = ConsoleChat(
        jcore,
        stdin=io.StringIO(""),
        console=Console(file=screen, width=120, highlight=False),
        address="8401",
    )
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"console": chat}, tuning=QUICK)
    jcore.attach(engine)
    try:
        await chat.handle_line("/start")
        await chat.handle_line("/done")
        assert wording.DONE_THANKS in screen.getvalue()
        await quiet(jcore, engine)
        assert screen.getvalue().count(NEXT_TEXT) == 1
        assert "[1] Share it → https://example.org/share" in screen.getvalue()
        await chat.handle_line("/done")
        await quiet(jcore, engine)
        assert screen.getvalue().count(NEXT_TEXT) == 1
    finally:
        await engine.stop()


async def test_a_next_step_that_invites_carries_the_supporters_own_link(jcore: Core) -> None:
    screen = io.StringIO()
    chat = ConsoleChat(
        jcore,
        stdin=io.StringIO(""),
        console=Console(file=screen, width=200, highlight=False),
        address="8402",
    )
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"console": chat}, tuning=QUICK)
    jcore.attach(engine)
    try:
        await chat.handle_line("/start")
        catalog = jcore.ctx.catalog
        friend = await jcore.store.write(send_now, catalog, Request("walk", "friend"), "t")
        await engine.send_prompt(friend.id)
        await chat.handle_line("/done")
        await quiet(jcore, engine)
        shown = screen.getvalue()
        assert "Bring one more friend next time." in shown
        supporter = await jcore.store.read(supporters_db.get, "console", "8402")
        assert supporter is not None
        code = await jcore.store.read(
            lambda db: db.execute(
                "SELECT code FROM invites WHERE supporter_key = ?", [supporter.key]
            ).fetchone()[0]
        )
        assert f"i_{code}" in shown  # their own code, the way this platform carries it
    finally:
        await engine.stop()


# ---------------------------------------------------------------- the welcome series


async def test_the_welcome_series_arrives_in_order_at_its_days(
    jcore: Core, telegram: FakeTelegram
) -> None:
    early, sam, quitter = 8501, 8502, 8504
    for chat in (early, sam, quitter):
        telegram.private_chat(chat)
    bot = telegram_bot(jcore, telegram, limits=False)
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"telegram": bot}, tuning=QUICK)
    jcore.attach(engine)
    scheduler = CampaignScheduler(jcore.store, jcore.ctx.catalog, engine)
    await bot.online()
    try:
        telegram.user_sends(early, early, "/start")  # joined before the series existed
        await tg_ask(telegram, early)
        await jcore.store.write(
            lambda db: db.execute(
                "UPDATE subscriptions SET created_at = ?",
                [to_text(utcnow() - timedelta(minutes=5))],
            )
        )
        start = utcnow()
        assert await scheduler.reach_journeys(start) == 0  # the series exists from now
        for chat in (sam, quitter):
            telegram.user_sends(chat, chat, "/start")
            await tg_ask(telegram, chat)
        joined = utcnow()

        async def day(days: float) -> int:
            added = await scheduler.reach_journeys(joined + timedelta(days=days))
            await quiet(jcore, engine)
            return added

        def welcomes(chat: int) -> list[str]:
            return [w for m in telegram.sent_to(chat) for w in WELCOMES if w in m.get("text", "")]

        assert await day(0.9) == 0
        assert await day(1.01) == 2
        assert await day(1.02) == 0  # once only, however often the job looks
        assert welcomes(sam) == ["Welcome one"]
        telegram.user_sends(quitter, quitter, "/stop")

        async def stopped() -> bool:
            row = await jcore.store.read(supporters_db.get, "telegram", str(quitter))
            return row is not None and row.status == "stopped"

        await until(stopped)
        assert await day(2.5) == 0
        assert await day(3.01) == 1  # only sam: the quitter gets nothing more
        assert await day(6.01) == 1
        assert welcomes(sam) == list(WELCOMES)
        assert welcomes(quitter) == ["Welcome one"]
        assert welcomes(early) == []  # no catching up on old joiners
        step_two = next(m for m in telegram.sent_to(sam) if "Welcome two" in m.get("text", ""))
        assert [b.get("url") for b in tg_buttons(step_two)] == ["https://example.org/team"]
        assert await jcore.store.read(states, "welcome") == {"sent": 4}
    finally:
        await engine.stop()
        await bot.offline()


def test_a_welcome_message_past_its_catch_up_window_is_never_sent(
    tmp_path: Path, packs: Path
) -> None:
    from db.store import open_database

    db = open_database(tmp_path / "w.db")
    catalog = Catalog.load(packs)
    with db.atomic():
        catalog.sync(db)
        now = utcnow()
        assert journeys.reach_due_steps(db, ["walk"], ["telegram"], now) == 0
        supporter = supporters_db.insert(
            db,
            platform="telegram",
            address="8601",
            kind="private",
            status="active",
            source=None,
            consent_version="test",
        )
        db.execute(
            "INSERT INTO subscriptions (supporter_id, campaign, created_at) VALUES (?, 'walk', ?)",
            [supporter.id, to_text(now)],
        )
        # the bot was down from the day they joined until day 3.5: message one (day 1)
        # is 2.5 days late and is never sent; message two (day 3) goes
        assert journeys.reach_due_steps(db, ["walk"], ["telegram"], now + timedelta(days=3.5)) == 1
        sent = db.execute(
            "SELECT p.step FROM deliveries d JOIN prompts p ON p.id = d.prompt_id"
        ).fetchall()
        assert sent == [(2,)]
        # a platform the engine doesn't send to gets nothing
        assert journeys.reach_due_steps(db, ["walk"], ["discord"], now + timedelta(days=6)) == 0
    db.close()


# ---------------------------------------------------------------- outcome polls


async def test_a_poll_goes_after_its_days_only_to_those_who_did_the_ask(jcore: Core) -> None:
    doer, other = 8701, 8702
    fake = FakeDiscord()
    await fake.start()
    for user in (doer, other):
        fake.add_user(user, f"u{user}")
    bot = discord_bot(jcore, fake)
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"discord": bot}, tuning=QUICK)
    jcore.attach(engine)
    scheduler = CampaignScheduler(jcore.store, jcore.ctx.catalog, engine)
    await bot.online()
    try:
        await scheduler.reach_journeys()  # the poll exists from now
        for user in (doer, other):
            await fake.wait_for_response(await fake.run_slash_command("subscribe", user_id=user))
        await fake.wait_for_response(await fake.run_slash_command("done", user_id=doer))
        await quiet(jcore, engine)
        done_at = utcnow()

        def polls_to(user: int) -> list[dict[str, Any]]:
            return [m for m in fake.dms_to(user) if QUESTION in m.get("content", "")]

        await scheduler.reach_journeys(done_at + timedelta(days=4.9))
        await quiet(jcore, engine)
        assert await jcore.store.read(states, "poll") == {}
        await scheduler.reach_journeys(done_at + timedelta(days=5, minutes=1))
        await fake.wait_for(lambda: polls_to(doer), timeout=10)
        await quiet(jcore, engine)
        await scheduler.reach_journeys(done_at + timedelta(days=5, minutes=2))
        await quiet(jcore, engine)
        assert await jcore.store.read(states, "poll") == {"sent": 1}
        assert polls_to(other) == []
        (poll,) = polls_to(doer)
        answers = [c for row in poll["components"] for c in row["components"]]
        prompt_id = await jcore.store.read(
            lambda db: db.execute("SELECT id FROM prompts WHERE kind = 'poll'").fetchone()[0]
        )
        assert [c["label"] for c in answers] == ["Yes", "Not yet", "No"]
        assert [c["custom_id"].split(":")[1:3] for c in answers] == [
            [Verb.POLL.value, f"{prompt_id}-{i}"] for i in range(3)
        ]
        assert fake.rejected == []
    finally:
        await engine.stop()
        await bot.offline()
        await fake.stop()


def test_the_poll_message_marks_the_chosen_answer(jcore: Core) -> None:
    def build(db: Database) -> tuple[list[str], list[str]]:
        ask = catalog_db.get_ask(db, "walk", "letter")
        assert ask is not None
        prompt = journeys_db.ensure_step_prompt(
            db, campaign="walk", kind=PromptKind.POLL, ask_id="letter", timezone="Europe/London"
        )
        plain = poll_message(jcore.ids, ask, prompt)
        chosen = poll_message(jcore.ids, ask, prompt, 1)
        assert QUESTION in plain.text and wording.POLL_CHANGE_HINT in chosen.text
        assert [b.id for b in plain.all_buttons()] == [b.id for b in chosen.all_buttons()]
        return [b.label for b in plain.all_buttons()], [b.label for b in chosen.all_buttons()]

    plain, chosen = jcore.store.submit(build).result()
    assert plain == ["Yes", "Not yet", "No"]
    assert chosen == ["Yes", "\u2713 Not yet", "No"]


# ---------------------------------------------------------------- the engine's guarantees


def reach_next_step(db: Database, address: str) -> int:
    """A supporter at `address` who did the ask: their next step waits (its prompt id)."""
    supporter = supporters_db.insert(
        db,
        platform="telegram",
        address=address,
        kind="private",
        status="active",
        source=None,
        consent_version="test",
    )
    step = journeys_db.ensure_step_prompt(
        db, campaign="walk", kind=PromptKind.NEXT, ask_id="letter", timezone="Europe/London"
    )
    assert journeys_db.add_for_supporter(db, step, supporter)
    return step.id


async def test_a_crash_mid_send_leaves_the_step_unknown_never_resent(jcore: Core) -> None:
    def crashed(db: Database) -> int:
        prompt_id = reach_next_step(db, "8801")
        reach_next_step(db, "8802")
        # the first was claimed, its request out, when the process died
        db.execute(
            "UPDATE deliveries SET state = 'sending' WHERE id = (SELECT min(id) FROM deliveries)"
        )
        return prompt_id

    prompt_id = await jcore.store.write(crashed)
    messenger = RecordingMessenger()
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"telegram": messenger}, tuning=QUICK)
    await engine.resume()  # a restart: every step with something waiting carries on
    await quiet(jcore, engine)
    assert messenger.addresses() == ["8802"]
    assert await jcore.store.read(states, "next") == {"unknown": 1, "sent": 1}
    await engine.send_prompt(prompt_id)  # and again: nothing more
    assert messenger.addresses() == ["8802"]


async def test_an_answer_that_may_have_arrived_is_unknown_and_not_retried(jcore: Core) -> None:
    await jcore.store.write(reach_next_step, "8811")
    messenger = RecordingMessenger()
    messenger.fail("8811", OutcomeUnknown("timed out"))
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"telegram": messenger}, tuning=QUICK)
    await journeys.start_waiting(jcore.store, engine)
    await quiet(jcore, engine)
    assert messenger.attempts["8811"] == 1
    assert await jcore.store.read(states, "next") == {"unknown": 1}


async def test_5xx_and_429_are_retried_and_paced_for_journey_steps(
    jcore: Core, telegram: FakeTelegram
) -> None:
    first = 8900
    n = 12
    for i in range(n):
        telegram.private_chat(first + i)

    def joined_today(db: Database) -> None:
        journeys.reach_due_steps(db, ["walk"], ["telegram"], utcnow())
        for i in range(n):
            row = supporters_db.insert(
                db,
                platform="telegram",
                address=str(first + i),
                kind="private",
                status="active",
                source=None,
                consent_version="test",
            )
            db.execute(
                "INSERT INTO subscriptions (supporter_id, campaign, created_at) VALUES (?, ?, ?)",
                [row.id, "walk", to_text(utcnow())],
            )

    await jcore.store.write(joined_today)
    telegram.fail_next("sendMessage", status=429, retry_after=1, times=2)
    telegram.fail_with_5xx("sendMessage", times=3, status=502)
    bot = telegram_bot(jcore, telegram, max_rate=40)
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"telegram": bot}, tuning=QUICK)
    scheduler = CampaignScheduler(jcore.store, jcore.ctx.catalog, engine)
    await bot.online()
    try:
        assert await scheduler.reach_journeys(utcnow() + timedelta(days=1, minutes=1)) == n
        await quiet(jcore, engine, within=30)
    finally:
        await engine.stop()
        await bot.offline()
    assert telegram.arrivals(WELCOMES[0]) == {first + i: 1 for i in range(n)}
    assert telegram.limiter.early_retries == 0  # nothing retried before retry_after
    assert await jcore.store.read(states, "welcome") == {"sent": n}
    assert engine.counts()["telegram"]["rate_limited"] >= 2
    assert engine.counts()["telegram"]["retried"] >= 5


async def test_journey_steps_keep_the_pace(jcore: Core) -> None:
    import time

    def many(db: Database) -> None:
        for i in range(26):
            reach_next_step(db, f"9{i:03}")

    await jcore.store.write(many)
    messenger = RecordingMessenger(max_rate=50)
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"telegram": messenger}, tuning=QUICK)
    started = time.monotonic()
    await journeys.start_waiting(jcore.store, engine)
    await quiet(jcore, engine)
    assert len(messenger.sent) == 26
    assert time.monotonic() - started >= 25 / 50 * 0.95  # evenly spaced, as any send


async def test_deliveries_added_while_the_step_is_being_sent_go_too(jcore: Core) -> None:
    """A send of the step is under way (slowly) when more supporters reach it: they get
    it from that send or the one right after, never after a minute's wait."""
    prompt_id = await jcore.store.write(reach_next_step, "9101")
    messenger = RecordingMessenger()
    messenger.delay = 0.3
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"telegram": messenger}, tuning=QUICK)
    engine.restart(prompt_id)
    await asyncio.sleep(0.1)  # its one delivery is out
    await jcore.store.write(reach_next_step, "9102")
    engine.restart(prompt_id)  # what the core does after the press
    await quiet(jcore, engine, within=5)
    assert sorted(messenger.addresses()) == ["9101", "9102"]
    assert await jcore.store.read(states, "next") == {"sent": 2}


def test_prepare_makes_no_audience_for_a_journey_step(tmp_path: Path, packs: Path) -> None:
    from db.store import open_database

    db = open_database(tmp_path / "p.db")
    with db.atomic():
        Catalog.load(packs).sync(db)
        prompt_id = reach_next_step(db, "9201")
        for i in range(3):  # others subscribed to the campaign: not the step's audience
            supporters_db.insert(
                db,
                platform="telegram",
                address=f"92{i:02}0",
                kind="private",
                status="active",
                source=None,
                consent_version="test",
            )
        prepared = prepare(db, prompt_id, ["telegram"])
        assert prepared is not None and prepared.created == 0 and prepared.to_send == 1
    db.close()


# ---------------------------------------------------------------- counted, and shown


def seed_counts(db: Database) -> None:
    """A next step sent to two, waiting for one, failed for one; a welcome message sent."""
    step = reach_next_step(db, "9301")
    for address in ("9302", "9303", "9304"):
        reach_next_step(db, address)
    db.execute(
        "UPDATE deliveries SET state = 'sent' WHERE prompt_id = ? AND id IN"
        " (SELECT id FROM deliveries WHERE prompt_id = ? ORDER BY id LIMIT 2)",
        [step, step],
    )
    db.execute("UPDATE deliveries SET state = 'failed' WHERE id = (SELECT max(id) FROM deliveries)")
    welcome = journeys_db.welcome_prompt(db, "walk", 2)
    assert welcome is not None
    supporter = supporters_db.get(db, "telegram", "9301")
    assert supporter is not None
    journeys_db.add_for_supporter(db, welcome, supporter)
    db.execute("UPDATE deliveries SET state = 'sent' WHERE prompt_id = ?", [welcome.id])


def test_the_journeys_table_counts_each_step(jcore: Core) -> None:
    jcore.store.submit(seed_counts).result()
    header, rows = jcore.store.submit(journeys.table).result()
    assert header == ["campaign", "step", "sent", "waiting", "unknown", "failed_or_gone"]
    assert rows == [["walk", "welcome 2", 1, 0, 0, 0], ["walk", "next: letter", 2, 1, 0, 1]]


async def test_journey_steps_stay_out_of_participation(jcore: Core) -> None:
    from db.stats import participation

    await jcore.store.write(seed_counts)
    report = await jcore.store.read(participation)
    assert report.total.delivered == 0 and report.by_ask_week == []
    data = await jcore.store.read(overview, jcore.ctx.catalog, utcnow())
    assert data.recent == []  # the overview's last send is an ask, never a step
    assert data.journeys.rows[1][:3] == ["walk", "next: letter", 2]


def test_mydata_names_each_journey_message(jcore: Core) -> None:
    jcore.store.submit(seed_counts).result()

    def exported(db: Database) -> dict[str, Any]:
        supporter = supporters_db.get(db, "telegram", "9301")
        return export(db, supporter, None)

    titles = [d["title"] for d in jcore.store.submit(exported).result()["deliveries"]]
    assert titles == ["next step after Write to the council", "welcome message 2"]


async def test_stats_and_the_dashboard_show_the_counts(tmp_path: Path, packs: Path) -> None:
    from db.store import open_database

    settings = make_settings(tmp_path, packs=packs)
    db = open_database(settings.db)
    with db.atomic():
        Catalog.load(packs).sync(db)
        seed_counts(db)
    add_users(db)
    db.close()
    env = base_env(tmp_path) | {"CAMPAIGNBOT_DB": str(settings.db)}
    code, shown = await run(env, "stats")
    assert code == 0, shown
    assert "Journeys" in shown and "next: letter" in shown and "welcome 2" in shown
    code, as_json = await run(env, "stats", "--json")
    assert code == 0, as_json
    found = json.loads(as_json)["journeys"]
    assert found[1] == {
        "campaign": "walk",
        "step": "next: letter",
        "sent": 2,
        "waiting": 1,
        "unknown": 0,
        "failed_or_gone": 1,
    }
    code, as_csv = await run(env, "stats", "--csv", "--table", "journeys")
    assert code == 0, as_csv
    rows = list(csv.reader(io.StringIO(as_csv)))
    assert rows[0] == ["campaign", "step", "sent", "waiting", "unknown", "failed_or_gone"]
    assert rows[2] == ["walk", "next: letter", "2", "1", "0", "1"]
    code, telegram_only = await run(
        env, "stats", "--csv", "--table", "journeys", "--platform", "discord"
    )
    assert list(csv.reader(io.StringIO(telegram_only)))[2][2:] == ["0", "0", "0", "0"]

    with opened_core(settings) as core:
        async with signed_in(create_app(core, settings), "stan") as http:
            page = await http.get("/")
            assert page.status_code == 200
            assert "Next steps, welcome messages and polls" in page.text
            assert "next: letter" in page.text
            download = await http.get("/overview/journeys.csv")
            assert download.status_code == 200
            assert download.text == as_csv
            prompts = await http.get("/prompts?all=1")
            assert "message 2" in prompts.text and "each supporter as they reach it" in prompts.text


async def test_stopping_a_step_cancels_what_waits_and_the_step_stays_for_later(
    jcore: Core,
) -> None:
    """An organiser's stop on a running journey step cancels the deliveries waiting now;
    the step itself stays, so a supporter who reaches it afterwards still gets it."""
    prompt_id = await jcore.store.write(reach_next_step, "8821")
    stopped = await jcore.store.write(prompting.stop, prompt_id, "dashboard:olu")
    assert stopped is not None and stopped.running and stopped.cancelled == 1
    step = await jcore.store.read(prompts_db.get, prompt_id)
    assert step is not None and step.state is PromptState.SENT
    await jcore.store.write(reach_next_step, "8822")  # someone does the ask later
    messenger = RecordingMessenger()
    engine = DeliveryEngine(jcore.store, jcore.ctx, {"telegram": messenger}, tuning=QUICK)
    await engine.resume()
    await quiet(jcore, engine)
    assert messenger.addresses() == ["8822"]  # never the one who was stopped
    assert await jcore.store.read(states, "next") == {"cancelled": 1, "sent": 1}
