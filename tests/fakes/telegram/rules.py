"""Telegram's rules for objects in requests, beyond what the spec's types say.

Each rule gets an object whose fields already passed type validation and returns
it (possibly normalised, as Telegram normalises it) or raises ApiError with
Telegram's wording where it is known. :data:`RULES` maps type names to rules and
is handed to :meth:`.spec.Spec.parse_params`.
"""

from __future__ import annotations

import re

from .errors import Json, bad_request
from .html import checked_link
from .spec import Rule

MAX_BUTTONS = 100
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
ENTITY_TYPES = frozenset(
    {"mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold"}
    | {"italic", "underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote"}
    | {"code", "pre", "text_link", "text_mention", "custom_emoji", "date_time"}
)


def inline_button(button: dict[str, Json]) -> dict[str, Json]:
    """Non-empty text; exactly one action; callback_data 1-64 bytes; http(s)/tg URLs."""
    if not button["text"]:
        raise bad_request("inline keyboard button text must be non-empty")
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        # Telegram silently uses the first; the spec says "exactly one", so the fake refuses.
        raise bad_request(
            "can't parse inline keyboard button: exactly one action field must be set, got "
            + ", ".join(actions)
        )
    data = button.get("callback_data")
    if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None:
        checked = checked_link(url) if re.match(r"(?i)(https?|tg)://", url) else None
        if checked is None:
            raise bad_request("inline keyboard button Wrong HTTP URL")
        button = {**button, "url": checked}
    return button


def inline_keyboard(markup: dict[str, Json]) -> dict[str, Json]:
    """At most 100 buttons in one keyboard."""
    if sum(len(row) for row in markup["inline_keyboard"]) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    return markup


def bot_command(command: dict[str, Json]) -> dict[str, Json]:
    """Telegram trims, drops a leading '/', then wants 1-32 of [a-z0-9_] and 1-256 chars."""
    name = command["command"].strip().removeprefix("/")
    description = command["description"].strip()
    if not name:
        raise bad_request("command must be non-empty")
    if len(name) > 32:
        raise bad_request("command length must not exceed 32")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise bad_request("BOT_COMMAND_INVALID")
    if not description:
        raise bad_request("command description must be non-empty")
    if len(description) > 256:
        raise bad_request("command description length must not exceed 256")
    return {**command, "command": name, "description": description}


def message_entity(entity: dict[str, Json]) -> dict[str, Json]:
    """A known entity type, non-negative offsets, the fields its type needs."""
    kind = entity["type"]
    if kind not in ENTITY_TYPES:
        raise bad_request(f'can\'t parse MessageEntity: unsupported type "{kind}"')
    if entity["offset"] < 0 or entity["length"] < 0:
        raise bad_request("can't parse MessageEntity: offset and length must be non-negative")
    if kind == "text_link" and checked_link(entity.get("url", "")) is None:
        raise bad_request("can't parse MessageEntity: wrong text_link URL")
    if kind == "text_mention" and "user" not in entity:
        raise bad_request("can't parse MessageEntity: text_mention needs a user")
    return entity


RULES: dict[str, Rule] = {
    "InlineKeyboardButton": inline_button,
    "InlineKeyboardMarkup": inline_keyboard,
    "BotCommand": bot_command,
    "MessageEntity": message_entity,
}
