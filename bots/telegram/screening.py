"""What the bot reads in a private chat: plain text only, decided by an allow-list.

A message is plain text when it is text and nothing else: no media, story, paid media,
poll, location, contact, dice, game, giveaway or anything Telegram adds later; no
forward, no reply to another chat, no inline keyboard from an inline bot, no link
preview; and no entity that points somewhere (a web link, a link behind words, a
person or channel, a custom emoji, which is a picture). Everything else in a private
chat is deleted unopened (see `bot.py`), except a few notices Telegram itself writes
into the chat (a pin, an auto-delete timer), which carry nothing a person sent.

The check reads the message's field names as the Bot API sent them, unknown ones
included, so a kind of message this list has never heard of is not plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from telegram import Message, MessageEntity
from telegram.ext import filters

# Who, where and when: on every message, and saying nothing about what it holds.
ENVELOPE = frozenset(
    {"message_id", "message_thread_id", "is_topic_message", "from", "chat", "date"}
)
# What a plain text message may carry besides its envelope. A reply can only be to a
# message in this same chat (one from another chat is an `external_reply`).
TEXT = frozenset(
    {"text", "entities", "edit_date", "reply_to_message", "quote"}
    | {"effect_id", "is_from_offline", "paid_star_count"}
)
# Entities that point to nothing to look at. Missing on purpose: url, text_link,
# text_mention (a person), custom_emoji (a picture), and any type Telegram adds later.
# An email address or phone number is a way to reach someone, not material, so it stays
# text. A mention counts only when it names a bot (bot usernames end in "bot"); so do
# `#tag@name` and `$USD@name`.
LINKLESS = frozenset(
    {"bot_command", "hashtag", "cashtag", "mention", "email", "phone_number", "date_time"}
    | {"bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre"}
    | {"blockquote", "expandable_blockquote"}
)
NAMES_A_CHAT = frozenset({"mention", "hashtag", "cashtag"})
# Notices Telegram writes into a private chat: nothing to open, nothing to answer.
NOTICES = frozenset(
    {"pinned_message", "message_auto_delete_timer_changed", "write_access_allowed"}
    | {"forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened"}
)
_NAME = re.compile(r"@(\w+)")


def _fields(message: Message) -> set[str]:
    """The Bot API fields the message carries (false flags are PTB's defaults, not data)."""
    return {name for name, value in message.to_dict().items() if value is not False}


def _span(text: str, entity: MessageEntity) -> str:
    """The text an entity covers; offsets count UTF-16 code units."""
    units = text.encode("utf-16-le")
    return units[entity.offset * 2 : (entity.offset + entity.length) * 2].decode(
        "utf-16-le", errors="replace"
    )


def _linkless(text: str, entities: Iterable[MessageEntity]) -> bool:
    for entity in entities:
        if entity.type not in LINKLESS:
            return False
        if entity.type in NAMES_A_CHAT:
            names = _NAME.findall(_span(text, entity))
            if any(not name.lower().endswith("bot") for name in names):
                return False
    return True


def is_plain_text(message: Message) -> bool:
    """Text with nothing to open: the only kind of private message the bot reads."""
    content = _fields(message) - ENVELOPE
    if "text" not in content or not content <= TEXT:
        return False
    if not _linkless(message.text or "", message.entities):
        return False
    quote = message.quote
    return quote is None or _linkless(quote.text, quote.entities or ())


def is_notice(message: Message) -> bool:
    """A notice Telegram writes into the chat (a pin, a timer), not something a person sent."""
    content = _fields(message) - ENVELOPE
    return bool(content) and content <= NOTICES


class _PlainText(filters.MessageFilter):
    __slots__ = ()

    def filter(self, message: Message) -> bool:
        return is_plain_text(message)


class _Notice(filters.MessageFilter):
    __slots__ = ()

    def filter(self, message: Message) -> bool:
        return is_notice(message)


PLAIN_TEXT = _PlainText(name="PLAIN_TEXT")
NOTICE = _Notice(name="NOTICE")
