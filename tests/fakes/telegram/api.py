"""The Bot API methods the fake implements, on top of the world's state.

Parameters arrive already validated against the spec (:mod:`.spec`); handlers
add what only state can decide (does the chat exist, is the user blocked, is
there such a message, is the edit a no-op) and answer with realistic objects.
Spec methods without a handler are answered "method not supported by the fake"
after validation, so nothing passes silently. ``getUpdates`` is asynchronous and
lives in :mod:`.server`.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import ApiError, Json, bad_request, forbidden, too_many_requests
from .html import Entity, HtmlError, parse_html, trim, utf16_len
from .limits import RateLimiter, is_message_method
from .spec import Upload
from .webhooks import Webhook, checked_webhook
from .world import ADMIN_RIGHTS, Chat, World, detect_entities

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
MAX_COMMANDS = 100
MAX_UPLOAD = 50 * 1024 * 1024
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

Handler = Callable[["BotApi", dict[str, Json]], Json]
_HANDLERS: dict[str, Handler] = {}
F = TypeVar("F", bound=Handler)


def handles(method: str) -> Callable[[F], F]:
    """Register a handler for a Bot API method."""

    def register(fn: F) -> F:
        _HANDLERS[method] = fn
        return fn

    return register


def implemented_methods() -> frozenset[str]:
    """The methods the fake answers (besides getUpdates)."""
    return frozenset(_HANDLERS)


class BotApi(World):
    """The world plus the bot-side methods that read and change it."""

    def __init__(self, token: str, bot_username: str, limiter: RateLimiter) -> None:
        super().__init__(token, bot_username)
        self.limiter = limiter
        self.webhook: Webhook | None = None  # set by setWebhook: updates go there, not to polls
        self.allow_http_webhooks = False
        self._method = ""
        self._paid = False  # the call asked for a paid broadcast (allow_paid_broadcast)
        self._reached: float | None = None  # when the call reached Telegram (limiter clock)
        self._arrived: float | None = None  # when it came in (before the fake's latency)

    def dispatch(
        self,
        method: str,
        params: dict[str, Json],
        *,
        reached: float | None = None,
        arrived: float | None = None,
    ) -> Json:
        """Run a validated call; return its result or raise ApiError. ``reached``: when
        the call reached Telegram, ``arrived``: when it came in, for the flood limits (by
        the limiter's clock)."""
        handler = _HANDLERS.get(method)
        if handler is None:
            raise bad_request("method not supported by the fake")
        self._method = method
        self._paid = params.get("allow_paid_broadcast") is True
        self._reached = reached
        self._arrived = arrived
        if not is_message_method(method):
            self._admit(None)
        result = handler(self, params)
        self._notify()
        return copy.deepcopy(result)

    def _webhook_changed(self) -> None:
        """Called when the webhook is set or deleted; the server starts or stops posting."""

    # --- helpers ----------------------------------------------------------------------

    def _admit(self, chat: Chat | None) -> None:
        retry_after = self.limiter.admit(
            self._method,
            chat.id if chat else None,
            chat.type if chat else None,
            paid=self._paid,
            now=self._reached,
            arrived=self._arrived,
        )
        if retry_after is not None:
            raise too_many_requests(retry_after)

    def _resolve(self, value: Json, *, write: bool) -> Chat:
        """The chat a chat_id names, refusing as Telegram does if it is unreachable."""
        chat: Chat | None
        if isinstance(value, str):
            chat = next((c for c in self.chats.values() if f"@{c.username}" == value), None)
        else:
            chat = self.chats.get(value)
        if chat is None and write and isinstance(value, int) and value in self.users:
            raise forbidden("bot can't initiate conversation with a user")
        if chat is None or chat.deleted:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if write and chat.type == "private":
            if chat.deactivated:
                raise forbidden("user is deactivated")
            if chat.blocked:
                raise forbidden("bot was blocked by the user")
        if write and chat.type != "private" and chat.bot_removed:
            raise forbidden(f"bot was kicked from the {chat.type} chat")
        return chat

    def _format(
        self, p: dict[str, Json], key: str, entities_key: str, limit: int, too_long: str
    ) -> tuple[str, list[Entity]]:
        """Text after parse_mode (or explicit entities), trimmed, checked for length."""
        text = str(p.get(key, ""))
        if len(text.encode("utf-8")) > 1 << 15:
            raise bad_request("text is too long")
        mode = str(p.get("parse_mode", "")).lower()
        entities: list[Entity]
        if mode == "html":
            try:
                text, entities = parse_html(text)
            except HtmlError as err:
                raise bad_request(f"can't parse entities: {err}") from None
        elif mode in ("markdown", "markdownv2"):
            raise bad_request(f"parse_mode {p['parse_mode']} is unsupported in the fake; use HTML")
        elif mode not in ("", "none"):
            raise bad_request("unsupported parse_mode")
        else:
            entities = list(p.get(entities_key, []))
            size = utf16_len(text)
            if any(e["offset"] + e["length"] > size for e in entities):
                raise bad_request("can't parse entities: an entity ends after the end of the text")
        text, entities = trim(text, entities)
        if utf16_len(text) > limit:
            raise bad_request(too_long)
        taken = [(e["offset"], e["offset"] + e["length"]) for e in entities]
        for found in detect_entities(text):
            start, end = found["offset"], found["offset"] + found["length"]
            if all(end <= a or start >= b for a, b in taken):
                entities.append(found)
        return text, sorted(entities, key=lambda e: (e["offset"], -e["length"]))

    def _reply(self, chat: Chat, p: dict[str, Json]) -> dict[str, Json]:
        """The reply_to_message part of a new message, from reply_parameters."""
        reply = p.get("reply_parameters")
        if not reply:
            return {}
        if "chat_id" in reply and self._resolve(reply["chat_id"], write=False) is not chat:
            raise bad_request("replies to other chats are unsupported in the fake")
        target = self.messages.get((chat.id, reply["message_id"]))
        if target is None:
            if reply.get("allow_sending_without_reply"):
                return {}
            raise bad_request("message to be replied not found")
        return {"reply_to_message": {k: v for k, v in target.items() if k != "reply_to_message"}}

    @staticmethod
    def _markup(p: dict[str, Json]) -> dict[str, Json]:
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            return {"reply_markup": markup}
        return {}

    def _bot_message(self, p: dict[str, Json]) -> dict[str, Json]:
        """The bot's own message named by chat_id + message_id (for edits)."""
        if p.get("inline_message_id"):
            raise bad_request("inline messages are not supported by the fake")
        if "chat_id" not in p:
            raise bad_request("chat_id is empty")
        if "message_id" not in p:
            raise bad_request("message identifier is not specified")
        chat = self._resolve(p["chat_id"], write=True)
        message = self.messages.get((chat.id, p["message_id"]))
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise bad_request("message can't be edited")
        return message

    def _member(self, chat: Chat, user_id: int) -> dict[str, Json]:
        if user_id == self.bot_id:
            user: dict[str, Json] = dict(self.bot_user)
            if chat.type != "private" and chat.bot_removed:
                return {"status": "left", "user": user}
            if chat.bot_is_admin:
                return {"status": "administrator", "user": user, **ADMIN_RIGHTS}
            return {"status": "member", "user": user}
        if user_id not in self.users:
            raise bad_request("user not found")
        user = self.users[user_id]
        if chat.type == "private":
            return {"status": "member" if user_id == chat.id else "left", "user": user}
        if user_id == chat.owner:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in chat.admins:
            return {"status": "administrator", "user": user, **ADMIN_RIGHTS}
        if user_id in chat.members:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}


# --- the bot and its connection ---------------------------------------------------------


@handles("getMe")
def get_me(api: BotApi, p: dict[str, Json]) -> Json:
    return {
        **api.bot_user,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@handles("logOut")
@handles("close")
def log_out(api: BotApi, p: dict[str, Json]) -> Json:
    return True


@handles("setWebhook")
def set_webhook(api: BotApi, p: dict[str, Json]) -> Json:
    """Checked as Telegram checks it (:mod:`.webhooks`); an empty url deletes the webhook."""
    if not p["url"]:
        return delete_webhook(api, p)
    webhook = checked_webhook(p, allow_http=api.allow_http_webhooks)
    if p.get("drop_pending_updates"):
        api.updates.clear()
    if "allowed_updates" in p:  # else the previous setting stays, as for getUpdates
        api.allowed_updates = list(p["allowed_updates"])
    api.webhook = webhook
    api._webhook_changed()
    return True


@handles("deleteWebhook")
def delete_webhook(api: BotApi, p: dict[str, Json]) -> Json:
    if p.get("drop_pending_updates"):
        api.updates.clear()
    api.webhook = None
    api._webhook_changed()
    return True


@handles("getWebhookInfo")
def get_webhook_info(api: BotApi, p: dict[str, Json]) -> Json:
    pending = len(api.updates)
    if api.webhook is None:  # polling: "an object with the url field empty"
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}
    return api.webhook.info(pending, api.allowed_updates)


# --- commands ---------------------------------------------------------------------------


def _scope_key(api: BotApi, p: dict[str, Json]) -> str:
    language = str(p.get("language_code", ""))
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("invalid language code specified")
    scope = p.get("scope")
    if scope and "chat_id" in scope:
        chat = api._resolve(scope["chat_id"], write=False)
        if chat.type == "private" and scope["type"] != "chat":
            raise bad_request("can't use specified scope in private chats")
        scope = {**scope, "chat_id": chat.id}
    return api.commands_key(scope, language)


@handles("setMyCommands")
def set_my_commands(api: BotApi, p: dict[str, Json]) -> Json:
    commands = p["commands"]
    if len(commands) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    key = _scope_key(api, p)
    if commands:
        api.commands[key] = commands
    else:
        api.commands.pop(key, None)
    return True


@handles("getMyCommands")
def get_my_commands(api: BotApi, p: dict[str, Json]) -> Json:
    return api.commands.get(_scope_key(api, p), [])


@handles("deleteMyCommands")
def delete_my_commands(api: BotApi, p: dict[str, Json]) -> Json:
    api.commands.pop(_scope_key(api, p), None)
    return True


# --- chats ------------------------------------------------------------------------------


@handles("getChat")
def get_chat(api: BotApi, p: dict[str, Json]) -> Json:
    chat = api._resolve(p["chat_id"], write=False)
    gifts = dict.fromkeys(
        (
            "unlimited_gifts",
            "limited_gifts",
            "unique_gifts",
            "premium_subscription",
            "gifts_from_channels",
        ),
        False,
    )
    info: dict[str, Json] = {
        **chat.to_api(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": gifts,
    }
    return info


@handles("getChatMember")
def get_chat_member(api: BotApi, p: dict[str, Json]) -> Json:
    return api._member(api._resolve(p["chat_id"], write=False), p["user_id"])


@handles("getChatAdministrators")
def get_chat_administrators(api: BotApi, p: dict[str, Json]) -> Json:
    chat = api._resolve(p["chat_id"], write=False)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    ids = sorted({*chat.admins, *([chat.owner] if chat.owner else [])})
    if chat.bot_is_admin:  # the current bot is listed; other bots only with return_bots
        ids.append(api.bot_id)
    return [api._member(chat, user_id) for user_id in ids]


@handles("sendChatAction")
def send_chat_action(api: BotApi, p: dict[str, Json]) -> Json:
    api._resolve(p["chat_id"], write=True)
    if p["action"] not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


# --- messages ---------------------------------------------------------------------------


@handles("sendMessage")
def send_message(api: BotApi, p: dict[str, Json]) -> Json:
    chat = api._resolve(p["chat_id"], write=True)
    text, entities = api._format(p, "text", "entities", MAX_TEXT, "message is too long")
    if not text:
        raise bad_request("message text is empty")
    content: dict[str, Json] = {"text": text, **api._reply(chat, p), **api._markup(p)}
    if entities:
        content["entities"] = entities
    api._admit(chat)
    return api._store(chat, api.bot_user, content, deliver=False)


@handles("sendDocument")
def send_document(api: BotApi, p: dict[str, Json]) -> Json:
    chat = api._resolve(p["chat_id"], write=True)
    document = p["document"]
    if isinstance(document, Upload):
        if len(document.data) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        stored = api._store_upload(document)
    elif document in api.files:
        stored = api.files[document]
    elif re.match(r"(?i)https?://", document):
        raise bad_request("failed to get HTTP URL content")
    else:
        raise bad_request("wrong file identifier/HTTP URL specified")
    caption, entities = api._format(
        p, "caption", "caption_entities", MAX_CAPTION, "message caption is too long"
    )
    file_object: dict[str, Json] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }
    if stored.filename:
        file_object["file_name"] = stored.filename
    if stored.mime_type:
        file_object["mime_type"] = stored.mime_type
    content: dict[str, Json] = {"document": file_object, **api._reply(chat, p), **api._markup(p)}
    if caption:
        content["caption"] = caption
    if entities:
        content["caption_entities"] = entities
    api._admit(chat)
    return api._store(chat, api.bot_user, content, deliver=False)


@handles("editMessageText")
def edit_message_text(api: BotApi, p: dict[str, Json]) -> Json:
    message = api._bot_message(p)
    if "rich_message" in p:
        raise bad_request("rich messages are unsupported in the fake")
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    if not p.get("text"):
        raise bad_request("message text is empty")
    text, entities = api._format(p, "text", "entities", MAX_TEXT, "message is too long")
    if not text:
        raise bad_request("message text is empty")
    markup = p.get("reply_markup")
    if (text, entities, markup) == (
        message["text"],
        message.get("entities", []),
        message.get("reply_markup"),
    ):
        raise bad_request(_NOT_MODIFIED)
    message["text"] = text
    _set(message, "entities", entities or None)
    _set(message, "reply_markup", markup)
    message["edit_date"] = int(time.time())
    return message


@handles("editMessageReplyMarkup")
def edit_message_reply_markup(api: BotApi, p: dict[str, Json]) -> Json:
    message = api._bot_message(p)
    markup = p.get("reply_markup")
    if markup == message.get("reply_markup"):
        raise bad_request(_NOT_MODIFIED)
    _set(message, "reply_markup", markup)
    message["edit_date"] = int(time.time())
    return message


@handles("deleteMessage")
def delete_message(api: BotApi, p: dict[str, Json]) -> Json:
    chat = api._resolve(p["chat_id"], write=True)
    key = (chat.id, p["message_id"])
    message = api.messages.get(key)
    if message is None:
        raise bad_request("message to delete not found")
    own = message["from"]["id"] == api.bot_id
    if not (own or chat.type == "private" or chat.bot_is_admin):
        raise bad_request("message can't be deleted")
    del api.messages[key]
    api.deleted.append(key)
    return True


@handles("answerCallbackQuery")
def answer_callback_query(api: BotApi, p: dict[str, Json]) -> Json:
    query = api.queries.get(p["callback_query_id"])
    if query is None or query.answered or time.monotonic() - query.created > api.callback_query_ttl:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    if utf16_len(str(p.get("text", ""))) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")
    if "url" in p and not re.match(r"(?i)(https?://)?t\.me/", p["url"]):
        raise bad_request("URL_INVALID")
    query.answered = True
    api.callback_answers[query.id] = dict(p)
    return True


@handles("getFile")
def get_file(api: BotApi, p: dict[str, Json]) -> Json:
    stored = api.files.get(p["file_id"])
    if stored is None:
        raise bad_request("invalid file_id")
    stored.path = stored.path or f"{stored.kind}s/file_{stored.file_unique_id}"
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "file_path": stored.path,
    }


_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def _set(obj: dict[str, Json], key: str, value: Json) -> None:
    if value is None:
        obj.pop(key, None)
    else:
        obj[key] = value
