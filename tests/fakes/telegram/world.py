"""The fake Telegram's world: users, chats, messages, pending updates.

Tests script it ("Sam sends /start", "Sam presses a button", "Sam blocks the
bot", "the group becomes a supergroup"); each scripted event is stored the way
Telegram would store it and queued as the Update a bot would receive. The bot
side of the state (what the bot sent, edited, deleted, answered) is written by
:mod:`.api` and read by tests through :meth:`World.sent_to` and the public
attributes.

Delivery follows Telegram's group privacy mode: in a group where the bot is not
an administrator, it gets commands, replies to its own messages and service
messages, not ordinary chatter or media. An edit reaches the bot as an
``edited_message`` update only if the original reached it. Every message a user
sends or edits is checked against the spec's Message type before it is queued.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from .errors import Json
from .html import Entity, utf16_len
from .rules import message_entity
from .spec import Upload

MediaKind = Literal["photo", "video", "document", "sticker", "voice"]
ChatKind = Literal["private", "group", "supergroup"]
DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Messages whose caption a user can edit (the spec: "Caption for the animation, audio,
# document, paid media, photo, video or voice").
CAPTIONED = ("animation", "audio", "document", "paid_media", "photo", "video", "voice")


@dataclass
class Chat:
    """A chat the fake knows, with the state that decides whether sends succeed."""

    id: int
    type: ChatKind
    title: str | None = None
    first_name: str | None = None
    username: str | None = None
    admins: set[int] = field(default_factory=set)
    owner: int | None = None
    members: set[int] = field(default_factory=set)
    bot_is_admin: bool = False
    blocked: bool = False  # private: the user blocked the bot
    deactivated: bool = False  # private: the user deleted their account
    bot_removed: bool = False  # group: the bot was removed or kicked
    deleted: bool = False
    migrated_to: int | None = None
    last_message_id: int = 0

    def to_api(self) -> dict[str, Json]:
        """The Chat object as it appears inside messages and updates."""
        chat: dict[str, Json] = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.first_name
        else:
            chat["title"] = self.title
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class StoredFile:
    """A file Telegram holds: something a user sent, or something the bot uploaded."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    filename: str | None = None
    mime_type: str | None = None
    path: str | None = None  # set once getFile was called


@dataclass
class CallbackQuery:
    """A button press waiting for answerCallbackQuery."""

    id: str
    chat_id: int
    message_id: int
    user_id: int
    data: str
    created: float
    answered: bool = False


_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")
_URL = re.compile(r"(?i)\bhttps?://[^\s<>\"]+")


def detect_entities(text: str) -> list[Entity]:
    """The entities Telegram finds by itself in plain text: bot commands and URLs."""
    found: list[Entity] = []
    for kind, pattern in (("bot_command", _COMMAND), ("url", _URL)):
        for match in pattern.finditer(text):
            value = match.group().rstrip(".,;:!?)'\"") if kind == "url" else match.group()
            offset = utf16_len(text[: match.start()])
            found.append({"type": kind, "offset": offset, "length": utf16_len(value)})
    return sorted(found, key=lambda e: e["offset"])


def _entities(text: str, chosen: Iterable[Entity]) -> list[Entity]:
    """The entities Telegram detects, plus the ones the user chose (checked like a
    bot's, and refused if they run past the text)."""
    size = utf16_len(text)
    picked = [message_entity(dict(entity)) for entity in chosen]
    if any(e["offset"] + e["length"] > size for e in picked):
        raise ValueError("an entity ends after the end of the text")
    taken = [(e["offset"], e["offset"] + e["length"]) for e in picked]
    for found in detect_entities(text):
        start, end = found["offset"], found["offset"] + found["length"]
        if all(end <= a or start >= b for a, b in taken):
            picked.append(found)
    return sorted(picked, key=lambda e: (e["offset"], -e["length"]))


class World:
    """Users, chats, messages and the update queue, plus the test-facing script API."""

    callback_query_ttl = 15.0  # seconds a callback query can still be answered

    def __init__(self, token: str, bot_username: str) -> None:
        self.token = token
        self.bot_user: dict[str, Json] = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Campaign Test Bot",
            "username": bot_username,
        }
        self.users: dict[int, dict[str, Json]] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], dict[str, Json]] = {}
        self.files: dict[str, StoredFile] = {}
        self.queries: dict[str, CallbackQuery] = {}
        self.updates: list[dict[str, Json]] = []  # unconfirmed, oldest first
        self.known: set[tuple[int, int]] = set()  # (chat, message) the bot has received
        self.allowed_updates: list[str] = []
        # what the bot did
        self.deleted: list[tuple[int, int]] = []
        self.callback_answers: dict[str, dict[str, Json]] = {}
        self.commands: dict[str, list[dict[str, Json]]] = {}
        self._ids = itertools.count(1)
        self._next_update_id = 700_000_001

    @property
    def bot_id(self) -> int:
        return int(self.bot_user["id"])

    # --- scripting the world ----------------------------------------------------------

    def user(
        self, user_id: int, first_name: str = "Sam", *, language_code: str = "en"
    ) -> dict[str, Json]:
        """Declare a user (or return the one already declared)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        if user_id not in self.users:
            self.users[user_id] = {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name,
                "language_code": language_code,
            }
        return self.users[user_id]

    def private_chat(self, user_id: int, first_name: str = "Sam") -> Chat:
        """A private chat between a user and the bot (the user has started the bot)."""
        user = self.user(user_id, first_name)
        if user_id not in self.chats:
            self.chats[user_id] = Chat(user_id, "private", first_name=user["first_name"])
        return self.chats[user_id]

    def group_chat(
        self,
        chat_id: int,
        title: str = "Supporters",
        admins: Iterable[int] = (),
        *,
        kind: Literal["group", "supergroup"] = "group",
        owner: int | None = None,
        members: Iterable[int] = (),
        bot_is_admin: bool = False,
        username: str | None = None,
    ) -> Chat:
        """A group or supergroup the bot is in. Ids are negative (-100... for supergroups)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        people = {*admins, *members, *([owner] if owner else [])}
        for user_id in people:
            self.user(user_id)
        chat = Chat(
            chat_id,
            kind,
            title=title,
            username=username,
            admins=set(admins),
            owner=owner,
            members=people,
            bot_is_admin=bot_is_admin,
        )
        self.chats[chat_id] = chat
        return chat

    def user_sends(
        self, chat_id: int, user_id: int, text: str, *, entities: Iterable[Entity] = ()
    ) -> dict[str, Json]:
        """A user sends text; commands (incl. ``/start PAYLOAD``) and URLs get entities.

        ``entities`` adds formatting the user chose, such as a ``text_link`` (a link
        behind words); each must be a valid MessageEntity that fits the text.
        """
        content: dict[str, Json] = {"text": text}
        found = _entities(text, entities)
        if found:
            content["entities"] = found
        return self._incoming(chat_id, user_id, content)

    def user_sends_link(self, chat_id: int, user_id: int, url: str) -> dict[str, Json]:
        """A user sends a bare link (a text message with one url entity)."""
        entity = {"type": "url", "offset": 0, "length": utf16_len(url)}
        return self._incoming(chat_id, user_id, {"text": url, "entities": [entity]})

    def user_sends_media(
        self, chat_id: int, user_id: int, kind: MediaKind, caption: str | None = None
    ) -> dict[str, Json]:
        """A user sends a photo, video, document, sticker or voice note."""
        content: dict[str, Json] = {}
        if kind == "photo":
            content["photo"] = [
                self._file_object("photo", 1200, width=90, height=90),
                self._file_object("photo", 24000, width=800, height=800),
            ]
        elif kind == "video":
            content["video"] = self._file_object(
                "video", 50000, width=640, height=360, duration=3, mime_type="video/mp4"
            )
        elif kind == "document":
            content["document"] = self._file_object(
                "document", 300, file_name="notes.pdf", mime_type="application/pdf"
            )
        elif kind == "sticker":
            content["sticker"] = self._file_object(
                "sticker", 4000, type="regular", width=512, height=512,
                is_animated=False, is_video=False, emoji="🙂",
            )  # fmt: skip
        elif kind == "voice":
            content["voice"] = self._file_object("voice", 3000, duration=2, mime_type="audio/ogg")
        else:
            raise ValueError(f"unknown media kind {kind!r}")
        if caption is not None and kind != "sticker":
            content["caption"] = caption
            entities = detect_entities(caption)
            if entities:
                content["caption_entities"] = entities
        return self._incoming(chat_id, user_id, content)

    def user_forwards_story(
        self, chat_id: int, user_id: int, poster: int = -1009000000001, story_id: int = 1
    ) -> dict[str, Json]:
        """A user forwards a story: a message whose ``story`` names the chat that posted
        it (a channel for a negative ``poster``, else that user) and the story's id."""
        if poster < 0:
            where: dict[str, Json] = {"id": poster, "type": "channel", "title": "A channel"}
        else:
            where = {"id": poster, "type": "private", "first_name": self.user(poster)["first_name"]}
        return self._incoming(chat_id, user_id, {"story": {"chat": where, "id": story_id}})

    def user_sends_paid_media(
        self, chat_id: int, user_id: int, star_count: int = 25, caption: str | None = None
    ) -> dict[str, Json]:
        """A user sends a paid photo. The bot has not paid, so it gets only a preview."""
        paid = {"type": "preview", "width": 800, "height": 800}
        content: dict[str, Json] = {"paid_media": {"star_count": star_count, "paid_media": [paid]}}
        if caption is not None:
            content["caption"] = caption
            found = detect_entities(caption)
            if found:
                content["caption_entities"] = found
        return self._incoming(chat_id, user_id, content)

    def user_sends_content(
        self, chat_id: int, user_id: int, content: dict[str, Json]
    ) -> dict[str, Json]:
        """A user sends any other kind of message, given as its Message fields
        (``{"dice": {"emoji": "🎲", "value": 3}}``, a contact, a poll...)."""
        return self._incoming(chat_id, user_id, copy.deepcopy(content))

    def user_edits(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        *,
        text: str | None = None,
        caption: str | None = None,
        entities: Iterable[Entity] = (),
    ) -> dict[str, Json]:
        """The user edits their message: new ``text`` for a text message, or a new
        ``caption`` for a photo, video, document, voice note or paid media.

        The message changes in place and gets ``edit_date``. The bot gets an
        ``edited_message`` update if the original reached it (and the user has not
        blocked the bot since). Telegram can't turn text
        into media, so neither can this; an edit that changes nothing sends nothing.
        """
        message = self.messages.get((chat_id, message_id))
        if message is None or message["from"]["id"] != user_id:
            raise ValueError(f"user {user_id} has no message {message_id} in chat {chat_id}")
        chat = self._reaching(chat_id)
        if (text is None) == (caption is None):
            raise ValueError("edit either the text or the caption")
        if text is not None:
            if "text" not in message:
                raise ValueError("only a text message's text can be edited")
            key, entities_key, value = "text", "entities", text
        else:
            if not any(kind in message for kind in CAPTIONED):
                raise ValueError("this kind of message has no caption to edit")
            key, entities_key, value = "caption", "caption_entities", str(caption)
        new = {k: v for k, v in message.items() if k not in (key, entities_key)}
        new[key] = value
        found = _entities(value, entities)
        if found:
            new[entities_key] = found
        if (new.get(key), new.get(entities_key)) == (message.get(key), message.get(entities_key)):
            raise ValueError("the edit changes nothing, and Telegram sends no update for it")
        new["edit_date"] = max(int(time.time()), int(message["date"]))
        self._check_message(new)
        message.clear()
        message.update(new)
        if (chat_id, message_id) in self.known and not chat.blocked:
            self._push("edited_message", copy.deepcopy(message))
        else:
            self._notify()
        return copy.deepcopy(message)

    def user_presses(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        forge: bool = False,
    ) -> str:
        """A user presses an inline button on a bot message; returns the callback query id.

        The message must be the bot's and still exist, and (unless ``forge``) carry a
        button with this callback_data, since real clients can only send those.
        """
        message = self.messages.get((chat_id, message_id))
        if message is None or message["from"]["id"] != self.bot_id:
            raise ValueError(f"no bot message {message_id} in chat {chat_id}")
        buttons = [
            b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row
        ]
        if not forge and callback_data not in [b.get("callback_data") for b in buttons]:
            raise ValueError(f"message {message_id} has no button with data {callback_data!r}")
        query_id = str(4_000_000_000_000_000 + next(self._ids))
        self.queries[query_id] = CallbackQuery(
            query_id, chat_id, message_id, user_id, callback_data, time.monotonic()
        )
        self._push(
            "callback_query",
            {
                "id": query_id,
                "from": self.user(user_id),
                "message": copy.deepcopy(message),
                "chat_instance": str(abs(chat_id) * 7919 % 10**18),
                "data": callback_data,
            },
        )
        return query_id

    def user_blocks_bot(self, user_id: int) -> None:
        """The user blocks the bot: a my_chat_member update, and sends fail with 403."""
        chat = self._private(user_id)
        chat.blocked = True
        self._member_update(chat, user_id, "member", "kicked")

    def user_unblocks_bot(self, user_id: int) -> None:
        """The user unblocks the bot (restarts it)."""
        chat = self._private(user_id)
        chat.blocked = False
        self._member_update(chat, user_id, "kicked", "member")

    def user_deactivated(self, user_id: int) -> None:
        """The user deleted their account: sends fail with 403 "user is deactivated"."""
        self._private(user_id).deactivated = True

    def bot_removed_from_group(self, chat_id: int, by_user_id: int | None = None) -> None:
        """An admin removes the bot: my_chat_member update; sends fail with 403."""
        chat = self._chat(chat_id)
        if chat.type == "private":
            raise ValueError("use user_blocks_bot for private chats")
        chat.bot_removed = True
        actor = by_user_id or chat.owner or min(chat.admins, default=None) or 1
        old = "administrator" if chat.bot_is_admin else "member"
        self._member_update(chat, actor, old, "kicked" if chat.type == "supergroup" else "left")

    def group_migrates_to_supergroup(self, chat_id: int, new_chat_id: int) -> Chat:
        """A group becomes a supergroup: both service messages are queued; the old id is dead."""
        old = self._chat(chat_id)
        if old.type != "group" or not str(new_chat_id).startswith("-100"):
            raise ValueError("only a group migrates, to an id like -100...")
        new = Chat(
            new_chat_id,
            "supergroup",
            title=old.title,
            admins=set(old.admins),
            owner=old.owner,
            members=set(old.members),
            bot_is_admin=old.bot_is_admin,
        )
        self.chats[new_chat_id] = new
        actor = self.user(old.owner or min(old.admins, default=None) or 1)
        self._store(old, actor, {"migrate_to_chat_id": new_chat_id}, deliver=True)
        old.migrated_to = new_chat_id
        self._store(new, actor, {"migrate_from_chat_id": chat_id}, deliver=True)
        return new

    def delete_chat(self, chat_id: int) -> None:
        """The chat is gone (e.g. a deleted group): later calls get "chat not found"."""
        self._chat(chat_id).deleted = True

    # --- reading what the bot did -----------------------------------------------------

    def sent_to(self, chat_id: int) -> list[dict[str, Json]]:
        """The bot's messages currently in a chat (after edits and deletes), oldest first."""
        mine = [
            m
            for (chat, _), m in self.messages.items()
            if chat == chat_id and m["from"]["id"] == self.bot_id
        ]
        return copy.deepcopy(sorted(mine, key=lambda m: int(m["message_id"])))

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes behind a file id (e.g. a document the bot uploaded)."""
        return self.files[file_id].data

    def uploaded_json(self, chat_id: int) -> Json:
        """The JSON in the newest document the bot sent to a chat (for export tests)."""
        documents = [m["document"] for m in self.sent_to(chat_id) if "document" in m]
        if not documents:
            raise LookupError(f"the bot sent no document to chat {chat_id}")
        return json.loads(self.file_bytes(documents[-1]["file_id"]))

    @staticmethod
    def commands_key(scope: dict[str, Json] | None = None, language_code: str = "") -> str:
        """The key of :attr:`commands` for a scope (default scope if None) and language."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True, separators=(",", ":"))
        return f"{key} {language_code}" if language_code else key

    def commands_for(
        self, scope: dict[str, Json] | None = None, language_code: str = ""
    ) -> list[dict[str, Json]]:
        """The commands the bot set for a scope, [] if none."""
        return self.commands.get(self.commands_key(scope, language_code), [])

    # --- internals --------------------------------------------------------------------

    def _notify(self) -> None:
        """Called after every change; the server wakes pollers and wait_for()."""

    def _push(self, kind: str, payload: dict[str, Json]) -> dict[str, Json]:
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        self.updates.append(update)
        self._notify()
        return update

    def _chat(self, chat_id: int) -> Chat:
        if chat_id not in self.chats:
            raise ValueError(f"chat {chat_id} was not declared (private_chat / group_chat)")
        return self.chats[chat_id]

    def _private(self, user_id: int) -> Chat:
        chat = self._chat(user_id)
        if chat.type != "private":
            raise ValueError(f"{user_id} is not a private chat")
        return chat

    def _check_message(self, message: dict[str, Json]) -> None:
        """Refuse a message a user could not send; the server checks it against the spec."""

    def _reaching(self, chat_id: int) -> Chat:
        """The chat, if a user's message there can still reach the bot."""
        chat = self._chat(chat_id)
        gone = chat.deactivated or (chat.type != "private" and chat.bot_removed)
        if chat.deleted or chat.migrated_to or gone:
            raise ValueError(f"chat {chat_id} no longer reaches the bot")
        return chat

    def _incoming(self, chat_id: int, user_id: int, content: dict[str, Json]) -> dict[str, Json]:
        if chat_id == user_id and chat_id not in self.chats:
            self.private_chat(user_id)
        chat = self._reaching(chat_id)
        if chat.type == "private" and chat_id != user_id:
            raise ValueError("in a private chat only its user can send")
        sender = self.user(user_id)
        chat.members.add(user_id)
        if chat.blocked:  # a user who writes to a bot they blocked restarts it first
            self.user_unblocks_bot(user_id)
        return self._store(chat, sender, content, deliver=self._reaches_bot(chat, content))

    def _reaches_bot(self, chat: Chat, content: dict[str, Json]) -> bool:
        """Group privacy mode: what a non-admin bot in a group receives."""
        if chat.type == "private" or chat.bot_is_admin:
            return True
        name = f"@{self.bot_user['username']}".lower()
        text = str(content.get("text", ""))
        for entity in content.get("entities", []):
            if entity["type"] == "bot_command":
                command = text[entity["offset"] : entity["offset"] + entity["length"]]
                if "@" not in command or command.lower().endswith(name):
                    return True
        return False

    def _store(
        self, chat: Chat, sender: dict[str, Json], content: dict[str, Json], *, deliver: bool
    ) -> dict[str, Json]:
        chat.last_message_id += 1
        message: dict[str, Json] = {
            "message_id": chat.last_message_id,
            "from": sender,
            "chat": chat.to_api(),
            "date": int(time.time()),
            **content,
        }
        if sender["id"] != self.bot_id:
            self._check_message(message)
        self.messages[(chat.id, chat.last_message_id)] = message
        if deliver and sender["id"] != self.bot_id:
            self.known.add((chat.id, chat.last_message_id))
            self._push("message", copy.deepcopy(message))
        else:
            self._notify()
        return copy.deepcopy(message)

    def _file_object(self, kind: str, size: int, **extra: Json) -> dict[str, Json]:
        n = next(self._ids)
        stored = StoredFile(f"{kind.upper()}-file-{n:06d}", f"uniq{n:06d}", kind, b"\0" * size)
        if isinstance(extra.get("mime_type"), str):
            stored.mime_type = extra["mime_type"]
        self.files[stored.file_id] = stored
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": size,
            **extra,
        }

    def _store_upload(self, upload: Upload) -> StoredFile:
        n = next(self._ids)
        stored = StoredFile(
            f"DOCUMENT-upload-{n:06d}",
            f"uniq{n:06d}",
            "document",
            upload.data,
            upload.filename,
            upload.content_type or "application/octet-stream",
        )
        self.files[stored.file_id] = stored
        return stored

    def _member_update(self, chat: Chat, actor_id: int, old: str, new: str) -> None:
        def member(status: str) -> dict[str, Json]:
            entry: dict[str, Json] = {"status": status, "user": dict(self.bot_user)}
            if status == "kicked":
                entry["until_date"] = 0
            if status == "administrator":
                entry.update(ADMIN_RIGHTS)
            return entry

        self._push(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": self.user(actor_id),
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    def _update_kind(self, update: dict[str, Json]) -> str:
        return next(k for k in update if k != "update_id")

    def _allowed(self, kind: str) -> bool:
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in DEFAULT_UPDATES


ADMIN_RIGHTS: dict[str, Json] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}
