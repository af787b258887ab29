"""What tests make users do: run slash commands, type into an option that suggests
(autocomplete), press buttons, pick from selects, type.

Each action is checked against what a real user could do (the command is
registered and allowed here, the option asks for suggestions, the button exists
on a message this user can see and is enabled, the values are among the options)
and raises ``FakeDiscordError`` otherwise, unless ``forge=True`` asks for a forged
interaction on purpose. The interaction then goes out as INTERACTION_CREATE with
the payload Discord sends.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .errors import FakeDiscordError, Json
from .gateway import DIRECT_MESSAGES, GUILD_MESSAGES, MESSAGE_CONTENT, Gateway
from .limits import LINK_STYLE, SELECTS, custom_ids
from .state import (
    ADMINISTRATOR,
    APPLICATION_COMMAND,
    ATTACHMENT_SIZE_LIMIT,
    AUTOCOMPLETE,
    DM,
    MESSAGE_COMPONENT,
    Channel,
    InteractionRecord,
    Upload,
    User,
    World,
    new_token,
)

_SUBCOMMAND, _GROUP = 1, 2
_STRING, _INTEGER, _BOOLEAN, _USER, _CHANNEL, _ROLE, _MENTIONABLE, _NUMBER = 3, 4, 5, 6, 7, 8, 9, 10
GUILD_CONTEXT, BOT_DM_CONTEXT = 0, 1
HAS_SNAPSHOT = 1 << 14  # message flag: a forward
# A message snapshot (MinimalContentMessageResponse in the spec): its required fields.
SNAPSHOT_FIELDS = (
    "type",
    "content",
    "mentions",
    "mention_roles",
    "attachments",
    "embeds",
    "timestamp",
    "edited_timestamp",
    "flags",
    "components",
)
NO_CONTENT: Json = {"content": "", "embeds": [], "attachments": [], "components": []}


class Users:
    """Scripted user actions over a world and a gateway."""

    def __init__(self, world: World, gateway: Gateway, changed: Callable[[], None]) -> None:
        self.world = world
        self.gateway = gateway
        self._changed = changed

    # --- helpers -------------------------------------------------------------
    def _user(self, user_id: int) -> User:
        user = self.world.users.get(user_id)
        if user is None or user.deleted or user.bot:
            raise FakeDiscordError(f"no user {user_id}: add_user() first")
        return user

    def dm_channel(self, user_id: int) -> Channel:
        world = self.world
        channel_id = world.dm_channels.get(user_id)
        if channel_id is None:
            channel_id = world.snowflake()
            world.channels[channel_id] = Channel(channel_id, DM, recipient_id=user_id)
            world.dm_channels[user_id] = channel_id
        return world.channels[channel_id]

    def _where(self, user: User, guild_id: int | None, channel_id: int | None) -> Channel:
        """The channel the user acts in: a guild channel they belong to, or their DM."""
        world = self.world
        if guild_id is None:
            if channel_id is not None:
                channel = world.channels.get(channel_id)
                if channel is None:
                    raise FakeDiscordError(f"no channel {channel_id}")
                if channel.guild_id is not None:
                    return self._where(user, channel.guild_id, channel_id)
                if channel.recipient_id != user.id:
                    raise FakeDiscordError(
                        f"channel {channel_id} is not {user.id}'s DM with the bot"
                    )
                return channel
            return self.dm_channel(user.id)
        guild = world.guilds.get(guild_id)
        if guild is None:
            raise FakeDiscordError(f"no guild {guild_id}: add_guild() first")
        if user.id not in guild.members:
            raise FakeDiscordError(f"user {user.id} is not a member of guild {guild_id}")
        chosen = guild.channel_ids[0] if channel_id is None else channel_id
        if chosen not in guild.channel_ids:
            raise FakeDiscordError(f"channel {chosen} is not in guild {guild_id}")
        return world.channels[chosen]

    async def _dispatch(
        self, kind: int, user: User, channel: Channel, data: Json, message: Json | None
    ) -> InteractionRecord:
        world = self.world
        guild = world.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        if not self.gateway.ready_sessions(channel.guild_id):
            raise FakeDiscordError(
                "no bot is connected to the gateway (or READY has not been sent)"
            )
        interaction_id, token = world.snowflake(), new_token()
        app_permissions = (
            guild.bot_permissions if guild is not None else world.bot_permissions(channel)
        )
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(world.application_id),
            "type": kind,
            "data": data,
            "channel_id": str(channel.id),
            "channel": world.channel(channel),
            "token": token,
            "version": 1,
            "app_permissions": str(app_permissions),
            "locale": user.locale,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id) if guild is not None else "0"},
            "context": GUILD_CONTEXT if guild is not None else BOT_DM_CONTEXT,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if guild is not None:
            payload |= {
                "guild_id": str(guild.id),
                "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
                "guild_locale": "en-US",
                "member": world.member(guild, user.id, with_permissions=True),
            }
        else:
            payload["user"] = user.payload()
        if message is not None:
            payload["message"] = message
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=kind,
            user_id=user.id,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            data=data,
            payload=payload,
            created_at=world.now(),
            message_id=int(message["id"]) if message is not None else None,
        )
        world.interactions[interaction_id] = record
        world.by_token[token] = record
        await self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=channel.guild_id)
        self._changed()
        return record

    # --- slash commands ------------------------------------------------------
    async def run_slash_command(
        self,
        name: str,
        *,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
        options: list[Json] | None,
        subcommand: str | None,
        forge: bool = False,
    ) -> InteractionRecord:
        user = self._user(user_id)
        channel = self._where(user, guild_id, channel_id)
        command = self._command_here(name, user, channel, forge)
        guild = self.world.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        resolved: Json = {}
        built = self._options(command, options or [], subcommand, guild is not None, resolved)
        for entry in resolved.get("channels", {}).values():
            # Discord resolves channels as partial objects with the invoker's permissions
            entry["permissions"] = str(guild.members[user.id] if guild is not None else 0)
        data: Json = {"id": command["id"], "name": name, "type": 1}
        if built:
            data["options"] = built
        if resolved:
            data["resolved"] = resolved
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return await self._dispatch(APPLICATION_COMMAND, user, channel, data, None)

    async def autocomplete(
        self,
        name: str,
        focused: Json,
        *,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
        options: list[Json] | None,
        subcommand: str | None,
    ) -> InteractionRecord:
        """The user types into an option of /name that asks for suggestions
        (``autocomplete: true``): Discord sends an APPLICATION_COMMAND_AUTOCOMPLETE
        interaction, the options typed so far, the one being typed ``focused``. Its
        value is partial, so no option's value is checked against its rules; the
        answer can only be type 8 with up to 25 choices (``interactions.py``)."""
        user = self._user(user_id)
        channel = self._where(user, guild_id, channel_id)
        command = self._command_here(name, user, channel, False)
        level: list[Json] = command.get("options") or []
        wrapped: list[Json] = []
        out = wrapped
        for part in (subcommand or "").split():
            definition = next(
                (d for d in level if d["name"] == part and d["type"] in (_SUBCOMMAND, _GROUP)), None
            )
            if definition is None:
                raise FakeDiscordError(f"/{name} has no subcommand {subcommand!r}")
            node: Json = {"type": definition["type"], "name": part, "options": []}
            out.append(node)
            level, out = definition.get("options") or [], node["options"]
        if any(d["type"] in (_SUBCOMMAND, _GROUP) for d in level):
            raise FakeDiscordError(f"/{name} needs a subcommand")
        by_name = {d["name"]: d for d in level}
        target = by_name.get(focused["name"])
        if target is None:
            raise FakeDiscordError(f"/{name} has no option {focused['name']!r}")
        if not target.get("autocomplete"):
            raise FakeDiscordError(f"option {focused['name']!r} of /{name} does not autocomplete")
        for option in options or []:
            if option["name"] not in by_name:
                raise FakeDiscordError(f"unknown option {option['name']!r}")
            if option["name"] == focused["name"]:
                raise FakeDiscordError(f"option {option['name']!r} is the one being typed")
            kind = by_name[option["name"]]["type"]
            out.append({"name": option["name"], "type": kind, "value": option["value"]})
        typing = {"name": target["name"], "type": target["type"], "value": focused["value"]}
        out.append({**typing, "focused": True})
        data: Json = {"id": command["id"], "name": name, "type": 1, "options": wrapped}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return await self._dispatch(AUTOCOMPLETE, user, channel, data, None)

    def _command_here(self, name: str, user: User, channel: Channel, forge: bool) -> Json:
        """The slash command /name as this user may use it in this channel."""
        world = self.world
        guild = world.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        candidates = list(world.global_commands)
        if guild is not None:
            candidates = world.guild_commands.get(guild.id, []) + candidates
        if forge:  # a crafted interaction: any command the bot registered anywhere
            candidates += [c for listed in world.guild_commands.values() for c in listed]
        command = next((c for c in candidates if c["name"] == name and c["type"] == 1), None)
        if command is None:
            raise FakeDiscordError(
                f"/{name} is not registered here (has the bot synced its commands?)"
            )
        context = GUILD_CONTEXT if guild is not None else BOT_DM_CONTEXT
        if command.get("contexts") is not None and context not in command["contexts"]:
            raise FakeDiscordError(f"/{name} is not available in context {context}")
        if (
            guild is None
            and command.get("contexts") is None
            and not command.get("dm_permission", True)
        ):
            raise FakeDiscordError(f"/{name} is not available in DMs")
        required = command.get("default_member_permissions")
        if guild is not None and required is not None and not forge:
            has = guild.members[user.id]
            if not has & ADMINISTRATOR and (
                int(required) == 0 or has & int(required) != int(required)
            ):
                raise FakeDiscordError(f"user {user.id} lacks the permissions /{name} needs")
        return command

    def _options(
        self,
        command: Json,
        given: list[Json],
        subcommand: str | None,
        in_guild: bool,
        resolved: Json,
    ) -> list[Json]:
        definitions: list[Json] = command.get("options") or []
        if subcommand is None:
            if any(d["type"] in (_SUBCOMMAND, _GROUP) for d in definitions):
                raise FakeDiscordError(f"/{command['name']} needs a subcommand")
            return self._values(definitions, given, in_guild, resolved)
        wrapped: list[Json] = []
        level, out = definitions, wrapped
        for part in subcommand.split():
            definition = next(
                (d for d in level if d["name"] == part and d["type"] in (_SUBCOMMAND, _GROUP)), None
            )
            if definition is None:
                raise FakeDiscordError(f"/{command['name']} has no subcommand {subcommand!r}")
            node: Json = {"type": definition["type"], "name": part, "options": []}
            out.append(node)
            level, out = definition.get("options") or [], node["options"]
        out.extend(self._values(level, given, in_guild, resolved))
        return wrapped

    def _values(
        self, definitions: list[Json], given: list[Json], in_guild: bool, resolved: Json
    ) -> list[Json]:
        by_name = {d["name"]: d for d in definitions}
        built: list[Json] = []
        for option in given:
            definition = by_name.get(option["name"])
            if definition is None:
                raise FakeDiscordError(f"unknown option {option['name']!r}")
            value = option["value"]
            self._check_value(definition, value)
            kind = definition["type"]
            if kind in (_USER, _MENTIONABLE):
                user = self._user(int(value))
                resolved.setdefault("users", {})[str(user.id)] = user.payload()
                value = str(user.id)
            elif kind == _CHANNEL:
                channel = self.world.channels.get(int(value))
                if channel is None:
                    raise FakeDiscordError(f"no channel {value}")
                resolved.setdefault("channels", {})[str(channel.id)] = self.world.channel(channel)
                value = str(channel.id)
            built.append({"name": option["name"], "type": kind, "value": value})
        missing = [
            d["name"]
            for d in definitions
            if d.get("required") and d["name"] not in {o["name"] for o in given}
        ]
        if missing:
            raise FakeDiscordError(f"required option(s) missing: {missing}")
        return built

    @staticmethod
    def _check_value(definition: Json, value: Any) -> None:
        kind, name = definition["type"], definition["name"]
        expected: dict[int, tuple[type, ...]] = {
            _STRING: (str,),
            _INTEGER: (int,),
            _BOOLEAN: (bool,),
            _NUMBER: (int, float),
        }
        if kind in expected and (
            not isinstance(value, expected[kind]) or (kind != _BOOLEAN and isinstance(value, bool))
        ):
            raise FakeDiscordError(f"option {name!r} needs a value of type {kind}, not {value!r}")
        if kind in (_USER, _CHANNEL, _ROLE, _MENTIONABLE) and not str(value).isdigit():
            raise FakeDiscordError(f"option {name!r} needs a snowflake, not {value!r}")
        choices = definition.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise FakeDiscordError(f"option {name!r} must be one of its choices, not {value!r}")
        if kind == _STRING and not (
            definition.get("min_length", 0) <= len(value) <= definition.get("max_length", 6000)
        ):
            raise FakeDiscordError(f"option {name!r} has the wrong length")
        if kind in (_INTEGER, _NUMBER):
            low, high = definition.get("min_value"), definition.get("max_value")
            if (low is not None and value < low) or (high is not None and value > high):
                raise FakeDiscordError(f"option {name!r} is out of range")

    # --- components ----------------------------------------------------------
    async def use_component(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int,
        guild_id: int | None,
        values: list[str] | None,
        forge: bool,
    ) -> InteractionRecord:
        world = self.world
        user = self._user(user_id)
        stored = world.messages.get(message_id)
        if forge and (stored is None or stored.deleted):
            channel = self._where(user, guild_id, None)
            message: Json = {
                "id": str(message_id),
                "channel_id": str(channel.id),
                "type": 0,
                "content": "",
                "author": world.bot.payload(),
                "attachments": [],
                "embeds": [],
                # the pressed component, so the client gets as far as its own checks
                "components": [
                    {
                        "type": 1,
                        "id": 1,
                        "components": [
                            {"type": 2, "id": 2, "style": 1, "label": "…", "custom_id": custom_id}
                            if values is None
                            else {
                                "type": 3,
                                "id": 2,
                                "custom_id": custom_id,
                                "options": [{"label": v, "value": v} for v in values],
                            }
                        ],
                    }
                ],
                "timestamp": "2015-01-01T00:00:00+00:00",
                "edited_timestamp": None,
                "flags": 0,
                "mentions": [],
                "mention_roles": [],
                "pinned": False,
                "mention_everyone": False,
                "tts": False,
            }
            kind = 2 if values is None else 3
        else:
            if stored is None or stored.deleted:
                raise FakeDiscordError(f"no message {message_id}")
            channel = world.channels[stored.channel_id]
            self._check_can_see(user, channel, stored.visible_to, guild_id)
            component = custom_ids(stored.data.get("components") or []).get(custom_id)
            kind = 2 if values is None else 3
            if not forge:
                kind = self._check_component(component, custom_id, values)
            message = copy.deepcopy(stored.data)
        data: Json = {"custom_id": custom_id, "component_type": kind}
        if values is not None:
            data["values"] = list(values)
        return await self._dispatch(MESSAGE_COMPONENT, user, channel, data, message)

    def _check_can_see(
        self, user: User, channel: Channel, visible_to: int | None, guild_id: int | None
    ) -> None:
        if visible_to is not None and visible_to != user.id:
            raise FakeDiscordError("that ephemeral message belongs to someone else")
        if channel.type == DM and channel.recipient_id != user.id:
            raise FakeDiscordError("that message is in someone else's DM")
        if channel.guild_id is not None:
            if guild_id is not None and guild_id != channel.guild_id:
                raise FakeDiscordError(f"that message is not in guild {guild_id}")
            if user.id not in self.world.guilds[channel.guild_id].members:
                raise FakeDiscordError(f"user {user.id} is not in that message's guild")

    @staticmethod
    def _check_component(component: Json | None, custom_id: str, values: list[str] | None) -> int:
        if component is None:
            raise FakeDiscordError(f"that message has no component {custom_id!r}")
        if component.get("disabled"):
            raise FakeDiscordError(f"component {custom_id!r} is disabled")
        kind: int = component["type"]
        if values is None:
            if kind != 2 or component.get("style") == LINK_STYLE:
                raise FakeDiscordError(
                    f"component {custom_id!r} is not a button that sends interactions"
                )
            return kind
        if kind not in SELECTS:
            raise FakeDiscordError(f"component {custom_id!r} is not a select menu")
        low = component.get("min_values", 1)
        high = component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise FakeDiscordError(f"pick between {low} and {high} values")
        if kind == 3:
            allowed = {o["value"] for o in component.get("options") or []}
            if not set(values) <= allowed:
                raise FakeDiscordError(f"{values} are not all options of {custom_id!r}")
        return kind

    # --- typing --------------------------------------------------------------
    async def send_message(
        self,
        user_id: int,
        content: str,
        *,
        channel_id: int | None,
        attachments: list[str] | None,
        stickers: list[str] | None = None,
        forward_of: int | None = None,
    ) -> Json:
        """A user posts a message (in their DM with the bot unless a channel is given):
        text, files, stickers (by name), or a forward of a message they can see."""
        world = self.world
        user = self._user(user_id)
        channel = self._where(user, None, channel_id)
        uploads = [
            Upload("file", name, "application/octet-stream", 1024) for name in attachments or []
        ]
        extra: Json = {}
        flags = 0
        if stickers:
            extra["sticker_items"] = [
                {"id": str(world.snowflake()), "name": name, "format_type": 1} for name in stickers
            ]
        if forward_of is not None:
            if content or uploads or stickers:
                raise FakeDiscordError("a forward carries the forwarded message only")
            extra |= self._forward(user, forward_of)
            flags = HAS_SNAPSHOT
        stored = world.new_message(
            channel, {"content": content}, author=user, uploads=uploads, flags=flags, extra=extra
        )
        data = world.gateway_message(stored)
        bot_id = str(world.bot.id)
        mentioned = f"<@{bot_id}>" in content or f"<@!{bot_id}>" in content
        if mentioned:
            data["mentions"] = [world.bot.payload()]

        def without_content(payload: Json) -> Json:
            # No MESSAGE_CONTENT intent: guild messages arrive without their content,
            # forwarded ones included.
            if channel.guild_id is None or mentioned:
                return payload
            emptied = {**payload, **NO_CONTENT}
            if "message_snapshots" in payload:
                emptied["message_snapshots"] = [
                    {"message": {**snapshot["message"], **NO_CONTENT}}
                    for snapshot in payload["message_snapshots"]
                ]
            return emptied

        # DMs reach bots with DIRECT_MESSAGES, server messages those with GUILD_MESSAGES
        intent = DIRECT_MESSAGES if channel.type == DM else GUILD_MESSAGES
        await self.gateway.dispatch(
            "MESSAGE_CREATE",
            data,
            guild_id=channel.guild_id,
            intent=intent,
            redact_unless=MESSAGE_CONTENT,
            redact=without_content,
        )
        self._changed()
        return stored.data

    def _forward(self, user: User, message_id: int) -> Json:
        """What a forward of a message carries: a reference of type FORWARD and a
        snapshot of the message. Only a message the user can see can be forwarded."""
        world = self.world
        source = world.messages.get(message_id)
        if source is None or source.deleted or source.visible_to not in (None, user.id):
            raise FakeDiscordError(f"no message {message_id} that user {user.id} can see")
        origin = self._where(user, None, source.channel_id)  # a member there, or their DM
        reference: Json = {
            "type": 1,  # FORWARD
            "message_id": str(message_id),
            "channel_id": str(origin.id),
        }
        if origin.guild_id is not None:
            reference["guild_id"] = str(origin.guild_id)
        snapshot = {key: copy.deepcopy(source.data[key]) for key in SNAPSHOT_FIELDS}
        if "sticker_items" in source.data:
            snapshot["sticker_items"] = copy.deepcopy(source.data["sticker_items"])
        return {"message_reference": reference, "message_snapshots": [{"message": snapshot}]}
