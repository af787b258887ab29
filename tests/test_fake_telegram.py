"""Self-tests of the fake Telegram Bot API server (tests/fakes/telegram).

The fake is only useful if it refuses what Telegram refuses, so most tests here
provoke one refusal and assert Telegram's exact answer. They drive it with the
real python-telegram-bot (a Bot, and once a polling Application) and, for input
PTB would never send, with raw aiohttp requests.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.fakes.telegram import ApiError, FakeTelegram, load_spec
from tests.fakes.telegram.api import implemented_methods
from tests.fakes.telegram.html import HtmlError, parse_html, utf16_len
from tests.fakes.telegram.spec import Mismatch
from tests.fakes.telegram.world import MediaKind

Json = Any
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.private_chat(42, "Sam")
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    request = HTTPXRequest(read_timeout=2.0)
    async with telegram.Bot(
        fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url, request=request
    ) as client:
        yield client


async def raw(
    fake: FakeTelegram,
    method: str,
    *,
    token: str | None = None,
    http: str = "POST",
    **kwargs: Any,
) -> tuple[int, Json]:
    """One request without PTB: kwargs go to aiohttp (params=, data=, json=)."""
    url = f"{fake.base_url}{token or fake.token}/{method}"
    async with aiohttp.ClientSession() as session, session.request(http, url, **kwargs) as resp:
        return resp.status, await resp.json()


def refusal(status: int, description: str, **parameters: Any) -> Json:
    body: Json = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def last_refusal(fake: FakeTelegram) -> str | None:
    """The error text of the latest request, which must have been refused."""
    assert fake.rejected and fake.rejected[-1] is fake.requests[-1]
    return fake.rejected[-1].description


def button(*, data: object = None, **fields: object) -> str:
    """A JSON-serialized one-button inline keyboard, as form encodings carry it."""
    if data is not None:
        fields["callback_data"] = data
    return json.dumps({"inline_keyboard": [[fields]]})


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(buttons)])


# --- transport, token, method names ------------------------------------------------------


async def test_unknown_token_is_401_and_unknown_method_404(fake: FakeTelegram) -> None:
    assert await raw(fake, "getMe", token="999:nope") == (401, refusal(401, "Unauthorized"))
    # a token not shaped like one (bot id, colon, secret) is "Not Found", as on Telegram
    assert await raw(fake, "getMe", token="999-nope") == (404, refusal(404, "Not Found"))
    assert await raw(fake, "getMeNow") == (404, refusal(404, "Not Found"))
    status, body = await raw(fake, "getme", http="GET")  # names are case-insensitive
    assert status == 200 and body["result"]["username"] == "campaign_test_bot"
    assert [c.status for c in fake.requests] == [401, 404, 404, 200]


@pytest.mark.parametrize("encoding", ["query", "form", "json", "json-nested-string", "multipart"])
async def test_every_encoding_is_accepted(fake: FakeTelegram, encoding: str) -> None:
    markup = {"inline_keyboard": [[{"text": "Done", "callback_data": "d"}]]}
    fields = {"chat_id": "42", "text": "hello", "reply_markup": json.dumps(markup)}
    ways: dict[str, dict[str, Any]] = {
        "query": {"params": fields},
        "form": {"data": fields},
        "json": {"json": {"chat_id": 42, "text": "hello", "reply_markup": markup}},
        "json-nested-string": {"json": fields},
        "multipart": {"data": aiohttp.FormData(fields, default_to_multipart=True)},
    }
    kwargs = ways[encoding]
    status, body = await raw(fake, "sendMessage", **kwargs)
    assert status == 200, body
    assert body["result"]["reply_markup"] == markup
    assert body["result"]["from"]["id"] == 123456 and body["result"]["chat"]["id"] == 42


# --- parameter validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"chat_id": 42, "text": "hi", "colour": "red"}, "Bad Request: unknown parameter colour"),
        ({"chat_id": 42}, "Bad Request: message text is empty"),
        ({"text": "hi"}, "Bad Request: chat_id is empty"),
        ({"chat_id": 42, "text": ""}, "Bad Request: message text is empty"),
        (
            {"chat_id": 42, "text": "hi", "message_thread_id": "abc"},
            'Bad Request: field "message_thread_id" must be of type Integer',
        ),
        (
            {"chat_id": 42, "text": "hi", "disable_notification": "maybe"},
            'Bad Request: field "disable_notification" must be of type Boolean',
        ),
        (
            {"chat_id": 42, "text": "hi", "reply_markup": "{not json"},
            "Bad Request: can't parse reply_markup JSON object",
        ),
        (
            {"chat_id": 42, "text": "hi", "reply_markup": button(text="a", data="b", colour="r")},
            "Bad Request: can't parse reply_markup: inline_keyboard[0][0].colour "
            "is not a field of InlineKeyboardButton",
        ),
        (
            {"chat_id": 42, "text": "hi", "reply_markup": button(data="b")},
            "Bad Request: can't parse reply_markup: inline_keyboard[0][0].text "
            "is required in InlineKeyboardButton",
        ),
        (
            {"chat_id": 42, "text": "hi", "reply_markup": button(text="a", data=7)},
            "Bad Request: can't parse reply_markup: inline_keyboard[0][0].callback_data "
            "must be of type String",
        ),
        (
            {"chat_id": 42, "text": "hi", "link_preview_options": '{"is_disabled": "yes"}'},
            "Bad Request: can't parse link_preview_options: is_disabled must be of type Boolean",
        ),
        (
            {"chat_id": 42, "text": "hi", "reply_parameters": '{"chat_id": 42}'},
            "Bad Request: can't parse reply_parameters: message_id is required in ReplyParameters",
        ),
    ],
)
async def test_parameters_are_checked_against_the_spec(
    fake: FakeTelegram, params: dict[str, Any], description: str
) -> None:
    form = {k: str(v) for k, v in params.items()}
    assert await raw(fake, "sendMessage", data=form) == (400, refusal(400, description))
    assert fake.sent_to(42) == []


async def test_abstract_types_pick_their_subtype(fake: FakeTelegram) -> None:
    commands = json.dumps([{"command": "start", "description": "Start"}])
    status, body = await raw(
        fake, "setMyCommands", data={"commands": commands, "scope": '{"type": "chat"}'}
    )
    assert (status, body["description"]) == (
        400,
        "Bad Request: can't parse scope: chat_id is required in BotCommandScopeChat",
    )
    status, body = await raw(
        fake, "setMyCommands", data={"commands": commands, "scope": '{"type": "everyone"}'}
    )
    assert body["description"].startswith("Bad Request: can't parse scope: type must be one of \"")
    status, body = await raw(
        fake, "setMyCommands", json={"commands": commands, "scope": {"type": "chat", "chat_id": 42}}
    )
    assert status == 200
    assert fake.commands_for({"type": "chat", "chat_id": 42}) == json.loads(commands)


async def test_unsupported_methods_are_validated_then_refused(fake: FakeTelegram) -> None:
    assert await raw(fake, "sendPhoto", data={"chat_id": "42", "photo": "x", "colr": "1"}) == (
        400,
        refusal(400, "Bad Request: unknown parameter colr"),
    )
    assert await raw(fake, "sendPhoto", data={"chat_id": "42", "photo": "x"}) == (
        400,
        refusal(400, "Bad Request: method not supported by the fake"),
    )


# --- messages, limits, HTML --------------------------------------------------------------


async def test_text_length_counts_utf16_units_after_parsing(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    await bot.send_message(42, "a" * 4096)
    await bot.send_message(42, "😀" * 2048)  # 4096 UTF-16 code units
    await bot.send_message(42, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    for text in ("a" * 4097, "😀" * 2048 + "a"):
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(42, text)
        assert last_refusal(fake) == "Bad Request: message is too long"
    with pytest.raises(BadRequest):
        await bot.send_message(42, "<b>  </b>", parse_mode="HTML")
    assert last_refusal(fake) == "Bad Request: message text is empty"
    assert len(fake.sent_to(42)) == 3


async def test_caption_limit(fake: FakeTelegram, bot: telegram.Bot) -> None:
    await bot.send_document(42, io.BytesIO(b"{}"), filename="a.json", caption="c" * 1024)
    with pytest.raises(BadRequest):
        await bot.send_document(42, io.BytesIO(b"{}"), filename="a.json", caption="c" * 1025)
    assert last_refusal(fake) == "Bad Request: message caption is too long"


async def test_html_is_parsed_into_entities(bot: telegram.Bot) -> None:
    html = (
        '<b>Act</b> <i>now</i>: <a href="https://example.org/a?x=1&amp;y=2">sign</a> '
        '<span class="tg-spoiler">s</span> <pre><code class="language-python">x</code></pre> '
        "<blockquote expandable>q</blockquote> &lt;3 &#128512;"
    )
    message = await bot.send_message(42, html, parse_mode="HTML")
    assert message.text == "Act now: sign s x q <3 😀"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 3),
        ("italic", 4, 3),
        ("text_link", 9, 4),
        ("spoiler", 14, 1),
        ("pre", 16, 1),
        ("expandable_blockquote", 18, 1),
    ]
    assert message.entities[2].url == "https://example.org/a?x=1&y=2"
    assert message.entities[4].language == "python"


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Q&A", 'Unescaped "&" at byte offset 1; write it as &amp;'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("é<u>x</u><br>", 'Unsupported start tag "br" at byte offset 10'),
        ('<tg-emoji emoji-id="x">🙂</tg-emoji>', "Invalid custom emoji identifier specified"),
    ],
)
async def test_bad_html_is_refused_like_telegram(
    fake: FakeTelegram, bot: telegram.Bot, html: str, error: str
) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(42, html, parse_mode="HTML")
    assert last_refusal(fake) == f"Bad Request: can't parse entities: {error}"
    with pytest.raises(HtmlError):
        parse_html(html)


async def test_markdown_is_not_modelled(fake: FakeTelegram, bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(42, "*hi*", parse_mode="MarkdownV2")
    assert last_refusal(fake) == (
        "Bad Request: parse_mode MarkdownV2 is unsupported in the fake; use HTML"
    )


def test_html_offsets_are_utf16() -> None:
    text, entities = parse_html("😀 <b>é😀</b>")
    assert text == "😀 é😀" and utf16_len(text) == 6
    assert entities == [{"type": "bold", "offset": 3, "length": 3}]
    assert parse_html("<b></b>x<i></i>") == ("x", [])  # empty tags make no entity


async def test_callback_data_is_limited_to_64_bytes(fake: FakeTelegram, bot: telegram.Bot) -> None:
    await bot.send_message(
        42, "ok", reply_markup=keyboard(InlineKeyboardButton("a", callback_data="é" * 32))
    )
    with pytest.raises(BadRequest):  # 33 characters, 66 bytes
        await bot.send_message(
            42, "no", reply_markup=keyboard(InlineKeyboardButton("a", callback_data="é" * 33))
        )
    assert last_refusal(fake) == "Bad Request: BUTTON_DATA_INVALID"
    assert [m["text"] for m in fake.sent_to(42)] == ["ok"]


BAD_URL = "Bad Request: inline keyboard button Wrong HTTP URL"


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        (
            {"text": "a"},
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        (
            {"text": "a", "url": "https://example.org", "callback_data": "x"},
            "Bad Request: can't parse inline keyboard button: "
            "exactly one action field must be set, got url, callback_data",
        ),
        (
            {"text": "", "callback_data": "x"},
            "Bad Request: inline keyboard button text must be non-empty",
        ),
        ({"text": "a", "callback_data": ""}, "Bad Request: BUTTON_DATA_INVALID"),
        ({"text": "a", "url": "javascript:alert(1)"}, BAD_URL),
        ({"text": "a", "url": "ftp://example.org"}, BAD_URL),
        ({"text": "a", "url": "https://localhost"}, BAD_URL),
    ],
)
async def test_inline_buttons_follow_telegram_rules(
    fake: FakeTelegram, fields: dict[str, str], description: str
) -> None:
    body = {"chat_id": 42, "text": "hi", "reply_markup": {"inline_keyboard": [[fields]]}}
    assert await raw(fake, "sendMessage", json=body) == (400, refusal(400, description))


async def test_good_buttons_and_keyboard_size(fake: FakeTelegram, bot: telegram.Bot) -> None:
    message = await bot.send_message(
        42,
        "hi",
        reply_markup=keyboard(
            InlineKeyboardButton("Act", url="https://example.org"),
            InlineKeyboardButton("App", url="tg://resolve?domain=example"),
        ),
    )
    assert message.reply_markup is not None
    assert message.reply_markup.inline_keyboard[0][0].url == "https://example.org/"
    rows = [[InlineKeyboardButton(str(i), callback_data=str(i))] for i in range(101)]
    with pytest.raises(BadRequest):
        await bot.send_message(42, "hi", reply_markup=InlineKeyboardMarkup(rows))
    assert last_refusal(fake) == "Bad Request: reply markup is too long"


# --- commands -----------------------------------------------------------------------------


async def test_bot_commands_with_scopes(fake: FakeTelegram, bot: telegram.Bot) -> None:
    from telegram import BotCommandScopeAllGroupChats, BotCommandScopeChat

    await bot.set_my_commands([("start", "Subscribe"), ("/help", " How it works ")])
    await bot.set_my_commands([("stats", "Staff numbers")], scope=BotCommandScopeChat(42))
    await bot.set_my_commands(
        [("join", "Join")], scope=BotCommandScopeAllGroupChats(), language_code="en"
    )
    assert fake.commands_for() == [
        {"command": "start", "description": "Subscribe"},
        {"command": "help", "description": "How it works"},  # trimmed, '/' dropped, as Telegram
    ]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(42))] == [
        "stats"
    ]
    assert await bot.get_my_commands(scope=BotCommandScopeAllGroupChats()) == ()
    assert await bot.delete_my_commands(scope=BotCommandScopeChat(42))
    assert fake.commands_for({"type": "chat", "chat_id": 42}) == []
    assert fake.commands_for({"type": "all_group_chats"}, "en") == [
        {"command": "join", "description": "Join"}
    ]


@pytest.mark.parametrize(
    ("commands", "description"),
    [
        ([("Start", "x")], "Bad Request: BOT_COMMAND_INVALID"),
        ([("start-now", "x")], "Bad Request: BOT_COMMAND_INVALID"),
        ([("a" * 33, "x")], "Bad Request: command length must not exceed 32"),
        ([("start", " ")], "Bad Request: command description must be non-empty"),
        ([("start", "d" * 257)], "Bad Request: command description length must not exceed 256"),
        ([(f"c{i}", "x") for i in range(101)], "Bad Request: BOT_COMMANDS_TOO_MUCH"),
    ],
)
async def test_bad_commands_are_refused(
    fake: FakeTelegram, bot: telegram.Bot, commands: list[tuple[str, str]], description: str
) -> None:
    with pytest.raises(BadRequest):
        await bot.set_my_commands(commands)
    assert last_refusal(fake) == description
    assert fake.commands == {}


# --- edits, deletes, callback queries --------------------------------------------------------


async def test_edits(fake: FakeTelegram, bot: telegram.Bot) -> None:
    markup = keyboard(InlineKeyboardButton("Done", callback_data="d"))
    message = await bot.send_message(42, "<b>Ask</b>", parse_mode="HTML", reply_markup=markup)
    with pytest.raises(BadRequest):
        await bot.edit_message_text(
            "<b>Ask</b>", 42, message.message_id, parse_mode="HTML", reply_markup=markup
        )
    assert last_refusal(fake) == NOT_MODIFIED
    with pytest.raises(BadRequest):
        await bot.edit_message_reply_markup(42, message.message_id, reply_markup=markup)
    assert last_refusal(fake) == NOT_MODIFIED
    with pytest.raises(BadRequest):
        await bot.edit_message_text("new", 42, 999)
    assert last_refusal(fake) == "Bad Request: message to edit not found"
    incoming = fake.user_sends(42, 42, "hello")
    with pytest.raises(BadRequest):
        await bot.edit_message_text("new", 42, incoming["message_id"])
    assert last_refusal(fake) == "Bad Request: message can't be edited"
    document = await bot.send_document(42, io.BytesIO(b"{}"), filename="a.json")
    with pytest.raises(BadRequest):
        await bot.edit_message_text("new", 42, document.message_id)
    assert last_refusal(fake) == "Bad Request: there is no text in the message to edit"

    edited = await bot.edit_message_text("Thanks", 42, message.message_id)  # drops the keyboard
    assert isinstance(edited, telegram.Message) and edited.edit_date is not None
    assert await bot.edit_message_reply_markup(42, message.message_id, reply_markup=markup)
    current = [m for m in fake.sent_to(42) if m["message_id"] == message.message_id]
    assert current[0]["text"] == "Thanks" and "entities" not in current[0]
    assert current[0]["reply_markup"] == markup.to_dict()


async def test_deletes(fake: FakeTelegram, bot: telegram.Bot) -> None:
    sent = await bot.send_message(42, "hello")
    photo = fake.user_sends_media(42, 42, "photo", caption="look")
    assert await bot.delete_message(42, sent.message_id)
    assert await bot.delete_message(42, photo["message_id"])  # incoming, private chat
    assert fake.deleted == [(42, sent.message_id), (42, photo["message_id"])]
    assert fake.sent_to(42) == []
    with pytest.raises(BadRequest):
        await bot.delete_message(42, sent.message_id)
    assert last_refusal(fake) == "Bad Request: message to delete not found"

    fake.group_chat(-500, admins={7})
    media = fake.user_sends_media(-500, 8, "video")
    with pytest.raises(BadRequest):
        await bot.delete_message(-500, media["message_id"])
    assert last_refusal(fake) == "Bad Request: message can't be deleted"
    fake.chats[-500].bot_is_admin = True
    assert await bot.delete_message(-500, media["message_id"])


async def test_callback_queries(fake: FakeTelegram, bot: telegram.Bot) -> None:
    message = await bot.send_message(
        42, "Ask", reply_markup=keyboard(InlineKeyboardButton("Done", callback_data="did:1"))
    )
    with pytest.raises(ValueError, match="no button"):
        fake.user_presses(42, 42, message.message_id, "did:2")
    with pytest.raises(ValueError, match="no bot message"):
        fake.user_presses(42, 42, 999, "did:1")
    query_id = fake.user_presses(42, 42, message.message_id, "did:1")
    (update,) = await bot.get_updates()
    assert update.callback_query is not None and update.callback_query.id == query_id
    assert update.callback_query.data == "did:1"
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == message.message_id

    with pytest.raises(BadRequest):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert last_refusal(fake) == "Bad Request: MESSAGE_TOO_LONG"
    assert await bot.answer_callback_query(query_id, text="Counted, thank you")
    assert fake.callback_answers[query_id]["text"] == "Counted, thank you"
    for stale in (query_id, "12345"):
        with pytest.raises(BadRequest):
            await bot.answer_callback_query(stale)
        assert last_refusal(fake) == TOO_OLD

    forged = fake.user_presses(42, 42, message.message_id, "did:999", forge=True)
    fake.callback_query_ttl = 0.05
    await asyncio.sleep(0.1)
    with pytest.raises(BadRequest):
        await bot.answer_callback_query(forged)
    assert last_refusal(fake) == TOO_OLD


# --- the world: users leave, groups change ----------------------------------------------------


async def test_blocked_and_deactivated_users(fake: FakeTelegram, bot: telegram.Bot) -> None:
    fake.user_blocks_bot(42)
    with pytest.raises(Forbidden):
        await bot.send_message(42, "hello")
    assert last_refusal(fake) == "Forbidden: bot was blocked by the user"
    (update,) = await bot.get_updates()
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    fake.user_unblocks_bot(42)
    await bot.send_message(42, "welcome back")

    fake.private_chat(43)
    fake.user_deactivated(43)
    with pytest.raises(Forbidden):
        await bot.send_message(43, "hello")
    assert last_refusal(fake) == "Forbidden: user is deactivated"

    fake.group_chat(-500, admins={7})
    fake.user_sends(-500, 8, "/start")
    with pytest.raises(Forbidden):
        await bot.send_message(8, "hello")
    assert last_refusal(fake) == "Forbidden: bot can't initiate conversation with a user"
    with pytest.raises(BadRequest):
        await bot.send_message(77, "hello")
    assert last_refusal(fake) == "Bad Request: chat not found"


async def test_groups_kick_migrate_and_vanish(fake: FakeTelegram, bot: telegram.Bot) -> None:
    fake.group_chat(-500, admins={7})
    await bot.send_message(-500, "hello group")
    new = fake.group_migrates_to_supergroup(-500, -1001234)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(-500, "hello again")
    assert migrated.value.new_chat_id == -1001234
    assert (
        fake.rejected[-1].description == "Bad Request: group chat was upgraded to a supergroup chat"
    )
    old_side, new_side = [u.message for u in await bot.get_updates()]
    assert old_side is not None and old_side.migrate_to_chat_id == -1001234
    assert new_side is not None and new_side.migrate_from_chat_id == -500
    await bot.send_message(new.id, "hello supergroup")

    fake.bot_removed_from_group(-1001234)
    with pytest.raises(Forbidden):
        await bot.send_message(-1001234, "anyone?")
    assert last_refusal(fake) == "Forbidden: bot was kicked from the supergroup chat"
    fake.group_chat(-600)
    fake.bot_removed_from_group(-600)
    with pytest.raises(Forbidden):
        await bot.send_message(-600, "anyone?")
    assert last_refusal(fake) == "Forbidden: bot was kicked from the group chat"
    fake.delete_chat(42)
    with pytest.raises(BadRequest):
        await bot.send_message(42, "hello")
    assert last_refusal(fake) == "Bad Request: chat not found"


async def test_group_privacy_mode_and_members(fake: FakeTelegram, bot: telegram.Bot) -> None:
    fake.group_chat(-500, "Supporters", admins={7}, owner=6)
    fake.user_sends(-500, 8, "hello all")  # a non-admin bot does not see chatter
    fake.user_sends(-500, 8, "/start@other_bot")
    fake.user_sends(-500, 8, "/join@campaign_test_bot now")
    fake.user_sends_media(-500, 8, "photo")
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["/join@campaign_test_bot now"]
    assert updates[0].message is not None and updates[0].message.entities[0].length == 23

    member = await bot.get_chat_member(-500, 7)
    assert member.status == "administrator"
    assert (await bot.get_chat_member(-500, 8)).status == "member"
    assert (await bot.get_chat_member(-500, 42)).status == "left"
    admins = await bot.get_chat_administrators(-500)
    assert [(a.user.id, a.status) for a in admins] == [(6, "creator"), (7, "administrator")]
    chat = await bot.get_chat(-500)
    assert (chat.id, chat.type, chat.title) == (-500, "group", "Supporters")


async def test_media_getfile_is_recorded(fake: FakeTelegram, bot: telegram.Bot) -> None:
    kinds: list[MediaKind] = ["photo", "video", "document", "sticker", "voice"]
    for kind in kinds:
        fake.user_sends_media(42, 42, kind, caption="see https://example.org")
    updates = await bot.get_updates()
    assert len(updates) == 5
    first = updates[0].message
    assert first is not None and first.photo and first.caption_entities[0].type == "url"
    assert fake.calls("getFile") == []
    file = await bot.get_file(first.photo[-1].file_id)
    assert file.file_path is not None
    assert [c.method for c in fake.calls("getfile")] == ["getFile"]


async def test_user_edits_arrive_as_edited_message(fake: FakeTelegram, bot: telegram.Bot) -> None:
    text = fake.user_sends(42, 42, "hello")
    photo = fake.user_sends_media(42, 42, "photo", caption="look")
    fake.user_edits(42, 42, text["message_id"], text="hello https://example.org")
    fake.user_edits(42, 42, photo["message_id"], caption="look here")
    new_text, new_photo, edited_text, edited_photo = await bot.get_updates()
    assert new_text.message is not None and new_photo.message is not None
    assert edited_text.edited_message is not None and edited_text.message is None
    edit = edited_text.edited_message
    assert edit.message_id == text["message_id"] and edit.text == "hello https://example.org"
    assert [e.type for e in edit.entities] == ["url"] and edit.edit_date is not None
    assert edited_photo.edited_message is not None
    assert edited_photo.edited_message.caption == "look here" and edited_photo.edited_message.photo
    stored = fake.messages[(42, text["message_id"])]
    assert stored["text"] == "hello https://example.org" and "edit_date" in stored

    # what a user can't do, the fake refuses to script
    sam, photo_id, text_id = 42, photo["message_id"], text["message_id"]
    refusals: list[tuple[str, Callable[[], object]]] = [
        ("changes nothing", lambda: fake.user_edits(sam, sam, photo_id, caption="look here")),
        ("only a text", lambda: fake.user_edits(sam, sam, photo_id, text="now text")),
        ("no caption", lambda: fake.user_edits(sam, sam, text_id, caption="a caption")),
        ("has no message", lambda: fake.user_edits(sam, 43, text_id, text="not mine")),
        ("has no message", lambda: fake.user_edits(sam, sam, 999, text="never sent")),
    ]
    for reason, script in refusals:
        with pytest.raises(ValueError, match=reason):
            script()
    await bot.delete_message(42, text["message_id"])
    with pytest.raises(ValueError, match="has no message"):
        fake.user_edits(42, 42, text["message_id"], text="after it was deleted")

    # an edit reaches the bot only if the original did (group privacy mode)
    fake.group_chat(-500, admins={7})
    chatter = fake.user_sends(-500, 8, "hello all")
    fake.user_edits(-500, 8, chatter["message_id"], text="hello everyone")
    assert await bot.get_updates(offset=edited_photo.update_id + 1) == ()


async def test_allowed_updates_are_honoured_strictly(fake: FakeTelegram, bot: telegram.Bot) -> None:
    first = fake.user_sends(42, 42, "hello")
    fake.user_edits(42, 42, first["message_id"], text="hello again")
    only = await bot.get_updates(allowed_updates=["message"])
    assert [(u.message is not None, u.edited_message is not None) for u in only] == [(True, False)]
    fake.user_edits(42, 42, first["message_id"], text="hello once more")
    assert await bot.get_updates(offset=only[0].update_id + 1) == ()  # the setting is kept
    second = fake.user_sends(42, 42, "later")
    fake.user_edits(42, 42, second["message_id"], text="later on")
    both = await bot.get_updates(
        offset=only[0].update_id + 1, allowed_updates=["message", "edited_message"]
    )
    assert [u.effective_message.text for u in both if u.effective_message] == [
        "later",
        "later on",
    ]
    fake.user_blocks_bot(42)  # my_chat_member: not asked for, never delivered
    assert await bot.get_updates(offset=both[-1].update_id + 1) == ()
    assert fake.updates == []


async def test_stories_paid_media_and_other_content_follow_the_spec(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    fake.user_forwards_story(42, 42, poster=-1009000000001, story_id=7)
    fake.user_sends_paid_media(42, 42, star_count=50, caption="see https://example.org")
    fake.user_sends_content(42, 42, {"dice": {"emoji": "🎲", "value": 3}})
    link = {"type": "text_link", "offset": 6, "length": 4, "url": "https://example.org"}
    fake.user_sends(42, 42, "/help more", entities=[link])
    rich = {"blocks": [{"type": "paragraph", "text": ["A ", {"type": "bold", "text": "note"}]}]}
    fake.user_sends_content(42, 42, {"rich_message": rich})  # newer than PTB 22.8
    story, paid, dice, command, note = [u.message for u in await bot.get_updates()]
    assert story is not None and story.story is not None
    assert (story.story.chat.type, story.story.chat.id, story.story.id) == (
        "channel",
        -1009000000001,
        7,
    )
    assert paid is not None and paid.paid_media is not None and paid.paid_media.star_count == 50
    assert [m.type for m in paid.paid_media.paid_media] == ["preview"]  # the bot hasn't paid
    assert paid.caption_entities[0].type == "url"
    assert dice is not None and dice.dice is not None and dice.dice.value == 3
    assert command is not None and [e.type for e in command.entities] == [
        "bot_command",
        "text_link",
    ]
    assert note is not None and note.api_kwargs["rich_message"] == rich

    # what Telegram would never send is refused before it is queued
    never_sent: list[tuple[dict[str, Json], str]] = [
        ({"dice": {"emoji": "🎲"}}, "Message.dice.value"),
        ({"text": "hi", "sparkles": True}, "Message.sparkles"),
        ({"rich_message": {"blocks": [{"type": "paragraph", "text": [5]}]}}, "text[0]"),
    ]
    for content, where in never_sent:
        with pytest.raises(Mismatch) as refused:
            fake.user_sends_content(42, 42, content)
        assert refused.value.path.endswith(where)
    with pytest.raises(ApiError, match="text_link URL"):
        fake.user_sends(42, 42, "/help more", entities=[{**link, "url": "not a link"}])
    with pytest.raises(ValueError, match="after the end"):
        fake.user_sends(42, 42, "/help", entities=[link])
    assert len(fake.updates) == 5  # nothing refused was queued


async def test_reply_parameters(fake: FakeTelegram, bot: telegram.Bot) -> None:
    incoming = fake.user_sends(42, 42, "/help")
    reply = await bot.send_message(
        42, "How to", reply_parameters=telegram.ReplyParameters(incoming["message_id"])
    )
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "/help"
    with pytest.raises(BadRequest):
        await bot.send_message(42, "x", reply_parameters=telegram.ReplyParameters(999))
    assert last_refusal(fake) == "Bad Request: message to be replied not found"


async def test_document_upload_keeps_the_bytes(fake: FakeTelegram, bot: telegram.Bot) -> None:
    export = {"supporter": "Sam", "actions": 3}
    message = await bot.send_document(
        42, io.BytesIO(json.dumps(export).encode()), filename="me.json"
    )
    assert message.document is not None and message.document.file_name == "me.json"
    assert fake.uploaded_json(42) == export
    assert isinstance(fake.calls("sendDocument")[0].files["document"].data, bytes)


async def test_webhook_and_session_methods(fake: FakeTelegram, bot: telegram.Bot) -> None:
    fake.user_sends(42, 42, "hello")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()
    assert await bot.log_out() and await bot.close()


# --- long polling -------------------------------------------------------------------------------


async def test_get_updates_offsets_limit_and_allowed_updates(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    for text in ("one", "two", "three"):
        fake.user_sends(42, 42, text)
    first = await bot.get_updates()
    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    assert len(await bot.get_updates()) == 3  # nothing confirmed yet
    ids = [u.update_id for u in first]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1], limit=1)] == [ids[1]]
    assert [u.update_id for u in await bot.get_updates()] == ids[1:]  # "one" was confirmed
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [ids[2]]
    assert [u.update_id for u in await bot.get_updates()] == [ids[2]]  # "two" forgotten
    assert await bot.get_updates(offset=ids[2] + 1) == ()

    sent = await bot.send_message(
        42, "Ask", reply_markup=keyboard(InlineKeyboardButton("Done", callback_data="d"))
    )
    fake.user_sends(42, 42, "chatter")
    fake.user_presses(42, 42, sent.message_id, "d")
    only = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.callback_query is not None for u in only] == [True]


async def test_long_poll_waits_for_an_update(fake: FakeTelegram, bot: telegram.Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    fake.user_sends(42, 42, "/start")
    (update,) = await poll
    assert update.message is not None and time.monotonic() - started < 1.0
    started = time.monotonic()
    assert await bot.get_updates(offset=update.update_id + 1, timeout=1) == ()
    assert time.monotonic() - started >= 0.9


async def test_second_get_updates_ends_the_first_with_409(fake: FakeTelegram) -> None:
    first = asyncio.create_task(raw(fake, "getUpdates", data={"timeout": "5"}))
    await fake.wait_for(lambda: fake.calls("getUpdates"))
    await asyncio.sleep(0.05)
    assert await raw(fake, "getUpdates", data={"timeout": "0"}) == (200, {"ok": True, "result": []})
    assert await first == (
        409,
        refusal(409, CONFLICT),
    )


# --- flood control and faults ---------------------------------------------------------------


class Clock:
    """A hand-driven clock for the rate limiter, so limit tests need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited() -> AsyncIterator[tuple[FakeTelegram, Clock]]:
    clock = Clock()
    async with FakeTelegram(limits=True) as server:
        server.limiter.clock = clock
        server.private_chat(42)
        yield server, clock


async def send(fake: FakeTelegram, chat_id: int, text: str = "hi") -> tuple[int, Json]:
    return await raw(fake, "sendMessage", data={"chat_id": str(chat_id), "text": text})


async def test_global_limit_30_per_second(limited: tuple[FakeTelegram, Clock]) -> None:
    fake, clock = limited
    for user_id in range(1, 32):
        fake.private_chat(user_id)
    statuses = [(await send(fake, user_id))[0] for user_id in range(1, 32)]
    assert statuses == [200] * 30 + [429]
    flood = refusal(429, "Too Many Requests: retry after 1", retry_after=1)
    assert fake.rejected[-1].description == flood["description"]
    clock.now += 0.5
    assert await send(fake, 1, "too soon") == (429, flood)  # still inside the wait
    assert fake.too_many_requests == 2 and fake.limiter.early_retries == 1
    clock.now += 0.5
    assert (await send(fake, 1))[0] == 200
    assert len(fake.sent_to(1)) == 2


async def test_group_limit_20_per_minute(limited: tuple[FakeTelegram, Clock]) -> None:
    fake, clock = limited
    fake.group_chat(-500)
    fake.group_chat(-600)
    for _ in range(20):
        assert (await send(fake, -500))[0] == 200
        clock.now += 1.0
    # the first of the 20 left the window at 1060: 20 s from now
    assert await send(fake, -500) == (
        429,
        refusal(429, "Too Many Requests: retry after 40", retry_after=40),
    )
    assert (await send(fake, -600))[0] == 200  # other groups are not affected
    clock.now += 40
    assert (await send(fake, -500))[0] == 200


async def test_private_chat_burst_then_one_per_second(limited: tuple[FakeTelegram, Clock]) -> None:
    fake, clock = limited
    request = HTTPXRequest(connection_pool_size=2)
    async with telegram.Bot(fake.token, base_url=fake.base_url, request=request) as bot:
        for _ in range(3):  # a short burst to one person passes
            await bot.send_message(42, "hi")
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(42, "hi again")
        assert flood.value.retry_after == timedelta(seconds=1)
        clock.now += 1.0
        await bot.send_message(42, "hi again")
    assert fake.too_many_requests == 1 and len(fake.sent_to(42)) == 4


async def test_injected_errors(fake: FakeTelegram, bot: telegram.Bot) -> None:
    fake.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(42, "hello")
    assert flood.value.retry_after == timedelta(seconds=3)
    assert fake.rejected[-1].description == "Too Many Requests: retry after 3"
    await asyncio.sleep(fake.limiter.in_flight_grace + 0.05)  # past what was in flight
    with pytest.raises(RetryAfter):  # hammering during the wait is refused and counted
        await bot.send_message(42, "hello")
    assert fake.limiter.early_retries == 1 and fake.too_many_requests == 2
    assert fake.sent_to(42) == []

    fake.fail_with_5xx("getMe", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.get_me()
    assert [c.status for c in fake.calls("getMe")][-2:] == [500, 500]
    assert (await bot.get_me()).username == "campaign_test_bot"
    fake.fail_with_5xx("getMe", status=502)  # Telegram's gateway: nginx's page, not JSON
    url = f"{fake.base_url}{fake.token}/getMe"
    async with aiohttp.ClientSession() as session, session.post(url) as answer:
        assert (answer.status, answer.content_type) == (502, "text/html")
        assert "<title>502 Bad Gateway</title>" in await answer.text()

    fake.fail_next("getChat", status=403, description="Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden):
        await bot.get_chat(42)
    with pytest.raises(ValueError, match="not a Bot API method"):
        fake.fail_next("sendMesage")


async def test_hangs_time_clients_out(fake: FakeTelegram, bot: telegram.Bot) -> None:
    fake.hang_next("sendMessage", 0.3)
    with pytest.raises(TimedOut):
        await bot.send_message(42, "delivered late", read_timeout=0.1)
    assert fake.sent_to(42) == []
    await fake.wait_for(lambda: fake.sent_to(42))  # ...but it did arrive, as it can on Telegram
    fake.hang_next("sendMessage", 0.3, takes_effect=False)
    with pytest.raises(TimedOut):
        await bot.send_message(42, "lost", read_timeout=0.1)
    await fake.wait_for(lambda: fake.calls("sendMessage")[-1].status == 502)
    assert [m["text"] for m in fake.sent_to(42)] == ["delivered late"]


async def test_an_outage_answers_every_request_until_it_ends(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    fake.user_sends(42, 42, "/start")
    poll = asyncio.create_task(raw(fake, "getUpdates", json={"offset": -1, "timeout": 30}))
    assert (await poll)[0] == 200  # the update is there: answered at once
    held = asyncio.create_task(raw(fake, "getUpdates", json={"offset": 10**10, "timeout": 30}))
    await fake.wait_for(lambda: fake.in_flight("getUpdates"))
    fake.outage(status=500)
    assert await held == (500, refusal(500, "Internal Server Error"))  # the held poll ends too
    for method in ("getMe", "getUpdates", "sendMessage"):
        assert (await raw(fake, method, json={"chat_id": 42, "text": "x"}))[0] == 500
    assert (await raw(fake, "getMe", token="999:nope"))[0] == 500  # before any token check
    assert all(m.get("text") != "x" for m in fake.sent_to(42))  # nothing took effect
    fake.end_outage()
    assert (await bot.get_me()).username == "campaign_test_bot"
    assert fake.fault_counts["outage"] == 5

    fake.outage(0.3, status=502)  # Telegram's gateway: nginx's page; ends by itself
    with pytest.raises(NetworkError):
        await bot.get_me()
    await asyncio.sleep(0.4)
    assert not fake.in_outage
    assert (await bot.get_me()).username == "campaign_test_bot"
    with pytest.raises(ValueError, match="5xx"):
        fake.outage(status=429)


async def test_an_outage_without_connections_refuses_and_drops(fake: FakeTelegram) -> None:
    url = f"{fake.base_url}{fake.token}/getMe"
    async with aiohttp.ClientSession() as session:
        async with session.post(url) as answer:  # a connection kept open
            assert answer.status == 200
        fake.outage(status=0)
        await fake.settled()
        with pytest.raises(aiohttp.ServerDisconnectedError):  # the open one: dropped
            async with session.post(url) as answer:
                pass
        with pytest.raises(aiohttp.ClientConnectorError):  # a new one: refused
            async with session.post(url) as answer:
                pass
        assert fake.calls("getMe")[-1].dropped and fake.calls("getMe")[-1].status == 0
        fake.end_outage()
        await fake.settled()
        async with session.post(url) as answer:
            assert answer.status == 200


async def test_unimplemented_methods_answer_as_an_emulator_would(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    fake.unimplemented("setMyCommands")  # as api.telegram.org answers a method it lacks
    assert await raw(fake, "setMyCommands", json={}) == (404, refusal(404, "Not Found"))
    fake.unimplemented("setMyCommands", status=500)
    with pytest.raises(NetworkError):
        await bot.set_my_commands([("start", "Start")])
    assert fake.commands == {} and fake.fault_counts["unimplemented"] == 2
    fake.restore_method("setMyCommands")
    assert await bot.set_my_commands([("start", "Start")])
    assert (await bot.get_me()).username == "campaign_test_bot"  # other methods never changed


async def test_random_faults_are_reproducible_and_dropped_ones_arrived(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    async def outcomes(seed: int) -> list[str]:
        fake.random_faults(rate_500=0.2, rate_502=0.2, rate_drop_after=0.2, seed=seed)
        seen = []
        for n in range(40):
            try:
                await bot.send_message(42, f"ask {seed} {n}")
                seen.append("ok")
            except NetworkError as exc:  # 500, the 502 page, or no answer at all
                seen.append(type(exc).__name__ + str(exc)[:14])
        fake.random_faults()
        return seen

    first, again = await outcomes(1), await outcomes(1)
    assert first == again and len(set(first)) == 4  # each kind, and the same sequence
    counts = fake.fault_counts
    delivered = fake.arrivals("ask 1 ")[42]
    assert delivered == 2 * (first.count("ok") + counts["drop_after"] // 2)
    dropped = [c for c in fake.calls("sendMessage") if c.dropped]
    assert len(dropped) == counts["drop_after"] and all(c.status == 200 for c in dropped)
    assert counts["500"] + counts["502"] == 2 * (40 - first.count("ok")) - counts["drop_after"]
    assert not [c for c in fake.rejected if c.dropped]  # delivered, so not refused
    await bot.send_message(42, "faults off")
    assert fake.sent_to(42)[-1]["text"] == "faults off"


async def test_in_flight_requests_can_be_counted_at_any_moment(fake: FakeTelegram) -> None:
    fake.hang_next("sendMessage", 0.5)
    sending = asyncio.create_task(raw(fake, "sendMessage", json={"chat_id": 42, "text": "hi"}))
    (call,) = await fake.wait_for(lambda: fake.in_flight("sendMessage"))
    moment = time.monotonic()
    await sending
    assert fake.in_flight("sendMessage") == []
    assert fake.in_flight_at(moment, "sendMessage") == [call]
    assert call.answered_at is not None and fake.in_flight_at(call.answered_at + 0.01) == []
    assert fake.arrivals("hi") == {42: 1}


async def test_latency_delays_every_answer() -> None:
    async with FakeTelegram(latency=0.05) as fake:
        started = time.monotonic()
        assert (await raw(fake, "getMe"))[0] == 200
        assert time.monotonic() - started >= 0.05


# --- the spec itself, and a real Application -------------------------------------------------


def test_answers_are_checked_against_the_spec() -> None:
    spec = load_spec()
    assert spec.version == "Bot API 10.1"
    assert implemented_methods() | {"getUpdates"} <= set(spec.methods)
    spec.check_result(
        "sendMessage", {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}
    )
    with pytest.raises(Mismatch):
        spec.check_result("sendMessage", {"message_id": 1, "date": 0})
    with pytest.raises(Mismatch):
        spec.check_object("User", {"id": 1, "is_bot": False, "first_name": "Sam", "nick": "s"})


async def test_application_polls_and_answers_start_deep_link(fake: FakeTelegram) -> None:
    seen: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(list(context.args or []))
        assert update.effective_message is not None
        await update.effective_message.reply_html("<b>Welcome</b>, you are subscribed.")

    app = (
        Application.builder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        fake.user_sends(42, 42, "/start leaflet-2025")
        await fake.wait_for(lambda: fake.sent_to(42))
        await app.updater.stop()
        await app.stop()
    assert seen == [["leaflet-2025"]]
    (reply,) = fake.sent_to(42)
    assert reply["text"] == "Welcome, you are subscribed."
    assert reply["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
    assert not fake.rejected, [(c.method, c.description) for c in fake.rejected]
    assert fake.updates == []  # PTB confirmed everything it handled
