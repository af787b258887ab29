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
import math
import re
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from bots.discord import connection
from bots.discord.commands import install, keep_syncing, start_links, sync_commands
from bots.discord.origins import PLATFORM, origin_for_command, origin_for_dm, origin_for_press
from bots.discord.render import NO_MENTIONS, parts
from bots.discord.screening import WRITTEN, AnswerGate, carries_media
from bots.discord.sending import dm_trouble, send_trouble
from bots.discord.startup import gateway_stopped
from campaigns import wording
from campaigns.backoff import Backoff
from campaigns.buttons import PREFIX
from campaigns.commands import plain_word
from campaigns.core import Core
from campaigns.messenger import AdapterHealth, StartupFailure
from campaigns.model import ChatKind, Message
from campaigns.pacing import Pacer

log = logging.getLogger(__name__)

# Discord allows 50 requests a second per bot; keep well inside it, evenly spaced.
REQUEST_RATE = 48.0
# Seconds the gateway may be away before health says so: Discord asks for reconnects
# now and then, and a resume takes a moment.
HEALTH_GRACE = 15.0
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
        try:
            await client.on_button(interaction, self.item.custom_id or "")
        except Exception as exc:
            if not connection.is_outage(exc):
                raise  # discord.py logs it with its traceback
            log.warning("discord: couldn't answer a button: %s", connection.outage_line(exc))


class DiscordBot(connection.Connecting):
    """One bot account: slash commands, persistent buttons, and sending for the engine."""

    platform = PLATFORM

    def __init__(
        self,
        core: Core,
        token: str,
        *,
        organiser_guild: int | None = None,
        organiser_role: int | None = None,
        request_rate: float | None = REQUEST_RATE,
        api_url: str | None = None,
        gateway_url: str | None = None,
        guild_ready_timeout: float = 2.0,
        retry_first: float = 1.0,
        retry_cap: float = 60.0,
        health_grace: float = HEALTH_GRACE,
    ) -> None:
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._request_ended)
        super().__init__(
            # DMs only, and no privileged intent: servers' messages never reach the bot
            intents=discord.Intents(guilds=True, dm_messages=True),
            max_messages=None,  # keep no messages in memory: nobody's words linger
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=guild_ready_timeout,
            http_trace=trace,
        )
        self.core = core
        self.token = token
        self.organiser_guild = organiser_guild
        self.organiser_role = organiser_role
        self._dm_gate = AnswerGate()
        self.tree = app_commands.CommandTree(self)
        # REST requests take slots of this pace: the engine takes one per message, and
        # opening a DM channel (a first DM costs two requests) takes another.
        self.pacer = Pacer(request_rate) if request_rate else None
        self._dm_channels: dict[str, int] = {}
        # Logging in, the gateway and the command sync retry with this backoff (seconds).
        self.retry_first, self.retry_cap = retry_first, retry_cap
        self.settled = False  # READY or RESUMED on the current gateway connection
        self.last_event: float | None = None
        self._last_ok: float | None = None  # the last REST request answered 2xx
        self._away_since: float | None = None  # the gateway dropped, not yet back
        self._health_grace = health_grace
        self._gateway_backoff = Backoff(retry_first, retry_cap)
        self._runner: asyncio.Task[None] | None = None
        self._syncing: asyncio.Task[None] | None = None
        self.api_url, self.gateway_url = api_url, gateway_url
        self.gateway = yarl.URL(gateway_url) if gateway_url else DiscordWebSocket.DEFAULT_GATEWAY
        install(self)
        # Last, so that nothing after it can fail: until `offline`, discord.py's REST
        # requests in this process go to `api_url` (see `point_api_at` for why).
        self._release_api = connection.point_api_at(api_url or None)

    async def setup_hook(self) -> None:
        """After the first login: persistent buttons, and the slash commands. Failing to
        sync those never stops the bot: it tries again in the background."""
        self.add_dynamic_items(CoreButton)
        # Invite links: the application id (known once logged in) makes the install link.
        self.core.set_start_links(PLATFORM, start_links(self.application_id))
        if self.organiser_guild is None:
            log.info(
                "discord: no organiser commands: set discord_organiser_guild "
                "(CAMPAIGNBOT_DISCORD_ORGANISER_GUILD) to the charity's server id"
            )
        if not await sync_commands(self):
            self._syncing = asyncio.create_task(keep_syncing(self), name="discord-commands")

    async def on_ready(self) -> None:
        self.settled = True
        self._away_since = None
        self._gateway_backoff.reset()

    async def on_resumed(self) -> None:
        self.settled = True
        self._away_since = None
        self._gateway_backoff.reset()

    async def on_disconnect(self) -> None:
        if self._away_since is None:
            self._away_since = time.time()

    async def _request_ended(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        end: aiohttp.TraceRequestEndParams,
    ) -> None:
        """aiohttp's trace of each REST request discord.py makes (interaction answers
        included): the time of the last one Discord answered with success."""
        if 200 <= end.response.status < 300:
            self._last_ok = time.time()

    def health(self) -> AdapterHealth:
        """Connected: ready, not closed, and the gateway connected (or away for less than
        `health_grace` seconds)."""
        away = time.time() - self._away_since if self._away_since is not None else 0.0
        note = ""
        if self.is_closed():
            note = "closed"
        elif not self.is_ready():
            note = "not online"
        elif not self.settled and away >= self._health_grace:
            note = f"the gateway has been away for {away:.0f}s"
        latency = self.latency
        return AdapterHealth(
            connected=not note,
            last_ok=_moment(self._last_ok),
            last_event=_moment(self.last_event),
            latency=latency if math.isfinite(latency) else None,
            note=note,
        )

    # --- running -----------------------------------------------------------

    async def online(self) -> None:
        """Log in, connect and wait until ready (runs in the current event loop).

        Network errors, timeouts and 5xx are retried for as long as it takes, one
        warning line each (`bots.discord.connection`); cancel it to give up. Only a
        definite refusal (the token, the intents) raises `StartupFailure`, one line
        naming the setting to check; never the token, never a traceback. Once ready,
        the bot stays connected on its own, through outages, until `offline`."""
        try:
            await connection.log_in(self, Backoff(self.retry_first, self.retry_cap))
            self._runner = asyncio.create_task(
                connection.stay_connected(self, self._gateway_backoff), name="discord-gateway"
            )
            ready = asyncio.ensure_future(self.wait_until_ready())
            try:
                await asyncio.wait({self._runner, ready}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ready.cancel()
            if self._runner.done():
                raise StartupFailure(gateway_stopped(self._runner, self.gateway_url)) from None
        except asyncio.CancelledError:
            await self._stop_tasks()
            await self.close()
            raise
        self._runner.add_done_callback(self._gateway_ended)
        log.info("discord: connected as %s", self.user)

    def _gateway_ended(self, runner: asyncio.Task[None]) -> None:
        """After ready, the gateway loop ends only when the bot closes, or when Discord
        refuses it for good (the token was reset): say so, in one line."""
        if not runner.cancelled() and runner.exception() is not None:
            log.error("discord: stopped: %s", gateway_stopped(runner, self.gateway_url))

    async def _stop_tasks(self) -> None:
        for task in (self._syncing, self._runner):
            if task is not None and not task.done():
                task.cancel()
        tasks = [task for task in (self._syncing, self._runner) if task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def offline(self) -> None:
        """Disconnect, and give discord.py its API address back. Safe at any time, also
        after `online` failed or was cancelled."""
        await self.close()
        await self._stop_tasks()
        self._release_api()

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
        """Any slash command, a supporter's or an organiser's, through the core (which
        refuses the organisers' to anyone this adapter doesn't vouch for)."""
        origin = origin_for_command(interaction, organiser=self.is_organiser(interaction))
        await self.respond(interaction, await self.core.command(origin, name, args))

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

    async def on_button(self, interaction: discord.Interaction[Any], custom_id: str) -> None:
        """A press on any campaignbot button: counted (or refused), always answered."""
        origin = origin_for_press(interaction, organiser=self.is_organiser(interaction))
        result = await self.core.press(origin, custom_id)
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

        STOP, UNSUBSCRIBE or START alone run as their commands, always. Otherwise: the
        bot can't delete in a DM, so media, a sticker, an embed, a link, a forward or a
        poll gets the report route, and anything else where to get help. What it said is
        never looked at beyond that, kept, logged or downloaded. One answer per person
        every `screening.DM_ANSWER_SECONDS`, so a flood can't eat the shared pace."""
        if message.guild is not None or message.author.bot or message.type not in WRITTEN:
            return
        media = carries_media(message)
        word = None if media else plain_word(message.content)
        # A plain STOP is never swallowed by the gate (nor START): it counts as one answer.
        allowed = self._dm_gate.allow(message.author.id, time.monotonic())
        if not allowed and word is None:
            return
        if word is not None:  # STOP, UNSUBSCRIBE or START alone: the command itself
            replies = await self.core.command(origin_for_dm(message), word.name, word.args)
        else:
            answer = wording.safeguarding(removed=False) if media else wording.FREE_TEXT
            replies = [Message(text=answer)]
        try:
            for reply in replies:
                if self.pacer is not None:
                    await self.pacer.wait()
                await message.channel.send(**parts(reply))
        except discord.HTTPException as exc:
            log.info("discord: couldn't answer a DM: %s %s", exc.status, exc.code)
            return
        what = "media" if media else f"/{word.name}" if word else "free text"
        log.info("discord: answered a DM with %s", what)

    async def on_app_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """Log what failed (never what anyone typed) and apologise. Discord failing
        (an outage) is one line; a bug of ours gets its traceback."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if connection.is_outage(cause):
            log.warning("discord: couldn't answer a command: %s", connection.outage_line(cause))
            return  # the apology would fail the same way
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
        """Open the DM channel before the send (a request of its own, at its own slot).
        Raises `RecipientGone`, `RateLimited` or `TransientFailure`, nothing raw."""
        if kind is ChatKind.PRIVATE and address not in self._dm_channels:
            await self._open_dm(address)

    async def _open_dm(self, address: str) -> int:
        try:
            return await self._dm_channel(address)
        except Exception as exc:
            trouble = dm_trouble(exc)
            if trouble is None:
                raise
            raise trouble from exc

    async def send(self, address: str, kind: ChatKind, message: Message) -> None:
        """The engine's messenger (which has taken a slot of the pace for the message):
        a DM to a person, or a post in a server channel. Raises only the engine's
        `DeliveryError`s (`bots.discord.sending` says which means what)."""
        channel_id = await self._open_dm(address) if kind is ChatKind.PRIVATE else int(address)
        try:
            await self.get_partial_messageable(channel_id).send(**parts(message))
        except Exception as exc:
            trouble = send_trouble(exc)
            if trouble is None:
                raise
            raise trouble from exc


def _moment(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None
