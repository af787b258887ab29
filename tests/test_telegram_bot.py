"""The Telegram adapter: the real PTB `Application` polling the strict fake Bot API.

Every fixture is synthetic: made-up ids, names and words.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlite_utils import Database

from bots.telegram.bot import TelegramBot
from campaigns import wording
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.messenger import RateLimited
from campaigns.model import ChatKind, Message
from campaigns.organising import NOT_AVAILABLE
from db import supporters as supporters_db
from tests.chat import count
from tests.fakes.telegram import FakeTelegram
from tests.platforms import telegram_bot, telegram_online

SAM, ALEX, ORGANISER = 4101, 4102, 900  # ORGANISER is in the core fixture's organiser list
GROUP, ADMIN, MEMBER_A, MEMBER_B = -4200, 4201, 4202, 4203


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        for user, name in ((SAM, "Sam"), (ALEX, "Alex"), (ORGANISER, "Olu")):
            server.private_chat(user, name)
        server.group_chat(GROUP, "Supporters", admins={ADMIN}, members={MEMBER_A, MEMBER_B})
        yield server


@pytest.fixture
async def bot(core: Core, fake: FakeTelegram) -> AsyncIterator[TelegramBot]:
    async with telegram_online(core, fake) as telegram:
        yield telegram
    assert not [call for call in fake.rejected if call.method != "getUpdates"], fake.rejected


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def button(message: dict[str, Any], label: str) -> dict[str, Any]:
    return next(b for b in buttons(message) if b["text"] == label)


async def asks_in(fake: FakeTelegram, chat: int, at_least: int = 1) -> list[dict[str, Any]]:
    def asks() -> list[dict[str, Any]]:
        return [
            m
            for m in fake.sent_to(chat)
            if any("callback_data" in b for b in buttons(m))
            and button_labels(m)[-1] == wording.SKIP_LABEL
        ]

    await fake.wait_for(lambda: len(asks()) >= at_least)
    return asks()


def button_labels(message: dict[str, Any]) -> list[str]:
    return [b["text"] for b in buttons(message)]


async def replies(fake: FakeTelegram, chat: int, at_least: int) -> list[dict[str, Any]]:
    await fake.wait_for(lambda: len(fake.sent_to(chat)) >= at_least)
    return fake.sent_to(chat)


async def answered(fake: FakeTelegram, query_id: str) -> dict[str, Any]:
    await fake.wait_for(lambda: query_id in fake.callback_answers)
    return fake.callback_answers[query_id]


async def test_deep_link_subscribes_with_its_source_and_shows_the_ask(
    bot: TelegramBot, fake: FakeTelegram, core: Core
) -> None:
    fake.user_sends(SAM, SAM, "/start leaflet")  # a source the bundled pack declares
    ask = (await asks_in(fake, SAM))[0]
    welcome = fake.sent_to(SAM)[0]
    assert "You're subscribed" in welcome["text"]
    assert "20,254" in ask["text"] and "Internet Watch Foundation" in ask["text"]
    assert any(e["type"] == "bold" for e in ask["entities"])  # sent as HTML
    assert button_labels(ask) == ["Write to your MP", "I did it", "Not this week"]
    assert button(ask, "Write to your MP")["url"] == "https://www.writetothem.com/"
    for label in ("I did it", "Not this week"):
        data = button(ask, label)["callback_data"]
        assert data.startswith("cb1:") and len(data.encode()) <= 64
    row = await core.store.read(supporters_db.get, "telegram", str(SAM))
    assert row is not None and row.source == "leaflet" and row.status == "active"


async def test_pressing_is_answered_counted_once_and_the_message_keeps_its_link(
    bot: TelegramBot, fake: FakeTelegram, core: Core
) -> None:
    fake.user_sends(SAM, SAM, "/start")
    first = (await asks_in(fake, SAM))[0]
    fake.user_sends(SAM, SAM, "/ask")
    second = (await asks_in(fake, SAM, 2))[1]
    done = button(first, "I did it")["callback_data"]
    query = fake.user_presses(SAM, SAM, first["message_id"], done)
    assert (await answered(fake, query))["text"] == wording.DONE_THANKS

    def edited() -> bool:
        now = next(m for m in fake.sent_to(SAM) if m["message_id"] == first["message_id"])
        return button_labels(now) == ["Write to your MP"] and wording.DONE_THANKS in now["text"]

    await fake.wait_for(edited)
    again = fake.user_presses(SAM, SAM, second["message_id"], done)  # the same ask, again
    assert (await answered(fake, again))["text"] == wording.DONE_ALREADY
    assert await core.store.read(count, "SELECT count(*) FROM actions WHERE kind = 'done'") == 1


async def test_a_forged_button_is_answered_politely_and_changes_nothing(
    bot: TelegramBot, fake: FakeTelegram, core: Core
) -> None:
    fake.user_sends(SAM, SAM, "/start")
    ask = (await asks_in(fake, SAM))[0]
    genuine = button(ask, "I did it")["callback_data"]
    for forged in (genuine[:-2] + "xx", "cb1:done:1:AAAAAAAAAAAAAAAA", "hello", "cb1:forget:-:x"):
        query = fake.user_presses(SAM, SAM, ask["message_id"], forged, forge=True)
        assert (await answered(fake, query))["text"] == wording.BUTTON_STALE
    assert await core.store.read(count, "SELECT count(*) FROM actions") == 0
    assert await core.store.read(count, "SELECT count(*) FROM supporters") == 1


async def test_media_and_links_are_deleted_never_downloaded_and_answered(
    bot: TelegramBot, fake: FakeTelegram
) -> None:
    before = len(fake.sent_to(SAM))
    photo = fake.user_sends_media(SAM, SAM, "photo", caption="look")
    link = fake.user_sends_link(SAM, SAM, "https://example.com/something")
    sticker = fake.user_sends_media(SAM, SAM, "sticker")
    answers = await replies(fake, SAM, before + 3)
    for message in (photo, link, sticker):
        assert (SAM, message["message_id"]) in fake.deleted
    for answer in answers[before:]:
        assert "https://report.iwf.org.uk/" in answer["text"] and "999" in answer["text"]
    assert fake.calls("getFile") == [] and fake.downloads == []


async def test_typed_text_gets_help_and_is_never_logged_or_stored(
    bot: TelegramBot, fake: FakeTelegram, core: Core, caplog: pytest.LogCaptureFixture, db_path: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    words = "my-private-words-quokka"
    fake.user_sends(SAM, SAM, f"hello {words}")
    answers = await replies(fake, SAM, 1)
    # free text may be someone reaching out: the answer says where to get help
    assert answers[0]["text"] == wording.FREE_TEXT
    assert "Childline" in answers[0]["text"] and "0800 1111" in answers[0]["text"]
    assert "999" in answers[0]["text"] and "https://report.iwf.org.uk/" in answers[0]["text"]
    fake.user_sends(SAM, SAM, f"/start please keep {words}")
    answers = await replies(fake, SAM, 3)
    assert words not in caplog.text
    core.store.close()
    for path in db_path.parent.iterdir():
        assert words.encode() not in path.read_bytes(), path


async def test_blocked_users_are_marked_gone_and_come_back_with_start(
    bot: TelegramBot, fake: FakeTelegram, core: Core
) -> None:
    fake.user_sends(SAM, SAM, "/start")
    await asks_in(fake, SAM)
    fake.user_blocks_bot(SAM)

    async def status() -> str:
        row = await core.store.read(supporters_db.get, "telegram", str(SAM))
        assert row is not None
        return row.status

    deadline = time.monotonic() + 5
    while await status() != "gone" and time.monotonic() < deadline:
        await fake.wait_for(lambda: True)
    assert await status() == "gone"
    fake.user_unblocks_bot(SAM)
    fake.user_sends(SAM, SAM, "/start")
    await asks_in(fake, SAM, 2)
    assert await status() == "active"


async def test_a_send_to_a_blocked_user_marks_them_gone(
    bot: TelegramBot, fake: FakeTelegram, core: Core
) -> None:
    from campaigns.messenger import RecipientGone

    fake.private_chat(ALEX).blocked = True
    with pytest.raises(RecipientGone, match=r"(?i)blocked"):
        await bot.send(str(ALEX), ChatKind.PRIVATE, Message(text="hello"))
    fake.delete_chat(SAM)
    with pytest.raises(RecipientGone, match=r"(?i)chat not found"):
        await bot.send(str(SAM), ChatKind.PRIVATE, Message(text="hello"))
    assert len(fake.rejected) == 2
    fake.rejected.clear()  # both refusals were the point


async def test_group_subscription_by_an_admin_and_each_member_counts(
    bot: TelegramBot, fake: FakeTelegram, core: Core
) -> None:
    fake.user_sends(GROUP, MEMBER_A, "/subscribe_group@campaign_test_bot")
    refusal = await replies(fake, GROUP, 1)
    assert refusal[0]["text"] == wording.GROUP_ONLY_ADMINS
    fake.user_sends(GROUP, ADMIN, "/subscribe_group")
    post = (await asks_in(fake, GROUP))[0]
    done = button(post, "I did it")["callback_data"]
    for member in (MEMBER_A, MEMBER_B):
        query = fake.user_presses(GROUP, member, post["message_id"], done)
        assert (await answered(fake, query))["text"] == wording.DONE_THANKS
    query = fake.user_presses(GROUP, MEMBER_A, post["message_id"], done)
    assert (await answered(fake, query))["text"] == wording.DONE_ALREADY
    assert await core.store.read(count, "SELECT count(*) FROM actions WHERE kind = 'done'") == 2
    # the group becomes a supergroup: the subscription follows it
    fake.group_migrates_to_supergroup(GROUP, -1004200)

    async def moved() -> bool:
        return await core.store.read(supporters_db.get, "telegram", "-1004200") is not None

    deadline = time.monotonic() + 5
    while not await moved() and time.monotonic() < deadline:
        await fake.wait_for(lambda: True)
    assert await moved()


async def test_organiser_commands_are_refused_to_others(
    bot: TelegramBot, fake: FakeTelegram
) -> None:
    for command in ("/stats", "/preview", "/sendnow one-step-ahead", "/status"):
        fake.user_sends(SAM, SAM, command)
    answers = await replies(fake, SAM, 4)
    assert [a["text"] for a in answers] == [NOT_AVAILABLE] * 4


async def test_organisers_preview_and_send_now_with_confirmation(
    core: Core, fake: FakeTelegram
) -> None:
    bot = telegram_bot(core, fake, limits=False)
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": bot}, tuning=Tuning(workers=2))
    core.attach(engine)
    await bot.online()
    try:
        organiser_menu = fake.commands_for({"type": "chat", "chat_id": ORGANISER})
        assert {"preview", "sendnow", "status", "stats"} <= {c["command"] for c in organiser_menu}
        assert "sendnow" not in {c["command"] for c in fake.commands_for()}
        fake.user_sends(SAM, SAM, "/start")
        await asks_in(fake, SAM)
        fake.user_sends(ORGANISER, ORGANISER, "/preview one-step-ahead age-verification")
        preview = (await asks_in(fake, ORGANISER))[0]
        assert "2,401" in preview["text"]
        query = fake.user_presses(
            ORGANISER,
            ORGANISER,
            preview["message_id"],
            button(preview, "I did it")["callback_data"],
        )
        assert (await answered(fake, query))["text"] == wording.PREVIEW_PRESS
        fake.user_sends(ORGANISER, ORGANISER, "/sendnow one-step-ahead mandatory-reporting")
        await fake.wait_for(lambda: "Send it now" in str(fake.sent_to(ORGANISER)[-1]))
        confirm = fake.sent_to(ORGANISER)[-1]
        fake.user_presses(
            ORGANISER,
            ORGANISER,
            confirm["message_id"],
            button(confirm, "Send it now")["callback_data"],
        )
        await fake.wait_for(lambda: "Most of Europe" in fake.sent_to(SAM)[-1].get("text", ""))

        def audited(db: Database) -> list[str]:
            return [row[0] for row in db.execute("SELECT action FROM audit ORDER BY id")]

        assert await core.store.read(audited) == ["preview", "send-now-requested", "send-now"]
    finally:
        await engine.stop()
        await bot.offline()


async def test_a_429_is_waited_out_by_a_reply_and_handed_to_the_engine_by_a_send(
    core: Core, fake: FakeTelegram
) -> None:
    bot = telegram_bot(core, fake, limits=True)
    await bot.online()
    try:
        fake.fail_next("sendMessage", status=429, retry_after=1)
        started = time.monotonic()
        await bot.reply(SAM, Message(text="hello"))
        assert time.monotonic() - started >= 1.0
        assert fake.sent_to(SAM)[-1]["text"] == "hello"
        assert fake.too_many_requests == 1 and fake.limiter.early_retries == 0
        # the engine's send makes one request: the 429 goes back to the engine at once
        fake.fail_next("sendMessage", status=429, retry_after=2)
        with pytest.raises(RateLimited) as raised:
            await bot.send(str(SAM), ChatKind.PRIVATE, Message(text="again"))
        assert raised.value.retry_after == 2
        assert fake.sent_to(SAM)[-1]["text"] == "hello"
        assert fake.too_many_requests == 2
    finally:
        await bot.offline()


async def test_mydata_sends_the_export_as_a_json_file(bot: TelegramBot, fake: FakeTelegram) -> None:
    fake.user_sends(SAM, SAM, "/start website")
    await asks_in(fake, SAM)
    fake.user_sends(SAM, SAM, "/mydata")
    await fake.wait_for(lambda: any("document" in m for m in fake.sent_to(SAM)))
    export = fake.uploaded_json(SAM)
    assert export["chat_id"] == str(SAM) and export["source"] == "website"


async def test_sends_to_one_group_are_spaced_for_twenty_a_minute(
    core: Core, fake: FakeTelegram
) -> None:
    bot = telegram_bot(core, fake)  # production limits
    await bot.online()
    try:
        started = time.monotonic()
        for n in range(2):
            await bot.reply(GROUP, Message(text=f"post {n}"))
        assert time.monotonic() - started >= 3.0  # 60 s / 20
        assert fake.too_many_requests == 0
    finally:
        await bot.offline()


async def test_the_resend_to_a_group_that_moved_takes_a_slot_of_its_own(
    core: Core, fake: FakeTelegram
) -> None:
    """Every message to a chat takes the shared pace: the second request, to the
    supergroup a group became, too (before, it went out at once)."""
    bot = telegram_bot(core, fake, max_rate=2)  # slots 0.5 s apart
    await bot.online()
    try:
        fake.group_migrates_to_supergroup(GROUP, -1004200)
        assert bot.pacer is not None
        bot.pacer.reserve()  # the slot the engine takes for the first request
        started = time.monotonic()
        await bot.send(str(GROUP), ChatKind.GROUP, Message(text="the weekly ask"))
        assert time.monotonic() - started >= 0.45
        assert fake.sent_to(-1004200)[-1]["text"] == "the weekly ask"
    finally:
        await bot.offline()
