"""The slash commands: the supporter commands (the same words as everywhere, with
Discord's names for subscribing), `/channel` for any server's admins, and `/campaign`
for organisers, registered in the charity's own server only."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import discord
from discord import app_commands

from bots.discord.connection import NETWORK_ERRORS, seconds
from bots.discord.origins import PLATFORM, origin_for_command
from bots.discord.render import parts
from campaigns import languages, wording
from campaigns.backoff import Backoff
from campaigns.core import Core
from campaigns.deeplinks import start_argument
from campaigns.invites import ARGUMENT, StartLinks
from campaigns.model import MAX_PAUSE_WEEKS, ChatKind, Message, Origin
from campaigns.subscriptions import ordered

log = logging.getLogger(__name__)
Interaction = discord.Interaction[Any]
MAX_CHOICES = 25  # Discord's limit on an option's choices


class CommandsBot(Protocol):
    """What the commands use of the bot they are installed on (`DiscordBot`, which
    imports this module: named here so that this module needn't import it back).
    Each command answers through the bot given to `install`, the client of every
    interaction its tree receives."""

    @property
    def core(self) -> Core: ...
    @property
    def tree(self) -> app_commands.CommandTree[Any]: ...
    @property
    def organiser_guild(self) -> int | None: ...
    @property
    def retry_first(self) -> float: ...
    @property
    def retry_cap(self) -> float: ...

    async def command(
        self, interaction: Interaction, name: str, args: tuple[str, ...] = ()
    ) -> None: ...
    async def respond(self, interaction: Interaction, messages: list[Message]) -> None: ...
    async def on_app_command_error(
        self, interaction: Interaction, error: app_commands.AppCommandError
    ) -> None: ...


class TopicsMenu(discord.ui.View):
    """A select menu of topics, for one supporter, for five minutes."""

    def __init__(self, bot: CommandsBot, known: list[str], chosen: list[str]) -> None:
        super().__init__(timeout=300)
        self.bot = bot
        every = not chosen
        select: discord.ui.Select[TopicsMenu] = discord.ui.Select(
            placeholder=wording.TOPICS_MENU_PLACEHOLDER,
            min_values=1,
            max_values=len(known),
            options=[
                discord.SelectOption(label=topic, value=topic, default=every or topic in chosen)
                for topic in known[:25]
            ],
        )
        select.callback = self.chosen  # type: ignore[method-assign]
        self.select = select
        self.add_item(select)

    async def chosen(self, interaction: Interaction) -> None:
        await self.bot.command(interaction, "topics", tuple(self.select.values))


def start_links(application_id: int | None) -> StartLinks:
    """Discord has no deep links: a friend sends `/subscribe` with the start argument
    as its `code`, after adding the bot by its install link (the application's own
    install settings, when we know its id)."""
    bot_url = discord.utils.oauth_url(application_id, scopes=None) if application_id else None
    return StartLinks(typed=f"/subscribe code:{ARGUMENT}", bot_url=bot_url)


def campaign_choices(core: Core, typed: str = "") -> list[app_commands.Choice[str]]:
    """The campaigns whose slug or title holds what the person typed so far, by title
    (Discord shows 25 at most). Asked as they type (autocomplete), from the catalog the
    bot runs now: a campaign imported a moment ago is offered without a re-sync."""
    catalog = core.ctx.catalog
    wanted = typed.strip().casefold()
    titles = {slug: catalog.packs[slug].campaign.title for slug in ordered(catalog)}
    return [
        app_commands.Choice(name=title[:100], value=slug)
        for slug, title in titles.items()
        if wanted in slug or wanted in title.casefold()
    ][:MAX_CHOICES]


def campaign_named(core: Core, typed: str) -> str | None:
    """The campaign someone picked or typed (its slug or its title, in any case); None
    if no running campaign is called that. Autocomplete only suggests: whatever was
    typed may come instead."""
    catalog = core.ctx.catalog
    wanted = typed.strip().casefold()
    for slug, pack in catalog.packs.items():
        if wanted in (slug, pack.campaign.title.casefold()):
            return slug
    return None


def language_choices() -> list[app_commands.Choice[str]]:
    """The languages the bot speaks, each named in its own words (`Cymraeg`)."""
    return [
        app_commands.Choice(name=languages.name_of(code), value=code)
        for code in languages.LANGUAGES
    ][:MAX_CHOICES]


async def suggest_campaigns(
    interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete for every `campaign` option, over the bot the interaction reached."""
    bot: CommandsBot = interaction.client
    return campaign_choices(bot.core, current)


def install(bot: CommandsBot) -> None:
    """Add every command to the bot's tree."""
    tree = bot.tree
    described = dict(wording.COMMANDS)

    def simple(name: str, core_name: str, description: str) -> None:
        async def run(interaction: Interaction) -> None:
            await bot.command(interaction, core_name)

        tree.command(name=name, description=description)(run)

    async def unknown(interaction: Interaction, typed: str) -> None:
        known = ordered(bot.core.ctx.catalog)
        await bot.respond(interaction, [Message(text=wording.campaigns_unknown(typed, known))])

    # Each `campaign` option suggests the running campaigns as it is typed (autocomplete)
    # rather than fixing them at sync time, so a campaign added while the bot runs is
    # offered at once; what comes back is checked here, as anything may be typed.
    @tree.command(name="subscribe", description=described["start"])
    @app_commands.describe(
        campaign="The campaign to join (leave out for our main one)",
        code="A code from a link, poster or friend, if you were given one",
    )
    @app_commands.autocomplete(campaign=suggest_campaigns)
    async def subscribe(
        interaction: Interaction, campaign: str | None = None, code: str | None = None
    ) -> None:
        slug = campaign_named(bot.core, campaign) if campaign else None
        if campaign and slug is None:
            await unknown(interaction, campaign)
            return
        # the same start argument a Telegram deep link carries: `<campaign>-<code>`
        argument = start_argument(slug, code)
        await bot.command(interaction, "start", (argument,) if argument else ())

    simple("unsubscribe", "stop", described["stop"])
    simple_names = ("ask", "campaigns", "done", "skip", "resume", "language", "mydata", "forget")
    for name in (*simple_names, "help"):
        simple(name, name, described[name])

    @tree.command(name="invite", description=described["invite"])
    @app_commands.describe(campaign="A campaign you joined (leave out for our main one)")
    @app_commands.autocomplete(campaign=suggest_campaigns)
    async def invite(interaction: Interaction, campaign: str | None = None) -> None:
        # a campaign not found goes on as typed: the core says which ones it can be
        slug = (campaign_named(bot.core, campaign) or campaign) if campaign else None
        await bot.command(interaction, "invite", (slug,) if slug else ())

    @tree.command(name="pause", description=described["pause"])
    @app_commands.describe(
        weeks=(
            f"Pause for this many weeks (1 to {MAX_PAUSE_WEEKS}); leave out to pause until /resume"
        )
    )
    async def pause(
        interaction: Interaction, weeks: app_commands.Range[int, 1, MAX_PAUSE_WEEKS] | None = None
    ) -> None:
        await bot.command(interaction, "pause", (str(weeks),) if weeks else ())

    @tree.command(name="topics", description=described["topics"])
    async def topics(interaction: Interaction) -> None:
        state = await bot.core.topics_of(origin_for_command(interaction))
        if state is None:
            await bot.respond(interaction, [Message(text=wording.NOT_SUBSCRIBED)])
            return
        known, chosen = state
        await interaction.response.send_message(
            wording.TOPICS_MENU_INTRO,
            view=TopicsMenu(bot, known, chosen),
            ephemeral=interaction.guild is not None,
        )

    @tree.command(
        name="channel", description="Post the weekly ask in a channel here (Manage Server)"
    )
    @app_commands.describe(
        channel="The channel",
        stop="Stop posting there instead",
        campaign="The campaign whose ask to post (leave out for our main one)",
        language="The language to post in (leave out to keep the channel's; English at first)",
    )
    @app_commands.autocomplete(campaign=suggest_campaigns)
    @app_commands.choices(language=language_choices())
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def channel(
        interaction: Interaction,
        channel: discord.TextChannel,
        stop: bool = False,
        campaign: str | None = None,
        language: str | None = None,
    ) -> None:
        permissions = interaction.permissions
        if not permissions.manage_guild:
            await interaction.response.send_message(wording.GROUP_ONLY_ADMINS, ephemeral=True)
            return
        slug = campaign_named(bot.core, campaign) if campaign and not stop else None
        if campaign and not stop and slug is None:
            await unknown(interaction, campaign)  # to the admin alone, not in the channel
            return
        origin = Origin(PLATFORM, str(channel.id), ChatKind.GROUP, user=str(interaction.user.id))
        name = "stop" if stop else "subscribe_group"
        args = (slug,) if slug else ()
        replies = await bot.core.command(origin, name, args, admin=True)
        if language and not stop:
            # the channel's language, set as a group's admin sets it (`/language cy`):
            # the weekly ask posted there is in it from now on
            replies += await bot.core.command(origin, "language", (language,), admin=True)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            for reply in replies:
                await channel.send(**parts(reply))
        except discord.Forbidden:
            await interaction.followup.send(
                wording.channel_not_allowed(channel.mention), ephemeral=True
            )
            return
        await interaction.followup.send(
            wording.channel_changed(channel.mention, stop), ephemeral=True
        )

    if bot.organiser_guild is not None:
        # Organiser commands exist in the charity's own server only.
        tree.add_command(organiser_group(bot), guild=discord.Object(bot.organiser_guild))
    tree.on_error = bot.on_app_command_error  # type: ignore[method-assign]


def organiser_group(bot: CommandsBot) -> app_commands.Group:
    """`/campaign preview|sendnow|stopsend|status|stats`, each checked again when it runs."""
    campaign = app_commands.Group(
        name="campaign", description="Organisers: preview, send and follow the weekly ask"
    )

    @campaign.command(name="preview", description="Organisers: the next ask as supporters see it")
    @app_commands.describe(campaign="Campaign slug (default: the main one)", ask="Ask id")
    async def preview(
        interaction: Interaction, campaign: str | None = None, ask: str | None = None
    ) -> None:
        await bot.command(interaction, "preview", (campaign or "", ask or ""))

    @campaign.command(name="sendnow", description="Organisers: send an ask now (asks to confirm)")
    @app_commands.describe(campaign="Campaign slug", ask="Ask id (default: the next)")
    async def sendnow(interaction: Interaction, campaign: str, ask: str | None = None) -> None:
        await bot.command(interaction, "sendnow", tuple(x for x in (campaign, ask) if x))

    @campaign.command(
        name="stopsend", description="Organisers: stop a running send (asks to confirm)"
    )
    @app_commands.describe(prompt="The send's prompt number (see /campaign status)")
    async def stopsend(interaction: Interaction, prompt: app_commands.Range[int, 1]) -> None:
        await bot.command(interaction, "stopsend", (str(prompt),))

    @campaign.command(name="status", description="Organisers: progress of the current send")
    async def status(interaction: Interaction) -> None:
        await bot.command(interaction, "status")

    @campaign.command(name="stats", description="Organisers: participation in short")
    async def stats(interaction: Interaction) -> None:
        await bot.command(interaction, "stats")

    return campaign


async def sync_commands(bot: CommandsBot) -> bool:
    """Register the commands with Discord: everyone's, then the organisers' in the
    charity's server. False when Discord could not be reached (worth another try)."""
    try:
        await bot.tree.sync()
    except discord.HTTPException as exc:
        if exc.status >= 500 or exc.status == 429:
            return False
        log.warning("discord: Discord refused the slash commands: %s %s", exc.status, exc.code)
        return True
    except NETWORK_ERRORS:
        return False
    if bot.organiser_guild is None:
        return True
    try:
        await bot.tree.sync(guild=discord.Object(bot.organiser_guild))
    except discord.HTTPException as exc:
        if exc.status >= 500 or exc.status == 429:
            return False
        log.warning(
            "discord: can't add the organiser commands to server %s "
            "(discord_organiser_guild): %s %s; is the bot in that server?",
            bot.organiser_guild,
            exc.status,
            exc.code,
        )
    except NETWORK_ERRORS:
        return False
    return True


async def keep_syncing(bot: CommandsBot) -> None:
    """The commands could not be synced at start-up: the bot runs without (Discord
    keeps the commands it had), and this tries again, with backoff, until it works.
    One line when it fails, one when it works."""
    backoff = Backoff(bot.retry_first, bot.retry_cap)
    delay = backoff.next()
    log.warning(
        "discord: can't sync the slash commands now (Discord is unreachable or failing); "
        "trying again in %s, in the background",
        seconds(delay),
    )
    while True:
        await asyncio.sleep(delay)
        if await sync_commands(bot):
            log.info("discord: slash commands synced")
            return
        delay = backoff.next()
