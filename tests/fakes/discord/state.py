"""The fake's world: users, guilds, channels, messages, commands and interactions.

Plain data plus the Discord-shaped payloads built from it (users, members,
channels, guilds, messages). Handlers in ``rest.py`` and ``gateway.py`` change
it; tests read it through ``FakeDiscord``.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import Json
from .limits import EPHEMERAL, LOADING, SUPPRESS_EMBEDS, UPLOAD_MAX_BYTES

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits, https://discord.com/developers/docs/topics/permissions
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
MEMBER_DEFAULT = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
BOT_DEFAULT = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY

GUILD_TEXT, DM = 0, 1
# Interaction types and the callback types each may answer with.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CALLBACKS_FOR: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({4, 5, 9}),
    MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    AUTOCOMPLETE: frozenset({8}),
    MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}
RESPOND_WITHIN = 3.0  # seconds for the initial response
TOKEN_LIFETIME = 15 * 60.0  # seconds for followups and @original


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


class Snowflakes:
    """Time-based, strictly increasing ids, like Discord's."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._last = 0

    def __call__(self) -> int:
        stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(stamp | (next(self._counter) & 0xFFF), self._last + 1)
        return self._last


@dataclass
class User:
    id: int
    name: str
    dms_open: bool = True
    deleted: bool = False
    bot: bool = False
    locale: str = "en-GB"  # the client's language, sent with each interaction

    def payload(self) -> Json:
        data: Json = {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": None if self.bot else self.name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Channel:
    id: int
    type: int
    guild_id: int | None = None
    name: str = ""
    position: int = 0
    recipient_id: int | None = None
    message_ids: list[int] = field(default_factory=list)


@dataclass
class Guild:
    id: int
    name: str
    channel_ids: list[int]
    members: dict[int, int]  # user id -> permissions
    bot_permissions: int
    owner_id: int
    role_ids: dict[int, int] = field(default_factory=dict)  # permissions -> role id
    named_roles: dict[int, str] = field(default_factory=dict)  # role id -> name (no permissions)
    member_roles: dict[int, list[int]] = field(default_factory=dict)  # user id -> named role ids


@dataclass
class StoredMessage:
    data: Json
    channel_id: int
    author_id: int
    visible_to: int | None = None  # ephemeral: only this user sees it
    deleted: bool = False
    interaction_id: int | None = None


@dataclass
class InteractionRecord:
    """One interaction the fake dispatched, and everything the bot answered to it."""

    id: int
    token: str
    type: int
    user_id: int
    guild_id: int | None
    channel_id: int
    data: Json
    payload: Json
    created_at: float
    message_id: int | None = None  # the message whose component was used
    responses: list[Json] = field(default_factory=list)
    callback_type: int | None = None
    original_message_id: int | None = None
    message_ids: list[int] = field(default_factory=list)  # original + followups

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def ephemeral(self) -> bool:
        """Whether the initial response was ephemeral (flags 64)."""
        for entry in self.responses:
            if entry["kind"] == "callback":
                return bool(((entry.get("data") or {}).get("flags") or 0) & EPHEMERAL)
        return False


@dataclass
class Upload:
    name: str
    filename: str
    content_type: str
    size: int


class World:
    """Everything the fake knows; ``now()`` is the clock used for interaction windows."""

    def __init__(self, *, application_id: int, bot_user_id: int, bot_name: str) -> None:
        self.snowflake = Snowflakes()
        self.application_id = application_id
        self.bot = User(bot_user_id, bot_name, bot=True)
        self.owner = User(self.snowflake(), "fake-owner")
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> channel id
        self.interactions: dict[int, InteractionRecord] = {}
        self.by_token: dict[str, InteractionRecord] = {}
        self.global_commands: list[Json] = []
        self.guild_commands: dict[int, list[Json]] = {}
        self._offset = 0.0

    # --- clock -------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    # --- payloads ----------------------------------------------------------
    def application(self) -> Json:
        return {
            "id": str(self.application_id),
            "name": self.bot.name,
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": self.owner.payload(),
            "team": None,
            "summary": "",
            "bot": self.bot.payload(),
            "interactions_endpoint_url": None,
            "integration_types_config": {"0": {}},
        }

    def role_for(self, guild: Guild, permissions: int) -> int:
        if permissions not in guild.role_ids:
            guild.role_ids[permissions] = self.snowflake()
        return guild.role_ids[permissions]

    def member(self, guild: Guild, user_id: int, *, with_permissions: bool = False) -> Json:
        permissions = guild.bot_permissions if user_id == self.bot.id else guild.members[user_id]
        data: Json = {
            "user": self.users[user_id].payload(),
            "roles": [
                str(self.role_for(guild, permissions)),
                *(str(role_id) for role_id in guild.member_roles.get(user_id, [])),
            ],
            "joined_at": iso_now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if with_permissions:
            data["permissions"] = str(permissions)
        return data

    def channel(self, channel: Channel) -> Json:
        if channel.type == DM:
            recipient = self.users[channel.recipient_id or 0]
            return {
                "id": str(channel.id),
                "type": DM,
                "last_message_id": str(channel.message_ids[-1]) if channel.message_ids else None,
                "flags": 0,
                "recipients": [recipient.payload()],
            }
        return {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "position": channel.position,
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "permission_overwrites": [],
            "last_message_id": str(channel.message_ids[-1]) if channel.message_ids else None,
            "flags": 0,
        }

    def guild(self, guild: Guild, *, full: bool) -> Json:
        everyone = {
            "id": str(guild.id),
            "name": "@everyone",
            "permissions": "0",
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        member_ids = [self.bot.id, *guild.members]
        for user_id in member_ids:
            self.member(guild, user_id)  # make sure each permission set has a role
        roles = [everyone] + [
            {
                **everyone,
                "id": str(role_id),
                "name": f"perms-{perms}",
                "permissions": str(perms),
                "position": 1,
            }
            for perms, role_id in guild.role_ids.items()
        ]
        roles += [self.named_role(guild, role_id) for role_id in guild.named_roles]
        data: Json = {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "owner_id": str(guild.owner_id),
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "afk_timeout": 300,
        }
        if full:
            data |= {
                "joined_at": iso_now(),
                "large": False,
                "unavailable": False,
                "member_count": len(member_ids),
                "members": [self.member(guild, user_id) for user_id in member_ids],
                "channels": [
                    {k: v for k, v in self.channel(self.channels[c]).items() if k != "guild_id"}
                    for c in guild.channel_ids
                ],
                "threads": [],
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        return data

    def named_role(self, guild: Guild, role_id: int) -> Json:
        """A role made by a guild's admins: a name, and no permissions of its own."""
        return {
            "id": str(role_id),
            "name": guild.named_roles[role_id],
            "permissions": "0",
            "position": 2,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    # --- permissions -------------------------------------------------------
    def bot_permissions(self, channel: Channel) -> int:
        if channel.guild_id is None:
            return BOT_DEFAULT
        permissions = self.guilds[channel.guild_id].bot_permissions
        return -1 if permissions & ADMINISTRATOR else permissions

    # --- messages ----------------------------------------------------------
    def new_message(
        self,
        channel: Channel,
        body: Json,
        *,
        author: User,
        uploads: list[Upload],
        flags: int = 0,
        extra: Json | None = None,
        visible_to: int | None = None,
        interaction_id: int | None = None,
    ) -> StoredMessage:
        message_id = self.snowflake()
        data: Json = {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "type": 0,
            "content": body.get("content") or "",
            "author": author.payload(),
            "attachments": [],
            "embeds": [],
            "components": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts")),
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "flags": flags,
        }
        apply_edit(data, body, uploads, self.snowflake, first=True)
        data["flags"] = flags
        if body.get("message_reference"):
            data["message_reference"] = body["message_reference"]
        data |= extra or {}
        stored = StoredMessage(
            data, channel.id, author.id, visible_to=visible_to, interaction_id=interaction_id
        )
        self.messages[message_id] = stored
        channel.message_ids.append(message_id)
        return stored

    def gateway_message(self, stored: StoredMessage) -> Json:
        """A message as MESSAGE_CREATE carries it: plus guild_id and member in guilds."""
        data = copy.deepcopy(stored.data)
        channel = self.channels[stored.channel_id]
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            data["guild_id"] = str(guild.id)
            if stored.author_id in guild.members or stored.author_id == self.bot.id:
                member = self.member(guild, stored.author_id)
                member.pop("user")
                data["member"] = member
        return data


def apply_edit(
    data: Json, body: Json, uploads: list[Upload], snowflake: Snowflakes, *, first: bool = False
) -> None:
    """Apply a create/edit body to a stored message payload (fields absent stay as they were)."""
    if "content" in body:
        data["content"] = body["content"] or ""
    if "embeds" in body:
        data["embeds"] = [_clean({"type": "rich", **e}) for e in body["embeds"] or []]
    if "components" in body:
        counter = itertools.count(1)
        data["components"] = [_number(_clean(c), counter) for c in body["components"] or []]
    if "flags" in body and not first:
        # Only SUPPRESS_EMBEDS may be toggled on an existing message.
        old = data.get("flags") or 0
        data["flags"] = (old & ~SUPPRESS_EMBEDS) | ((body["flags"] or 0) & SUPPRESS_EMBEDS)
    if "attachments" in body and not first:
        keep = {str(a.get("id")) for a in body["attachments"] or []}
        data["attachments"] = [a for a in data["attachments"] if a["id"] in keep]
    for upload in uploads:
        attachment_id = snowflake()
        data["attachments"].append(
            {
                "id": str(attachment_id),
                "filename": upload.filename,
                "size": upload.size,
                "content_type": upload.content_type,
                "url": f"https://cdn.discordapp.com/attachments/{data['channel_id']}/{attachment_id}/{upload.filename}",
                "proxy_url": f"https://media.discordapp.net/attachments/{data['channel_id']}/{attachment_id}/{upload.filename}",
            }
        )
    if not first:
        data["edited_timestamp"] = iso_now()


def finish_loading(data: Json) -> None:
    data["flags"] = (data.get("flags") or 0) & ~LOADING


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _number(component: Json, counter: itertools.count[int]) -> Json:
    component.setdefault("id", next(counter))
    for child in component.get("components") or []:
        _number(child, counter)
    return component


def new_token() -> str:
    return "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)


ATTACHMENT_SIZE_LIMIT = UPLOAD_MAX_BYTES
