"""What the Telegram adapter reads in a private chat: plain text, and nothing else.

The slips an outside review found (issue 10, item 6) arrive as real Updates from the
fake Bot API's getUpdates. Anything but plain text, new or edited in, must be deleted
unopened and answered with the report route; an edit that stays plain gets no answer.
To show that something got no answer, each test ends with a command whose reply must
come next. Every fixture is synthetic: made-up ids, names, links and words.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.telegram.bot import TelegramBot
from campaigns import wording
from campaigns.core import Core
from tests.chat import count
from tests.fakes.telegram import FakeTelegram
from tests.platforms import telegram_online

SAM = 4301
LINK = "https://example.org/a-page"
REMOVED = wording.safeguarding(True)
HELP = wording.help_text(False)
CHANNEL = {"id": -1009000000002, "type": "channel", "title": "A channel"}


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.private_chat(SAM, "Sam")
        server.private_chat(900, "Olu")  # an organiser in the core fixture: gets a menu
        yield server


@pytest.fixture
async def bot(core: Core, fake: FakeTelegram) -> AsyncIterator[TelegramBot]:
    async with telegram_online(core, fake) as telegram:
        yield telegram
    assert not [call for call in fake.rejected if call.method != "getUpdates"], fake.rejected
    assert fake.calls("getFile") == [] and fake.downloads == []  # nothing is ever opened


async def said(fake: FakeTelegram, at_least: int) -> list[str]:
    """The texts of the bot's messages to Sam, once there are at least this many."""
    await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= at_least)
    return [message.get("text", "") for message in fake.sent_to(SAM)]


def delivered(fake: FakeTelegram, kind: str) -> list[dict[str, Any]]:
    """The payloads of this kind of update that getUpdates handed to the bot."""
    updates = [u for call in fake.calls("getUpdates") for u in call.result or []]
    return [u[kind] for u in updates if kind in u]


def removed(fake: FakeTelegram, *messages: dict[str, Any]) -> bool:
    return all((SAM, message["message_id"]) in fake.deleted for message in messages)


async def test_a_command_carrying_a_link_is_deleted_answered_and_not_run(
    bot: TelegramBot, fake: FakeTelegram, core: Core
) -> None:
    bare = fake.user_sends(SAM, SAM, f"/help {LINK}")
    behind_words = fake.user_sends(
        SAM,
        SAM,
        "/start leaflet",
        entities=[{"type": "text_link", "offset": 7, "length": 7, "url": LINK}],
    )
    assert [e["type"] for e in behind_words["entities"]] == ["bot_command", "text_link"]
    assert await said(fake, 2) == [REMOVED, REMOVED]
    assert removed(fake, bare, behind_words)
    fake.user_sends(SAM, SAM, "/help")
    assert await said(fake, 3) == [REMOVED, REMOVED, HELP]  # neither command ran
    assert await core.store.read(count, "SELECT count(*) FROM supporters") == 0


async def test_stories_and_paid_media_are_deleted_unopened(
    bot: TelegramBot, fake: FakeTelegram
) -> None:
    story = fake.user_forwards_story(SAM, SAM)
    paid = fake.user_sends_paid_media(SAM, SAM, caption="a caption")
    assert await said(fake, 2) == [REMOVED, REMOVED]
    assert removed(fake, story, paid)


async def test_an_edit_that_adds_a_link_is_deleted_and_a_plain_edit_gets_no_answer(
    bot: TelegramBot, fake: FakeTelegram, core: Core
) -> None:
    command = fake.user_sends(SAM, SAM, "/help")
    assert await said(fake, 1) == [HELP]
    fake.user_edits(SAM, SAM, command["message_id"], text="/help please")  # plain: ignored
    edited = fake.user_edits(SAM, SAM, command["message_id"], text=f"/help {LINK}")
    assert edited["edit_date"] >= edited["date"]
    assert await said(fake, 2) == [HELP, REMOVED]
    assert removed(fake, command)
    fake.user_sends(SAM, SAM, "/help")
    assert await said(fake, 3) == [HELP, REMOVED, HELP]
    assert [m["text"] for m in delivered(fake, "edited_message")] == [
        "/help please",
        f"/help {LINK}",
    ]


async def test_a_photo_and_an_edit_of_its_caption_get_one_answer(
    bot: TelegramBot, fake: FakeTelegram
) -> None:
    photo = fake.user_sends_media(SAM, SAM, "photo", caption="a caption")
    fake.user_edits(SAM, SAM, photo["message_id"], caption=f"a caption {LINK}")  # same poll
    assert await said(fake, 1) == [REMOVED]
    fake.user_sends(SAM, SAM, "/help")
    assert await said(fake, 2) == [REMOVED, HELP]
    assert removed(fake, photo)
    assert [m["message_id"] for m in delivered(fake, "edited_message")] == [photo["message_id"]]


def _other_kinds() -> list[dict[str, Any]]:
    """One of each other kind of message, as its Message fields (checked by the fake)."""
    now = int(time.time())
    place = {"latitude": 51.5, "longitude": -0.12}
    options = [{"persistent_id": name, "text": name, "voter_count": 0} for name in ("Yes", "No")]
    poll = {
        "id": "poll-1",
        "question": "Which one?",
        "options": options,
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
        "allows_revoting": True,
        "members_only": False,
    }
    photo = [{"file_id": "PHOTO-elsewhere", "file_unique_id": "u1", "width": 90, "height": 90}]
    elsewhere = {"type": "channel", "date": now, "chat": CHANNEL, "message_id": 5}
    kim = {"id": 4302, "is_bot": False, "first_name": "Kim"}
    finder = {"id": 7001, "is_bot": True, "first_name": "Finder", "username": "finder_bot"}

    def text(words: str, kind: str, **entity: Any) -> dict[str, Any]:
        """Text with one entity over all of it."""
        span = len(words.encode("utf-16-le")) // 2
        return {"text": words, "entities": [{"type": kind, "offset": 0, "length": span, **entity}]}

    return [
        {"dice": {"emoji": "🎲", "value": 3}},
        {"contact": {"phone_number": "+440000000000", "first_name": "Kim"}},
        {"location": place},
        {
            "venue": {"location": place, "title": "A hall", "address": "1 Test St"},
            "location": place,
        },
        {"poll": poll},
        {"giveaway": {"chats": [CHANNEL], "winners_selection_date": now, "winner_count": 3}},
        # a kind newer than python-telegram-bot 22.8, which knows it only as an unknown field
        {"rich_message": {"blocks": [{"type": "paragraph", "text": ["A note"]}]}},
        # text, but not plain: someone else's words, a reply to another chat's photo, a
        # person, a picture (custom emoji), an inline bot's result, a link preview
        {"text": "hello", "forward_origin": {"type": "user", "date": now, "sender_user": kim}},
        {"text": "what is this", "external_reply": {"origin": elsewhere, "photo": photo}},
        text("@someone_else", "mention"),
        text("Kim", "text_mention", user=kim),
        text("🙂", "custom_emoji", custom_emoji_id="5000000000000000001"),
        {"text": "a result", "via_bot": finder},
        {"text": "look", "link_preview_options": {"url": LINK}},
    ]


async def test_every_other_kind_of_message_is_deleted_unopened(
    bot: TelegramBot, fake: FakeTelegram
) -> None:
    kinds = _other_kinds()
    sent = [fake.user_sends_content(SAM, SAM, content) for content in kinds]
    assert await said(fake, len(kinds)) == [REMOVED] * len(kinds)
    assert removed(fake, *sent)
    # Telegram's own notice of a pin is nothing a person sent: no answer, kept
    pin = fake.user_sends_content(SAM, SAM, {"pinned_message": fake.sent_to(SAM)[0]})
    # plain text may mention a bot, and be bold
    fake.user_sends(
        SAM,
        SAM,
        "/help @campaign_test_bot",
        entities=[
            {"type": "mention", "offset": 6, "length": 18},
            {"type": "bold", "offset": 6, "length": 18},
        ],
    )
    assert await said(fake, len(kinds) + 1) == [REMOVED] * len(kinds) + [HELP]
    assert not removed(fake, pin)
