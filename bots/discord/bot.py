"""The Discord adapter: a discord.py `Client` with slash commands and persistent buttons,
translating interactions into core calls. It is also the delivery engine's messenger.

No privileged intents: everything arrives as an interaction (a slash command, a
button, a select menu), so the bot never reads what anyone writes in a server's
channels. The one exception is its own DMs (the `dm_messages` intent, which is not
privileged): a DM gets a calm answer, the report route for media and links, and
where to get help for anything else; what it says is never kept or logged.

Organisers are known by ids only: the `discord:<id>` entries of the organiser
list, and members of one role id in the charity's own server. Their commands live
in that server alone (guild commands) and are refused anywhere else.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from bots.discord.render import NO_MENTIONS, parts
from bots.discord.screening import WRITTEN, AnswerGate, carries_media
from bots.discord.startup import (
    LIBRARY_LOG,
    REFUSED_LOGIN,
    FirstConnectFilter,
    gateway_stopped,
    login_refused,
    unreachable,
)
from campaigns import wording
from campaigns.buttons import PREFIX, Verb
from campaigns.core import Core
from campaigns.delivery import (
    OutcomeUnknown,
    RateLimited,
    RecipientGone,
    Refused,
    StartupFailure,
    TransientFailure,
)
from campaigns.model import ChatKind, Message, Origin, PressResult
from campaigns.organising import NOT_AVAILABLE, OrganiserDesk
from campaigns.pacing import Pacer

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Discord allows 50 requests a second per bot; keep well inside it, evenly spaced.
REQUEST_RATE = 48.0
GONE_CODES = {50007, 10013, 10003, 50001}  # can't DM user, unknown user/channel, no access
BUTTON_ID = re.compile(
    rf"{PREFIX}:(?P<verb>[a-z-]{{1,12}}):(?P<arg>[A-Za-z0-9_-]{{1,32}}):[A-Za-z0-9_-]{{16}}"
)


class CoreButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=BUTTON_ID):
    """Every campaignbot button, matched by its id: answered by the core, whatever the
    message and however long ago it was sent."""

    def __init__(self, custom_id: str) -> None:
        super().__init__(discord.ui.Button(label="…", custom_id=custom_id))

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CoreButton:
        return cls(match.group(0))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        assert isinstance(client, DiscordBot)
        await client.on_button(interaction, self.item.custom_id or "")


def origin_for_command(interaction: discord.Interaction[Any]) -> Origin:
    """Slash commands are about the person: their DM subscription."""
    user = str(interaction.user.id)
    return Origin(PLATFORM, user, ChatKind.PRIVATE, user=user)


def origin_for_press(interaction: discord.Interaction[Any]) -> Origin:
    """A press in a DM is the person's; in a server channel, a member's in that channel."""
    user = str(interaction.user.id)
    if interaction.guild is None or interaction.channel_id is None:
        return Origin(PLATFORM, user, ChatKind.PRIVATE, user=user)
    return Origin(PLATFORM, str(interaction.channel_id), ChatKind.GROUP, user=user)


class DiscordBot(discord.Client):
    """One bot account: slash commands, persistent buttons, and sending for the engine."""

    platform = PLATFORM

    def __init__(
        self,
        core: Core,
        token: str,
        *,
        desk: OrganiserDesk | None = None,
        organiser_guild: int | None = None,
        organiser_role: int | None = None,
        request_rate: float | None = REQUEST_RATE,
        api_url: str | None = None,
        gateway_url: str | None = None,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        super().__init__(
            # DMs only, and no privileged intent: servers' messages never reach the bot
            intents=discord.Intents(guilds=True, dm_messages=True),
            max_messages=None,  # keep no messages in memory: nobody's words linger
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=guild_ready_timeout,
        )
        self.core = core
        self.desk = desk or OrganiserDesk(core)
        self.token = token
        self.organiser_guild = organiser_guild
        self.organiser_role = organiser_role
        self._dm_gate = AnswerGate()
        self.tree = app_commands.CommandTree(self)
        # REST requests take slots of this pace: the engine takes one per message, and
        # opening a DM channel (a first DM costs two requests) takes another.
        self.pacer = Pacer(request_rate) if request_rate else None
        self._dm_channels: dict[str, int] = {}
        self._runner: asyncio.Task[None] | None = None
        # discord.py reads both addresses from class attributes: set them for this
        # process while the bot runs, and put them back when it stops.
        self._api_url, self._gateway_url = api_url, gateway_url
        self._saved_addresses = (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        if api_url:
            discord.http.Route.BASE = api_url.rstrip("/")
        if gateway_url:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
        from bots.discord.commands import install

        install(self)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CoreButton)
        await self.tree.sync()
        if self.organiser_guild is None:
            log.info(
                "discord: no organiser commands: set discord_organiser_guild "
                "(CAMPAIGNBOT_DISCORD_ORGANISER_GUILD) to the charity's server id"
            )
            return
        try:
            await self.tree.sync(guild=discord.Object(self.organiser_guild))
        except discord.HTTPException as exc:
            log.warning(
                "discord: can't add the organiser commands to server %s "
                "(discord_organiser_guild): %s %s; is the bot in that server?",
                self.organiser_guild,
                exc.status,
                exc.code,
            )

    # --- running -----------------------------------------------------------

    async def online(self) -> None:
        """Log in, connect and wait until ready (runs in the current event loop).

        Raises `StartupFailure` with one line naming the setting to check; never the
        token, never a traceback. Once ready, discord.py reconnects on its own."""
        try:
            await self.login(self.token)
        except discord.LoginFailure:
            raise StartupFailure(REFUSED_LOGIN) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise StartupFailure(unreachable("DISCORD_API_URL", self._api_url, exc)) from None
        except discord.HTTPException as exc:
            raise StartupFailure(login_refused(exc, self._api_url)) from None
        # Listen for a dropped connection before the gateway task starts, so none is missed.
        dropped = asyncio.ensure_future(self.wait_for("disconnect"))
        self._runner = asyncio.create_task(self.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.ensure_future(self.wait_until_ready())
        quiet = FirstConnectFilter(self)
        LIBRARY_LOG.addFilter(quiet)
        try:
            while True:
                await asyncio.wait(
                    {self._runner, ready, dropped}, return_when=asyncio.FIRST_COMPLETED
                )
                if ready.done():
                    break
                if self._runner.done():
                    raise StartupFailure(gateway_stopped(self._runner, self._gateway_url)) from None
                if self.ws is None:
                    # Not one connection yet: discord.py would retry for ever (and 2.7
                    # trips over its own missing socket when it does). Stop here instead.
                    self._runner.cancel()
                    await asyncio.gather(self._runner, return_exceptions=True)
                    raise StartupFailure(
                        unreachable("DISCORD_GATEWAY_URL", self._gateway_url)
                    ) from None
                # connected once, then dropped before READY: discord.py resumes; wait on
                dropped = asyncio.ensure_future(self.wait_for("disconnect"))
        finally:
            LIBRARY_LOG.removeFilter(quiet)
            ready.cancel()
            dropped.cancel()
        log.info("discord: connected as %s", self.user)

    async def offline(self) -> None:
        """Disconnect, and give discord.py its default addresses back."""
        await self.close()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved_addresses

    # --- interactions ------------------------------------------------------

    async def respond(self, interaction: discord.Interaction[Any], messages: list[Message]) -> None:
        """Answer an interaction with one or more messages (ephemeral inside servers)."""
        ephemeral = interaction.guild is not None
        first = True
        for message in messages:
            kwargs = parts(message)
            if first and not interaction.response.is_done():
                await interaction.response.send_message(ephemeral=ephemeral, **kwargs)
            else:
                await interaction.followup.send(ephemeral=ephemeral, **kwargs)
            first = False
        if first and not interaction.response.is_done():
            await interaction.response.send_message("…", ephemeral=True)

    async def command(
        self, interaction: discord.Interaction[Any], name: str, args: tuple[str, ...] = ()
    ) -> None:
        """A supporter's slash command, through the core."""
        replies = await self.core.command(origin_for_command(interaction), name, args)
        await self.respond(interaction, replies)

    def is_organiser(self, interaction: discord.Interaction[Any]) -> bool:
        """Only inside the charity's own server: an organiser by user id, or a member
        holding the organiser role there (by id: anyone can name a role anything)."""
        if self.organiser_guild is None or interaction.guild_id != self.organiser_guild:
            return False
        if self.core.is_organiser(PLATFORM, str(interaction.user.id)):
            return True
        member = interaction.user
        return (
            self.organiser_role is not None
            and isinstance(member, discord.Member)
            and member.get_role(self.organiser_role) is not None
        )

    async def organiser(
        self, interaction: discord.Interaction[Any], name: str, args: tuple[str, ...] = ()
    ) -> None:
        if not self.is_organiser(interaction):
            await interaction.response.send_message(NOT_AVAILABLE, ephemeral=True)
            return
        actor = f"{PLATFORM}:{interaction.user.id}"
        await self.respond(interaction, await self.desk.command(actor, name, args))

    async def on_button(self, interaction: discord.Interaction[Any], custom_id: str) -> None:
        """A press on any campaignbot button: counted (or refused), always answered."""
        button = self.core.ids.read(custom_id)
        result: PressResult
        if button is not None and button.verb in (Verb.SEND, Verb.CANCEL):
            if not self.is_organiser(interaction):
                await interaction.response.send_message(NOT_AVAILABLE, ephemeral=True)
                return
            actor = f"{PLATFORM}:{interaction.user.id}"
            result = await self.desk.confirm(actor, button.verb, button.argument)
        else:
            result = await self.core.press(origin_for_press(interaction), custom_id)
        if result.edit is not None and interaction.guild is None:
            kwargs = parts(result.edit)
            kwargs.pop("allowed_mentions", None)
            kwargs.setdefault("content", None)
            kwargs.setdefault("embeds", [])
            kwargs.setdefault("view", None)
            await interaction.response.edit_message(**kwargs)
        else:
            await interaction.response.send_message(result.answer, ephemeral=True)
        for reply in result.replies:
            await interaction.followup.send(ephemeral=interaction.guild is not None, **parts(reply))

    async def on_message(self, message: discord.Message) -> None:
        """A DM to the bot (the only messages it is sent: no server message intents).

        The bot can't delete in a DM, so media, a sticker, an embed, a link, a forward
        or a poll gets the report route, and anything else where to get help. What it
        said is never looked at beyond that, kept, logged or downloaded. One answer per
        person every `screening.DM_ANSWER_SECONDS`, so a flood can't eat the shared pace."""
        if message.guild is not None or message.author.bot or message.type not in WRITTEN:
            return
        if not self._dm_gate.allow(message.author.id, time.monotonic()):
            return
        media = carries_media(message)
        answer = wording.safeguarding(removed=False) if media else wording.FREE_TEXT
        if self.pacer is not None:
            await self.pacer.wait()
        try:
            await message.channel.send(answer, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.info("discord: couldn't answer a DM: %s %s", exc.status, exc.code)
            return
        log.info("discord: answered a DM with %s", "media" if media else "free text")

    async def on_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """Log what failed (never what anyone typed) and apologise."""
        log.error("discord: command failed: %r", error, exc_info=error)
        if not interaction.response.is_done():
            await interaction.response.send_message(wording.SORRY, ephemeral=True)

    # --- sending -----------------------------------------------------------

    async def _dm_channel(self, user_id: str) -> int:
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            if self.pacer is not None:
                await self.pacer.wait()
            data = await self.http.start_private_message(int(user_id))
            channel_id = int(data["id"])
            self._dm_channels[user_id] = channel_id
        return channel_id

    async def prepare(self, address: str, kind: ChatKind) -> None:
        """Open the DM channel before the send (a request of its own, at its own slot)."""
        if kind is ChatKind.PRIVATE and address not in self._dm_channels:
            try:
                await self._dm_channel(address)
            except discord.HTTPException as exc:
                if exc.status in (403, 404) or exc.code in GONE_CODES:
                    raise RecipientGone(f"{exc.code}: {exc.text}") from exc
                raise TransientFailure(f"{exc.status} {exc.code}: {exc.text}") from exc

    async def send(self, address: str, kind: ChatKind, message: Message) -> None:
        """The engine's messenger (which has taken a slot of the pace for the message):
        a DM to a person, or a post in a server channel."""
        try:
            channel_id = (
                await self._dm_channel(address) if kind is ChatKind.PRIVATE else int(address)
            )
            channel = self.get_partial_messageable(channel_id)
            await channel.send(**parts(message))
        except discord.Forbidden as exc:
            raise RecipientGone(f"{exc.code}: {exc.text}") from exc
        except discord.NotFound as exc:
            raise RecipientGone(f"{exc.code}: {exc.text}") from exc
        except discord.DiscordServerError as exc:
            raise TransientFailure(f"{exc.status}: {exc.text}") from exc
        except discord.RateLimited as exc:
            raise RateLimited(exc.retry_after) from exc
        except discord.HTTPException as exc:
            if exc.status == 429:
                raise RateLimited(1.0) from exc
            if exc.code in GONE_CODES:
                raise RecipientGone(f"{exc.code}: {exc.text}") from exc
            raise Refused(f"{exc.status} {exc.code}: {exc.text}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransientFailure("could not connect") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise OutcomeUnknown(exc.__class__.__name__) from exc
