"""REST handlers for the bot's own account, users and DMs, channels, messages and guilds."""

from __future__ import annotations

from .api import Api, Ctx, Result, bad_field, route
from .errors import (
    DM_ACTION,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    NOT_AUTHOR,
    UNKNOWN_GUILD,
    UNKNOWN_MEMBER,
    UNKNOWN_MESSAGE,
    UNKNOWN_USER,
    api_error,
)
from .state import DM, MANAGE_MESSAGES, READ_MESSAGE_HISTORY, Channel, StoredMessage, apply_edit


@route("GET", "/users/@me")
async def get_me(api: Api, ctx: Ctx) -> Result:
    return 200, {**api.world.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0}


@route("GET", "/oauth2/applications/@me")
@route("GET", "/applications/@me")
async def get_application(api: Api, ctx: Ctx) -> Result:
    return 200, api.world.application()


@route("GET", "/gateway")
async def get_gateway(api: Api, ctx: Ctx) -> Result:
    return 200, {"url": api.gateway_url()}


@route("GET", "/gateway/bot")
async def get_gateway_bot(api: Api, ctx: Ctx) -> Result:
    limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
    return 200, {"url": api.gateway_url(), "shards": 1, "session_start_limit": limit}


@route("GET", "/users/{user_id}")
async def get_user(api: Api, ctx: Ctx) -> Result:
    user = api.world.users.get(ctx.id("user_id"))
    if user is None or user.deleted:
        raise api_error(UNKNOWN_USER)
    return 200, user.payload()


@route("POST", "/users/@me/channels")
async def create_dm(api: Api, ctx: Ctx) -> Result:
    """Open (or return the existing) DM channel; unknown users are 10013 here."""
    recipient_id = ctx.json.get("recipient_id")
    if recipient_id is None:
        raise bad_field(("recipient_id",), "BASE_TYPE_REQUIRED", "This field is required")
    world = api.world
    user = world.users.get(int(recipient_id))
    if user is None or user.deleted or user.id == world.bot.id:
        raise api_error(UNKNOWN_USER)
    channel_id = world.dm_channels.get(user.id)
    if channel_id is None:
        channel_id = world.snowflake()
        world.channels[channel_id] = Channel(channel_id, DM, recipient_id=user.id)
        world.dm_channels[user.id] = channel_id
        api.changed()
    return 200, world.channel(world.channels[channel_id])


@route("GET", "/channels/{channel_id}")
async def get_channel(api: Api, ctx: Ctx) -> Result:
    return 200, api.world.channel(api.channel(ctx.id("channel_id")))


@route("POST", "/channels/{channel_id}/typing")
async def trigger_typing(api: Api, ctx: Ctx) -> Result:
    api.check_can_post(api.channel(ctx.id("channel_id")))
    return 204, None


@route("POST", "/channels/{channel_id}/messages")
async def create_message(api: Api, ctx: Ctx) -> Result:
    channel = api.channel(ctx.id("channel_id"))
    api.check_can_post(channel)
    body = ctx.json
    api.check_message(body, uploads=ctx.uploads)
    reference = body.get("message_reference") or {}
    if reference.get("message_id") is not None:
        target = api.world.messages.get(int(reference["message_id"]))
        if target is None or target.deleted or target.channel_id != channel.id:
            raise bad_field(
                ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
            )
    flags = (body.get("flags") or 0) & (1 << 2 | 1 << 12 | 1 << 15)
    stored = api.world.new_message(
        channel, body, author=api.world.bot, uploads=ctx.uploads, flags=flags
    )
    await api.publish(stored)
    return 200, stored.data


def _message(api: Api, channel: Channel, message_id: int) -> StoredMessage:
    stored = api.world.messages.get(message_id)
    if (
        stored is None
        or stored.deleted
        or stored.channel_id != channel.id
        or stored.visible_to is not None
    ):
        raise api_error(UNKNOWN_MESSAGE)
    return stored


@route("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(api: Api, ctx: Ctx) -> Result:
    channel = api.channel(ctx.id("channel_id"))
    _check_history(api, channel)
    return 200, _message(api, channel, ctx.id("message_id")).data


@route("GET", "/channels/{channel_id}/messages")
async def list_messages(api: Api, ctx: Ctx) -> Result:
    channel = api.channel(ctx.id("channel_id"))
    _check_history(api, channel)
    limit = ctx.query.get("limit", 50)
    if not 1 <= limit <= 100:
        raise bad_field(
            ("limit",), "NUMBER_TYPE_MAX", "int value should be less than or equal to 100."
        )
    ids = [m for m in channel.message_ids if not api.world.messages[m].deleted]
    ids = [m for m in ids if api.world.messages[m].visible_to is None]
    if "before" in ctx.query:
        ids = [m for m in ids if m < int(ctx.query["before"])]
    if "after" in ctx.query:  # the `limit` messages right after it
        ids = sorted(m for m in ids if m > int(ctx.query["after"]))[:limit]
    newest_first = sorted(ids, reverse=True)[:limit]
    return 200, [api.world.messages[m].data for m in newest_first]


def _check_history(api: Api, channel: Channel) -> None:
    if (
        channel.guild_id is not None
        and not api.world.bot_permissions(channel) & READ_MESSAGE_HISTORY
    ):
        raise api_error(MISSING_ACCESS)


@route("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def edit_message(api: Api, ctx: Ctx) -> Result:
    channel = api.channel(ctx.id("channel_id"))
    stored = _message(api, channel, ctx.id("message_id"))
    if stored.author_id != api.world.bot.id:
        raise api_error(NOT_AUTHOR)
    body = ctx.json
    result = {
        **stored.data,
        **{k: v for k, v in body.items() if k in ("content", "embeds", "components")},
    }
    api.check_message(body, uploads=ctx.uploads, result=result)
    apply_edit(stored.data, body, ctx.uploads, api.world.snowflake)
    await api.publish(stored, "MESSAGE_UPDATE")
    return 200, stored.data


@route("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def delete_message(api: Api, ctx: Ctx) -> Result:
    """The bot may delete its own messages; others' only in a guild, with Manage Messages."""
    channel = api.channel(ctx.id("channel_id"))
    stored = _message(api, channel, ctx.id("message_id"))
    if stored.author_id != api.world.bot.id:
        if channel.type == DM:
            raise api_error(DM_ACTION)
        if not api.world.bot_permissions(channel) & MANAGE_MESSAGES:
            raise api_error(MISSING_PERMISSIONS)
    stored.deleted = True
    await api.publish(stored, "MESSAGE_DELETE")
    return 204, None


@route("GET", "/guilds/{guild_id}")
async def get_guild(api: Api, ctx: Ctx) -> Result:
    guild = api.world.guilds.get(ctx.id("guild_id"))
    if guild is None:
        raise api_error(UNKNOWN_GUILD)
    return 200, api.world.guild(guild, full=False)


@route("GET", "/guilds/{guild_id}/channels")
async def get_guild_channels(api: Api, ctx: Ctx) -> Result:
    guild = api.world.guilds.get(ctx.id("guild_id"))
    if guild is None:
        raise api_error(UNKNOWN_GUILD)
    return 200, [api.world.channel(api.world.channels[c]) for c in guild.channel_ids]


@route("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_member(api: Api, ctx: Ctx) -> Result:
    guild = api.world.guilds.get(ctx.id("guild_id"))
    if guild is None:
        raise api_error(UNKNOWN_GUILD)
    user_id = ctx.id("user_id")
    if user_id != api.world.bot.id and user_id not in guild.members:
        raise api_error(UNKNOWN_MEMBER)
    return 200, api.world.member(guild, user_id)
